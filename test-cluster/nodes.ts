/**
 * The Nodes Kubespray's run leaves in the API, registered in a test cluster as the nodes'
 * kubelets register them, for `npm run demo` (which runs Kubespray in print mode: nothing
 * reaches the nodes). Each is the node model of lib/capacity/nodes.ts, which preflight's
 * capacity check places the add-ons on: the kubelet's own labels, kubeadm's control-plane
 * label and taint, the pool's labels and taints, the VM's cores and memory as capacity and
 * what Kubespray's kubelet configuration leaves of them as allocatable. kwok then keeps
 * them Ready. (The tests' stand-in Kubespray registers the same Nodes from its playbooks:
 * docs/test-cluster.md.)
 */
import type { KubeConfig, V1Node } from "@kubernetes/client-node";
import { CoreV1Api } from "@kubernetes/client-node";

import type { ClusterConfig } from "../config/schema";
import { kubernetesVersion } from "../kubespray-vars/vars";
import type { ClusterNodeModel } from "../lib/capacity/nodes";
import { clusterNodes } from "../lib/capacity/nodes";

/** The Node a kubelet of `kubeletVersion` (e.g. `1.35.4`) registers for `node`. */
export function kubesprayNode(node: ClusterNodeModel, kubeletVersion: string): V1Node {
  const pods = String(node.allocatable.pods);
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: { name: node.name, labels: { ...node.labels } },
    spec: { taints: node.taints.map((t) => ({ ...t })) },
    status: {
      capacity: { cpu: String(node.cores), memory: `${node.memoryMiB}Mi`, pods },
      allocatable: {
        cpu: `${node.allocatable.milliCpu}m`,
        memory: String(node.allocatable.memoryBytes),
        pods,
      },
      addresses: [
        ...(node.address === undefined ? [] : [{ type: "InternalIP", address: node.address }]),
        { type: "Hostname", address: node.name },
      ],
      nodeInfo: {
        kubeletVersion: `v${kubeletVersion}`,
        operatingSystem: "linux",
        architecture: "amd64",
        bootID: "",
        containerRuntimeVersion: "",
        kernelVersion: "",
        kubeProxyVersion: "",
        machineID: "",
        osImage: "",
        systemUUID: "",
      },
    },
  };
}

/** Registers every node of `config` that the cluster lacks; returns the names registered. */
export async function registerKubesprayNodes(
  kubeConfig: KubeConfig,
  config: ClusterConfig,
): Promise<string[]> {
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const existing = new Set((await core.listNode()).items.map((n) => n.metadata?.name));
  const version = kubernetesVersion(config);
  const added: string[] = [];
  for (const node of clusterNodes(config)) {
    if (existing.has(node.name)) continue;
    await core.createNode({ body: kubesprayNode(node, version) });
    added.push(node.name);
  }
  return added;
}
