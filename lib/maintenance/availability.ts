/**
 * What the cluster must keep while nodes are taken out of service (a host's maintenance):
 * the one home of those rules. Pure: the callers read the nodes'
 * state from Kubernetes and say which nodes would go.
 *
 * - etcd keeps quorum: of `n` control-plane (etcd) members at most `floor((n - 1) / 2)` may
 *   be down at once, counting those already down (not Ready, missing) and those cordoned
 *   for another host's maintenance;
 * - the add-ons keep somewhere to run: the GPU pools while the NVIDIA GPU Operator is on,
 *   and a worker without a NoSchedule or NoExecute taint (where the ingress controller, and
 *   every add-on without tolerations, runs) while the ingress is on.
 */
import { splitTaint } from "../../config/kubernetes-names";
import type { NodeSpec } from "../../config/nodes";
import type { ClusterConfig } from "../../config/schema";
import type { Issue } from "../../errors/user-error";
import { issue } from "../../errors/user-error";

/** A node as Kubernetes shows it now. */
export interface KubeNodeState {
  readonly ready: boolean;
  /** Not cordoned. */
  readonly schedulable: boolean;
  /** The Proxmox host whose maintenance cordoned it (`npm run host -- drain`), if any. */
  readonly drainedFor?: string;
}

/** A node of the definition and, unless Kubernetes has no such node, its state there. */
export interface NodeAvailability extends Pick<
  NodeSpec,
  "name" | "pool" | "role" | "taints" | "gpuMapping"
> {
  readonly state?: KubeNodeState;
}

/** Why a node counts as out of service now, or undefined when it serves. */
function outOfService(n: NodeAvailability): string | undefined {
  if (n.state === undefined) return "not in Kubernetes";
  if (!n.state.ready) return "not Ready";
  if (n.state.drainedFor !== undefined) return `drained for ${n.state.drainedFor}`;
  return undefined;
}

const serving = (n: NodeAvailability, away: ReadonlySet<string>): boolean =>
  !away.has(n.name) && outOfService(n) === undefined && (n.state?.schedulable ?? false);

/** Whether the ingress controller (and any add-on without tolerations) can run there. */
function untaintedWorker(n: NodeAvailability): boolean {
  return (
    n.role === "worker" &&
    n.taints.every((t) => {
      const effect = splitTaint(t)?.effect;
      return effect !== "NoSchedule" && effect !== "NoExecute";
    })
  );
}

/** The node groups the add-ons of `config` need one serving node of. */
function addonNeeds(
  config: ClusterConfig,
  nodes: readonly NodeAvailability[],
): { what: string; nodes: NodeAvailability[] }[] {
  const needs: { what: string; nodes: NodeAvailability[] }[] = [];
  if (config.addons.gpuOperator?.enabled)
    needs.push({
      what: "the NVIDIA GPU Operator (addons.gpuOperator) runs on",
      nodes: nodes.filter((n) => n.gpuMapping !== undefined),
    });
  if (config.addons.ingress)
    needs.push({
      what: "the ingress controller (addons.ingress) can run on (workers without a NoSchedule or NoExecute taint)",
      nodes: nodes.filter(untaintedWorker),
    });
  return needs;
}

/**
 * Why taking the nodes `away` out of service (`why`: `draining pve02`) would break the
 * cluster now, each on `why`; empty when it would not.
 */
export function availabilityProblems(
  config: ClusterConfig,
  nodes: readonly NodeAvailability[],
  away: readonly string[],
  why: string,
): Issue[] {
  const going = new Set(away);
  const problems: Issue[] = [];
  const controlPlane = nodes.filter((n) => n.role === "control-plane");
  const tolerated = Math.floor((controlPlane.length - 1) / 2);
  const down = controlPlane.flatMap((n) => {
    const reason = going.has(n.name) ? "taken away" : outOfService(n);
    return reason === undefined ? [] : [`${n.name} ${reason}`];
  });
  if (controlPlane.some((n) => going.has(n.name)) && down.length > tolerated)
    problems.push(
      issue(
        why,
        `would leave ${down.length} of ${controlPlane.length} control-plane nodes down (${down.join(", ")}), ` +
          `and etcd keeps quorum with at most ${tolerated} down`,
        "bring the others back first (npm run host -- resume <host> after another host's maintenance), or move a control-plane VM to another Proxmox host",
      ),
    );
  for (const need of addonNeeds(config, nodes)) {
    const now = need.nodes.filter((n) => serving(n, new Set()));
    if (now.length === 0 || need.nodes.some((n) => serving(n, going))) continue;
    problems.push(
      issue(
        why,
        `would take away the last node that ${need.what} (${now.map((n) => n.name).join(", ")})`,
        "add a node to its pool first, or place the pool's nodes on more than one Proxmox host",
      ),
    );
  }
  return problems;
}
