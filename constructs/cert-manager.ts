import type { Release } from "@cdktf/provider-helm/lib/release";
import type { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";

import type { ChartSource } from "../lib/charts";
import { LOCAL_CHARTS, localChart } from "../lib/charts";

import { AddonNamespace } from "./addon-namespace";
import { AddonRelease } from "./addon-release";

/** One ClusterIssuer: exactly one of `vault`, `acme` or `selfSigned`. */
export interface CertManagerIssuer {
  readonly name: string;
  /** Vault's PKI, logged in to with Kubernetes auth. @default - not a Vault issuer */
  readonly vault?: {
    readonly server: string;
    /** PKI signing path, e.g. `pki_int/sign/<role>`. */
    readonly path: string;
    readonly role: string;
    /** Mount path of Vault's Kubernetes auth. */
    readonly authMount: string;
  };
  /** ACME with HTTP-01 through the ingress. @default - not an ACME issuer */
  readonly acme?: { readonly email: string; readonly server: string };
  /** A self-signed issuer (when neither `vault` nor `acme` is set). @default - the other kinds */
  readonly selfSigned?: object;
}

export interface CertManagerProps {
  /** The cert-manager chart (`resolveChart("cert-manager", ...)`). */
  readonly chart: ChartSource;
  /** ClusterIssuers to create. @default none */
  readonly clusterIssuers?: readonly CertManagerIssuer[];
  /** PEM CA bundles of Vault issuers, by issuer name (the stack reads `caBundleFile`). @default none */
  readonly vaultCaBundles?: Readonly<Record<string, string>>;
  /** IngressClass of ACME HTTP-01 solvers. @default the cluster's default IngressClass */
  readonly acmeIngressClassName?: string;
  /** The chart that creates the issuers. @default our charts/cluster-issuers */
  readonly issuersChart?: ChartSource;
  /** Installed before the issuers, e.g. the ingress controller for HTTP-01. @default nothing */
  readonly issuersDependOn?: readonly ITerraformDependable[];
  /** Where it runs. @default - a namespace of its own, `cert-manager` */
  readonly namespace?: AddonNamespace;
}

/** cert-manager with its CRDs, then the configured ClusterIssuers. */
export class CertManager extends Construct {
  public readonly release: Release;
  public readonly namespace: AddonNamespace;
  /** The issuers release; undefined when no issuer is configured. */
  public readonly issuers?: Release;

  constructor(scope: Construct, id: string, props: CertManagerProps) {
    super(scope, id);
    this.namespace =
      props.namespace ?? new AddonNamespace(this, "Namespace", { name: "cert-manager" });
    const namespace = this.namespace.name;
    this.release = new AddonRelease(this, "Resource", {
      name: "cert-manager",
      namespace,
      chart: props.chart,
      // CRDs from the chart (kept on uninstall, so certificates survive a reinstall).
      values: { crds: { enabled: true, keep: true } },
      // Wait for the webhook: ClusterIssuers are rejected until it answers.
      wait: true,
      timeoutSeconds: 600,
      dependsOn: [this.namespace.release],
    }).release;
    const issuers = props.clusterIssuers ?? [];
    if (issuers.length === 0) return;
    this.issuers = new AddonRelease(this, "Issuers", {
      name: "cluster-issuers",
      namespace,
      chart: props.issuersChart ?? localChart(LOCAL_CHARTS.clusterIssuers),
      values: {
        certManagerServiceAccount: "cert-manager",
        issuers: issuers.map((issuer) => issuerValues(issuer, props)),
      },
      wait: false,
      timeoutSeconds: 120,
      dependsOn: [this.release, ...(props.issuersDependOn ?? [])],
    }).release;
  }
}

function issuerValues(issuer: CertManagerIssuer, props: CertManagerProps): Record<string, unknown> {
  if (issuer.vault) {
    const pem = props.vaultCaBundles?.[issuer.name];
    return {
      name: issuer.name,
      vault: {
        server: issuer.vault.server,
        path: issuer.vault.path,
        role: issuer.vault.role,
        authMount: issuer.vault.authMount,
        ...(pem === undefined ? {} : { caBundle: Buffer.from(pem).toString("base64") }),
      },
    };
  }
  if (issuer.acme) {
    return {
      name: issuer.name,
      acme: {
        email: issuer.acme.email,
        server: issuer.acme.server,
        ...(props.acmeIngressClassName ? { ingressClassName: props.acmeIngressClassName } : {}),
      },
    };
  }
  return { name: issuer.name, selfSigned: {} };
}
