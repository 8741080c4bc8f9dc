/**
 * What `npm run status` asks the cluster itself, behind a small interface: the API
 * server's version and the Helm releases installed. The one implementation reads them with
 * @kubernetes/client-node through the admin kubeconfig the runner wrote; Helm keeps each
 * release revision in a Secret of type `helm.sh/release.v1` (labels `owner=helm`, `name`,
 * `version`, `status`), its body gzipped JSON, base64 twice over.
 */
import { gunzipSync } from "node:zlib";

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
  };
}
