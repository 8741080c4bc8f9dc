/**
 * The seed of the Proxmox VE double: the cluster it pretends to be (nodes, storages,
 * templates and other existing VMs, DHCP pools, PCI resource mappings, pools), read from
 * YAML or JSON and checked with zod so a typo in a seed fails loudly.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";

import { parse } from "yaml";
import { z } from "zod";

/** The seed used when none is given: three nodes, two local storages, two templates. */
export const DEFAULT_SEED_FILE = resolve(__dirname, "seed.default.yaml");

const STORAGE_TYPES = ["lvmthin", "lvm", "zfspool", "dir", "nfs", "cifs", "rbd", "cephfs"] as const;
export type StorageType = (typeof STORAGE_TYPES)[number];

/** Storage types whose volumes every node sees (PVE's `shared` flag is implied). */
const SHARED_TYPES: ReadonlySet<StorageType> = new Set(["nfs", "cifs", "rbd", "cephfs"]);

const name = z.string().regex(/^[a-zA-Z0-9]([a-zA-Z0-9.-]*[a-zA-Z0-9])?$/, "not a valid name");
const ipv4 = z.string().regex(/^\d{1,3}(\.\d{1,3}){3}$/, "not an IPv4 address");

const NodeSchema = z.strictObject({
  name,
  /** Management address (reported by /cluster/status). */
  ip: ipv4.optional(),
  cpus: z.number().int().positive().default(16),
  memoryGiB: z.number().int().positive().default(64),
  /** Linux bridges on the node; starting a VM on another bridge fails like on PVE. */
  bridges: z.array(z.string()).default(["vmbr0"]),
  /** Those of `bridges` that are VLAN aware (a fresh install's vmbr0 is not). */
  vlanAwareBridges: z.array(z.string()).default([]),
});

const StorageSchema = z
  .strictObject({
    id: z.string().regex(/^[a-z][a-z0-9\-_.]*[a-z0-9]$/i, "not a valid storage ID"),
    type: z.enum(STORAGE_TYPES),
    /** Content types (`images`, `rootdir`, `iso`, `snippets`, `import`...). */
    content: z.array(z.string()).default(["images", "rootdir"]),
    /** @default true for network storages (nfs, cifs, rbd, cephfs), false otherwise */
    shared: z.boolean().optional(),
    /** Nodes that have this storage. @default every node */
    nodes: z.array(name).optional(),
    sizeGiB: z.number().positive().default(1024),
  })
  .transform((s) => ({ ...s, shared: s.shared ?? SHARED_TYPES.has(s.type) }));

const VmSchema = z.strictObject({
  vmid: z.number().int().min(100).max(999_999_999),
  node: name,
  status: z.enum(["running", "stopped"]).default("stopped"),
  /** qemu-server config keys, as in `/etc/pve/qemu-server/<vmid>.conf` (`template: 1`...). */
  config: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).default({}),
});

const DhcpSchema = z.strictObject({
  /** Bridge whose guests get leases from this pool. */
  bridge: z.string(),
  /** `first-last` addresses handed out in order. */
  range: z
    .string()
    .regex(/^\d{1,3}(\.\d{1,3}){3}-\d{1,3}(\.\d{1,3}){3}$/, "write it as a.b.c.d-a.b.c.e"),
  prefix: z.number().int().min(1).max(32).default(24),
});

const PciMappingSchema = z.strictObject({
  id: z.string(),
  description: z.string().optional(),
  map: z
    .array(
      z.strictObject({
        node: name,
        path: z.string(),
        id: z.string(),
        subsystemId: z.string().optional(),
        iommugroup: z.number().int().optional(),
      }),
    )
    .min(1),
});

export const SeedSchema = z.strictObject({
  /** Reported by GET /version. */
  version: z.string().default("8.4.1"),
  clusterName: z.string().default("pve-cluster"),
  /** Lowest ID /cluster/nextid hands out (datacenter.cfg `next-id: lower=`). */
  nextIdLower: z.number().int().min(100).default(100),
  nodes: z.array(NodeSchema).min(1),
  storages: z.array(StorageSchema).default([]),
  vms: z.array(VmSchema).default([]),
  dhcp: z.array(DhcpSchema).default([]),
  pciMappings: z.array(PciMappingSchema).default([]),
  pools: z.array(z.strictObject({ id: z.string(), comment: z.string().optional() })).default([]),
  /** The cluster has quorum (corosync); without it Proxmox refuses HA changes. */
  quorate: z.boolean().default(true),
  /**
   * The HA manager was active before, so its status lists the nodes. On a cluster where
   * HA was never used it lists none until an HA resource exists and a round has passed,
   * and until then Proxmox refuses a negative resource affinity rule.
   */
  haManagerActive: z.boolean().default(false),
  /**
   * Privileges of the token by ACL path (propagating), e.g. `{"/": [VM.Audit, ...]}`.
   * @default - every privilege
   */
  acl: z.record(z.string().startsWith("/"), z.array(z.string())).optional(),
});

export type Seed = z.output<typeof SeedSchema>;
export type SeedInput = z.input<typeof SeedSchema>;
export type SeedNode = Seed["nodes"][number];
export type SeedStorage = Seed["storages"][number];
export type SeedPciMapping = Seed["pciMappings"][number];

/** Thrown for a seed that does not parse or does not match the schema. */
export class SeedError extends Error {
  override name = "SeedError";
}

/** Validates a seed object, applying defaults and checking references between sections. */
export function parseSeed(input: unknown, source = "seed"): Seed {
  const result = SeedSchema.safeParse(input);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`);
    throw new SeedError(`${source}: invalid seed\n  ${lines.join("\n  ")}`);
  }
  const seed = result.data;
  const nodes = new Set(seed.nodes.map((n) => n.name));
  const problems: string[] = [];
  for (const s of seed.storages) {
    for (const n of s.nodes ?? []) {
      if (!nodes.has(n)) problems.push(`storages.${s.id}.nodes: unknown node '${n}'`);
    }
  }
  const vmids = new Set<number>();
  for (const vm of seed.vms) {
    if (!nodes.has(vm.node)) problems.push(`vms.${vm.vmid}.node: unknown node '${vm.node}'`);
    if (vmids.has(vm.vmid)) problems.push(`vms.${vm.vmid}: duplicate VM ID`);
    vmids.add(vm.vmid);
  }
  for (const m of seed.pciMappings) {
    for (const e of m.map) {
      if (!nodes.has(e.node)) problems.push(`pciMappings.${m.id}.map: unknown node '${e.node}'`);
    }
  }
  if (problems.length > 0) {
    throw new SeedError(`${source}: invalid seed\n  ${problems.join("\n  ")}`);
  }
  return seed;
}

/** Reads a seed from a YAML or JSON file (JSON is YAML). */
export function loadSeedFile(file: string): Seed {
  let raw: unknown;
  try {
    raw = parse(readFileSync(file, "utf8"), { merge: true });
  } catch (e) {
    throw new SeedError(`${file}: ${(e as Error).message}`);
  }
  return parseSeed(raw, file);
}

/** A seed given as a file name, an object, or nothing (the default seed). */
export function resolveSeed(seed: string | SeedInput | undefined): Seed {
  if (seed === undefined) return loadSeedFile(DEFAULT_SEED_FILE);
  if (typeof seed === "string") return loadSeedFile(seed);
  return parseSeed(seed);
}
