import { Resource } from "@cdktf/provider-null/lib/resource";
import { Testing } from "cdktf";

import { HaManagerReady } from "../../constructs/ha-manager-ready";
import { UserError } from "../../errors/user-error";

type Synth = { resource: { null_resource: Record<string, Record<string, unknown>> } };

describe("HaManagerReady", () => {
  it("runs the wait once after the HA resources, with no secret in its arguments", () => {
    const json = JSON.parse(
      Testing.synthScope((scope) => {
        new HaManagerReady(scope, "ready", {
          endpoint: "https://pve01:8006/",
          insecure: true,
          hosts: ["pve02", "pve01"],
          resources: [new Resource(scope, "ha-1")],
          entry: "/repo/dist/runner/ha-manager-ready.js",
        });
      }),
    ) as Synth;
    const wait = Object.entries(json.resource.null_resource).find(([k]) =>
      k.startsWith("ready"),
    )?.[1];
    expect(wait).toEqual({
      depends_on: [expect.stringMatching(/^null_resource\.ha-1/)],
      triggers: { hosts: "pve01,pve02" },
      provisioner: [
        {
          "local-exec": {
            interpreter: [
              "node",
              "/repo/dist/runner/ha-manager-ready.js",
              "https://pve01:8006/",
              "1",
              "300",
            ],
            command: "pve01,pve02",
          },
        },
      ],
    });
  });

  it("rejects no hosts and no resources", () => {
    const make = (hosts: string[], withResource: boolean) => () =>
      Testing.synthScope((scope) => {
        new HaManagerReady(scope, "ready", {
          endpoint: "https://pve01:8006/",
          insecure: false,
          hosts,
          resources: withResource ? [new Resource(scope, "ha")] : [],
          entry: "/x.js",
        });
      });
    expect(make([], true)).toThrow(UserError);
    expect(make([], true)).toThrow(/^stack\/ready\.hosts: none given/);
    expect(make(["pve01"], false)).toThrow(/^stack\/ready\.resources: none given/);
  });
});
