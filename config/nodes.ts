/**
 * The node model: one type for a node (`NodeSpec`; `ClusterNode` once its address is known;
 * `KubesprayHost`, the part Kubespray sees), and the expansion of node pools into concrete
 * nodes: names, VM IDs, Proxmox hosts and static addresses. Every value depends only on the pool's position, name and the node's index,
 * never on the size of another pool, so adding a node or appending a pool never renames,
 * renumbers or moves an existing VM.
 */
import { imageTemplateName, imageTemplateVmId, templateFor } from "./cloud-image";
import { intToIp, ipToInt } from "./net";
import { nodeName, poolVmIdBase } from "./pools";
import type { CloudImage, ClusterConfig, NodePool, NodeRole } from "./schema";

/** One node of the cluster, as the definition makes it. */
export interface NodeSpec {
  /** `<cluster>-<pool>-<n>`, also the VM name and the Kubernetes node name. */
  readonly name: string;
  readonly pool: string;
  readonly poolIndex: number;
  /** 1-based index inside the pool. */
  readonly index: number;
  readonly role: NodeRole;
  readonly vmId: number;
  /** Proxmox node the VM runs on. */
  readonly host: string;
  /** Static IPv4 address; undefined for DHCP pools. */
  readonly staticIp?: string;
  readonly cores: number;
  readonly memoryMiB: number;
  readonly diskGiB: number;
  /** QEMU CPU type; undefined: the VM's default. */
  readonly cpuType?: string;
  readonly gpuMapping?: string;
  /** VM ID of the template the node is cloned from. */
  readonly templateVmId: number;
  /** Proxmox node that holds that template. */
  readonly templateNode: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly taints: readonly string[];
}

/** A node with its address, as the vms stack hands it on. */
export interface ClusterNode extends NodeSpec {
  /** IPv4 address: the static one, or the guest agent's (a token until apply). */
  readonly ipv4: string;
}

/**
 * A node as Kubespray sees it: what the inventory holds, what the runner reads back from it
 * and what the record of a run keeps.
 */
export interface KubesprayHost extends Pick<NodeSpec, "name" | "role" | "labels" | "taints"> {
  /** The node's address: a literal, a token until apply, or undefined where not compared. */
  readonly address?: string;
  /** Passes a GPU through (in the inventory's GPU group). */
  readonly gpu: boolean;
}

/** The node as Kubespray sees it, at its address. */
export function kubesprayHost(node: ClusterNode): KubesprayHost {
  return {
    name: node.name,
    role: node.role,
    address: node.ipv4,
    labels: node.labels,
    taints: node.taints,
    gpu: node.gpuMapping !== undefined,
  };
}

/** The static address of node `index` (1-based) of a pool, if the pool has `firstIp`. */
export function staticIp(pool: NodePool, index: number): string | undefined {
  return pool.firstIp === undefined ? undefined : intToIp(ipToInt(pool.firstIp) + index - 1);
}

/**
 * Host of node `index` of a pool: round robin over the pool's hosts, starting at an offset
 * given by the pool's position, so control-plane nodes land on distinct hosts while there
 * are enough of them and every pool is spread evenly.
 */
export function placeNode(hosts: readonly string[], poolIndex: number, index: number): string {
  return hosts[(poolIndex + index - 1) % hosts.length];
}

/** All nodes of the cluster, pool by pool in definition order, then by index. */
export function expandNodes(config: ClusterConfig): NodeSpec[] {
  return config.nodePools.flatMap((pool, poolIndex) => {
    const hosts = pool.hosts ?? config.proxmox.hosts;
    return Array.from({ length: pool.count }, (_, i): NodeSpec => {
      const index = i + 1;
      const host = placeNode(hosts, poolIndex, index);
      const template = templateFor(config, host);
      return {
        name: nodeName(config.name, pool.name, index),
        pool: pool.name,
        poolIndex,
        index,
        role: pool.role,
        vmId: poolVmIdBase(config, poolIndex) + i,
        host,
        staticIp: staticIp(pool, index),
        cores: pool.cores,
        memoryMiB: pool.memoryMiB,
        diskGiB: pool.diskGiB,
        cpuType: pool.cpuType,
        gpuMapping: pool.gpu?.mapping,
        templateVmId: template.vmId,
        templateNode: template.node,
        labels: pool.labels,
        taints: pool.taints,
      };
    });
  });
}

/** A template the vms stack makes from `proxmox.template.image`. */
export interface ImageTemplateSpec {
  readonly vmId: number;
  /** The host it is made on, and whose nodes are cloned from it. */
  readonly host: string;
  readonly name: string;
  readonly image: CloudImage;
}

/**
 * The templates made from `proxmox.template.image`: one on each host that runs a node, in
 * the order of `proxmox.hosts`; none without `image`.
 */
export function imageTemplates(
  config: ClusterConfig,
  nodes: readonly NodeSpec[],
): ImageTemplateSpec[] {
  const { image } = config.proxmox.template;
  if (image === undefined) return [];
  const used = new Set(nodes.map((n) => n.host));
  return config.proxmox.hosts
    .filter((h) => used.has(h))
    .map((host) => ({
      host,
      vmId: imageTemplateVmId(config, host),
      name: imageTemplateName(config.name, host),
      image,
    }));
}
