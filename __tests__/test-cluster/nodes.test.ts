/**
 * Kubespray's Nodes registered in a test cluster by `npm run demo` (test-cluster/nodes.ts),
 * for the two reference examples: each with the kubelet's and kubeadm's labels, the pool's
 * labels and taints, its VM's cores and memory, and as allocatable what Kubespray's kubelet
 * configuration leaves; kwok keeps them Ready and the scheduler honours their taints.
 * Asserted with the API's answers, against figures worked out by hand from the examples.
 */
import type { V1Node } from "@kubernetes/client-node";
import { AppsV1Api, CoreV1Api } from "@kubernetes/client-node";

import { parseClusterConfig } from "../../config/load";
import { bytes, milliCpu } from "../../lib/quantity";
import type { TestCluster } from "../../test-cluster/cluster";
import { startTestCluster } from "../../test-cluster/cluster";
import { registerKubesprayNodes } from "../../test-cluster/nodes";
import { cloud, homelab } from "../fixtures/definitions";
import { describeWithControlPlane, eventually } from "../support/test-cluster";

// It talks to the test cluster's API server: a budget for a loaded two-core machine.
jest.setTimeout(120_000);

const START_MS = 180_000;
const Mi = 2 ** 20;
const CONTROL_PLANE_TAINT = { key: "node-role.kubernetes.io/control-plane", effect: "NoSchedule" };

/**
 * What the API says of a node: the fields Kubespray's run decides, as plain data. The node
 * lifecycle controller's own taints (`node.kubernetes.io/not-ready` until kwok reports the
 * node Ready) are left out.
 */
function facts(n: V1Node) {
  const capacity = n.status?.capacity ?? {};
  const allocatable = n.status?.allocatable ?? {};
  const taints = (n.spec?.taints ?? []).filter((t) => !t.key.startsWith("node.kubernetes.io/"));
  return JSON.parse(
    JSON.stringify({
      labels: n.metadata?.labels,
      taints,
      cores: milliCpu(capacity.cpu ?? "") ?? null,
      memory: bytes(capacity.memory ?? "") ?? null,
      allocatableMilliCpu: milliCpu(allocatable.cpu ?? "") ?? null,
      allocatableMemory: bytes(allocatable.memory ?? "") ?? null,
      pods: allocatable.pods,
      addresses: n.status?.addresses,
    }),
  ) as Record<string, unknown>;
}

/** The kubelet's own labels of `name`. */
const kubelet = (name: string) => ({
  "kubernetes.io/hostname": name,
  "kubernetes.io/os": "linux",
  "kubernetes.io/arch": "amd64",
  "beta.kubernetes.io/os": "linux",
  "beta.kubernetes.io/arch": "amd64",
});
const controlPlane = {
  "node-role.kubernetes.io/control-plane": "",
  "node.kubernetes.io/exclude-from-external-load-balancers": "",
};

describeWithControlPlane("Kubespray's Nodes registered by the demo", () => {
  let cluster: TestCluster;
  let core: CoreV1Api;
  const nodes = async () =>
    Object.fromEntries(
      (await core.listNode()).items.map((n): [string, V1Node] => [n.metadata?.name ?? "", n]),
    );

  beforeAll(async () => {
    cluster = await startTestCluster();
    core = cluster.client(CoreV1Api);
  }, START_MS);
  afterAll(async () => {
    await cluster?.stop();
  });

  it("homelab.yaml: three tainted control-plane nodes and three workers, with their VMs' room", async () => {
    const { config } = parseClusterConfig(homelab());
    expect(await registerKubesprayNodes(cluster.kubeConfig, config)).toEqual([
      "kspray-cp-1",
      "kspray-cp-2",
      "kspray-cp-3",
      "kspray-worker-1",
      "kspray-worker-2",
      "kspray-worker-3",
    ]);
    const registered = await nodes();
    // 4 cores and 8 GiB; Kubespray's kubeReserved (100m, 256Mi) and systemReserved (500m,
    // 512Mi), the kubelet's eviction at memory.available<100Mi; 110 pods.
    expect(facts(registered["kspray-cp-2"])).toEqual({
      labels: { ...kubelet("kspray-cp-2"), ...controlPlane },
      taints: [CONTROL_PLANE_TAINT],
      cores: 4000,
      memory: 8192 * Mi,
      allocatableMilliCpu: 3400,
      allocatableMemory: (8192 - 868) * Mi,
      pods: "110",
      addresses: [
        { type: "InternalIP", address: "10.10.30.22" },
        { type: "Hostname", address: "kspray-cp-2" },
      ],
    });
    // 8 cores and 16 GiB.
    expect(facts(registered["kspray-worker-3"])).toEqual({
      labels: kubelet("kspray-worker-3"),
      taints: [],
      cores: 8000,
      memory: 16384 * Mi,
      allocatableMilliCpu: 7400,
      allocatableMemory: (16384 - 868) * Mi,
      pods: "110",
      addresses: [
        { type: "InternalIP", address: "10.10.30.33" },
        { type: "Hostname", address: "kspray-worker-3" },
      ],
    });
    // Registering again adds nothing.
    expect(await registerKubesprayNodes(cluster.kubeConfig, config)).toEqual([]);
  });

  it("cloud-cluster.yaml: the GPU pool's labels and taint", async () => {
    const { config } = parseClusterConfig(cloud());
    await registerKubesprayNodes(cluster.kubeConfig, config);
    const gpu = facts((await nodes())["cloud-gpu-worker-1"]);
    expect(gpu).toMatchObject({
      labels: {
        ...kubelet("cloud-gpu-worker-1"),
        "workload-type": "inference",
        "gpu-type": "rtx-a6000",
      },
      taints: [{ key: "nvidia.com/gpu", value: "present", effect: "NoSchedule" }],
      cores: 16000,
      memory: 65536 * Mi,
    });
    // No InternalIP: DHCP gives the address, so the model has none (and kwok's node
    // initialisation rewrites the addresses of a node without one).
    expect(JSON.stringify(gpu.addresses ?? [])).not.toContain("InternalIP");
  });

  it("kwok keeps them Ready, and a DaemonSet that tolerates nothing runs on the untainted workers only", async () => {
    await eventually(
      "every node Ready",
      async () => {
        const all = Object.values(await nodes());
        const ready = all.filter((n) =>
          n.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"),
        );
        return { done: ready.length === all.length, value: ready.length };
      },
      60_000,
    );
    await cluster.client(AppsV1Api).createNamespacedDaemonSet({
      namespace: "default",
      body: {
        metadata: { name: "plain" },
        spec: {
          selector: { matchLabels: { app: "plain" } },
          template: {
            metadata: { labels: { app: "plain" } },
            spec: { containers: [{ name: "app", image: "registry.invalid/app:1" }] },
          },
        },
      },
    });
    const placed = await eventually(
      "the DaemonSet's pods running",
      async () => {
        const pods = (await core.listNamespacedPod({ namespace: "default" })).items;
        const running = pods.filter((p) => p.status?.phase === "Running");
        const names = running.map((p) => p.spec?.nodeName ?? "").sort();
        return { done: running.length > 0 && running.length === pods.length, value: names };
      },
      60_000,
    );
    expect(placed).toEqual([
      "cloud-cpu-worker-1",
      "kspray-worker-1",
      "kspray-worker-2",
      "kspray-worker-3",
    ]);
  });
});
