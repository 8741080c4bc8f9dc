/**
 * The Kubespray inventory in the YAML form Kubespray v2.31.0 documents
 * (docs/ansible/inventory.md, docs/operations/nodes.md): every host under `all.hosts` with
 * its variables, and the groups `kube_control_plane`, `etcd` (the control-plane nodes),
 * `kube_node` (the workers), `k8s_cluster`, `calico_rr` and our own `gpu_nodes` (for the
 * node-preparation playbook). What each host's variables and groups are, and how they are
 * read back, is the table of host fields' (kubespray-vars/host-fields.ts); this module lays
 * them out and orders the control-plane nodes.
 */
import { isMap, parse, parseDocument } from "yaml";

import { UserError } from "../../errors/user-error";
import type { KubesprayHost } from "../../kubespray-vars/host-fields";
import { GPU_GROUP, hostGroups, hostVariables, readHost } from "../../kubespray-vars/host-fields";
import type { ConnectionVariables, HostVariables } from "../../kubespray-vars/vars";

export interface InventoryInput {
  /** In definition order. */
  readonly hosts: readonly KubesprayHost[];
  readonly sshUser: string;
  readonly sshPrivateKeyFile: string;
  /**
   * Control-plane order of the last successful run: those nodes keep their places and new
   * ones go to the end (Kubespray cannot change its first control-plane node).
   * @default - definition order
   */
  readonly previousControlPlaneOrder?: readonly string[];
}

type HostMap = Record<string, Record<string, never>>;

/** The inventory document, as the `yaml` library or `Fn.yamlencode` writes it. */
export interface InventoryDocument {
  readonly all: {
    readonly vars: ConnectionVariables;
    readonly hosts: Record<string, HostVariables>;
    readonly children: {
      readonly kube_control_plane: { readonly hosts: HostMap };
      readonly etcd: { readonly hosts: HostMap };
      readonly kube_node: { readonly hosts: HostMap };
      readonly k8s_cluster: {
        readonly children: { readonly kube_control_plane: object; readonly kube_node: object };
      };
      readonly calico_rr: { readonly hosts: HostMap };
      readonly [GPU_GROUP]: { readonly hosts: HostMap };
    };
  };
}

/** Previous order first (minus nodes that left), then new nodes in definition order. */
export function controlPlaneOrder(
  controlPlanes: readonly string[],
  previous: readonly string[] = [],
): string[] {
  const kept = previous.filter((n) => controlPlanes.includes(n));
  return [...kept, ...controlPlanes.filter((n) => !kept.includes(n))];
}

const hostMap = (names: readonly string[]): HostMap =>
  Object.fromEntries(names.map((n) => [n, {}]));

/** The inventory as a plain object, ready for the `yaml` library or `Fn.yamlencode`. */
export function buildInventory(input: InventoryInput): InventoryDocument {
  const groups = new Map(input.hosts.map((h) => [h.name, hostGroups(h)]));
  const members = (group: string) =>
    input.hosts.filter((h) => groups.get(h.name)?.includes(group)).map((h) => h.name);
  const cps = controlPlaneOrder(members("kube_control_plane"), input.previousControlPlaneOrder);
  const workers = members("kube_node");
  return {
    all: {
      vars: {
        ansible_user: input.sshUser,
        ansible_ssh_private_key_file: input.sshPrivateKeyFile,
      },
      hosts: Object.fromEntries(input.hosts.map((h) => [h.name, hostVariables(h)])),
      children: {
        kube_control_plane: { hosts: hostMap(cps) },
        etcd: { hosts: hostMap(cps) },
        // Without workers the control plane runs the workloads too.
        kube_node: { hosts: hostMap(workers.length > 0 ? workers : cps) },
        k8s_cluster: { children: { kube_control_plane: {}, kube_node: {} } },
        calico_rr: { hosts: {} },
        [GPU_GROUP]: { hosts: hostMap(members(GPU_GROUP)) },
      },
    },
  };
}

export interface ParsedInventory {
  readonly hosts: readonly KubesprayHost[];
  readonly controlPlaneOrder: readonly string[];
  readonly sshPrivateKeyFile: string;
}

/**
 * Reads an inventory this module wrote (the runner's view of the desired cluster); `file`
 * names it in the error for one that is not.
 */
export function parseInventory(text: string, file = "hosts.yaml"): ParsedInventory {
  const doc = parse(text) as InventoryDocument | null;
  const all = doc?.all;
  if (!all?.hosts || !all.children)
    throw UserError.at(
      file,
      "not a Kubespray inventory as the cluster stack writes it (no all.hosts and all.children)",
      "deploy the cluster stack again, which writes it anew; do not edit it by hand",
    );
  const children = all.children as Record<string, { hosts?: HostMap | null } | null>;
  const groupsOf = (name: string) =>
    new Set(Object.keys(children).filter((g) => name in (children[g]?.hosts ?? {})));
  // A host without variables reads back as null.
  const hosts = Object.entries(all.hosts).map(([name, v]) =>
    readHost(name, v ?? {}, groupsOf(name)),
  );
  return {
    hosts,
    controlPlaneOrder: Object.keys(all.children.kube_control_plane?.hosts ?? {}),
    sshPrivateKeyFile: String(all.vars?.ansible_ssh_private_key_file ?? ""),
  };
}

/** The inventory text without one host (the record's copy, after the node left). */
export function withoutHost(text: string, node: string): string {
  const doc = parseDocument(text);
  doc.deleteIn(["all", "hosts", node]);
  const children = doc.getIn(["all", "children"]);
  if (isMap(children))
    for (const group of children.items) {
      const hosts = doc.getIn(["all", "children", String(group.key), "hosts"]);
      if (isMap(hosts)) hosts.delete(node);
    }
  return doc.toString();
}
