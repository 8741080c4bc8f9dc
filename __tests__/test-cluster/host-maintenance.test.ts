/**
 * A Proxmox host's maintenance (lib/maintenance/host.ts) against the REAL Kubernetes API of
 * a test cluster, whose nodes and pods kwok runs: the nodes of the host are cordoned and
 * marked, their pods evicted through the Eviction API, a PodDisruptionBudget that allows no
 * disruption blocks the drain (listed, with the budget) until a second replica elsewhere
 * releases it; a drain that would break etcd quorum or take away the last worker the
 * ingress can run on is refused before anything is cordoned; resume uncordons.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import type { V1Node, V1Pod } from "@kubernetes/client-node";
import { CoreV1Api, PolicyV1Api } from "@kubernetes/client-node";

import { loadClusterConfig } from "../../config/load";
import { expandNodes } from "../../config/nodes";
import { UserError } from "../../errors/user-error";
import type { HostMaintenanceOptions } from "../../lib/maintenance/host";
import { DRAINED_FOR, drainHost, drainNodes, resumeHost } from "../../lib/maintenance/host";
import { ProxmoxDouble } from "../../proxmox-double";
import { capture } from "../../scripts/processes";
import type { TestCluster } from "../../test-cluster/cluster";
import { startTestCluster } from "../../test-cluster/cluster";
import { documentedAcl } from "../e2e/support/role";
import { ROOT } from "../support/ansible";
import { describeWithControlPlane, eventually } from "../support/test-cluster";

const START_MS = 180_000;
const config = loadClusterConfig(join(ROOT, "examples", "homelab.yaml")).config;
const NODES = expandNodes(config);
// homelab: pve01 cp-1 worker-3, pve02 cp-2 worker-1, pve03 cp-3 worker-2.
const HOST_OF = new Map(NODES.map((n) => [n.name, n.host]));

const pod = (name: string, node: string, app?: string): V1Pod => ({
  metadata: { name, labels: app === undefined ? {} : { app } },
  spec: { nodeName: node, containers: [{ name: "app", image: "registry.invalid/app:1" }] },
});

describeWithControlPlane("host maintenance on the test cluster", () => {
  jest.setTimeout(120_000);
  let cluster: TestCluster;
  let core: CoreV1Api;
  let policy: PolicyV1Api;
  const logs: string[] = [];

  const opts = (timeoutMs = 6_000): HostMaintenanceOptions => ({
    core,
    policy,
    config,
    hostOf: HOST_OF,
    log: (l) => logs.push(l),
    timeoutMs,
    intervalMs: 300,
  });
  const node = (name: string) => core.readNode({ name });
  const cordoned = async (name: string) => {
    const n = await node(name);
    return {
      name,
      unschedulable: n.spec?.unschedulable ?? false,
      for: n.metadata?.annotations?.[DRAINED_FOR],
    };
  };
  const podsOn = async (nodeName: string) =>
    (await core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${nodeName}` })).items
      .map((p) => p.metadata?.name)
      .sort();
  const allowed = (n: number) =>
    eventually(
      `PodDisruptionBudget web allows ${n} disruptions`,
      async () => {
        const b = await policy.readNamespacedPodDisruptionBudget({
          name: "web",
          namespace: "default",
        });
        return {
          done: b.status?.disruptionsAllowed === n && b.status.currentHealthy === n + 1,
          value: b.status,
        };
      },
      60_000,
    );
  const ready = (names: string[]) =>
    eventually(
      `pods ${names.join(", ")} Ready`,
      async () => {
        const pods = (await core.listNamespacedPod({ namespace: "default" })).items;
        const readyNames = pods
          .filter((p) =>
            p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"),
          )
          .map((p) => p.metadata?.name);
        return { done: names.every((n) => readyNames.includes(n)), value: readyNames };
      },
      60_000,
    );

  beforeAll(async () => {
    cluster = await startTestCluster();
    core = cluster.client(CoreV1Api);
    policy = cluster.client(PolicyV1Api);
    for (const n of NODES) {
      const body: V1Node = {
        metadata: { name: n.name, labels: { "kubernetes.io/hostname": n.name } },
        spec:
          n.role === "control-plane"
            ? { taints: [{ key: "node-role.kubernetes.io/control-plane", effect: "NoSchedule" }] }
            : {},
      };
      await core.createNode({ body });
    }
    await eventually(
      "every node Ready",
      async () => {
        const nodes = (await core.listNode()).items.filter((n) =>
          n.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"),
        );
        return { done: nodes.length === NODES.length, value: nodes.length };
      },
      60_000,
    );
    await core.createNamespacedPod({
      namespace: "default",
      body: pod("web-a", "kspray-worker-1", "web"),
    });
    await core.createNamespacedPod({ namespace: "default", body: pod("free", "kspray-worker-1") });
    await policy.createNamespacedPodDisruptionBudget({
      namespace: "default",
      body: {
        metadata: { name: "web" },
        spec: { minAvailable: 1, selector: { matchLabels: { app: "web" } } },
      },
    });
    await ready(["web-a", "free"]);
    await allowed(0);
  }, START_MS);

  afterAll(async () => {
    await cluster?.stop();
  });

  it("a drain a PodDisruptionBudget blocks: the other pods go, the blocked one is listed with its budget, the nodes stay cordoned", async () => {
    const drain = drainHost(opts(), "pve02");
    await expect(drain).rejects.toThrow(UserError);
    const message = await drain.catch((e: Error) => e.message);
    expect(message).toBe(
      "draining pve02: after 6 s default/web-a is still on kspray-worker-1 (eviction refused: Cannot evict pod as it would violate the pod's disruption budget., " +
        "held by PodDisruptionBudget default/web (1 healthy, 1 wanted, 0 disruptions allowed)), and kspray-cp-2, kspray-worker-1 stay cordoned; " +
        "let it go (scale up elsewhere, relax the budget) and run the drain again, or undo it with: npm run host -- resume pve02",
    );
    expect(await podsOn("kspray-worker-1")).toEqual(["web-a"]);
    expect(
      await Promise.all(["kspray-cp-2", "kspray-worker-1", "kspray-cp-1"].map(cordoned)),
    ).toEqual([
      { name: "kspray-cp-2", unschedulable: true, for: "pve02" },
      { name: "kspray-worker-1", unschedulable: true, for: "pve02" },
      { name: "kspray-cp-1", unschedulable: false, for: undefined },
    ]);
  });

  it("is released by a second replica on another host: the drain then ends with the node empty", async () => {
    await core.createNamespacedPod({
      namespace: "default",
      body: pod("web-b", "kspray-worker-2", "web"),
    });
    await ready(["web-b"]);
    await allowed(1);
    const result = await drainHost(opts(30_000), "pve02");
    expect(result).toEqual({
      nodes: ["kspray-cp-2", "kspray-worker-1"],
      evicted: ["default/web-a"],
    });
    expect(await podsOn("kspray-worker-1")).toEqual([]);
    expect(await podsOn("kspray-worker-2")).toEqual(["web-b"]);
  });

  it("refuses a second host while the first's control-plane node is out (etcd quorum), cordoning nothing", async () => {
    await expect(drainHost(opts(), "pve03")).rejects.toThrow(
      "draining pve03: would leave 2 of 3 control-plane nodes down (kspray-cp-2 drained for pve02, kspray-cp-3 taken away), and etcd keeps quorum with at most 1 down",
    );
    expect(await Promise.all(["kspray-cp-3", "kspray-worker-2"].map(cordoned))).toEqual([
      { name: "kspray-cp-3", unschedulable: false, for: undefined },
      { name: "kspray-worker-2", unschedulable: false, for: undefined },
    ]);
  });

  it("resume uncordons what the drain cordoned, and only that", async () => {
    expect(await resumeHost(opts(), "pve02")).toEqual(["kspray-cp-2", "kspray-worker-1"]);
    expect(await Promise.all(["kspray-cp-2", "kspray-worker-1"].map(cordoned))).toEqual([
      { name: "kspray-cp-2", unschedulable: false, for: undefined },
      { name: "kspray-worker-1", unschedulable: false, for: undefined },
    ]);
    expect(await resumeHost(opts(), "pve02")).toEqual([]);
  });

  it("refuses to take away the last worker the ingress controller can run on", async () => {
    for (const name of ["kspray-worker-2", "kspray-worker-3"]) {
      const n = await node(name);
      await core.replaceNode({ name, body: { ...n, spec: { ...n.spec, unschedulable: true } } });
    }
    await expect(drainHost(opts(), "pve02")).rejects.toThrow(
      "draining pve02: would take away the last node that the ingress controller (addons.ingress) can run on (workers without a NoSchedule or NoExecute taint) (kspray-worker-1)",
    );
    expect((await cordoned("kspray-worker-1")).unschedulable).toBe(false);
  });
  it("npm run host: drains the nodes whose VMs Proxmox has on the host now (one moved there by HA), then resumes them", async () => {
    for (const name of ["kspray-worker-2", "kspray-worker-3"]) {
      const n = await node(name);
      await core.replaceNode({ name, body: { ...n, spec: { ...n.spec, unschedulable: false } } });
    }
    // kspray-worker-1 is placed on pve02 by the definition; HA moved its VM to pve01.
    const double = await ProxmoxDouble.start({
      seed: {
        nodes: [{ name: "pve01" }, { name: "pve02" }, { name: "pve03" }],
        vms: NODES.map((n) => ({
          vmid: n.vmId,
          node: n.name === "kspray-worker-1" ? "pve01" : n.host,
          status: "running" as const,
          config: { name: n.name, ostype: "l26", cores: 2, memory: "2048" },
        })),
      },
      acl: documentedAcl(),
    });
    const dir = mkdtempSync(join(tmpdir(), "host-cli-"));
    try {
      const definition = join(dir, "cluster.yaml");
      writeFileSync(
        definition,
        readFileSync(join(ROOT, "examples", "homelab.yaml"), "utf8").replace(
          "endpoint: https://pve01.home.lan:8006/",
          `endpoint: ${double.endpoint}`,
        ),
      );
      const host = (...args: string[]) =>
        capture(
          process.execPath,
          ["--import", "tsx", join(ROOT, "scripts", "host.ts"), ...args],
          ROOT,
          {
            ...process.env,
            CLUSTER_CONFIG: definition,
            STATE_DIR: join(dir, "state"),
            KUBECONFIG: cluster.kubeconfigPath,
            PROXMOX_VE_API_TOKEN: double.token,
          },
        );
      const drained = await host("drain", "pve01", "--timeout", "30");
      expect({ status: drained.status, stderr: drained.stderr }).toMatchObject({ status: 0 });
      expect(drained.stderr).toContain(
        "cordoning kspray-cp-1, kspray-worker-1, kspray-worker-3 (proxmox-kubespray-cdktf/drained-for=pve01)",
      );
      expect(
        await Promise.all(
          ["kspray-cp-1", "kspray-worker-1", "kspray-worker-3", "kspray-cp-2"].map(cordoned),
        ),
      ).toEqual([
        { name: "kspray-cp-1", unschedulable: true, for: "pve01" },
        { name: "kspray-worker-1", unschedulable: true, for: "pve01" },
        { name: "kspray-worker-3", unschedulable: true, for: "pve01" },
        { name: "kspray-cp-2", unschedulable: false, for: undefined },
      ]);
      // A second host now would take a second control-plane node: refused, exit code 2.
      const refused = await host("drain", "pve02");
      expect(refused.status).toBe(2);
      expect(refused.stderr).toContain(
        "draining pve02: would leave 2 of 3 control-plane nodes down (kspray-cp-1 drained for pve01, kspray-cp-2 taken away)",
      );
      const resumed = await host("resume", "pve01");
      expect(resumed.status).toBe(0);
      expect(
        await Promise.all(["kspray-cp-1", "kspray-worker-1", "kspray-worker-3"].map(cordoned)),
      ).toEqual([
        { name: "kspray-cp-1", unschedulable: false, for: undefined },
        { name: "kspray-worker-1", unschedulable: false, for: undefined },
        { name: "kspray-worker-3", unschedulable: false, for: undefined },
      ]);
    } finally {
      await double.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a node's drain for its replacement (drainNodes, npm run replace): marked for it, its budget honoured", async () => {
    const replacing = {
      why: "replacing kspray-worker-2",
      mark: "replacement",
      retry: "run the same npm run replace -- kspray-worker-2 again",
    };
    // web-b, on kspray-worker-2, is the budget's only healthy pod.
    await expect(drainNodes(opts(), ["kspray-worker-2"], replacing)).rejects.toThrow(
      "replacing kspray-worker-2: after 6 s default/web-b is still on kspray-worker-2 (eviction refused: Cannot evict pod as it would violate the pod's disruption budget., " +
        "held by PodDisruptionBudget default/web (1 healthy, 1 wanted, 0 disruptions allowed)), and kspray-worker-2 stay cordoned; " +
        "let it go (scale up elsewhere, relax the budget) and run the same npm run replace -- kspray-worker-2 again",
    );
    expect(await cordoned("kspray-worker-2")).toEqual({
      name: "kspray-worker-2",
      unschedulable: true,
      for: "replacement",
    });
    // A host's resume leaves it alone.
    expect(await resumeHost(opts(), "pve03")).toEqual([]);
    await core.createNamespacedPod({
      namespace: "default",
      body: pod("web-c", "kspray-worker-3", "web"),
    });
    await ready(["web-c"]);
    await allowed(1);
    expect(await drainNodes(opts(30_000), ["kspray-worker-2"], replacing)).toEqual([
      "default/web-b",
    ]);
    expect(await podsOn("kspray-worker-2")).toEqual([]);
    expect(await podsOn("kspray-worker-3")).toEqual(["web-c"]);
  });
});
