import type { Release } from "@cdktf/provider-helm/lib/release";
import type { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";

import type { ChartSource } from "../lib/charts";
import { LOCAL_CHARTS, localChart } from "../lib/charts";

import { AddonNamespace } from "./addon-namespace";
import { AddonRelease } from "./addon-release";

export interface ExternalSecretsProps {
  /** The external-secrets chart (`resolveChart("external-secrets", ...)`). */
  readonly chart: ChartSource;
  /** Vault address. */
  readonly vaultAddress: string;
  /** Mount path of Vault's Kubernetes auth for this cluster. */
  readonly kubernetesAuthMount: string;
  /** Vault role external-secrets logs in with. */
  readonly role: string;
  /** KV v2 mount the store reads. */
  readonly kvPath: string;
  /** @default "vault" */
  readonly storeName?: string;
  /** The chart that creates the store. @default our charts/cluster-secret-store */
  readonly storeChart?: ChartSource;
  /** @default nothing */
  readonly dependsOn?: readonly ITerraformDependable[];
  /** Where it runs. @default - a namespace of its own, `external-secrets` */
  readonly namespace?: AddonNamespace;
}

/** external-secrets with its CRDs, then a ClusterSecretStore on Vault (Kubernetes auth). */
export class ExternalSecrets extends Construct {
  public readonly release: Release;
  public readonly store: Release;
  public readonly storeName: string;
  public readonly namespace: AddonNamespace;

  constructor(scope: Construct, id: string, props: ExternalSecretsProps) {
    super(scope, id);
    this.namespace =
      props.namespace ?? new AddonNamespace(this, "Namespace", { name: "external-secrets" });
    const namespace = this.namespace.name;
    this.storeName = props.storeName ?? "vault";
    this.release = new AddonRelease(this, "Resource", {
      name: "external-secrets",
      namespace,
      chart: props.chart,
      values: { installCRDs: true },
      // Wait for the webhook: it validates the ClusterSecretStore.
      wait: true,
      timeoutSeconds: 300,
      dependsOn: [this.namespace.release, ...(props.dependsOn ?? [])],
    }).release;
    this.store = new AddonRelease(this, "Store", {
      name: "cluster-secret-store",
      namespace,
      chart: props.storeChart ?? localChart(LOCAL_CHARTS.clusterSecretStore),
      values: {
        name: this.storeName,
        vault: {
          server: props.vaultAddress,
          path: props.kvPath,
          authMount: props.kubernetesAuthMount,
          role: props.role,
        },
        // The controller's own service account (the chart names it after the release).
        serviceAccount: { name: "external-secrets", namespace },
      },
      wait: false,
      timeoutSeconds: 120,
      dependsOn: [this.release],
    }).release;
  }
}
