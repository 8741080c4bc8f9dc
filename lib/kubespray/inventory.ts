/**
 * The Kubespray inventory in the YAML form Kubespray v2.31.0 documents
 * (docs/ansible/inventory.md, docs/operations/nodes.md): every host under `all.hosts`
 * with `ansible_host`, `ip` and `access_ip`; groups `kube_control_plane`, `etcd` (the
 * control-plane nodes), `kube_node` (the workers), `k8s_cluster` and `calico_rr`; and our
 * own `gpu_nodes` group for the node-preparation playbook.
 */
import { isMap, parse, parseDocument } from "yaml";

import type { KubesprayHost } from "../../config/nodes";
import { UserError } from "../../errors/user-error";
import type { ConnectionVariables, HostVariables } from "../../kubespray-vars/vars";
import { hostVariables } from "../../kubespray-vars/vars";

/** Group of GPU nodes; read by ansible/node-prep.yml, ignored by Kubespray. */
export const GPU_GROUP = "gpu_nodes";

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

export interface KubesprayInventory {
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
export function buildInventory(input: InventoryInput): KubesprayInventory {
  const cps = controlPlaneOrder(
    input.hosts.filter((h) => h.role === "control-plane").map((h) => h.name),
    input.previousControlPlaneOrder,
  );
  const workers = input.hosts.filter((h) => h.role === "worker").map((h) => h.name);
  const hosts = Object.fromEntries(
    input.hosts.map((h) => [h.name, hostVariables(h.address ?? "", h.labels, h.taints)]),
  );
  return {
    all: {
      vars: {
        ansible_user: input.sshUser,
        ansible_ssh_private_key_file: input.sshPrivateKeyFile,
      },
      hosts,
      children: {
        kube_control_plane: { hosts: hostMap(cps) },
        etcd: { hosts: hostMap(cps) },
        // Without workers the control plane runs the workloads too.
        kube_node: { hosts: hostMap(workers.length > 0 ? workers : cps) },
        k8s_cluster: { children: { kube_control_plane: {}, kube_node: {} } },
        calico_rr: { hosts: {} },
        [GPU_GROUP]: { hosts: hostMap(input.hosts.filter((h) => h.gpu).map((h) => h.name)) },
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
  const doc = parse(text) as KubesprayInventory | null;
  const all = doc?.all;
  if (!all?.hosts || !all.children)
    throw UserError.at(
      file,
      "not a Kubespray inventory as the cluster stack writes it (no all.hosts and all.children)",
      "deploy the cluster stack again, which writes it anew; do not edit it by hand",
    );
  const names = (m: HostMap | null | undefined) => Object.keys(m ?? {});
  const cps = names(all.children.kube_control_plane?.hosts);
  const gpu = names(all.children[GPU_GROUP]?.hosts);
  const hosts = Object.entries(all.hosts).map(([name, v]): KubesprayHost => {
    // A host without variables reads back as null.
    const vars: Partial<HostVariables> = v ?? {};
    return {
      name,
      role: cps.includes(name) ? "control-plane" : "worker",
      address: String(vars.ansible_host ?? ""),
      labels: vars.node_labels ?? {},
      taints: vars.node_taints ?? [],
      gpu: gpu.includes(name),
    };
  });
  return {
    hosts,
    controlPlaneOrder: cps,
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
