import { Resource } from "@cdktf/provider-null/lib/resource";
import { Testing } from "cdktf";

import { NodeRemoval } from "../../constructs/node-removal";

type NullResources = { resource: { null_resource: Record<string, Record<string, unknown>> } };

function synth(nodeNames: string[]): Record<string, unknown> {
  const json = Testing.synthScope((scope) => {
    const vms = nodeNames.map((n) => new Resource(scope, `vm-${n}`));
    new NodeRemoval(scope, "NodeRemoval", {
      nodeNames,
      stateDir: "/state/kspray",
      vms,
      runnerEntry: "/repo/dist/runner/cli.js",
    });
  });
  const resources = (JSON.parse(json) as NullResources).resource.null_resource;
  const removal = Object.entries(resources).find(([k]) => k.startsWith("NodeRemoval"))?.[1];
  if (!removal) throw new Error(`no removal resource in ${json}`);
  return removal;
}

describe("NodeRemoval", () => {
  it("has one instance per node, keyed by its name, and depends on every VM", () => {
    const removal = synth(["kspray-cp-1", "kspray-worker-1"]);
    expect(removal.for_each).toEqual({
      "kspray-cp-1": "kspray-cp-1",
      "kspray-worker-1": "kspray-worker-1",
    });
    expect(removal.depends_on).toEqual([
      expect.stringMatching(/^null_resource\.vm-kspray-cp-1/),
      expect.stringMatching(/^null_resource\.vm-kspray-worker-1/),
    ]);
  });

  it("triggers on the node name only, so nothing but a removal replaces an instance", () => {
    expect(synth(["kspray-cp-1"]).triggers).toEqual({ node: "${each.key}" });
  });

  it("runs the runner's remove-node at destroy, referring to nothing but self", () => {
    expect(synth(["kspray-cp-1"]).provisioner).toEqual([
      {
        "local-exec": {
          when: "destroy",
          interpreter: ["node", "/repo/dist/runner/cli.js", "remove-node", "/state/kspray"],
          command: "${self.triggers.node}",
        },
      },
    ]);
  });
});
