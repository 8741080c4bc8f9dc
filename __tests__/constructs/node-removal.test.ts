import { Resource } from "@cdktf/provider-null/lib/resource";
import { Testing } from "cdktf";

import { addNodeRemoval } from "../../constructs/node-removal";

describe("NodeRemoval", () => {
  it("depends on the VM and runs the runner's remove-node at destroy, from self only", () => {
    let id = "";
    const json = Testing.synthScope((scope) => {
      const vm = new Resource(scope, "vm");
      id = addNodeRemoval(scope, { name: "kspray-worker-3" }, vm, {
        stateDir: "/state/kspray",
        runnerEntry: "/repo/dist/runner/cli.js",
      }).node.id;
    });
    expect(id).toBe("kspray-worker-3-removal");
    const resources = (
      JSON.parse(json) as { resource: { null_resource: Record<string, Record<string, unknown>> } }
    ).resource.null_resource;
    const removal = Object.entries(resources).find(([k]) => k.includes("removal"))?.[1];
    expect(removal?.depends_on).toEqual([expect.stringMatching(/^null_resource\.vm/)]);
    expect(removal?.triggers).toEqual({
      node: "kspray-worker-3",
      state_dir: "/state/kspray",
      runner: "/repo/dist/runner/cli.js",
    });
    expect(removal?.provisioner).toEqual([
      {
        "local-exec": {
          when: "destroy",
          interpreter: [
            "node",
            "${self.triggers.runner}",
            "remove-node",
            "${self.triggers.state_dir}",
          ],
          command: "${self.triggers.node}",
        },
      },
    ]);
  });
});
