import type { Release } from "@cdktf/provider-helm/lib/release";
import type { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";

import type { ChartSource } from "../lib/charts";

import { AddonNamespace } from "./addon-namespace";
import { AddonRelease } from "./addon-release";

export interface ArgoCdBootstrap {
  /** Git repository of the root Application. */
  readonly repoUrl: string;
  /** Path inside the repository. */
  readonly path: string;
  /** Branch, tag or commit. */
  readonly revision: string;
}

export interface ArgoCdProps {
  /** The argo-cd chart (`resolveChart("argo-cd", ...)`). */
  readonly chart: ChartSource;
  /** The argocd-apps chart that creates the root Application (`resolveChart("argocd-apps", ...)`). */
  readonly appsChart: ChartSource;
  /** Host name of the UI's Ingress. @default no Ingress: reach it with kubectl port-forward */
  readonly domain?: string;
  /** IngressClass of the UI's Ingress. @default the cluster's default IngressClass */
  readonly ingressClassName?: string;
  /** ClusterIssuer that signs the UI's certificate. @default no TLS at the Ingress */
  readonly clusterIssuer?: string;
  /** Root Application (app of apps). @default none */
  readonly bootstrap?: ArgoCdBootstrap;
  /** Installed first, e.g. the ingress controller and cert-manager's issuers. @default nothing */
  readonly dependsOn?: readonly ITerraformDependable[];
  /** Where it runs. @default - a namespace of its own, `argocd` */
  readonly namespace?: AddonNamespace;
}

/** Kubernetes API address of the cluster ArgoCD runs in. */
export const IN_CLUSTER = "https://kubernetes.default.svc";

/** ArgoCD, then the root Application that hands the cluster to GitOps. */
export class ArgoCd extends Construct {
  public readonly release: Release;
  /** The root Application's release; undefined without `bootstrap`. */
  public readonly bootstrap?: Release;
  public readonly namespace: AddonNamespace;

  constructor(scope: Construct, id: string, props: ArgoCdProps) {
    super(scope, id);
    this.namespace = props.namespace ?? new AddonNamespace(this, "Namespace", { name: "argocd" });
    const namespace = this.namespace.name;
    const values: Record<string, unknown> = {};
    if (props.domain !== undefined) {
      const tls = props.clusterIssuer !== undefined;
      values.global = { domain: props.domain };
      // TLS ends at the ingress controller; argocd-server itself serves plain HTTP behind it.
      values.configs = { params: { "server.insecure": true } };
      values.server = {
        ingress: {
          enabled: true,
          ...(props.ingressClassName ? { ingressClassName: props.ingressClassName } : {}),
          ...(tls
            ? { tls: true, annotations: { "cert-manager.io/cluster-issuer": props.clusterIssuer } }
            : {}),
        },
      };
    }
    this.release = new AddonRelease(this, "Resource", {
      name: "argocd",
      namespace,
      chart: props.chart,
      values,
      // Wait for the CRDs and the repo server: the root Application is synced right away.
      wait: true,
      timeoutSeconds: 600,
      dependsOn: [this.namespace.release, ...(props.dependsOn ?? [])],
    }).release;
    if (props.bootstrap === undefined) return;
    this.bootstrap = new AddonRelease(this, "Bootstrap", {
      name: "argocd-bootstrap",
      namespace,
      chart: props.appsChart,
      values: { applications: { root: rootApplication(namespace, props.bootstrap) } },
      wait: false,
      timeoutSeconds: 120,
      dependsOn: [this.release],
    }).release;
  }
}

/** The root Application, as the argocd-apps chart takes it. */
export function rootApplication(namespace: string, bootstrap: ArgoCdBootstrap) {
  return {
    namespace,
    project: "default",
    // No resources-finalizer on purpose: destroying the addons stack must not cascade-delete
    // every workload the root Application created.
    source: {
      repoURL: bootstrap.repoUrl,
      path: bootstrap.path,
      targetRevision: bootstrap.revision,
    },
    destination: { server: IN_CLUSTER, namespace },
    syncPolicy: { automated: { prune: true, selfHeal: true } },
  };
}
