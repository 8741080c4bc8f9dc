/**
 * What an e2e test asks a (test) cluster after an install, with the API's own answers: the
 * workloads that are not ready and why, where each DaemonSet's pods run, whether the server
 * accepts every object of a release under strict field validation, and which custom
 * resources exist.
 */
import type { RequestOptions } from "node:https";
import { request } from "node:https";

import type { KubeConfig, V1APIResourceList, V1Pod } from "@kubernetes/client-node";
import {
  ApiextensionsV1Api,
  AppsV1Api,
  BatchV1Api,
  CoreV1Api,
  CustomObjectsApi,
} from "@kubernetes/client-node";

/** A raw request with the kubeconfig's credentials: the typed clients drop unknown fields. */
async function send(
  kc: KubeConfig,
  method: string,
  path: string,
  body?: { contentType: string; text: string },
): Promise<{ status: number; text: string }> {
  const server = new URL(kc.getCurrentCluster()!.server);
  const options: RequestOptions = {
    method,
    hostname: server.hostname,
    port: server.port,
    path,
    headers: body ? { "Content-Type": body.contentType, Accept: "application/json" } : {},
  };
  await kc.applyToHTTPSOptions(options);
  return new Promise((resolve, reject) => {
    const req = request(options, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (text += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on("error", reject);
    req.setTimeout(60_000, () => req.destroy(new Error(`${method} ${path} timed out`)));
    if (body) req.write(body.text);
    req.end();
  });
}

const readyPod = (p: V1Pod) =>
  p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;

/**
 * Everything not running as it should, a line each: Deployments and StatefulSets not
 * available, pods Pending (with the scheduler's reason) or not Ready, Jobs not Complete.
 */
export async function workloadProblems(kc: KubeConfig): Promise<string[]> {
  const apps = kc.makeApiClient(AppsV1Api);
  const core = kc.makeApiClient(CoreV1Api);
  const batch = kc.makeApiClient(BatchV1Api);
  const out: string[] = [];
  for (const d of (await apps.listDeploymentForAllNamespaces()).items) {
    const want = d.spec?.replicas ?? 1;
    if ((d.status?.availableReplicas ?? 0) < want)
      out.push(
        `Deployment ${d.metadata?.namespace}/${d.metadata?.name}: ${d.status?.availableReplicas ?? 0} of ${want} available`,
      );
  }
  for (const s of (await apps.listStatefulSetForAllNamespaces()).items) {
    const want = s.spec?.replicas ?? 1;
    if ((s.status?.availableReplicas ?? 0) < want)
      out.push(
        `StatefulSet ${s.metadata?.namespace}/${s.metadata?.name}: ${s.status?.availableReplicas ?? 0} of ${want} available`,
      );
  }
  for (const p of (await core.listPodForAllNamespaces()).items) {
    const where = `Pod ${p.metadata?.namespace}/${p.metadata?.name}`;
    const phase = p.status?.phase;
    if (phase === "Succeeded") continue;
    if (phase === "Pending") {
      const scheduled = p.status?.conditions?.find((c) => c.type === "PodScheduled");
      out.push(
        `${where}: Pending${scheduled?.status === "False" ? ` (${scheduled.reason}: ${scheduled.message})` : ""}`,
      );
    } else if (!readyPod(p)) out.push(`${where}: ${phase}, not Ready`);
  }
  for (const j of (await batch.listJobForAllNamespaces()).items) {
    const complete = j.status?.conditions?.some(
      (c) => c.type === "Complete" && c.status === "True",
    );
    if (!complete)
      out.push(
        `Job ${j.metadata?.namespace}/${j.metadata?.name}: not Complete (${JSON.stringify(j.status)})`,
      );
  }
  return out;
}

/** Each DaemonSet (`namespace/name`) and the nodes its Ready pods run on, sorted. */
export async function daemonSetNodes(kc: KubeConfig): Promise<Record<string, string[]>> {
  const apps = kc.makeApiClient(AppsV1Api);
  const core = kc.makeApiClient(CoreV1Api);
  const pods = (await core.listPodForAllNamespaces()).items;
  const out: Record<string, string[]> = {};
  for (const ds of (await apps.listDaemonSetForAllNamespaces()).items) {
    const uid = ds.metadata?.uid;
    out[`${ds.metadata?.namespace}/${ds.metadata?.name}`] = pods
      .filter((p) => p.metadata?.ownerReferences?.some((o) => o.uid === uid) && readyPod(p))
      .map((p) => p.spec?.nodeName ?? "")
      .sort();
  }
  return out;
}

/** Where the API serves a kind: its resource's plural and whether it is namespaced. */
class Discovery {
  private readonly lists = new Map<string, V1APIResourceList>();
  constructor(private readonly kc: KubeConfig) {}

  async resource(
    apiVersion: string,
    kind: string,
  ): Promise<{ base: string; plural: string; namespaced: boolean }> {
    const base = apiVersion.includes("/") ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
    if (!this.lists.has(base)) {
      const r = await send(this.kc, "GET", base);
      if (r.status !== 200) throw new Error(`GET ${base}: ${r.status} ${r.text}`);
      this.lists.set(base, JSON.parse(r.text) as V1APIResourceList);
    }
    const found = this.lists
      .get(base)!
      .resources.find((x) => x.kind === kind && !x.name.includes("/"));
    if (!found) throw new Error(`${apiVersion} serves no kind ${kind}`);
    return { base, plural: found.name, namespaced: found.namespaced };
  }
}

/**
 * Each object that the API server refuses as a server-side apply, dry run, with strict
 * field validation (an unknown or duplicate field is an error, not a dropped field with a
 * warning, as Helm's own requests get): `Kind namespace/name: the server's message`.
 * Objects without a namespace go to `namespace`, as Helm installs them.
 */
export async function strictDryRunProblems(
  kc: KubeConfig,
  objects: readonly Record<string, unknown>[],
  namespace: string,
): Promise<string[]> {
  const discovery = new Discovery(kc);
  const out: string[] = [];
  for (const object of objects) {
    const apiVersion = String(object.apiVersion);
    const kind = String(object.kind);
    const meta = (object.metadata ?? {}) as { name?: string; namespace?: string };
    const found = await discovery.resource(apiVersion, kind);
    const ns = meta.namespace ?? namespace;
    const path = found.namespaced
      ? `${found.base}/namespaces/${ns}/${found.plural}/${meta.name}`
      : `${found.base}/${found.plural}/${meta.name}`;
    const query = "dryRun=All&fieldValidation=Strict&fieldManager=e2e-strict-check&force=true";
    const body = {
      ...object,
      metadata: { ...meta, ...(found.namespaced ? { namespace: ns } : {}) },
    };
    const r = await send(kc, "PATCH", `${path}?${query}`, {
      contentType: "application/apply-patch+yaml",
      text: JSON.stringify(body),
    });
    if (r.status >= 300) {
      let message = r.text;
      try {
        message = (JSON.parse(r.text) as { message?: string }).message ?? r.text;
      } catch {
        // not JSON: the raw text
      }
      out.push(`${kind} ${found.namespaced ? `${ns}/` : ""}${meta.name}: ${message}`);
    }
  }
  return out;
}

/** Every custom resource of every CRD the cluster serves: `Kind namespace/name`. */
export async function customResources(kc: KubeConfig): Promise<string[]> {
  const crds = (await kc.makeApiClient(ApiextensionsV1Api).listCustomResourceDefinition()).items;
  const custom = kc.makeApiClient(CustomObjectsApi);
  const out: string[] = [];
  for (const crd of crds) {
    const version = crd.spec.versions.find((v) => v.served && v.storage)?.name;
    if (version === undefined) continue;
    const list = (await custom.listClusterCustomObject({
      group: crd.spec.group,
      version,
      plural: crd.spec.names.plural,
    })) as { items: { metadata?: { name?: string; namespace?: string } }[] };
    for (const item of list.items)
      out.push(
        `${crd.spec.names.kind} ${item.metadata?.namespace ? `${item.metadata.namespace}/` : ""}${item.metadata?.name}`,
      );
  }
  return out.sort();
}
