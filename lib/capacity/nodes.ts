/**
 * The Nodes a definition's cluster has once Kubespray built it, as the scheduler sees
 * them: each with the kubelet's own labels, kubeadm's control-plane label and taint, its
 * pool's labels and taints, and the share of its VM that Kubespray's kubelet configuration
 * leaves for pods.
 */
import type { Taint } from "../../config/kubernetes-names";
import { expandNodes } from "../../config/nodes";
import type { ClusterConfig } from "../../config/schema";
import type { NodeResources } from "../../kubespray-vars/kubelet";
import { kubeletVariables, nodeAllocatable } from "../../kubespray-vars/kubelet";
import { groupVars } from "../../kubespray-vars/vars";
import { buildInventory } from "../kubespray/inventory";
import { parseTaint } from "../scheduling";

/** kubeadm's taint of a control-plane node that is not also a worker. */
export const CONTROL_PLANE_TAINT: Taint = {
  key: "node-role.kubernetes.io/control-plane",
  effect: "NoSchedule",
};

/** kubeadm's labels of a control-plane node (cmd/kubeadm/app/phases/markcontrolplane). */
const CONTROL_PLANE_LABELS = {
  "node-role.kubernetes.io/control-plane": "",
  "node.kubernetes.io/exclude-from-external-load-balancers": "",
};

export interface ClusterNodeModel {
  readonly name: string;
  readonly pool: string;
  /** The pool's index in `nodePools`. */
  readonly poolIndex: number;
  readonly cores: number;
  readonly memoryMiB: number;
  /** Its static address; undefined for a DHCP pool's node (known once its VM runs). */
  readonly address?: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly taints: readonly Taint[];
  /** What pods may request on it. */
  readonly allocatable: NodeResources;
}

/** Every node of the definition, as a Node of the cluster Kubespray builds. */
export function clusterNodes(config: ClusterConfig): ClusterNodeModel[] {
  const nodes = expandNodes(config);
  // Which nodes Kubespray's kubelet runs workloads on: the inventory's kube_node group.
  const inventory = buildInventory({
    hosts: nodes.map((n) => ({ ...n, gpu: n.gpuMapping !== undefined })),
    sshUser: "",
    sshPrivateKeyFile: "",
  });
  const workers = new Set(Object.keys(inventory.all.children.kube_node.hosts));
  const kubelet = kubeletVariables(groupVars(config));
  return nodes.map((n): ClusterNodeModel => {
    const controlPlane = n.role === "control-plane";
    return {
      name: n.name,
      pool: n.pool,
      poolIndex: n.poolIndex,
      cores: n.cores,
      memoryMiB: n.memoryMiB,
      address: n.staticIp,
      labels: {
        // The kubelet's own (pkg/kubelet/kubelet_node_status.go).
        "kubernetes.io/hostname": n.name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/os": "linux",
        "beta.kubernetes.io/arch": "amd64",
        ...(controlPlane ? CONTROL_PLANE_LABELS : {}),
        ...n.labels,
      },
      taints: [
        ...(controlPlane && !workers.has(n.name) ? [CONTROL_PLANE_TAINT] : []),
        ...n.taints.map(parseTaint),
      ],
      allocatable: nodeAllocatable(n, kubelet),
    };
  });
}
