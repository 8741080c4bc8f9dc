import { HelmProvider } from "@cdktf/provider-helm/lib/provider";
import type { ITerraformDependable } from "cdktf";
import { Fn, Op, TerraformOutput, TerraformStack, TerraformVariable } from "cdktf";
import type { Construct } from "constructs";

import type { ChartName } from "../config/chart-names";
import type { ClusterConfig } from "../config/schema";
import type { SecretVariable } from "../config/secrets";
import {
  GRAFANA_ADMIN_PASSWORD,
  secretVariables,
  truenasApiKey,
  truenasSshKey,
} from "../config/secrets";
import { storageDriver } from "../config/storage-drivers";
import { ArgoCd } from "../constructs/argocd";
import { CertManager } from "../constructs/cert-manager";
import { DemocraticCsi } from "../constructs/democratic-csi";
import { ExternalSecrets } from "../constructs/external-secrets";
import { GpuOperator } from "../constructs/gpu-operator";
import { IngressController } from "../constructs/ingress-controller";
import { KubePrometheusStack } from "../constructs/kube-prometheus-stack";
import { MetalLb } from "../constructs/metallb";
import { SnapshotController } from "../constructs/snapshot-controller";
import { resolveChart } from "../lib/charts";
import {
  allNodeGroups,
  gpuNodeGroups,
  tolerationsForPools,
  workerNodeGroups,
} from "../lib/scheduling";

import { stateBackend } from "./state-backend";

export interface AddonsStackProps {
  readonly config: ClusterConfig;
  readonly stateDir: string;
  /** Path of the cluster's admin kubeconfig (from the cluster stack). */
  readonly kubeconfigPath: string;
  /** Where relative paths of the definition (local chart overrides) start. */
  readonly baseDir: string;
  /**
   * PEM CA bundles of Vault issuers, by issuer name (`readNamedFiles`).
   * @default - none: Vault's certificate must be publicly trusted
   */
  readonly vaultCaBundles?: Readonly<Record<string, string>>;
}

/**
 * Chained Helm releases: MetalLB, ingress, cert-manager, storage, ArgoCD, GPU, Vault,
 * monitoring. Secrets are sensitive variables (`TF_VAR_*`), passed through `set_sensitive`.
 */
export class AddonsStack extends TerraformStack {
  /** The sensitive variables of this stack, by Terraform variable name. */
  public readonly secrets: ReadonlyMap<string, TerraformVariable>;

  constructor(scope: Construct, id: string, props: AddonsStackProps) {
    super(scope, id);
    stateBackend(this, id, props.config, props.stateDir);
    const { config } = props;
    const addons = config.addons;

    // The kubeconfig's path, never its contents: nothing of it reaches cdk.tf.json or state.
    new HelmProvider(this, "helm", { kubernetes: { configPath: props.kubeconfigPath } });

    const secrets = new Map<string, TerraformVariable>();
    for (const s of secretVariables(config)) secrets.set(s.name, secretVariable(this, s));
    this.secrets = secrets;
    const secret = (s: SecretVariable) => secrets.get(s.name)!.stringValue;
    const chart = (name: ChartName) =>
      resolveChart(name, addons.chartOverrides[name], props.baseDir);

    const metallb = addons.metallb
      ? new MetalLb(this, "MetalLb", {
          addressPools: addons.metallb.addressPools,
          chart: chart("metallb"),
        })
      : undefined;

    const ingress = addons.ingress
      ? new IngressController(this, "Ingress", {
          controller: addons.ingress.controller,
          chart: chart(addons.ingress.controller),
          loadBalancerIp: addons.ingress.loadBalancerIp,
          dependsOn: metallb ? [metallb.pools] : [],
        })
      : undefined;

    const issuers = addons.certManager?.clusterIssuers ?? [];
    const certManager = addons.certManager
      ? new CertManager(this, "CertManager", {
          chart: chart("cert-manager"),
          clusterIssuers: issuers,
          vaultCaBundles: props.vaultCaBundles,
          acmeIngressClassName: ingress?.ingressClassName,
          // ACME HTTP-01 is answered through the ingress controller.
          issuersDependOn: ingress && issuers.some((i) => i.acme) ? [ingress.release] : [],
        })
      : undefined;

    const backends = addons.storage?.democraticCsi ?? [];
    if (backends.length > 0) {
      const snapshots = new SnapshotController(this, "SnapshotController", {
        chart: chart("snapshot-controller"),
      });
      // One namespace for every backend's release.
      const csiNamespace = DemocraticCsi.namespace(this, "DemocraticCsiNamespace");
      for (const backend of backends) {
        const driver = storageDriver(backend.driver);
        new DemocraticCsi(this, `DemocraticCsi-${backend.name}`, {
          name: backend.name,
          driver: backend.driver,
          host: backend.host,
          apiPort: backend.port,
          apiScheme: backend.protocol,
          allowInsecure: backend.allowInsecure,
          apiKey: secret(truenasApiKey(backend)),
          ssh: driver.ssh
            ? { user: backend.sshUser, privateKey: secret(truenasSshKey(backend)) }
            : undefined,
          datasetParent: backend.datasetParent,
          snapshotsDatasetParent: backend.snapshotsDatasetParent,
          targetPortal: backend.targetPortal,
          shareHost: backend.shareHost,
          defaultClass: backend.default,
          reclaimPolicy: backend.reclaimPolicy,
          clusterName: config.name,
          chart: chart("democratic-csi"),
          namespace: csiNamespace,
          nodeTolerations: tolerationsForPools(workerNodeGroups(config)),
          dependsOn: [snapshots.release],
        });
      }
    }

    if (addons.argocd) {
      const before: ITerraformDependable[] = [];
      if (addons.argocd.domain !== undefined && ingress) before.push(ingress.release);
      if (addons.argocd.domain !== undefined && certManager?.issuers)
        before.push(certManager.issuers);
      new ArgoCd(this, "ArgoCd", {
        chart: chart("argo-cd"),
        appsChart: chart("argocd-apps"),
        domain: addons.argocd.domain,
        ingressClassName: ingress?.ingressClassName,
        // The UI's certificate comes from the first ClusterIssuer, if any.
        clusterIssuer: issuers[0]?.name,
        bootstrap: addons.argocd.bootstrap,
        dependsOn: before,
      });
      if (addons.argocd.domain !== undefined) {
        new TerraformOutput(this, "argocd_url", {
          value: `${issuers.length > 0 ? "https" : "http"}://${addons.argocd.domain}/`,
          description: "ArgoCD UI (user admin; password: see docs/addons.md)",
        });
      }
    }

    if (addons.gpuOperator?.enabled) {
      new GpuOperator(this, "GpuOperator", {
        chart: chart("gpu-operator"),
        gpuNodeGroups: gpuNodeGroups(config),
      });
    }

    if (addons.vault?.externalSecrets) {
      new ExternalSecrets(this, "ExternalSecrets", {
        chart: chart("external-secrets"),
        vaultAddress: addons.vault.address,
        kubernetesAuthMount: addons.vault.kubernetesAuthMount,
        role: addons.vault.role,
        kvPath: addons.vault.kvPath,
      });
    }

    if (addons.monitoring?.kubePrometheusStack) {
      new KubePrometheusStack(this, "KubePrometheusStack", {
        chart: chart("kube-prometheus-stack"),
        grafanaAdminPassword: secret(GRAFANA_ADMIN_PASSWORD),
        nodeExporterTolerations: tolerationsForPools(allNodeGroups(config)),
      });
    }
  }
}

/**
 * A required, sensitive string variable read from `TF_VAR_<name>`. Without a value, Terraform
 * stops before planning with "No value for required variable" naming it; an empty value fails
 * the validation below, which names the environment variable.
 */
function secretVariable(scope: Construct, s: SecretVariable): TerraformVariable {
  const variable = new TerraformVariable(scope, s.name, {
    type: "string",
    sensitive: true,
    nullable: false,
    description: `${s.description}; set ${s.env} in the environment`,
  });
  variable.addValidation({
    condition: Op.gte(Fn.lengthOf(variable.stringValue), 1),
    errorMessage: `${s.name} is empty; set ${s.env} in the environment (${s.description})`,
  });
  return variable;
}
