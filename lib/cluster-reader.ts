/**
 * What `npm run status` and `npm run demo` ask the cluster itself, behind a small interface:
 * the API server's version, the Helm releases installed, and which workloads' pods run on
 * each node. The one implementation reads them with
 * @kubernetes/client-node through the admin kubeconfig the runner wrote; Helm keeps each
 * release revision in a Secret of type `helm.sh/release.v1` (labels `owner=helm`, `name`,
 * `version`, `status`), its body gzipped JSON, base64 twice over.
 */
import { gunzipSync } from "node:zlib";

import type { V1Pod, V1ReplicaSet } from "@kubernetes/client-node";

/** A Helm release as the cluster holds it (its latest revision). */
export interface HelmRelease {
  readonly name: string;
  readonly namespace: string;
  readonly chart: string;
  /** The chart's version. */
  readonly version: string;
  readonly appVersion?: string;
  readonly revision: number;
  /** `deployed`, `failed`, `pending-upgrade`... */
  readonly status: string;
}

export interface ClusterReader {
  /** The API server's version, e.g. `v1.35.4`. */
  serverVersion(): Promise<string>;
  /** Every Helm release, the latest revision of each, by namespace and name. */
  helmReleases(): Promise<HelmRelease[]>;
  /** What runs on each node: see {@link workloadsByNode}. */
  workloadsByNode(): Promise<NodeWorkloads[]>;
}

/** The workloads whose pods run on one node. */
export interface NodeWorkloads {
  /** The node's name; `(no node)` for pods the scheduler has not placed. */
  readonly node: string;
  /**
   * Each workload once, as `namespace/name` of what made its pods (the Deployment,
   * DaemonSet, StatefulSet or Job; the pod itself when nothing did), sorted.
   */
  readonly workloads: readonly string[];
}

/** Where a pod's owner chain ends: a ReplicaSet's Deployment, or the owner itself. */
function workloadOf(pod: V1Pod, deploymentOf: ReadonlyMap<string, string>): string {
  const namespace = pod.metadata?.namespace ?? "";
  const owner = pod.metadata?.ownerReferences?.find((o) => o.controller) ??
    pod.metadata?.ownerReferences?.[0] ?? { kind: "Pod", name: pod.metadata?.name ?? "" };
  const name =
    owner.kind === "ReplicaSet"
      ? (deploymentOf.get(`${namespace}/${owner.name}`) ?? owner.name)
      : owner.name;
  return `${namespace}/${name}`;
}

/**
 * The workloads on each node, nodes sorted by name, every one of `nodes` included: the pods
 * that run or wait to (phase `Pending` or `Running`; a Job's finished pods run no more),
 * each named after the workload that made it. `replicaSets` name the Deployment behind each
 * ReplicaSet.
 */
export function workloadsByNode(
  pods: readonly V1Pod[],
  replicaSets: readonly V1ReplicaSet[],
  nodes: readonly string[],
): NodeWorkloads[] {
  const deploymentOf = new Map<string, string>();
  for (const rs of replicaSets) {
    const deployment = rs.metadata?.ownerReferences?.find((o) => o.kind === "Deployment");
    if (deployment)
      deploymentOf.set(`${rs.metadata?.namespace}/${rs.metadata?.name}`, deployment.name);
  }
  const byNode = new Map<string, Set<string>>(nodes.map((n) => [n, new Set()]));
  for (const pod of pods) {
    if (!["Pending", "Running"].includes(pod.status?.phase ?? "")) continue;
    const node = pod.spec?.nodeName || "(no node)";
    if (!byNode.has(node)) byNode.set(node, new Set());
    byNode.get(node)!.add(workloadOf(pod, deploymentOf));
  }
  return [...byNode.entries()]
    .map(([node, workloads]) => ({ node, workloads: [...workloads].sort() }))
    .sort((a, b) => a.node.localeCompare(b.node));
}

/** Helm's release body, the fields read here. */
interface ReleaseBody {
  readonly name?: string;
  readonly namespace?: string;
  readonly version?: number;
  readonly info?: { readonly status?: string };
  readonly chart?: {
    readonly metadata?: {
      readonly name?: string;
      readonly version?: string;
      readonly appVersion?: string;
    };
  };
}

/** The release a Helm Secret holds (its `data.release`, as the API returns it: base64). */
export function decodeRelease(data: string): HelmRelease {
  const helmEncoded = Buffer.from(data, "base64").toString("utf8");
  const raw = Buffer.from(helmEncoded, "base64");
  // Helm gzips release bodies; older ones are plain JSON.
  const json = raw[0] === 0x1f && raw[1] === 0x8b ? gunzipSync(raw) : raw;
  const body = JSON.parse(json.toString("utf8")) as ReleaseBody;
  return {
    name: body.name ?? "",
    namespace: body.namespace ?? "",
    chart: body.chart?.metadata?.name ?? "",
    version: body.chart?.metadata?.version ?? "",
    appVersion: body.chart?.metadata?.appVersion,
    revision: body.version ?? 0,
    status: body.info?.status ?? "unknown",
  };
}

/** The latest revision of each release. */
export function latestRevisions(releases: readonly HelmRelease[]): HelmRelease[] {
  const latest = new Map<string, HelmRelease>();
  for (const r of releases) {
    const key = `${r.namespace}/${r.name}`;
    const seen = latest.get(key);
    if (seen === undefined || r.revision > seen.revision) latest.set(key, r);
  }
  return [...latest.values()].sort((a, b) =>
    `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`),
  );
}

/** The cluster the kubeconfig file names, read with @kubernetes/client-node. */
export async function kubeconfigReader(kubeconfigFile: string): Promise<ClusterReader> {
  // Loaded only when a cluster is asked: an ES module, and a large one.
  const k8s = await import("@kubernetes/client-node");
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(kubeconfigFile);
  return {
    async serverVersion() {
      return (await kc.makeApiClient(k8s.VersionApi).getCode()).gitVersion;
    },
    async helmReleases() {
      const secrets = await kc
        .makeApiClient(k8s.CoreV1Api)
        .listSecretForAllNamespaces({ labelSelector: "owner=helm" });
      return latestRevisions(
        secrets.items
          .filter((s) => s.type === "helm.sh/release.v1" && s.data?.release !== undefined)
          .map((s) => decodeRelease(s.data?.release ?? "")),
      );
    },
    async workloadsByNode() {
      const core = kc.makeApiClient(k8s.CoreV1Api);
      const [pods, replicaSets, nodes] = await Promise.all([
        core.listPodForAllNamespaces(),
        kc.makeApiClient(k8s.AppsV1Api).listReplicaSetForAllNamespaces(),
        core.listNode(),
      ]);
      return workloadsByNode(
        pods.items,
        replicaSets.items,
        nodes.items.map((n) => n.metadata?.name ?? ""),
      );
    },
  };
}
