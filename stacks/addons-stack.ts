import { join } from "node:path";

import { LocalBackend, TerraformStack } from "cdktf";
import type { Construct } from "constructs";

import type { ClusterConfig } from "../config/schema";

export interface AddonsStackProps {
  readonly config: ClusterConfig;
  readonly stateDir: string;
  /** Path of the cluster's admin kubeconfig (from the cluster stack). */
  readonly kubeconfigPath: string;
}

/** Chained Helm releases: MetalLB, ingress, cert-manager, storage, ArgoCD, GPU, Vault, monitoring. */
export class AddonsStack extends TerraformStack {
  constructor(scope: Construct, id: string, props: AddonsStackProps) {
    super(scope, id);
    new LocalBackend(this, { path: join(props.stateDir, `${id}.tfstate`) });
  }
}
