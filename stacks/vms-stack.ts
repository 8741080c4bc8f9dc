import { join } from "node:path";

import { LocalBackend, TerraformStack } from "cdktf";
import type { Construct } from "constructs";

import type { ClusterConfig } from "../config/schema";
import type { NodeSpec } from "../lib/topology";
import { expandNodes } from "../lib/topology";

export interface VmsStackProps {
  readonly config: ClusterConfig;
  /** Folder for this cluster's Terraform state and generated files. */
  readonly stateDir: string;
}

/** A node as the other stacks see it: its spec plus its address (a token for DHCP). */
export interface ClusterNode extends NodeSpec {
  /** IPv4 address: the static one, or the guest agent's (known at apply time). */
  readonly ipv4: string;
}

/** The Proxmox VMs of the cluster. */
export class VmsStack extends TerraformStack {
  public readonly nodes: readonly ClusterNode[];

  constructor(scope: Construct, id: string, props: VmsStackProps) {
    super(scope, id);
    new LocalBackend(this, { path: join(props.stateDir, `${id}.tfstate`) });
    // Filled in by the vms issue: provider, one ProxmoxNodeVm per node, outputs.
    this.nodes = expandNodes(props.config).map((n) => ({ ...n, ipv4: n.staticIp ?? "" }));
  }
}
