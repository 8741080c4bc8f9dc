/**
 * The inventory's per-host fields, declared once. A row says, for one field of a host as
 * Kubespray sees it: where its value comes from (the node, config/nodes.ts), how the
 * inventory writes it (host variables, as Kubespray v2.31.0's docs/ansible/inventory.md
 * names them, or the groups it puts the host in), how the runner reads it back, the
 * definition field that drives each variable (`kubernetes.extraVars` may not set them), and
 * whether a change of it on a node that stays needs a playbook (`cluster.yml`).
 *
 * The inventory's writer and reader (lib/kubespray/inventory.ts) and the comparison of a
 * host with the record of the last run that chooses the playbooks (lib/kubespray/playbooks.ts) are
 * driven by this table: a field Kubespray sees is a row here and its field in the schema.
 */
import { isDeepStrictEqual } from "node:util";

import type { ClusterNode } from "../config/nodes";
import type { NodeRole } from "../config/schema";

import type { HostVariables } from "./vars";

/** Group of GPU nodes; read by ansible/node-prep.yml, ignored by Kubespray. */
export const GPU_GROUP = "gpu_nodes";

/** A node as Kubespray sees it: what the inventory holds, the runner reads back, a record keeps. */
export interface KubesprayHost {
  /** The node's name: its inventory host name. */
  readonly name: string;
  readonly role: NodeRole;
  /** The node's address: a literal, a token until apply, or undefined where not compared. */
  readonly address?: string;
  readonly labels: Readonly<Record<string, string>>;
  /** `key=value:Effect` or `key:Effect`. */
  readonly taints: readonly string[];
  /** Passes a GPU through (in the inventory's GPU group). */
  readonly gpu: boolean;
}

/** One per-host field: a row of the table. */
export interface HostField<T> {
  /** The node's value. */
  readonly from: (node: ClusterNode) => T;
  /** The host variables that carry it. @default none */
  readonly vars?: (value: T) => Partial<HostVariables>;
  /** The groups it puts the host in. @default none */
  readonly groups?: (value: T) => readonly string[];
  /** Its value read back from the host's variables and the groups the host is in. */
  readonly read: (vars: Partial<HostVariables>, groups: ReadonlySet<string>) => T;
  /** The definition field behind each Kubespray variable it writes. @default none */
  readonly definedBy?: Readonly<Record<string, string>>;
  /** Whether two values are the same. @default equal as data */
  readonly same?: (a: T, b: T) => boolean;
  /** A change of it on a node that stays needs a playbook (`cluster.yml`). */
  readonly needsPlaybook: boolean;
}

type HostFieldName = Exclude<keyof KubesprayHost, "name">;

/** The table: one row per field of a host but its name. */
export const HOST_FIELDS: { readonly [K in HostFieldName]-?: HostField<KubesprayHost[K]> } = {
  role: {
    from: (node) => node.role,
    // The control-plane nodes also run etcd; the order of both groups is the writer's.
    groups: (role) => (role === "control-plane" ? ["kube_control_plane", "etcd"] : ["kube_node"]),
    read: (_vars, groups) => (groups.has("kube_control_plane") ? "control-plane" : "worker"),
    needsPlaybook: true,
  },
  address: {
    from: (node) => node.ipv4,
    // One address for all three: where Ansible connects, and what Kubernetes binds to.
    vars: (address = "") => ({ ansible_host: address, ip: address, access_ip: address }),
    read: (vars) => String(vars.ansible_host ?? ""),
    definedBy: {
      ip: "nodePools[].firstIp (or the DHCP address)",
      access_ip: "nodePools[].firstIp (or the DHCP address)",
    },
    // An address not known yet (a DHCP node's, at synth time) is not compared.
    same: (a, b) => a === undefined || b === undefined || a === b,
    needsPlaybook: true,
  },
  labels: {
    from: (node) => node.labels,
    vars: (labels) => (Object.keys(labels).length > 0 ? { node_labels: { ...labels } } : {}),
    read: (vars) => vars.node_labels ?? {},
    definedBy: { node_labels: "nodePools[].labels" },
    needsPlaybook: true,
  },
  taints: {
    from: (node) => node.taints,
    vars: (taints) => (taints.length > 0 ? { node_taints: [...taints] } : {}),
    read: (vars) => vars.node_taints ?? [],
    definedBy: { node_taints: "nodePools[].taints" },
    needsPlaybook: true,
  },
  gpu: {
    from: (node) => node.gpuMapping !== undefined,
    groups: (gpu) => (gpu ? [GPU_GROUP] : []),
    read: (_vars, groups) => groups.has(GPU_GROUP),
    needsPlaybook: true,
  },
};

const FIELDS = Object.keys(HOST_FIELDS) as HostFieldName[];

/** Equal as data (read from YAML, JSON or the definition alike). */
const sameData = (a: unknown, b: unknown) =>
  isDeepStrictEqual(JSON.parse(JSON.stringify(a ?? null)), JSON.parse(JSON.stringify(b ?? null)));

/** One row, for code that goes over every field. */
const row = <K extends HostFieldName>(name: K) =>
  HOST_FIELDS[name] as unknown as HostField<KubesprayHost[K] | undefined>;

/** The node as Kubespray sees it, at its address. */
export function kubesprayHost(node: ClusterNode): KubesprayHost {
  return Object.fromEntries([
    ["name", node.name],
    ...FIELDS.map((f) => [f, row(f).from(node)]),
  ]) as unknown as KubesprayHost;
}

/** The host's variables in the inventory. */
export function hostVariables(host: KubesprayHost): HostVariables {
  return Object.assign({}, ...FIELDS.map((f) => row(f).vars?.(host[f]) ?? {})) as HostVariables;
}

/** The groups the host is in (besides the ones every host is in). */
export function hostGroups(host: KubesprayHost): string[] {
  return FIELDS.flatMap((f) => row(f).groups?.(host[f]) ?? []);
}

/** A host read back from its variables and groups. */
export function readHost(
  name: string,
  vars: Partial<HostVariables>,
  groups: ReadonlySet<string>,
): KubesprayHost {
  return Object.fromEntries([
    ["name", name],
    ...FIELDS.map((f) => [f, row(f).read(vars, groups)]),
  ]) as unknown as KubesprayHost;
}

/** The fields whose change on a node that stays needs a playbook, and that changed. */
export function changesNeedingPlaybook(before: KubesprayHost, after: KubesprayHost): string[] {
  return FIELDS.filter((f) => {
    const { same = sameData, needsPlaybook } = row(f);
    return needsPlaybook && !same(before[f], after[f]);
  });
}

/** The Kubespray variables the table writes, each with the definition field behind it. */
export const HOST_VARIABLES_DEFINED_BY: Readonly<Record<string, string>> = Object.assign(
  {},
  ...FIELDS.map((f) => row(f).definedBy ?? {}),
);
