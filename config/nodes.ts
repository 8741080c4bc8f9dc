/**
 * The node model: the one module that says where each value of a node comes from (its
 * name, VM ID, Proxmox host, template and address) and what follows from them for the
 * whole cluster (each pool's VM ID block and addresses, the templates' VM IDs and hosts).
 * The definition's rules, the stacks, preflight and the Kubespray inventory ask it; none
 * computes these again.
 *
 * Every value depends only on the pool's position, name and the node's index, never on the
 * size of another pool, so adding a node or appending a pool never renames, renumbers or
 * moves an existing VM.
 */
import type { IdRange, Ipv4Range } from "./net";
import { intToIp, ipToInt } from "./net";
import type { CloudImage, ClusterConfig, NodePool } from "./schema";

/** The fields of a pool that say what its nodes are, not how each node is set up. */
const POOL_ONLY = ["name", "count", "firstIp", "hosts", "gpu"] as const;

/**
 * What each node of a pool has as the pool says it: its role, sizes, CPU type, labels,
 * taints, and every per-pool setting the schema gains (a new pool field reaches each node,
 * and the stacks, without a change here).
 */
export type PoolSettings = Omit<NodePool, (typeof POOL_ONLY)[number]>;

/** The pool's settings that each of its nodes has. */
export function poolSettings(pool: NodePool): PoolSettings {
  const settings: Partial<NodePool> = { ...pool };
  for (const key of POOL_ONLY) delete settings[key];
  return settings as PoolSettings;
}

/** One node of the cluster, as the definition makes it. */
export interface NodeSpec extends PoolSettings {
  /** `<cluster>-<pool>-<n>`, also the VM name and the Kubernetes node name. */
  readonly name: string;
  readonly pool: string;
  readonly poolIndex: number;
  /** 1-based index inside the pool. */
  readonly index: number;
  readonly vmId: number;
  /** Proxmox node the VM runs on. */
  readonly host: string;
  /** Static IPv4 address; undefined for DHCP pools. */
  readonly staticIp?: string;
  readonly gpuMapping?: string;
  /** VM ID of the template the node is cloned from. */
  readonly templateVmId: number;
  /** Proxmox node that holds that template. */
  readonly templateNode: string;
}

/** A node with its address, as the vms stack hands it on. */
export interface ClusterNode extends NodeSpec {
  /** IPv4 address: the static one, or the guest agent's (a token until apply). */
  readonly ipv4: string;
}

/** `<cluster>-<pool>-<n>` (1-based): the VM name and the Kubernetes node name. */
export function nodeName(clusterName: string, poolName: string, index: number): string {
  return `${clusterName}-${poolName}-${index}`;
}

/** The VM IDs reserved for pool `poolIndex`: `vmIdsPerPool` of them from its base. */
export function poolVmIdBlock(config: ClusterConfig, poolIndex: number): IdRange {
  const first = config.proxmox.vmIdStart + poolIndex * config.proxmox.vmIdsPerPool;
  return { first, last: first + config.proxmox.vmIdsPerPool - 1 };
}

/** The VM IDs the pool's nodes take, from its block's start; undefined for an empty pool. */
export function poolVmIds(config: ClusterConfig, poolIndex: number): IdRange | undefined {
  const { count } = config.nodePools[poolIndex];
  const { first } = poolVmIdBlock(config, poolIndex);
  return count === 0 ? undefined : { first, last: first + count - 1 };
}

/** Every VM ID this cluster's pools reserve: from `vmIdStart` to the end of the last block. */
export function clusterVmIdBlocks(config: ClusterConfig): IdRange {
  return {
    first: config.proxmox.vmIdStart,
    last: poolVmIdBlock(config, config.nodePools.length - 1).last,
  };
}

/** The static addresses of a pool's nodes, from `firstIp` up; undefined for DHCP or none. */
export function poolAddresses(pool: NodePool): Ipv4Range | undefined {
  if (pool.firstIp === undefined || pool.count === 0) return undefined;
  const first = ipToInt(pool.firstIp);
  return { first, last: first + pool.count - 1 };
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

/** A template and the host it lives on. */
export interface TemplateRef {
  readonly vmId: number;
  readonly node: string;
}

/**
 * VM ID of the template made on `host` from `proxmox.template.image`: `template.vmId` plus
 * the host's position in `proxmox.hosts`, so it never changes while hosts are only appended.
 */
export function imageTemplateVmId(config: ClusterConfig, host: string): number {
  return config.proxmox.template.vmId + config.proxmox.hosts.indexOf(host);
}

/** The VM IDs the templates take: the one template, or one per host with `image`. */
export function templateVmIds(config: ClusterConfig): IdRange {
  const { template, hosts } = config.proxmox;
  const first = template.vmId;
  return { first, last: template.image === undefined ? first : first + hosts.length - 1 };
}

/** The name of the template made on `host`. */
export function imageTemplateName(clusterName: string, host: string): string {
  return `${clusterName}-template-${host}`;
}

/**
 * The one template prepared by hand (no `image`): `template.vmId` on `template.node`, by
 * default the first host; undefined with `image`.
 */
export function preparedTemplate(config: ClusterConfig): TemplateRef | undefined {
  const { template, hosts } = config.proxmox;
  return template.image === undefined
    ? { vmId: template.vmId, node: template.node ?? hosts[0] }
    : undefined;
}

/**
 * The template a node on `host` is cloned from: with `image`, the one on its own host (a
 * full clone onto local storage never leaves the host); otherwise the prepared one.
 */
export function templateFor(config: ClusterConfig, host: string): TemplateRef {
  return preparedTemplate(config) ?? { vmId: imageTemplateVmId(config, host), node: host };
}

/** All nodes of the cluster, pool by pool in definition order, then by index. */
export function expandNodes(config: ClusterConfig): NodeSpec[] {
  return config.nodePools.flatMap((pool, poolIndex) => {
    const hosts = pool.hosts ?? config.proxmox.hosts;
    const base = poolVmIdBlock(config, poolIndex).first;
    return Array.from({ length: pool.count }, (_, i): NodeSpec => {
      const index = i + 1;
      const host = placeNode(hosts, poolIndex, index);
      const template = templateFor(config, host);
      return {
        ...poolSettings(pool),
        name: nodeName(config.name, pool.name, index),
        pool: pool.name,
        poolIndex,
        index,
        vmId: base + i,
        host,
        staticIp: staticIp(pool, index),
        gpuMapping: pool.gpu?.mapping,
        templateVmId: template.vmId,
        templateNode: template.node,
      };
    });
  });
}

/** The pools that pass a GPU through and have nodes. */
export function gpuPools(config: ClusterConfig): NodePool[] {
  return config.nodePools.filter((p) => p.gpu !== undefined && p.count > 0);
}

/** Every Proxmox host the cluster uses: its nodes' and the prepared template's. */
export function hostsInUse(config: ClusterConfig, nodes: readonly NodeSpec[]): string[] {
  const template = preparedTemplate(config)?.node;
  return [...new Set([...nodes.map((n) => n.host), ...(template ? [template] : [])])].sort();
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
