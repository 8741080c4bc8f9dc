/**
 * No change may take a node's VM away behind the cluster's back: a Kubernetes node is
 * drained and removed (`remove-node.yml`) before its VM goes, which only the removal of a
 * node from the definition does (constructs/node-removal.ts). Everything that guards it:
 *
 * - the vms stack marks every node VM `prevent_destroy`, so OpenTofu refuses any plan
 *   that would replace one, unless the node is named in `DESTROYABLE_NODES` (`all` for a
 *   teardown: `npm run destroy` sets it);
 * - `npm run diff` and `npm run deploy` read the vms stack's plan and name each node whose
 *   VM it would delete and clone anew, or whose disk it would swap for a blank one, with
 *   the attributes that cause it (`nodeVmLosses`); the deploy refuses each (`judge`) but a
 *   node that is not part of the cluster Kubespray built: one a failed deploy left
 *   unfinished, or one named in `DESTROYABLE_NODES` after it was drained and removed: the
 *   deliberate replacement (`npm run replace`, lib/maintenance/replacement.ts) deploys with
 *   the node it removed named there.
 */
import { issue, UserError } from "../errors/user-error";

import { REPLACEMENT_RUNBOOK } from "./maintenance/replacement";

/** Names the nodes whose VMs OpenTofu may destroy while they stay in the definition. */
export const DESTROYABLE_NODES_ENV = "DESTROYABLE_NODES";

/** Every node (a teardown), or the nodes named. */
export type DestroyableNodes = "all" | readonly string[];

/** `DESTROYABLE_NODES`: `all`, or node names separated by commas; unset is none. */
export function destroyableNodes(env: NodeJS.ProcessEnv): DestroyableNodes {
  const value = (env[DESTROYABLE_NODES_ENV] ?? "").trim();
  if (value === "all") return "all";
  return value
    .split(",")
    .map((n) => n.trim())
    .filter((n) => n !== "");
}

/** What this module reads of one resource change of `tofu show -json`. */
export interface PlannedChange {
  readonly address: string;
  /** Why a replacement: `replace_because_cannot_update`, `replace_because_tainted`... */
  readonly action_reason?: string;
  readonly change: {
    readonly actions: readonly string[];
    readonly before?: Record<string, unknown> | null;
    readonly after?: Record<string, unknown> | null;
    /** The attributes that force the replacement, as paths (`[["clone", 0, "vm_id"]]`). */
    readonly replace_paths?: readonly (readonly (string | number)[])[];
  };
}

export interface PlanWithChanges {
  readonly resource_changes?: readonly PlannedChange[];
}

/** A node VM that a plan would delete while the node stays, or leave without its disk. */
export interface NodeVmLoss {
  /** The VM's name, which is the Kubernetes node name. */
  readonly node: string;
  readonly address: string;
  /** The VM as it is: `<host>/<vmid>`. */
  readonly vm: string;
  /** `replace`: deleted and cloned anew; `disk`: a disk taken off for a blank one. */
  readonly kind: "replace" | "disk";
  /** The VM was left unfinished by a failed deploy (OpenTofu marked it tainted). */
  readonly tainted: boolean;
  /** What causes it, with the old and the new value: `node_name: "pve01" → "pve02"`. */
  readonly causes: readonly string[];
}

const VM = "proxmox_virtual_environment_vm.";
/** The cause of a VM's replacement asked for by `npm run replace` (its trigger changed). */
export const REPLACEMENT_CAUSE = "npm run replace is replacing it";

function at(value: unknown, path: readonly (string | number)[]): unknown {
  let v = value;
  for (const key of path) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<string | number, unknown>)[key];
  }
  return v;
}

/** `clone[0].vm_id` */
function pathText(path: readonly (string | number)[]): string {
  return path.map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? p : `.${p}`)).join("");
}

const shown = (v: unknown) => (v === undefined ? "(unknown)" : JSON.stringify(v));

function diskInterfaces(vm: Record<string, unknown> | null | undefined): string[] {
  const disks = vm?.disk;
  return Array.isArray(disks)
    ? disks.flatMap((d) => {
        const iface = (d as Record<string, unknown> | null)?.interface;
        return typeof iface === "string" ? [iface] : [];
      })
    : [];
}

/**
 * The node VMs a plan would take away: replaced (`-/+`, with the attributes that force it)
 * or updated so that a disk they have is gone from the configuration (the provider then
 * detaches it and adds a blank one under the new interface). Templates are not nodes; a
 * VM deleted alone is a node removed from the definition, whose removal runs first.
 */
export function nodeVmLosses(plan: PlanWithChanges): NodeVmLoss[] {
  return (plan.resource_changes ?? []).flatMap((c): NodeVmLoss[] => {
    const before = c.change.before;
    if (!c.address.startsWith(VM) || !before || before.template === true) return [];
    const node = typeof before.name === "string" ? before.name : c.address;
    const vm = `${String(before.node_name)}/${String(before.vm_id ?? before.id)}`;
    const { actions } = c.change;
    const tainted = c.action_reason === "replace_because_tainted";
    if (actions.includes("delete") && actions.includes("create")) {
      const paths = c.change.replace_paths ?? [];
      const causes = paths.map(
        (p) => `${pathText(p)}: ${shown(at(before, p))} → ${shown(at(c.change.after, p))}`,
      );
      if (causes.length === 0)
        causes.push(
          tainted
            ? "tainted"
            : c.action_reason === "replace_by_triggers"
              ? REPLACEMENT_CAUSE
              : (c.action_reason ?? "replace"),
        );
      return [{ node, address: c.address, vm, kind: "replace", tainted, causes }];
    }
    if (actions.includes("update")) {
      const kept = new Set(diskInterfaces(c.change.after));
      const gone = diskInterfaces(before).filter((d) => !kept.has(d));
      if (gone.length > 0)
        return [
          {
            node,
            address: c.address,
            vm,
            kind: "disk",
            tainted: false,
            causes: [
              `disk interface: ${shown(diskInterfaces(before))} → ${shown(diskInterfaces(c.change.after))}`,
            ],
          },
        ];
    }
    return [];
  });
}

/** What a loss is, in a few words: `deleted and cloned anew (node_name: "pve01" → "pve02")`. */
export function describeLoss(loss: NodeVmLoss): string {
  const what =
    loss.kind === "replace"
      ? "its VM would be deleted and cloned anew"
      : "its disk would be detached and a blank one added";
  return `${what} (${loss.causes.join(", ")})`;
}

export interface Verdict {
  /** Nodes whose VMs the deploy may make anew: none of them is part of the cluster. */
  readonly allowed: readonly NodeVmLoss[];
  readonly refused: readonly NodeVmLoss[];
}

/**
 * Which losses a deploy may go through with: a replaced VM whose node Kubespray's record
 * does not hold (never joined, or drained and removed) and that a failed deploy left
 * unfinished or `DESTROYABLE_NODES` names. A disk swap is never allowed.
 */
export function judge(
  losses: readonly NodeVmLoss[],
  destroyable: DestroyableNodes,
  inCluster: ReadonlySet<string>,
): Verdict {
  const named = (node: string) => destroyable === "all" || destroyable.includes(node);
  const ok = (l: NodeVmLoss) =>
    l.kind === "replace" && !inCluster.has(l.node) && (l.tainted || named(l.node));
  return { allowed: losses.filter(ok), refused: losses.filter((l) => !ok(l)) };
}

/** The fix for a refused loss, by what causes it. */
function fixFor(loss: NodeVmLoss, inCluster: boolean): string {
  if (loss.kind === "disk")
    return "keep the disk layout the VM was made with (this version of the tool changed it): a deploy never swaps a node's disk";
  const cause = loss.causes.join(" ");
  if (loss.causes.includes(REPLACEMENT_CAUSE))
    return `run the same npm run replace again: it drains and removes the node first, then deploys (${REPLACEMENT_RUNBOOK})`;
  const undo = loss.tainted
    ? `if it was marked by hand, run tofu untaint ${loss.address} in cdktf.out/stacks/vms`
    : cause.startsWith("node_name")
      ? "keep proxmox.hosts and the pool's hosts as they were, so that the node stays on its host"
      : cause.startsWith("vm_id")
        ? "keep proxmox.vmIdStart, vmIdsPerPool and the order of nodePools as they were"
        : "undo that change";
  const rebuild = inCluster
    ? 'a node of the cluster is only rebuilt through its removal (drain, remove-node.yml), one at a time, which a deploy does not do for a node that stays (docs/operations.md, "No change replaces a node\'s VM")'
    : `${loss.node} is not part of the cluster Kubespray built: to let the deploy make its VM anew, deploy with ${DESTROYABLE_NODES_ENV}=${loss.node}`;
  return `${undo}; ${rebuild}`;
}

/** One `what: problem; fix` line per refused node, in one error. */
export function refusal(refused: readonly NodeVmLoss[], inCluster: ReadonlySet<string>): UserError {
  return new UserError(
    refused.map((l) =>
      issue(
        `${l.node} (VM ${l.vm})`,
        `${describeLoss(l)}, without draining it or removing it from Kubernetes first`,
        fixFor(l, inCluster.has(l.node)),
      ),
    ),
  );
}
