import { basename } from "node:path";

import { NullProvider } from "@cdktf/provider-null/lib/provider";
import { TerraformOutput, TerraformStack } from "cdktf";
import type { Construct } from "constructs";

import { ProxmoxProvider } from "../.gen/providers/proxmox/provider";
import { imageFileName } from "../config/cloud-image";
import { parseCidr } from "../config/net";
import type { ClusterNode } from "../config/nodes";
import { expandNodes, imageTemplates } from "../config/nodes";
import type { ClusterConfig } from "../config/schema";
import { CloudImageTemplate } from "../constructs/cloud-image-template";
import { HaManagerReady } from "../constructs/ha-manager-ready";
import { NodeRemoval } from "../constructs/node-removal";
import { ProxmoxHaResource } from "../constructs/proxmox-ha-resource";
import { ProxmoxHaRule } from "../constructs/proxmox-ha-rule";
import { ProxmoxNodeVm } from "../constructs/proxmox-node-vm";
import { HA_MANAGER_READY_ENTRY, RUNNER_ENTRY } from "../lib/kubespray/project";
import type { ReplacementTrigger } from "../lib/maintenance/replacement";
import type { DestroyableNodes } from "../lib/node-guard";
import { haAffinityGroups } from "../lib/proxmox/ha";

import { stateBackend } from "./state-backend";

export interface VmsStackProps {
  readonly config: ClusterConfig;
  /** Folder for this cluster's Terraform state and generated files. */
  readonly stateDir: string;
  /**
   * The definition file, named in each VM's description.
   * @default - the description names only the cluster
   */
  readonly definitionFile?: string;
  /**
   * Nodes whose VMs OpenTofu may destroy while they stay in the definition: `all` for a
   * teardown, or the nodes a deploy may make anew (lib/node-guard.ts).
   * @default - none: a plan that would replace a node's VM fails
   */
  readonly destroyableNodes?: DestroyableNodes;
  /**
   * The node whose VM the deliberate replacement (`npm run replace`) makes anew, and the
   * value of its replacement trigger (lib/maintenance/replacement.ts).
   * @default - none
   */
  readonly replacing?: ReplacementTrigger;
}

/**
 * The Proxmox VMs of the cluster, one per node, and the per-node removal that drains a
 * node out of Kubernetes before its VM is deleted. Credentials come only from the
 * environment (`PROXMOX_VE_API_TOKEN`, or `PROXMOX_VE_USERNAME`/`PROXMOX_VE_PASSWORD`),
 * read by the provider itself, so none reaches the synthesized output.
 */
export class VmsStack extends TerraformStack {
  public readonly nodes: readonly ClusterNode[];

  constructor(scope: Construct, id: string, props: VmsStackProps) {
    super(scope, id);
    const { config } = props;
    stateBackend(this, id, props.config, props.stateDir);
    new ProxmoxProvider(this, "proxmox", {
      endpoint: config.proxmox.endpoint,
      insecure: config.proxmox.insecure,
    });
    new NullProvider(this, "null");

    const network = parseCidr(config.network.cidr);
    if (!network)
      throw new Error(`network.cidr ${config.network.cidr} passed validation but does not parse`);
    const destroyable = props.destroyableNodes ?? [];
    const source = props.definitionFile ? ` (${basename(props.definitionFile)})` : "";
    const specs = expandNodes(config);
    const templates = new Map(
      imageTemplates(config, specs).map((t) => [
        t.host,
        // The construct ID is part of the state: the host, never a position.
        new CloudImageTemplate(this, `template-${t.host}`, {
          name: t.name,
          vmId: t.vmId,
          host: t.host,
          imageUrl: t.image.url,
          checksum: t.image.checksum,
          checksumAlgorithm: t.image.checksumAlgorithm,
          fileName: imageFileName(t.image),
          imageDatastore: t.image.datastore,
          datastore: config.proxmox.datastore,
          tags: [config.name, "template", ...config.proxmox.tags],
          description: `Cloud-init template of cluster ${config.name}${source} on ${t.host}, from ${t.image.url}. Managed by proxmox-kubespray-cdktf.`,
        }),
      ]),
    );
    const vms = specs.map(
      (node) =>
        // The construct ID is part of the state: pool name and index, never a position.
        new ProxmoxNodeVm(this, `${node.pool}-${node.index}`, {
          ...node,
          clusterName: config.name,
          templateResource: templates.get(node.host)?.resource,
          templateStorage: config.proxmox.template.storage,
          datastore: config.proxmox.datastore,
          bridge: config.network.bridge,
          vlanId: config.network.vlanId,
          prefixLength: network.prefix,
          gateway: config.network.gateway,
          dnsServers: config.network.dnsServers ?? [config.network.gateway],
          searchDomain: config.network.searchDomain,
          sshUser: config.ssh.user,
          authorizedKeys: config.ssh.authorizedKeys,
          tags: config.proxmox.tags,
          agentTimeout: config.proxmox.agentTimeout,
          destroyable: destroyable === "all" || destroyable.includes(node.name),
          replacementTrigger:
            props.replacing?.node === node.name ? props.replacing.trigger : undefined,
          haManaged: config.proxmox.ha.enabled,
          description: `Kubernetes node ${node.name} of cluster ${config.name}${source}, pool ${node.pool} (${node.role}). Managed by proxmox-kubespray-cdktf: changes made by hand are reverted on the next deploy.`,
        }),
    );
    if (config.proxmox.ha.enabled) {
      const managed = "Managed by proxmox-kubespray-cdktf.";
      const resources = new Map(
        specs.map((node, i) => [
          node.name,
          // The construct ID is part of the state: pool name and index, as for the VM.
          new ProxmoxHaResource(this, `ha-${node.pool}-${node.index}`, {
            vmId: node.vmId,
            vm: vms[i].resource,
            comment: `Kubernetes node ${node.name} of cluster ${config.name}. ${managed}`,
          }),
        ]),
      );
      const groups = haAffinityGroups(config, specs);
      if (groups.length > 0) {
        const ready = new HaManagerReady(this, "HaManagerReady", {
          endpoint: config.proxmox.endpoint,
          insecure: config.proxmox.insecure,
          hosts: [...new Set(specs.map((n) => n.host))],
          resources: [...resources.values()].map((r) => r.resource),
          entry: HA_MANAGER_READY_ENTRY,
        });
        for (const group of groups) {
          new ProxmoxHaRule(this, `ha-rule-${group.ruleId}`, {
            ruleId: group.ruleId,
            resourceIds: group.nodes.map((n) => resources.get(n.name)!.resourceId),
            comment: `Keeps the ${group.what} of cluster ${config.name} on different hosts. ${managed}`,
            dependsOn: [ready.resource],
          });
        }
      }
    }
    new NodeRemoval(this, "NodeRemoval", {
      nodeNames: specs.map((n) => n.name),
      stateDir: props.stateDir,
      vms: vms.map((v) => v.resource),
      runnerEntry: RUNNER_ENTRY,
    });

    this.nodes = specs.map((spec, i) => ({ ...spec, ipv4: vms[i].ipv4Address }));
    new TerraformOutput(this, "nodes", {
      description: "Every node: name, pool, role, VM ID, Proxmox host and IPv4 address",
      value: Object.fromEntries(
        this.nodes.map((n) => [
          n.name,
          { name: n.name, pool: n.pool, role: n.role, vm_id: n.vmId, host: n.host, ipv4: n.ipv4 },
        ]),
      ),
    });
  }
}
