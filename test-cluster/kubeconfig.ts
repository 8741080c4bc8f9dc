/** The kubeconfig files of a test cluster, shaped like kubeadm's (certificates embedded). */
import { stringify } from "yaml";

import type { ClientIdentity, Pki } from "./pki";

const base64 = (pem: string) => Buffer.from(pem).toString("base64");

/**
 * A kubeconfig for `identity` against `server`, named as kubeadm names admin.conf:
 * cluster `<clusterName>`, user `<commonName>`, context `<commonName>@<clusterName>`.
 */
export function kubeconfigFor(
  pki: Pki,
  identity: ClientIdentity,
  server: string,
  clusterName: string,
): string {
  const { cert, key } = pki.client(identity);
  const user = identity.commonName;
  const context = `${user}@${clusterName}`;
  return stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [
      {
        name: clusterName,
        cluster: { server, "certificate-authority-data": base64(pki.read(pki.caCert)) },
      },
    ],
    contexts: [{ name: context, context: { cluster: clusterName, user } }],
    "current-context": context,
    preferences: {},
    users: [
      {
        name: user,
        user: {
          "client-certificate-data": base64(pki.read(cert)),
          "client-key-data": base64(pki.read(key)),
        },
      },
    ],
  });
}
