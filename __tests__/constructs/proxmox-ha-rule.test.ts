import { Resource } from "@cdktf/provider-null/lib/resource";
import { Testing } from "cdktf";

import { ProxmoxHaResource } from "../../constructs/proxmox-ha-resource";
import { ProxmoxHaRule } from "../../constructs/proxmox-ha-rule";
import { UserError } from "../../errors/user-error";

type Synth = { resource: { proxmox_harule: Record<string, Record<string, unknown>> } };

describe("ProxmoxHaRule", () => {
  it("keeps the resources it names apart, referring to them (and waiting for what it is told)", () => {
    const json = JSON.parse(
      Testing.synthScope((scope) => {
        const ids = [4100, 4101].map(
          (vmId) =>
            new ProxmoxHaResource(scope, `ha-${vmId}`, {
              vmId,
              vm: new Resource(scope, `vm-${vmId}`),
              comment: "n",
            }).resourceId,
        );
        new ProxmoxHaRule(scope, "rule", {
          ruleId: "kspray-control-plane-apart",
          resourceIds: ids,
          comment: "control plane",
          dependsOn: [new Resource(scope, "ready")],
        });
      }),
    ) as Synth;
    expect(Object.values(json.resource.proxmox_harule)).toEqual([
      {
        rule: "kspray-control-plane-apart",
        type: "resource-affinity",
        affinity: "negative",
        resources: [
          expect.stringMatching(/^\$\{proxmox_haresource\.ha-4100_.*\.resource_id\}$/),
          expect.stringMatching(/^\$\{proxmox_haresource\.ha-4101_.*\.resource_id\}$/),
        ],
        comment: "control plane",
        depends_on: [expect.stringMatching(/^null_resource\.ready/)],
      },
    ]);
  });

  it.each([
    [
      { ruleId: "kspray.cp", resourceIds: ["vm:1", "vm:2"] },
      /ruleId: "kspray.cp" is not a Proxmox rule ID/,
    ],
    [{ ruleId: "9cp", resourceIds: ["vm:1", "vm:2"] }, /ruleId: "9cp"/],
    [{ ruleId: "cp", resourceIds: ["vm:1"] }, /resourceIds: 1 resource\(s\); Proxmox refuses/],
  ])("rejects %j", (props, message) => {
    const make = () =>
      Testing.synthScope((scope) => {
        new ProxmoxHaRule(scope, "rule", { ...props, comment: "c" });
      });
    expect(make).toThrow(UserError);
    expect(make).toThrow(message);
  });
});
