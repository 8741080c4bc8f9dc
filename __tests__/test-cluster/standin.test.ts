/**
 * The stand-in Kubespray (fixtures/kubespray-standin) against a test cluster, with the REAL
 * ansible-playbook: given KSPRAY_STANDIN_KUBECONFIG and the Proxmox VE double's state, its
 * cluster.yml and scale.yml register each inventory host as the Node Kubespray v2.31.0
 * leaves (kubelet labels, kubeadm's control-plane label and taint, node_labels,
 * node_taints, the VM's capacity less Kubespray's reservations) and write
 * artifacts/admin.conf; remove-node.yml deletes the node. Asserted with the API's answers.
 */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import type { V1Node } from "@kubernetes/client-node";
import { CoreV1Api } from "@kubernetes/client-node";
import { stringify } from "yaml";

import type { KubesprayHost } from "../../kubespray-vars/host-fields";
import { buildInventory } from "../../lib/kubespray/inventory";
import { ProxmoxDouble } from "../../proxmox-double";
import { capture } from "../../scripts/processes";
import type { TestCluster } from "../../test-cluster/cluster";
import { startTestCluster } from "../../test-cluster/cluster";
import { ANSIBLE_BIN, describeWithAnsible, STANDIN } from "../support/ansible";
import { describeWithControlPlane, eventually } from "../support/test-cluster";

// It talks to the test cluster's API server: a budget for a loaded two-core machine.
jest.setTimeout(120_000);

const PLAYBOOK_MS = 120_000;

const host = (
  name: string,
  role: KubesprayHost["role"],
  address: string,
  extra: Partial<KubesprayHost> = {},
): KubesprayHost => ({ name, role, address, labels: {}, taints: [], gpu: false, ...extra });

const CP = host("t-cp-1", "control-plane", "10.10.30.21");
const WORKER = host("t-worker-1", "worker", "10.10.30.31", { labels: { tier: "general" } });
const GPU = host("t-gpu-1", "worker", "10.10.30.41", {
  labels: { "gpu-type": "rtx-a6000" },
  taints: ["nvidia.com/gpu=present:NoSchedule", "dedicated:NoExecute"],
  gpu: true,
});
const WORKER_2 = host("t-worker-2", "worker", "10.10.30.32");

/** The VMs the double holds for them: cores, sockets, memory (MiB) and boot disk. */
const vm = (vmid: number, name: string, config: Record<string, string | number>) => ({
  vmid,
  node: "pve01",
  status: "running" as const,
  config: { name, scsi0: `local-lvm:vm-${vmid}-disk-0,size=40G`, ...config },
});
const SEED = {
  nodes: [{ name: "pve01" }],
  storages: [{ id: "local-lvm", type: "lvmthin" as const }],
  vms: [
    vm(1001, CP.name, { cores: 4, memory: "8192" }),
    vm(1011, WORKER.name, {
      cores: 8,
      memory: "16384",
      scsi0: "local-lvm:vm-1011-disk-0,size=100G",
    }),
    vm(1021, GPU.name, { cores: 4, sockets: 2, memory: "65536" }),
    vm(1012, WORKER_2.name, { cores: 2, memory: "4096" }),
  ],
};

/** A quantity in base units (cores, bytes) as the API prints it: `7400m`, `16Gi`, `15516Mi`. */
function quantity(text: string | undefined): number {
  const m = /^(\d+(?:\.\d+)?)(m|Ki|Mi|Gi|Ti)?$/.exec(text ?? "");
  if (!m) throw new Error(`not a quantity: ${text}`);
  const unit = { m: 1e-3, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40 }[m[2] ?? ""] ?? 1;
  return Number(m[1]) * unit;
}
const Mi = 2 ** 20;

describeWithControlPlane("stand-in Kubespray against a test cluster", () => {
  describeWithAnsible("registers and removes nodes as Kubespray does", () => {
    let cluster: TestCluster;
    let double: ProxmoxDouble;
    let core: CoreV1Api;
    let work: string;
    let kubespray: string;
    let inventory: string;

    /** Writes the inventory (lib/kubespray/inventory.ts) and its group_vars. */
    const writeInventory = (hosts: KubesprayHost[]) => {
      writeFileSync(
        inventory,
        stringify(buildInventory({ hosts, sshUser: "debian", sshPrivateKeyFile: "/dev/null" })),
      );
    };

    /** ansible-playbook of a stand-in playbook; resolves to its exit status and output. */
    const play = async (playbook: string, args: string[] = [], env: NodeJS.ProcessEnv = {}) => {
      const r = await capture(
        join(ANSIBLE_BIN, "ansible-playbook"),
        ["-i", inventory, join(kubespray, playbook), ...args],
        work,
        {
          ...process.env,
          ANSIBLE_NOCOLOR: "1",
          KSPRAY_STANDIN_LOG: join(work, "calls.jsonl"),
          KSPRAY_STANDIN_KUBECONFIG: cluster.kubeconfigPath,
          KSPRAY_STANDIN_PVE_STATE: `${double.endpoint}_double/state`,
          ...env,
        },
      );
      return { status: r.status, output: `${r.stdout}${r.stderr}` };
    };
    const nodes = async () =>
      Object.fromEntries(
        (await core.listNode()).items.map((n): [string, V1Node] => [n.metadata?.name ?? "", n]),
      );

    beforeAll(async () => {
      work = mkdtempSync(join(tmpdir(), "standin-api-"));
      kubespray = join(work, "kubespray");
      cpSync(STANDIN, kubespray, { recursive: true });
      mkdirSync(join(work, "inventory", "group_vars", "all"), { recursive: true });
      inventory = join(work, "inventory", "hosts.yaml");
      writeFileSync(
        join(work, "inventory", "group_vars", "all", "kubespray.yml"),
        stringify({ kube_version: "1.35.4" }),
      );
      writeInventory([CP, WORKER, GPU]);
      double = await ProxmoxDouble.start({ seed: SEED });
      cluster = await startTestCluster();
      core = cluster.client(CoreV1Api);
    }, 180_000);

    afterAll(async () => {
      await cluster?.stop();
      await double?.stop();
      rmSync(work, { recursive: true, force: true });
    });

    it(
      "cluster.yml registers every host with Kubespray's labels and taints, and writes admin.conf",
      async () => {
        const r = await play("cluster.yml");
        expect({ status: r.status, out: r.output }).toMatchObject({ status: 0 });
        const registered = await nodes();
        expect(Object.keys(registered).sort()).toEqual([CP.name, GPU.name, WORKER.name]);

        const cp = registered[CP.name];
        expect(cp.metadata?.labels).toMatchObject({
          "kubernetes.io/hostname": CP.name,
          "kubernetes.io/os": "linux",
          "node-role.kubernetes.io/control-plane": "",
          "node.kubernetes.io/exclude-from-external-load-balancers": "",
        });
        expect(cp.spec?.taints).toEqual([
          { key: "node-role.kubernetes.io/control-plane", effect: "NoSchedule" },
        ]);
        expect(cp.status?.addresses).toContainEqual({ type: "InternalIP", address: CP.address });

        const worker = registered[WORKER.name];
        expect(worker.metadata?.labels).toMatchObject({ tier: "general" });
        expect(worker.metadata?.labels).not.toHaveProperty("node-role.kubernetes.io/control-plane");
        expect(worker.spec?.taints ?? []).toEqual([]);

        const gpu = registered[GPU.name];
        expect(gpu.metadata?.labels).toMatchObject({ "gpu-type": "rtx-a6000" });
        expect(gpu.spec?.taints).toEqual([
          { key: "nvidia.com/gpu", value: "present", effect: "NoSchedule" },
          { key: "dedicated", effect: "NoExecute" },
        ]);

        // Kubespray's artifacts/admin.conf is the test cluster's admin kubeconfig.
        expect(readFileSync(join(work, "inventory", "artifacts", "admin.conf"), "utf8")).toBe(
          cluster.kubeconfig,
        );
      },
      PLAYBOOK_MS,
    );

    it("gives each node its VM's capacity, less what Kubespray's kubelet config reserves", async () => {
      const registered = await nodes();
      const capacity = (name: string) => registered[name].status?.capacity ?? {};
      const allocatable = (name: string) => registered[name].status?.allocatable ?? {};
      // 8 cores, 16 GiB, a 100 GiB disk.
      expect(quantity(capacity(WORKER.name).cpu)).toBe(8);
      expect(quantity(capacity(WORKER.name).memory)).toBe(16384 * Mi);
      expect(quantity(capacity(WORKER.name)["ephemeral-storage"])).toBe(102400 * Mi);
      expect(capacity(WORKER.name).pods).toBe("110");
      // kubeReserved 100m/256Mi/500Mi + systemReserved 500m/512Mi/500Mi, eviction at
      // memory.available<100Mi and nodefs.available<10%.
      expect(quantity(allocatable(WORKER.name).cpu)).toBeCloseTo(7.4);
      expect(quantity(allocatable(WORKER.name).memory)).toBe((16384 - 868) * Mi);
      expect(quantity(allocatable(WORKER.name)["ephemeral-storage"])).toBe(
        (Math.floor(102400 * 0.9) - 1000) * Mi,
      );
      // 2 sockets of 4 cores.
      expect(quantity(capacity(GPU.name).cpu)).toBe(8);
      expect(quantity(capacity(CP.name).memory)).toBe(8192 * Mi);
    });

    it("kwok keeps the nodes Ready, and the scheduler holds them to their capacity", async () => {
      await eventually(
        "three Ready nodes",
        async () => {
          const ready = Object.values(await nodes()).filter((n) =>
            n.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"),
          );
          return { done: ready.length === 3, value: ready.length };
        },
        60_000,
      );
      const pod = (name: string, cpu: string) =>
        core.createNamespacedPod({
          namespace: "default",
          body: {
            metadata: { name },
            spec: {
              containers: [
                { name: "app", image: "registry.invalid/app:1", resources: { requests: { cpu } } },
              ],
            },
          },
        });
      await pod("fits", "7");
      await pod("too-big", "7500m");
      const fits = await eventually(
        "pod fits bound to the worker",
        async () => {
          const p = await core.readNamespacedPod({ name: "fits", namespace: "default" });
          return { done: p.spec?.nodeName !== undefined, value: p.spec?.nodeName };
        },
        60_000,
      );
      expect(fits).toBe(WORKER.name);
      const reason = await eventually(
        "pod too-big unschedulable",
        async () => {
          const p = await core.readNamespacedPod({ name: "too-big", namespace: "default" });
          const c = p.status?.conditions?.find((x) => x.type === "PodScheduled");
          return { done: c?.reason === "Unschedulable", value: c?.message, state: p.status };
        },
        60_000,
      );
      expect(reason).toContain("Insufficient cpu");
    }, 150_000);

    it(
      "scale.yml --limit touches only the added host; the next cluster.yml relabels and retaints the others",
      async () => {
        // The worker's labels and taints change in the inventory at the same time.
        const changed = { ...WORKER, labels: { tier: "batch" }, taints: ["spot=true:NoSchedule"] };
        writeInventory([CP, changed, GPU, WORKER_2]);
        const r = await play("scale.yml", [`--limit=${WORKER_2.name}`]);
        expect({ status: r.status, out: r.output }).toMatchObject({ status: 0 });
        const scaled = await nodes();
        expect(Object.keys(scaled).sort()).toEqual([CP.name, GPU.name, WORKER.name, WORKER_2.name]);
        expect(quantity(scaled[WORKER_2.name].status?.capacity?.cpu)).toBe(2);
        // Outside the limit: as it was.
        expect(scaled[WORKER.name].metadata?.labels?.tier).toBe("general");
        expect(scaled[WORKER.name].spec?.taints ?? []).toEqual([]);

        const again = await play("cluster.yml");
        expect({ status: again.status, out: again.output }).toMatchObject({ status: 0 });
        const rerun = await nodes();
        expect(Object.keys(rerun)).toHaveLength(4);
        expect(rerun[WORKER.name].metadata?.labels?.tier).toBe("batch");
        expect(rerun[WORKER.name].spec?.taints).toEqual([
          { key: "spot", value: "true", effect: "NoSchedule" },
        ]);
        expect(rerun[GPU.name].spec?.taints).toHaveLength(2);
      },
      2 * PLAYBOOK_MS,
    );

    it(
      "remove-node.yml -e node=... deletes that node and no other",
      async () => {
        const r = await play("remove-node.yml", [
          "-e",
          `node=${WORKER_2.name}`,
          "-e",
          "skip_confirmation=true",
        ]);
        expect({ status: r.status, out: r.output }).toMatchObject({ status: 0 });
        expect(Object.keys(await nodes()).sort()).toEqual([CP.name, GPU.name, WORKER.name]);
      },
      PLAYBOOK_MS,
    );

    it(
      "refuses to register nodes without the double's state: a node's capacity is its VM's",
      async () => {
        const r = await play("cluster.yml", [], { KSPRAY_STANDIN_PVE_STATE: "" });
        expect(r.status).not.toBe(0);
        expect(r.output).toContain("KSPRAY_STANDIN_KUBECONFIG needs KSPRAY_STANDIN_PVE_STATE");
      },
      PLAYBOOK_MS,
    );
  });
});
