import { join } from "node:path";

import { LocalBackend, TerraformStack } from "cdktf";
import type { Construct } from "constructs";

import type { ClusterConfig } from "../config/schema";

import type { ClusterNode } from "./vms-stack";

export interface ClusterStackProps {
  readonly config: ClusterConfig;
  readonly stateDir: string;
  /** The nodes from the vms stack (cross-stack references). */
  readonly nodes: readonly ClusterNode[];
}

/** Kubespray inventory, variables and the runner. */
export class ClusterStack extends TerraformStack {
  /** Path of the admin kubeconfig the runner writes (mode 0600); never its contents. */
  public readonly kubeconfigPath: string;

  constructor(scope: Construct, id: string, props: ClusterStackProps) {
    super(scope, id);
    new LocalBackend(this, { path: join(props.stateDir, `${id}.tfstate`) });
    this.kubeconfigPath = join(props.stateDir, "kubeconfig");
  }
}
