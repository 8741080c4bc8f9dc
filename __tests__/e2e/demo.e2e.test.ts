/**
 * `npm run demo`, as a new user runs it after `npm ci`: the double, preflight, a deploy of
 * the bundled example with Kubespray in print mode, the add-ons on a test cluster (or the
 * one line saying how to get them), a worker added and reviewed, teardown.
 *
 * Without the test cluster's control plane (as on a fresh machine, whose toolchain the demo
 * builds with --no-control-plane), step 5 is one line naming the command that builds it.
 * With it, the demo is run with --pause, and while it waits before the teardown its output
 * is held against the test cluster's own answers, through the kubeconfig the cluster stack
 * exported: the helm CLI's releases, and each node's pods.
 */
import type { ChildProcessByStdio } from "node:child_process";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable, Writable } from "node:stream";

import type { V1Pod } from "@kubernetes/client-node";
import { AppsV1Api, CoreV1Api, KubeConfig, VersionApi } from "@kubernetes/client-node";

import { chartsDirFromEnvironment } from "../../lib/environment";
import { releases } from "../support/releases";
import { describeWithControlPlane, eventually } from "../support/test-cluster";
import { REPO_ROOT, toolchainEnv, toolPath } from "../support/toolchain";

import { describeE2e, expectSuccess, run } from "./support/harness";

const DEMO_MS = 600_000;

/** The environment of a user's shell: no Proxmox token, no secrets, no definition. */
function userEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const base = { ...process.env };
  for (const k of Object.keys(base))
    if (
      k.startsWith("PROXMOX_VE_") ||
      k.startsWith("TF_VAR_") ||
      k.startsWith("KSPRAY_") ||
      ["CLUSTER_CONFIG", "CONTROL_PLANE_DIR", "UPSTREAM_CHARTS"].includes(k)
    )
      delete base[k];
  return { ...base, ...extra };
}

/** What every run of the demo says, with or without the add-ons. */
function expectTheWholeJob(stdout: string, dir: string): string[] {
  const lines = stdout.split("\n");
  expect(lines.filter((l) => /^\[\d\/8\] /.test(l))).toHaveLength(8);
  expect(lines).toContain("    ready to deploy");
  // cdktf names the stack only on the first line of a burst of output.
  expect(stdout).toMatch(/Apply complete! Resources: 12 added/);
  expect(lines).toContain(
    "    Kubespray will run: playbooks/facts.yml; scale.yml --limit=kspray-worker-4",
  );
  expect(lines).toContain("    VMs of kspray left in the double: 0");
  expect(lines).toContain(`    Terraform state     ${dir}/state/{vms,cluster,addons}.tfstate`);
  return lines;
}

/** The lines under `header`, up to the next line that is not indented deeper. */
function block(lines: readonly string[], header: string): string[] {
  const start = lines.indexOf(header);
  if (start < 0) return [];
  const out: string[] = [];
  for (const line of lines.slice(start + 1)) {
    if (!line.startsWith("      ")) break;
    out.push(line.trim());
  }
  return out;
}

/** `namespace/name` of the workload that made a pod, asked of the API. */
async function workloadOf(pod: V1Pod, apps: AppsV1Api): Promise<string> {
  const namespace = pod.metadata?.namespace ?? "";
  const owner = pod.metadata?.ownerReferences?.[0];
  if (owner === undefined) return `${namespace}/${pod.metadata?.name}`;
  if (owner.kind !== "ReplicaSet") return `${namespace}/${owner.name}`;
  const rs = await apps.readNamespacedReplicaSet({ name: owner.name, namespace });
  return `${namespace}/${rs.metadata?.ownerReferences?.[0]?.name ?? owner.name}`;
}

describeE2e("npm run demo", () => {
  it(
    "without the test cluster's control plane: the whole job, and one line on how to build it",
    async () => {
      const dir = mkdtempSync(join(tmpdir(), "demo-"));
      const missing = join(dir, "no-control-plane");
      try {
        const demo = expectSuccess(
          await run("npm", ["run", "--silent", "demo"], {
            cwd: REPO_ROOT,
            env: userEnv({ DEMO_DIR: join(dir, "work"), CONTROL_PLANE_DIR: missing }),
            timeoutMs: DEMO_MS,
          }),
          "npm run demo",
        );
        const lines = expectTheWholeJob(demo.stdout, join(dir, "work"));
        const step = lines.indexOf("[5/8] the add-ons on a test cluster");
        expect(lines.slice(step, step + 2)).toEqual([
          "[5/8] the add-ons on a test cluster",
          "    skipped: the add-ons would be installed onto a test cluster (a real Kubernetes API on loopback) and each node's add-on pods shown; " +
            `its control plane is not built (${missing}): build it with bash scripts/toolchain.sh --no-helm (about 9 minutes the first time), then run npm run demo again`,
        ]);
        expect(demo.stdout).not.toContain("Helm releases");
        expect(existsSync(join(dir, "work", "state", "kubeconfig"))).toBe(false);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    DEMO_MS,
  );

  describeWithControlPlane("with the test cluster's control plane", () => {
    it(
      "installs the add-ons onto a test cluster, prints what runs where as the API has it, and removes it all",
      async () => {
        expect(existsSync(join(chartsDirFromEnvironment(), "index.yaml"))).toBe(true);
        const dir = mkdtempSync(join(tmpdir(), "demo-"));
        const work = join(dir, "work");
        let demo: ChildProcessByStdio<Writable, Readable, Readable> | undefined;
        try {
          demo = spawn("npm", ["run", "--silent", "demo", "--", "--pause"], {
            cwd: REPO_ROOT,
            env: userEnv({ DEMO_DIR: work }),
            stdio: ["pipe", "pipe", "pipe"],
            // Its own process group: a failed test ends the demo and its test cluster.
            detached: true,
          });
          let stdout = "";
          let stderr = "";
          let exit: number | null | undefined;
          demo.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
          demo.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
          const exited = new Promise<void>((done) =>
            demo?.on("close", (code) => {
              exit = code;
              done();
            }),
          );
          await eventually(
            "the demo paused before its teardown",
            async () => ({
              done: stdout.includes("Paused before the teardown") || exit !== undefined,
              value: undefined,
              state: stdout.slice(-300),
            }),
            DEMO_MS - 120_000,
          );
          expect({ exit, stderr: exit === undefined ? "" : stderr }).toEqual({
            exit: undefined,
            stderr: "",
          });
          const lines = stdout.split("\n");
          expect(lines).toContain(
            "[5/8] the add-ons on a test cluster: metallb, ingress, certManager, storage",
          );

          // The kubeconfig the cluster stack exported reaches the test cluster.
          const kubeconfig = join(work, "state", "kubeconfig");
          const kc = new KubeConfig();
          kc.loadFromFile(kubeconfig);
          const server = kc.getCurrentCluster()?.server ?? "";
          expect(server).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
          expect(lines).toContain(`    the cluster stack exported ${kubeconfig}, server ${server}`);
          expect((await kc.makeApiClient(VersionApi).getCode()).gitVersion).toBe("v1.35.4");

          // Every release of the synthesized addons stack is deployed, as the helm CLI says,
          // and the demo listed exactly those.
          const synthesized = [
            ...releases(
              readFileSync(join(work, "cdktf.out", "stacks", "addons", "cdk.tf.json"), "utf8"),
            ).values(),
          ]
            .map((r) => `${r.namespace}/${r.name}`)
            .sort();
          const helmHome = join(dir, "helm");
          const listed = JSON.parse(
            expectSuccess(
              await run(
                toolPath("helm"),
                ["list", "--all-namespaces", "--all", "-o", "json", "--kubeconfig", kubeconfig],
                {
                  cwd: dir,
                  env: toolchainEnv({
                    PATH: process.env.PATH,
                    HOME: dir,
                    HELM_CACHE_HOME: helmHome,
                    HELM_CONFIG_HOME: helmHome,
                    HELM_DATA_HOME: helmHome,
                  }),
                  timeoutMs: 120_000,
                },
              ),
              "helm list",
            ).stdout,
          ) as { name: string; namespace: string; status: string }[];
          expect(listed.map((r) => `${r.namespace}/${r.name} ${r.status}`).sort()).toEqual(
            synthesized.map((r) => `${r} deployed`),
          );
          const printed = block(lines, `    Helm releases in the cluster (${listed.length}):`);
          expect(printed.map((l) => `${l.split(/\s+/)[0]} ${l.split(/\s+/).at(-1)}`)).toEqual(
            synthesized.map((r) => `${r} deployed`),
          );

          // What runs where: the demo's lines are the API's pods, node by node.
          const core = kc.makeApiClient(CoreV1Api);
          const apps = kc.makeApiClient(AppsV1Api);
          const fromApi: Record<string, string[]> = {};
          for (const n of (await core.listNode()).items) fromApi[n.metadata?.name ?? ""] = [];
          for (const pod of (await core.listPodForAllNamespaces()).items) {
            if (pod.status?.phase !== "Running") continue;
            const node = pod.spec?.nodeName ?? "";
            const workload = await workloadOf(pod, apps);
            if (!fromApi[node].includes(workload)) fromApi[node].push(workload);
          }
          for (const node of Object.keys(fromApi)) fromApi[node].sort();
          const shown = Object.fromEntries(
            block(lines, "    what runs where (each node's add-on pods, by workload):").map((l) => {
              const [node, workloads] = l.split(/ {2,}/);
              return [node, workloads === "-" ? [] : workloads.split(", ")];
            }),
          );
          expect(shown).toEqual(fromApi);
          // ... and they show where each DaemonSet runs: MetalLB's speakers on every node,
          // democratic-csi's node plugins on the workers only.
          const on = (workload: string) =>
            Object.keys(shown)
              .filter((n) => shown[n].includes(workload))
              .sort();
          const workers = ["kspray-worker-1", "kspray-worker-2", "kspray-worker-3"];
          expect(on("metallb-system/metallb-speaker")).toEqual([
            "kspray-cp-1",
            "kspray-cp-2",
            "kspray-cp-3",
            ...workers,
          ]);
          expect(on("democratic-csi/truenas-nfs-democratic-csi-node")).toEqual(workers);
          expect(lines).toContain(
            "    LoadBalancer traefik/traefik: 10.10.30.200 (MetalLB's controller, played)",
          );

          // Enter: the teardown removes every release, then the test cluster itself.
          demo.stdin.end("\n");
          await exited;
          expect({ exit, stderr: exit === 0 ? "" : stderr }).toEqual({ exit: 0, stderr: "" });
          const after = expectTheWholeJob(stdout, work);
          expect(after).toContain("    Helm releases left in the test cluster: 0");
          expect(after).toContain("    test cluster stopped");
          await expect(kc.makeApiClient(VersionApi).getCode()).rejects.toThrow();
        } finally {
          if (demo?.pid !== undefined && demo.exitCode === null) {
            try {
              process.kill(-demo.pid, "SIGKILL");
            } catch {
              // already gone
            }
          }
          rmSync(dir, { recursive: true, force: true });
        }
      },
      DEMO_MS,
    );
  });
});
