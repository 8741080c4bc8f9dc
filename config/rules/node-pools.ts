/** Rules of the node pools: names, sizes, minimums, hosts, static addresses and quorum. */
import { show } from "../../errors/user-error";
import { formatIpRange } from "../net";
import { nodeName, poolAddresses } from "../nodes";
import type { NodePool } from "../schema";

import type { Rule, RuleContext } from "./context";

/** Minimums: kubeadm needs 2 CPUs on a control plane; memory follows Kubespray's checks. */
export const MINIMUMS = {
  "control-plane": { cores: 2, memoryMiB: 2048, diskGiB: 20 },
  worker: { cores: 1, memoryMiB: 1024, diskGiB: 20 },
} as const;

/** A rule about one pool; `at` is its path, e.g. `nodePools[1]`. */
type PoolRule = (c: RuleContext, pool: NodePool, i: number, at: string) => void;

const uniqueName: PoolRule = (c, pool, i, at) => {
  const earlier = c.config.nodePools.findIndex((p) => p.name === pool.name);
  if (earlier < i)
    c.err(
      `${at}.name`,
      `pool name ${show(pool.name)} is already used by nodePools[${earlier}]; pool names must be unique`,
    );
};

const shortNodeNames: PoolRule = (c, pool, _i, at) => {
  const longest = nodeName(c.config.name, pool.name, Math.max(pool.count, 1));
  if (longest.length > 63) {
    c.err(
      `${at}.name`,
      `node name ${JSON.stringify(longest)} is ${longest.length} characters, longer than 63; shorten the cluster or pool name`,
    );
  }
};

const fitsVmIdBlock: PoolRule = (c, pool, _i, at) => {
  const block = c.config.proxmox.vmIdsPerPool;
  if (pool.count > block) {
    c.err(
      `${at}.count`,
      `${pool.count} nodes do not fit in the pool's block of ${block} VM IDs; raise proxmox.vmIdsPerPool`,
    );
  }
};

const minimums: PoolRule = (c, pool, _i, at) => {
  const min = MINIMUMS[pool.role];
  if (pool.cores < min.cores)
    c.err(
      `${at}.cores`,
      `${pool.cores} is below the minimum of ${min.cores} for a ${pool.role} node; use at least ${min.cores}`,
    );
  if (pool.memoryMiB < min.memoryMiB)
    c.err(
      `${at}.memoryMiB`,
      `${pool.memoryMiB} is below the minimum of ${min.memoryMiB} MiB for a ${pool.role} node; use at least ${min.memoryMiB}`,
    );
  if (pool.diskGiB < min.diskGiB)
    c.err(
      `${at}.diskGiB`,
      `${pool.diskGiB} is below the minimum of ${min.diskGiB} GiB; use at least ${min.diskGiB}`,
    );
};

const knownHosts: PoolRule = (c, pool, _i, at) => {
  const hosts = c.config.proxmox.hosts;
  pool.hosts?.forEach((h, j) => {
    if (!hosts.includes(h))
      c.err(
        `${at}.hosts[${j}]`,
        `${show(h)} is not one of proxmox.hosts (${hosts.join(", ")}); add it there or remove it here`,
      );
  });
};

/** The pool's static addresses lie in the node network; they are claimed. */
const staticAddresses: PoolRule = (c, pool, _i, at) => {
  const range = poolAddresses(pool);
  if (range === undefined) return;
  const what =
    pool.count === 1
      ? `pool ${pool.name}'s address`
      : `pool ${pool.name}'s ${pool.count} addresses`;
  if (c.inNodeNetwork(`${at}.firstIp`, range, what, pool.count > 1))
    c.claims.push({
      path: `${at}.firstIp`,
      what: `pool ${pool.name}'s addresses ${formatIpRange(range)}`,
      range,
    });
};

/**
 * A DHCP node's address is read back from the QEMU guest agent before Ansible can reach it,
 * so a template made from an image needs the agent in the image. We do not install it
 * through cloud-init vendor data: that needs a `snippets` storage and SSH from the provider
 * to every host. Static nodes get it from the node preparation playbook.
 */
const dhcpNeedsAgent: PoolRule = (c, pool, _i, at) => {
  const image = c.config.proxmox.template.image;
  if (image === undefined || image.guestAgent || pool.firstIp !== undefined || pool.count === 0)
    return;
  c.err(
    `${at}.firstIp`,
    `unset: pool ${pool.name} takes DHCP addresses, which are read from the QEMU guest agent, and proxmox.template.image does not say it has one; give the pool static addresses (firstIp), or use an image with qemu-guest-agent installed and enabled and set proxmox.template.image.guestAgent: true`,
  );
};

const POOL_RULES: readonly PoolRule[] = [
  dhcpNeedsAgent,
  uniqueName,
  shortNodeNames,
  fitsVmIdBlock,
  minimums,
  knownHosts,
  staticAddresses,
];

const eachPool: Rule = (c) =>
  c.config.nodePools.forEach((pool, i) => {
    for (const rule of POOL_RULES) rule(c, pool, i, `nodePools[${i}]`);
  });

/** The indices of the control-plane pools. */
const controlPlanePools = (c: RuleContext) =>
  c.config.nodePools.flatMap((p, i) => (p.role === "control-plane" ? [i] : []));

const quorum: Rule = (c) => {
  const pools = controlPlanePools(c);
  const nodes = pools.reduce((sum, i) => sum + c.config.nodePools[i].count, 0);
  if (nodes === 0) {
    c.err(
      "nodePools",
      "no control-plane node; add a pool with role: control-plane and count 1, 3 or 5",
    );
  } else if (nodes % 2 === 0) {
    c.err(
      `nodePools[${pools[pools.length - 1]}].count`,
      `${nodes} control-plane nodes cannot keep etcd quorum; use 1, 3 or 5`,
    );
  }
};

const firstControlPlaneNotEmpty: Rule = (c) => {
  const [first] = controlPlanePools(c);
  if (first !== undefined && c.config.nodePools[first].count === 0) {
    c.err(
      `nodePools[${first}].count`,
      "the first control-plane pool cannot be empty: its first node is Kubespray's first control-plane node",
    );
  }
};

export const NODE_POOL_RULES: readonly Rule[] = [eachPool, quorum, firstControlPlaneNotEmpty];
