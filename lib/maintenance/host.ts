/**
 * A Proxmox host's maintenance on the Kubernetes side (`npm run host -- drain|resume HOST`,
 * scripts/host.ts), through the cluster's Kubernetes API:
 *
 * - drain: the nodes whose VMs are on the host are checked against what the cluster must
 *   keep (lib/maintenance/availability.ts: etcd quorum, the add-ons' last nodes), then
 *   cordoned and marked with the host (annotation `DRAINED_FOR`), then their pods are
 *   evicted through the Eviction API, which honours PodDisruptionBudgets; an eviction a
 *   budget refuses is tried again until the timeout, then the pods still there are listed
 *   with what holds each. DaemonSet pods and static (mirror) pods stay, as `kubectl drain
 *   --ignore-daemonsets` leaves them.
 * - resume: the nodes marked with the host are uncordoned and unmarked.
 */
import type { CoreV1Api, PolicyV1Api, V1Node, V1Pod } from "@kubernetes/client-node";

import { expandNodes } from "../../config/nodes";
import type { ClusterConfig } from "../../config/schema";
import { issue, UserError } from "../../errors/user-error";

import type { KubeNodeState, NodeAvailability } from "./availability";
import { availabilityProblems } from "./availability";

/** The annotation that says which host's maintenance cordoned a node. */
export const DRAINED_FOR = "proxmox-kubespray-cdktf/drained-for";

export interface HostMaintenanceOptions {
  readonly core: CoreV1Api;
  readonly policy: PolicyV1Api;
  readonly config: ClusterConfig;
  /** Each node's Proxmox host now (where its VM is: HA may have moved it). */
  readonly hostOf: ReadonlyMap<string, string>;
  readonly log: (line: string) => void;
  /** How long the evictions may take. @default 10 minutes */
  readonly timeoutMs?: number;
  /** @default 2000 */
  readonly intervalMs?: number;
}

function nodeState(node: V1Node): KubeNodeState {
  return {
    ready: (node.status?.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True"),
    schedulable: node.spec?.unschedulable !== true,
    drainedFor: node.metadata?.annotations?.[DRAINED_FOR],
  };
}

/** Every node of the definition with its state in Kubernetes (none: not registered). */
export async function clusterAvailability(
  core: CoreV1Api,
  config: ClusterConfig,
): Promise<NodeAvailability[]> {
  const kube = new Map(
    (await core.listNode()).items.map((n) => [n.metadata?.name ?? "", nodeState(n)]),
  );
  return expandNodes(config).map((n) => ({
    name: n.name,
    pool: n.pool,
    role: n.role,
    taints: n.taints,
    gpuMapping: n.gpuMapping,
    state: kube.get(n.name),
  }));
}

/** Sets or clears the cordon and the mark, re-reading on a conflict. */
async function mark(core: CoreV1Api, name: string, host: string | undefined): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const node = await core.readNode({ name });
    const annotations = { ...(node.metadata?.annotations ?? {}) };
    if (host === undefined) delete annotations[DRAINED_FOR];
    else annotations[DRAINED_FOR] = host;
    const body: V1Node = {
      ...node,
      metadata: { ...node.metadata, annotations },
      spec: { ...node.spec, unschedulable: host !== undefined },
    };
    try {
      await core.replaceNode({ name, body });
      return;
    } catch (e) {
      if ((e as { code?: number }).code !== 409 || attempt >= 5) throw e;
    }
  }
}

/** Pods a drain must move: not a DaemonSet's, not a static pod's mirror, not finished. */
function mustMove(pod: V1Pod): boolean {
  if ((pod.metadata?.ownerReferences ?? []).some((o) => o.kind === "DaemonSet")) return false;
  if (pod.metadata?.annotations?.["kubernetes.io/config.mirror"] !== undefined) return false;
  return pod.status?.phase !== "Succeeded" && pod.status?.phase !== "Failed";
}

const podName = (pod: V1Pod) => `${pod.metadata?.namespace}/${pod.metadata?.name}`;

/** The budgets whose selector (matchLabels) takes in the pod, as `ns/name (...)`. */
async function budgetsOf(policy: PolicyV1Api, pod: V1Pod): Promise<string[]> {
  const namespace = pod.metadata?.namespace ?? "default";
  const labels = pod.metadata?.labels ?? {};
  const budgets = (await policy.listNamespacedPodDisruptionBudget({ namespace })).items;
  return budgets
    .filter((b) => {
      const sel = b.spec?.selector;
      if (sel === undefined) return false;
      const match = Object.entries(sel.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
      return match && (sel.matchExpressions ?? []).length === 0;
    })
    .map(
      (b) =>
        `PodDisruptionBudget ${namespace}/${b.metadata?.name} (${b.status?.currentHealthy ?? "?"} healthy, ${b.status?.desiredHealthy ?? "?"} wanted, ${b.status?.disruptionsAllowed ?? 0} disruptions allowed)`,
    );
}

export interface DrainResult {
  readonly nodes: readonly string[];
  /** The pods evicted, `namespace/name`. */
  readonly evicted: readonly string[];
}

/** What a drain of nodes needs: the API clients, a log, and how long it may take. */
export type DrainOptions = Pick<
  HostMaintenanceOptions,
  "core" | "policy" | "log" | "timeoutMs" | "intervalMs"
>;

/** What one drain is for, as its log and errors say it. */
export interface NodeDrain {
  /** The path of its errors: `draining pve02`, `replacing kspray-worker-1`. */
  readonly why: string;
  /** The value of the `DRAINED_FOR` mark the nodes get: the host, or `replacement`. */
  readonly mark: string;
  /** What to do when a pod stays past the timeout, after "let it go (...) and ". */
  readonly retry: string;
}

/**
 * Cordons `nodes`, marks them (`DRAINED_FOR`) and evicts their pods through the Eviction
 * API, which honours PodDisruptionBudgets; an eviction a budget refuses is tried again
 * until the timeout, then a UserError lists each pod still there with what holds it (the
 * nodes stay cordoned). Returns the pods evicted. Whether the cluster can spare the nodes
 * is the caller's to check first (availabilityProblems).
 */
export async function drainNodes(
  opts: DrainOptions,
  nodes: readonly string[],
  drain: NodeDrain,
): Promise<string[]> {
  const { core, log } = opts;
  log(`cordoning ${nodes.join(", ")} (${DRAINED_FOR}=${drain.mark})`);
  for (const name of nodes) await mark(core, name, drain.mark);

  const timeoutMs = opts.timeoutMs ?? 600_000;
  const deadline = Date.now() + timeoutMs;
  const evicted = new Set<string>();
  for (;;) {
    const pods = (
      await Promise.all(
        nodes.map(
          async (n) =>
            (await core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${n}` })).items,
        ),
      )
    )
      .flat()
      .filter(mustMove);
    if (pods.length === 0) break;
    const refused = new Map<string, { pod: V1Pod; why: string }>();
    for (const pod of pods) {
      if (pod.metadata?.deletionTimestamp !== undefined) continue;
      try {
        await core.createNamespacedPodEviction({
          name: pod.metadata?.name ?? "",
          namespace: pod.metadata?.namespace ?? "default",
          body: {
            apiVersion: "policy/v1",
            kind: "Eviction",
            metadata: { name: pod.metadata?.name, namespace: pod.metadata?.namespace },
          },
        });
        evicted.add(podName(pod));
        log(`evicted ${podName(pod)} from ${pod.spec?.nodeName}`);
      } catch (e) {
        const code = (e as { code?: number }).code;
        if (code === 404) continue;
        if (code !== 429) throw e;
        refused.set(podName(pod), { pod, why: evictionMessage(e) });
      }
    }
    if (Date.now() > deadline) {
      // One line per pod that stays, each with the way out.
      const stays = await Promise.all(
        pods.map(async (pod) => {
          const r = refused.get(podName(pod));
          const holds =
            r === undefined
              ? "still terminating"
              : `eviction refused: ${r.why}${(await budgetsOf(opts.policy, pod)).map((b) => `, held by ${b}`).join("")}`;
          return issue(
            drain.why,
            `after ${Math.round(timeoutMs / 1000)} s ${podName(pod)} is still on ${pod.spec?.nodeName} (${holds}), and ${nodes.join(", ")} stay cordoned`,
            `let it go (scale up elsewhere, relax the budget) and ${drain.retry}`,
          );
        }),
      );
      throw new UserError(stays);
    }
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 2000));
  }
  return [...evicted];
}

/** `drain HOST`; a UserError when it would break the cluster or a pod stays past the timeout. */
export async function drainHost(opts: HostMaintenanceOptions, host: string): Promise<DrainResult> {
  const nodes = expandNodes(opts.config)
    .map((n) => n.name)
    .filter((n) => opts.hostOf.get(n) === host);
  if (nodes.length === 0)
    throw UserError.at(
      host,
      `no node of cluster ${opts.config.name} has its VM there, so there is nothing to drain`,
      `name a Proxmox host that holds one: ${[...new Set(opts.hostOf.values())].sort().join(", ")}`,
    );
  const problems = availabilityProblems(
    opts.config,
    await clusterAvailability(opts.core, opts.config),
    nodes,
    `draining ${host}`,
  );
  if (problems.length > 0) throw new UserError(problems);
  const evicted = await drainNodes(opts, nodes, {
    why: `draining ${host}`,
    mark: host,
    retry: `run the drain again, or undo it with: npm run host -- resume ${host}`,
  });
  opts.log(`${host}: ${nodes.join(", ")} drained; resume with: npm run host -- resume ${host}`);
  return { nodes, evicted };
}

/** The API's message for a refused eviction. */
function evictionMessage(e: unknown): string {
  const body = (e as { body?: unknown }).body;
  try {
    const parsed = (typeof body === "string" ? JSON.parse(body) : body) as { message?: string };
    if (parsed?.message) return parsed.message;
  } catch {
    // not JSON
  }
  return (e as Error).message;
}

/** `resume HOST`: uncordons the nodes its drain marked; returns them. */
export async function resumeHost(
  opts: Pick<HostMaintenanceOptions, "core" | "log">,
  host: string,
): Promise<string[]> {
  const marked = (await opts.core.listNode()).items
    .filter((n) => n.metadata?.annotations?.[DRAINED_FOR] === host)
    .map((n) => n.metadata?.name ?? "");
  if (marked.length === 0) {
    opts.log(`${host}: no node is cordoned for its maintenance; nothing to resume`);
    return [];
  }
  for (const name of marked) await mark(opts.core, name, undefined);
  opts.log(`${host}: uncordoned ${marked.join(", ")}`);
  return marked;
}
