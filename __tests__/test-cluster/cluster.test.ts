/**
 * The test cluster (test-cluster/cluster.ts): the real control plane at Kubespray v2.31.0's
 * Kubernetes, with kwok playing the kubelets of the nodes a test registers. Asserted with
 * the API's own answers: what the server reports, where the scheduler puts pods, what the
 * controllers make of them, what admission refuses, and that nothing is left running.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import type { V1Node, V1Pod, V1PodSpec, V1Taint } from "@kubernetes/client-node";
import { AppsV1Api, BatchV1Api, CoreV1Api, VersionApi } from "@kubernetes/client-node";

import { kubesprayRelease } from "../../kubespray-vars/releases";
import type { TestCluster } from "../../test-cluster/cluster";
import { startTestCluster } from "../../test-cluster/cluster";
import { describeWithControlPlane, eventually } from "../support/test-cluster";

// It talks to the test cluster's API server: a budget for a loaded two-core machine.
jest.setTimeout(120_000);

const START_MS = 180_000;
const SETTLE_MS = 90_000;

/** Kubespray v2.31.0's default Kubernetes: what the test cluster must run. */
const KUBERNETES = `v${kubesprayRelease("v2.31.0").kubernetes[0]}`;

const CONTROL_PLANE_TAINT = {
  key: "node-role.kubernetes.io/control-plane",
  effect: "NoSchedule",
};
const GPU_TAINT = { key: "nvidia.com/gpu", value: "present", effect: "NoSchedule" };

/** A node as a kubelet registers it: its name, labels, taints and capacity. */
function node(name: string, taints: V1Taint[]): V1Node {
  const capacity = { cpu: "4", memory: "8Gi", pods: "110" };
  return {
    metadata: { name, labels: { "kubernetes.io/hostname": name, "kubernetes.io/os": "linux" } },
    spec: { taints },
    status: { capacity, allocatable: capacity },
  };
}

const container = { name: "app", image: "registry.invalid/app:1" };
const podSpec = (extra: Partial<V1PodSpec> = {}): V1PodSpec => ({
  containers: [container],
  ...extra,
});
const labels = (app: string) => ({ matchLabels: { app } });
const template = (app: string, spec: V1PodSpec) => ({ metadata: { labels: { app } }, spec });

describeWithControlPlane("test cluster", () => {
  let cluster: TestCluster;
  let core: CoreV1Api;
  let startedInMs: number;

  beforeAll(async () => {
    const t0 = Date.now();
    cluster = await startTestCluster();
    startedInMs = Date.now() - t0;
    core = cluster.client(CoreV1Api);
    for (const n of [
      node("cp-1", [CONTROL_PLANE_TAINT]),
      node("worker-1", []),
      node("gpu-1", [GPU_TAINT]),
    ])
      await core.createNode({ body: n });
  }, START_MS);

  afterAll(async () => {
    await cluster?.stop();
  });

  it("starts on loopback and reports Kubespray's Kubernetes version", async () => {
    expect(cluster.server).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const version = await cluster.client(VersionApi).getCode();
    expect(version.gitVersion).toBe(KUBERNETES);
    expect(cluster.version).toBe(KUBERNETES);
    expect(cluster.components.map((c) => [c.name, c.running])).toEqual([
      ["etcd", true],
      ["kube-apiserver", true],
      ["kube-controller-manager", true],
      ["kube-scheduler", true],
      ["kwok", true],
    ]);
    process.stdout.write(`test cluster started in ${startedInMs} ms\n`);
  });

  it(
    "kwok keeps every registered node Ready",
    async () => {
      const ready = await eventually(
        "three Ready nodes",
        async () => {
          const nodes = (await core.listNode()).items;
          const names = nodes
            .filter((n) =>
              n.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"),
            )
            .map((n) => n.metadata?.name)
            .sort();
          return { done: names.length === 3, value: names };
        },
        SETTLE_MS,
      );
      expect(ready).toEqual(["cp-1", "gpu-1", "worker-1"]);
    },
    SETTLE_MS + 10_000,
  );

  it(
    "a Deployment becomes available on the untainted node",
    async () => {
      const apps = cluster.client(AppsV1Api);
      await apps.createNamespacedDeployment({
        namespace: "default",
        body: {
          metadata: { name: "web" },
          spec: { replicas: 2, selector: labels("web"), template: template("web", podSpec()) },
        },
      });
      const available = await eventually(
        "deployment web available",
        async () => {
          const d = await apps.readNamespacedDeployment({ name: "web", namespace: "default" });
          return { done: d.status?.availableReplicas === 2, value: d.status, state: d.status };
        },
        SETTLE_MS,
      );
      expect(available?.readyReplicas).toBe(2);
      const pods = await core.listNamespacedPod({ namespace: "default", labelSelector: "app=web" });
      expect(pods.items.map((p) => [p.spec?.nodeName, p.status?.phase])).toEqual([
        ["worker-1", "Running"],
        ["worker-1", "Running"],
      ]);
    },
    SETTLE_MS + 10_000,
  );

  it(
    "a DaemonSet's pods land on exactly the nodes whose taints it tolerates",
    async () => {
      const apps = cluster.client(AppsV1Api);
      const daemonSet = (name: string, tolerations: V1PodSpec["tolerations"]) =>
        apps.createNamespacedDaemonSet({
          namespace: "default",
          body: {
            metadata: { name },
            spec: { selector: labels(name), template: template(name, podSpec({ tolerations })) },
          },
        });
      await daemonSet("plain", []);
      await daemonSet("gpu-tolerant", [
        { key: GPU_TAINT.key, operator: "Exists", effect: "NoSchedule" },
      ]);
      const nodesOf = (app: string) =>
        eventually(
          `daemonset ${app} ready everywhere it may run`,
          async () => {
            const ds = await apps.readNamespacedDaemonSet({ name: app, namespace: "default" });
            const s = ds.status;
            const pods: V1Pod[] = (
              await core.listNamespacedPod({ namespace: "default", labelSelector: `app=${app}` })
            ).items;
            return {
              done:
                s !== undefined &&
                s.desiredNumberScheduled > 0 &&
                s.numberReady === s.desiredNumberScheduled &&
                pods.length === s.desiredNumberScheduled,
              value: pods.map((p) => p.spec?.nodeName).sort(),
              state: s,
            };
          },
          SETTLE_MS,
        );
      expect(await nodesOf("plain")).toEqual(["worker-1"]);
      expect(await nodesOf("gpu-tolerant")).toEqual(["gpu-1", "worker-1"]);
    },
    2 * SETTLE_MS + 10_000,
  );

  it(
    "a Job's pods complete and the Job is Complete",
    async () => {
      const batch = cluster.client(BatchV1Api);
      await batch.createNamespacedJob({
        namespace: "default",
        body: {
          metadata: { name: "once" },
          spec: {
            completions: 2,
            template: { spec: podSpec({ restartPolicy: "Never" }) },
          },
        },
      });
      const status = await eventually(
        "job once complete",
        async () => {
          const job = await batch.readNamespacedJob({ name: "once", namespace: "default" });
          const complete = job.status?.conditions?.some(
            (c) => c.type === "Complete" && c.status === "True",
          );
          return { done: complete === true, value: job.status, state: job.status };
        },
        SETTLE_MS,
      );
      expect(status?.succeeded).toBe(2);
    },
    SETTLE_MS + 10_000,
  );

  it("with Kubespray's defaults PodSecurity enforces nothing: a privileged pod is admitted", async () => {
    await core.createNamespace({ body: { metadata: { name: "plain" } } });
    const pod = await core.createNamespacedPod({ namespace: "plain", body: privilegedPod() });
    expect(pod.metadata?.name).toBe("privileged");
  });

  it("stop() ends every component and removes the run's directory", async () => {
    const pids = cluster.components.map((c) => c.pid);
    expect(pids.every((p) => typeof p === "number")).toBe(true);
    await cluster.stop();
    expect(pids.filter((pid) => alive(pid as number))).toEqual([]);
    expect(existsSync(cluster.dir)).toBe(false);
  }, 60_000);
});

describeWithControlPlane("test cluster with Kubespray's PodSecurity defaults", () => {
  it.each(["baseline", "restricted"])(
    "enforce %s refuses a privileged pod in an unlabelled namespace, admits it where privileged is enforced",
    async (level) => {
      const cluster = await startTestCluster({
        kubesprayVariables: {
          kube_apiserver_enable_admission_plugins: ["NodeRestriction", "PodSecurity"],
          kube_apiserver_admission_control_config_file: true,
          kube_pod_security_use_default: true,
          kube_pod_security_default_enforce: level,
        },
      });
      try {
        const core = cluster.client(CoreV1Api);
        await core.createNamespace({ body: { metadata: { name: "apps" } } });
        await core.createNamespace({
          body: {
            metadata: {
              name: "node-agents",
              labels: { "pod-security.kubernetes.io/enforce": "privileged" },
            },
          },
        });
        const refused = await core
          .createNamespacedPod({ namespace: "apps", body: privilegedPod() })
          .then(
            () => "admitted",
            (e: { code?: number; body?: string }) => `${e.code}: ${e.body}`,
          );
        expect(refused).toMatch(/^403: .*violates PodSecurity \\?"/);
        expect(refused).toContain(`${level}:v1.35`);
        const admitted = await core.createNamespacedPod({
          namespace: "node-agents",
          body: privilegedPod(),
        });
        expect(admitted.metadata?.namespace).toBe("node-agents");
      } finally {
        await cluster.stop();
      }
    },
    START_MS,
  );
});

describeWithControlPlane("test cluster start-up failure", () => {
  it(
    "shows the log of the component that stopped, and leaves no process",
    async () => {
      const parent = mkdtempSync(join(tmpdir(), "test-cluster-failing-"));
      const dir = join(parent, "run");
      const failed = await startTestCluster({
        kubesprayVariables: { kube_apiserver_enable_admission_plugins: ["NoSuchPlugin"] },
        dir,
      }).then(
        () => undefined,
        (e: Error) => e.message,
      );
      expect(failed).toMatch(
        /^test cluster: kube-apiserver exited with code \d+ while waiting for/,
      );
      // The API server's own words, from its log.
      expect(failed).toContain("NoSuchPlugin");
      expect(existsSync(dir)).toBe(false);
      expect(processesMentioning(dir)).toEqual([]);
      rmSync(parent, { recursive: true, force: true });
    },
    START_MS,
  );
});

function privilegedPod(): V1Pod {
  return {
    metadata: { name: "privileged" },
    spec: { containers: [{ ...container, securityContext: { privileged: true } }] },
  };
}

/** The command lines of running processes that name `text` (every component names its dir). */
function processesMentioning(text: string): string[] {
  return readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry))
    .flatMap((pid) => {
      try {
        return [readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ")];
      } catch {
        return [];
      }
    })
    .filter((cmdline) => cmdline.includes(text));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
