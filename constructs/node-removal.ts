import { Resource } from "@cdktf/provider-null/lib/resource";
import type { ITerraformDependable } from "cdktf";
import { TerraformIterator } from "cdktf";
import { Construct } from "constructs";

export interface NodeRemovalProps {
  /** Kubernetes node names (= inventory host names) of every node of the cluster. */
  readonly nodeNames: readonly string[];
  /** The cluster's state directory (record, runner settings, teardown marker). */
  readonly stateDir: string;
  /** The nodes' VMs: a removal is destroyed (and so runs) before them. */
  readonly vms: readonly ITerraformDependable[];
  /** Absolute path of the compiled runner, `dist/runner/cli.js`. */
  readonly runnerEntry: string;
  /**
   * The Node.js executable that starts the runner.
   * @default "node" - from PATH
   */
  readonly nodeBinary?: string;
}

/**
 * Takes a node out of the Kubernetes cluster (Kubespray's remove-node.yml) before its VM
 * is deleted: one null_resource instance per node (`for_each` over the node names), each
 * depending on the VMs, so Terraform destroys the instance of a removed node first and
 * its destroy-time provisioner runs the runner's `remove-node`.
 *
 * `for_each` matters: Terraform runs a destroy-time provisioner only while its resource
 * block is still in the configuration, which holds for an instance leaving the map but
 * not for a resource deleted from the code. The instance key is the node name, and
 * nothing else is a trigger, so no change but the node's own removal can replace it.
 * During a full teardown the runner sees the cluster stack's marker and does nothing.
 * The stack holding it needs a `NullProvider`.
 */
export class NodeRemoval extends Construct {
  public readonly resource: Resource;

  constructor(scope: Construct, id: string, props: NodeRemovalProps) {
    super(scope, id);
    const nodes = TerraformIterator.fromMap(Object.fromEntries(props.nodeNames.map((n) => [n, n])));
    this.resource = new Resource(this, "Resource", {
      forEach: nodes,
      dependsOn: [...props.vms],
      triggers: { node: nodes.key },
      provisioners: [
        {
          type: "local-exec",
          when: "destroy",
          // Destroy-time provisioners may only refer to `self`; the rest are literals.
          interpreter: [
            props.nodeBinary ?? "node",
            props.runnerEntry,
            "remove-node",
            props.stateDir,
          ],
          command: "${self.triggers.node}",
        },
      ],
    });
  }
}
