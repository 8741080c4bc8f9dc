/**
 * The certificates of one test cluster, made fresh for each run by `kube pki` (Go's own
 * crypto, in the control-plane binary), named and laid out as kubeadm does on a Kubespray
 * control plane: one cluster CA for serving and client certificates, a front-proxy CA for
 * the aggregation layer, and the service-account key pair.
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";

/** A client identity: its certificate's subject, as kube-apiserver reads user and groups. */
export interface ClientIdentity {
  /** The file name stem, e.g. `admin` for admin.crt/admin.key. */
  readonly name: string;
  /** The user name. */
  readonly commonName: string;
  /** The groups. */
  readonly organizations: readonly string[];
}

/**
 * Who talks to the API server. admin and super-admin are kubeadm's (Kubernetes 1.29+):
 * admin.conf, the file Kubespray copies to artifacts/admin.conf, is in
 * `kubeadm:cluster-admins`, which kubeadm binds to cluster-admin; super-admin.conf is in
 * `system:masters` and creates that binding. kwok plays every node's kubelet at once, so
 * it cannot be one `system:node:<name>` that the Node authorizer and NodeRestriction would
 * limit to its own node; it is in `system:masters`.
 */
export const IDENTITIES = {
  superAdmin: {
    name: "super-admin",
    commonName: "kubernetes-super-admin",
    organizations: ["system:masters"],
  },
  admin: {
    name: "admin",
    commonName: "kubernetes-admin",
    organizations: ["kubeadm:cluster-admins"],
  },
  controllerManager: {
    name: "controller-manager",
    commonName: "system:kube-controller-manager",
    organizations: [],
  },
  scheduler: { name: "scheduler", commonName: "system:kube-scheduler", organizations: [] },
  kwok: { name: "kwok", commonName: "kwok-controller", organizations: ["system:masters"] },
} as const satisfies Record<string, ClientIdentity>;

/** The group kubeadm binds to cluster-admin for admin.conf. */
export const CLUSTER_ADMINS_GROUP = "kubeadm:cluster-admins";

/** The files of a run's certificates, all in one directory. */
export interface Pki {
  readonly dir: string;
  /** The cluster CA, which also signs the controller manager's certificates. */
  readonly caCert: string;
  readonly caKey: string;
  /** Serves the API on 127.0.0.1 and the `kubernetes` Service's names and address. */
  readonly apiServerCert: string;
  readonly apiServerKey: string;
  /** Serves the controller manager's and the scheduler's health endpoints on 127.0.0.1. */
  readonly componentsServingCert: string;
  readonly componentsServingKey: string;
  readonly frontProxyCaCert: string;
  readonly frontProxyClientCert: string;
  readonly frontProxyClientKey: string;
  /** Signs and verifies service-account tokens. */
  readonly serviceAccountKey: string;
  readonly serviceAccountPublicKey: string;
  /** `NAME.crt` and `NAME.key` of a client identity. */
  client(identity: ClientIdentity): { readonly cert: string; readonly key: string };
  /** The PEM text of a file of this PKI. */
  read(file: string): string;
}

export interface PkiInput {
  readonly dir: string;
  /** The `kube` multi-call binary. */
  readonly kube: string;
  /** The `kubernetes` Service's ClusterIP: the first address of the service range. */
  readonly serviceIp: string;
  /** The cluster's DNS domain, e.g. `cluster.local`. */
  readonly dnsDomain: string;
}

/** Makes a run's certificates in `input.dir`; throws with `kube pki`'s message if it fails. */
export function makePki(input: PkiInput): Pki {
  const loopback = { dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"] };
  const client = (identity: ClientIdentity) => ({
    name: identity.name,
    ca: "ca",
    commonName: identity.commonName,
    organizations: identity.organizations,
    usage: "client",
  });
  const request = {
    dir: input.dir,
    cas: [
      { name: "ca", commonName: "kubernetes" },
      { name: "front-proxy-ca", commonName: "front-proxy-ca" },
    ],
    certs: [
      {
        name: "apiserver",
        ca: "ca",
        commonName: "kube-apiserver",
        usage: "server",
        // kubeadm's names for the API server certificate, on loopback.
        dnsNames: [
          ...loopback.dnsNames,
          "kubernetes",
          "kubernetes.default",
          "kubernetes.default.svc",
          `kubernetes.default.svc.${input.dnsDomain}`,
        ],
        ipAddresses: [...loopback.ipAddresses, input.serviceIp],
      },
      {
        name: "components-serving",
        ca: "ca",
        commonName: "kube-components",
        usage: "server",
        ...loopback,
      },
      {
        name: "front-proxy-client",
        ca: "front-proxy-ca",
        commonName: "front-proxy-client",
        usage: "client",
      },
      ...Object.values(IDENTITIES).map(client),
    ],
    keyPairs: ["sa"],
  };
  const made = spawnSync(input.kube, ["pki"], {
    input: JSON.stringify(request),
    encoding: "utf8",
    timeout: 60_000,
  });
  if (made.status !== 0) {
    throw new Error(
      `${input.kube} pki failed (${made.error?.message ?? `exit ${made.status}`}): ${made.stderr}`,
    );
  }
  const file = (name: string) => join(input.dir, name);
  return {
    dir: input.dir,
    caCert: file("ca.crt"),
    caKey: file("ca.key"),
    apiServerCert: file("apiserver.crt"),
    apiServerKey: file("apiserver.key"),
    componentsServingCert: file("components-serving.crt"),
    componentsServingKey: file("components-serving.key"),
    frontProxyCaCert: file("front-proxy-ca.crt"),
    frontProxyClientCert: file("front-proxy-client.crt"),
    frontProxyClientKey: file("front-proxy-client.key"),
    serviceAccountKey: file("sa.key"),
    serviceAccountPublicKey: file("sa.pub"),
    client: (identity) => ({
      cert: file(`${identity.name}.crt`),
      key: file(`${identity.name}.key`),
    }),
    read: (path) => readFileSync(path, "utf8"),
  };
}
