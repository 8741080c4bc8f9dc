/** The admin kubeconfig the addons stack uses, from Kubespray's artifacts/admin.conf. */
import { parseDocument } from "yaml";

/**
 * Points every cluster's `server:` at the API server VIP, when there is one:
 * `https://<vip>:<port>`, or `server` in its place (where the VIP is not reachable, as on the
 * test cluster).
 */
export function pointAtVip(
  adminConf: string,
  vip: string | undefined,
  port: number,
  server: string = `https://${vip}:${port}`,
): string {
  if (vip === undefined) return adminConf;
  const doc = parseDocument(adminConf);
  const clusters = doc.toJS() as { clusters?: unknown[] };
  (clusters.clusters ?? []).forEach((_, i) => {
    doc.setIn(["clusters", i, "cluster", "server"], server);
  });
  return doc.toString();
}
