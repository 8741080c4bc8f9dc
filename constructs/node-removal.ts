import { Resource } from "@cdktf/provider-null/lib/resource";
import type { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";

import { RUNNER_ENTRY } from "../lib/kubespray/project";

export interface NodeRemovalProps {
  /** Kubernetes node name (= inventory host name). */
  readonly nodeName: string;
  /** The cluster's state directory (record, runner settings, teardown marker). */
  readonly stateDir: string;
  /** The node's VM: the removal is destroyed (and so runs) before it. */
  readonly vm: ITerraformDependable;
  /**
   * Absolute path of the compiled runner.
   * @default dist/runner/cli.js of this project
   */
  readonly runnerEntry?: string;
  /**
   * The Node.js executable that starts the runner.
   * @default "node" - from PATH
   */
  readonly nodeBinary?: string;
}

/**
 * Takes a node out of the Kubernetes cluster (Kubespray's remove-node.yml) before its VM
 * is deleted. A null_resource that depends on the VM, so Terraform destroys it first; its
 * destroy-time provisioner runs the runner's `remove-node`, which does nothing during a
 * full teardown. The stack holding it needs a `NullProvider`.
 */
export class NodeRemoval extends Construct {
  public readonly resource: Resource;

  constructor(scope: Construct, id: string, props: NodeRemovalProps) {
    super(scope, id);
    this.resource = new Resource(this, "Resource", {
      dependsOn: [props.vm],
      triggers: {
        // Read back by the destroy-time provisioner, which may only use `self`.
        node: props.nodeName,
        state_dir: props.stateDir,
        runner: props.runnerEntry ?? RUNNER_ENTRY,
      },
      provisioners: [
        {
          type: "local-exec",
          when: "destroy",
          interpreter: [
            props.nodeBinary ?? "node",
            "${self.triggers.runner}",
            "remove-node",
            "${self.triggers.state_dir}",
          ],
          command: "${self.triggers.node}",
        },
      ],
    });
  }
}

/**
 * What the vms stack calls next to each VM:
 * `addNodeRemoval(this, node, vm, { stateDir })` (construct id `<node>-removal`).
 */
export function addNodeRemoval(
  scope: Construct,
  node: { readonly name: string },
  vm: ITerraformDependable,
  opts: { readonly stateDir: string; readonly runnerEntry?: string },
): NodeRemoval {
  return new NodeRemoval(scope, `${node.name}-removal`, {
    nodeName: node.name,
    stateDir: opts.stateDir,
    vm,
    runnerEntry: opts.runnerEntry,
  });
}
