/**
 * The cluster stack end to end, continuing the vms flow: `cdktf deploy vms cluster` against
 * the Proxmox VE double, with the REAL ansible-playbook (Kubespray v2.31.0's pins, from
 * .toolchain/ansible-venv) running a copy of the stand-in Kubespray, whose playbooks
 * record how they were called (and which VMs the double holds at that moment). The nodes'
 * addresses are not reachable here, so the runner's SSH checks go to a loopback listener
 * (KSPRAY_SSH_HOST/PORT) and node preparation is the stand-in's (KSPRAY_NODE_PREP_PLAYBOOK);
 * both reach the local-exec provisioners through the cdktf environment.
 */
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
} from "node:fs";
import type { AddressInfo, Server } from "node:net";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { readRecord, statePaths } from "../../lib/kubespray/record";
import type { Status } from "../../scripts/status";
import type { Definition } from "../fixtures/definitions";
import { cloud, homelab } from "../fixtures/definitions";
import { ANSIBLE_BIN, ANSIBLE_VENV, describeWithAnsible, STANDIN } from "../support/ansible";
import { REPO_ROOT } from "../support/toolchain";

import type { CommandResult, E2eEnvironment } from "./support/harness";
import { describeE2e, expectSuccess, oneLine, run, startEnvironment } from "./support/harness";

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f]/;

/** One line of the stand-in's log (see fixtures/kubespray-standin/record.yml). */
interface Call {
  playbook: string;
  limit: string;
  extra_vars: Record<string, string>;
  kube_version: string;
  kube_control_plane: string[];
  kube_node: string[];
  inventory: string[];
  at: string;
  /** Names of the double's VMs when the playbook ran. */
  pve_vms: string[] | null;
}

/** `npm run diff`: the review of every stack. */
const REVIEW = join(REPO_ROOT, "scripts", "review.ts");
/** `npm run status`. */
const STATUS = join(REPO_ROOT, "scripts", "status.ts");

/** `playbook [--limit=...] [-e node=...]`: what the assertions compare. */
const brief = (calls: readonly Call[]): string[] =>
  calls.map((c) =>
    [
      c.playbook,
      ...(c.limit ? [`--limit=${c.limit}`] : []),
      ...(c.extra_vars.node ? [`-e node=${c.extra_vars.node}`] : []),
    ].join(" "),
  );

/**
 * The whole app, as docs/operations.md tears it down. (Not `destroy cluster vms
 * --ignore-missing-stack-dependencies`: cdktf 0.21 then starts the destroy of a stack again
 * and again while it is still running.)
 */
const TEARDOWN = ["destroy", "addons", "cluster", "vms"];

/** Everything a stand-in run needs, around one e2e environment. */
class ClusterRig {
  private constructor(
    readonly env: E2eEnvironment,
    readonly log: string,
    private readonly listener: Server,
    private readonly kubesprayDir: string,
  ) {}

  /**
   * A double and an environment for `definition`, with `kubespray.dir` at a fresh copy of
   * the stand-in, `kubespray.venv` at the test venv, and the runner's test hooks set.
   */
  static async start(definition: Definition, seed: "homelab" | "cloud"): Promise<ClusterRig> {
    const kubesprayDir = mkdtempSync(join(tmpdir(), "kubespray-standin-"));
    cpSync(STANDIN, kubesprayDir, { recursive: true });
    const listener = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", resolve));
    const port = (listener.address() as AddressInfo).port;
    const log = join(kubesprayDir, "calls.jsonl");
    const env = await startEnvironment({
      definition: ClusterRig.withStandin(definition, kubesprayDir),
      seed,
      double: { cloneDurationMs: 50, taskDurationMs: 20, agentDelayMs: 200 },
      env: {
        KSPRAY_STANDIN_LOG: log,
        KSPRAY_SSH_HOST: "127.0.0.1",
        KSPRAY_SSH_PORT: String(port),
        KSPRAY_SSH_TIMEOUT_SECONDS: "10",
        KSPRAY_NODE_PREP_PLAYBOOK: join(kubesprayDir, "node-prep.yml"),
        // A missing variable fails the command instead of waiting for an answer.
        TF_INPUT: "0",
      },
    });
    env.extraEnv.KSPRAY_STANDIN_PVE_STATE = `${env.double.endpoint}_double/state`;
    return new ClusterRig(env, log, listener, kubesprayDir);
  }

  private static withStandin(definition: Definition, kubesprayDir: string): Definition {
    return { ...definition, kubespray: { dir: kubesprayDir, venv: ANSIBLE_VENV, mode: "run" } };
  }

  /** Writes a changed definition (the stand-in settings kept). */
  define(change: (d: Definition) => void): void {
    const next = this.env.definition;
    change(next);
    this.env.writeDefinition(ClusterRig.withStandin(next, this.kubesprayDir));
  }

  calls(): Call[] {
    return existsSync(this.log)
      ? readFileSync(this.log, "utf8")
          .split("\n")
          .filter((l) => l.trim() !== "")
          .map((l) => JSON.parse(l) as Call)
      : [];
  }

  /** Runs `fn` and returns the playbook calls it made. */
  async callsOf<T>(fn: () => Promise<T>): Promise<{ result: T; calls: Call[] }> {
    const before = this.calls().length;
    const result = await fn();
    return { result, calls: this.calls().slice(before) };
  }

  /** `npm run diff -- <stacks>` (scripts/review.ts) in this environment. */
  review(...stacks: string[]): Promise<CommandResult> {
    return run(process.execPath, ["--import", "tsx", REVIEW, ...stacks], {
      cwd: REPO_ROOT,
      env: this.env.env({ CDKTF_OUTDIR: this.env.outDir }),
      timeoutMs: 300_000,
    });
  }

  /** `npm run status -- <args>` (scripts/status.ts) in this environment. */
  status(...args: string[]): Promise<CommandResult> {
    return run(process.execPath, ["--import", "tsx", STATUS, ...args], {
      cwd: REPO_ROOT,
      env: this.env.env({ CDKTF_OUTDIR: this.env.outDir }),
      timeoutMs: 300_000,
    });
  }

  /** `cdktf deploy <stacks>` that must succeed, and the playbooks it ran. */
  async deploy(...stacks: string[]): Promise<Call[]> {
    const { calls } = await this.callsOf(async () =>
      expectSuccess(
        await this.env.cdktf(["deploy", ...stacks]),
        `cdktf deploy ${stacks.join(" ")}`,
      ),
    );
    return calls;
  }

  /**
   * The full teardown. The addons stack was never deployed, but its destroy still wants
   * its secrets (TF_VAR_*), so each gets a placeholder.
   */
  teardown(): Promise<CommandResult> {
    const stack = JSON.parse(
      readFileSync(join(this.env.stackDir("addons"), "cdk.tf.json"), "utf8"),
    ) as { variable?: Record<string, unknown> };
    const secrets = Object.fromEntries(
      Object.keys(stack.variable ?? {}).map((name) => [`TF_VAR_${name}`, "unused"]),
    );
    return this.env.cdktf(TEARDOWN, { env: secrets });
  }

  get paths() {
    return statePaths(this.env.stateDir);
  }

  async stop(): Promise<void> {
    await this.env.stop();
    await new Promise<void>((resolve) => this.listener.close(() => resolve()));
    if (!process.env.KEEP_E2E_DIR) rmSync(this.kubesprayDir, { recursive: true, force: true });
  }
}

const mode = (file: string): number => statSync(file).mode & 0o777;

/** `ansible-inventory -i FILE --list` of the test venv, parsed. */
async function ansibleInventory(file: string): Promise<Record<string, unknown>> {
  const r = expectSuccess(
    await run(join(ANSIBLE_BIN, "ansible-inventory"), ["-i", file, "--list"], {
      cwd: tmpdir(),
      env: { ...process.env, ANSIBLE_NOCOLOR: "1" },
      timeoutMs: 60_000,
    }),
    "ansible-inventory --list",
  );
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

interface InventoryList {
  _meta: { hostvars: Record<string, Record<string, unknown>> };
  [group: string]: { hosts?: string[]; children?: string[] } | InventoryList["_meta"];
}

const group = (inv: InventoryList, name: string) =>
  inv[name] as { hosts?: string[]; children?: string[] };

const WORKER_4 = "kspray-worker-4";

describeE2e("cluster stack end to end", () => {
  describeWithAnsible("homelab (static addresses)", () => {
    let rig: ClusterRig;

    beforeAll(async () => {
      const definition = homelab();
      // Starts one minor below the example, so that the version bump is the example's own.
      definition.kubernetes.version = "1.34.7";
      rig = await ClusterRig.start(definition, "homelab");
    });
    afterAll(async () => {
      await rig?.stop();
    });

    it("first deploy: node preparation, then cluster.yml", async () => {
      const calls = await rig.deploy("vms", "cluster");
      expect(brief(calls)).toEqual(["node-prep.yml", "cluster.yml"]);
      expect(calls[0].extra_vars).toMatchObject({ node_prep_iscsi: true, node_prep_nfs: true });
      expect(calls[1].inventory).toEqual([rig.paths.hostsFile]);
      expect(calls[1].kube_version).toBe("1.34.7");
      expect(calls[1].kube_control_plane).toEqual(["kspray-cp-1", "kspray-cp-2", "kspray-cp-3"]);
      expect(readRecord(rig.env.stateDir)?.action).toBe("cluster.yml");
      expect(await rig.env.outputs("cluster")).toMatchObject({ kubespray_action: "cluster.yml" });
      expect(mode(rig.paths.kubeconfig)).toBe(0o600);
    });

    it("writes the inventory and variables mode 0600, as ansible-inventory reads them", async () => {
      expect(mode(rig.paths.hostsFile)).toBe(0o600);
      expect(mode(rig.paths.groupVarsFile)).toBe(0o600);
      const inv = (await ansibleInventory(rig.paths.hostsFile)) as unknown as InventoryList;
      const cps = ["kspray-cp-1", "kspray-cp-2", "kspray-cp-3"];
      const workers = ["kspray-worker-1", "kspray-worker-2", "kspray-worker-3"];
      expect(group(inv, "kube_control_plane").hosts).toEqual(cps);
      expect(group(inv, "etcd").hosts).toEqual(cps);
      expect(group(inv, "kube_node").hosts).toEqual(workers);
      expect(group(inv, "k8s_cluster").children).toEqual(["kube_control_plane", "kube_node"]);
      // calico_rr exists, empty (ansible-inventory lists it only under all).
      expect(group(inv, "all").children).toEqual(expect.arrayContaining(["calico_rr"]));
      expect(inv._meta.hostvars["kspray-cp-1"]).toMatchObject({
        ansible_host: "10.10.30.21",
        ip: "10.10.30.21",
        access_ip: "10.10.30.21",
        ansible_user: "debian",
        // group_vars/all/ beside the inventory is read with it.
        kube_version: "1.34.7",
        kube_proxy_strict_arp: true,
      });
      expect(inv._meta.hostvars["kspray-worker-3"]).toMatchObject({
        ansible_host: "10.10.30.33",
        ip: "10.10.30.33",
        access_ip: "10.10.30.33",
      });
    });

    it("no-op redeploy: the cluster stack plans no change and no playbook runs", async () => {
      expect((await rig.env.plan("cluster")).exitCode).toBe(0);
      // The review of the deployed stacks (the add-ons need a real Kubernetes API).
      const review = await rig.review("vms", "cluster");
      expect({ status: review.status, out: review.stdout }).toMatchObject({ status: 0 });
      expect(review.stdout).toContain("vms: no changes\ncluster: no changes\n");
      expect(await rig.deploy("vms", "cluster")).toEqual([]);
    });

    it("one added worker: cdktf diff names scale.yml; facts.yml, then scale.yml --limit", async () => {
      rig.define((d) => {
        d.nodePools[1].count = 4;
      });
      const diff = expectSuccess(await rig.env.cdktf(["diff", "cluster"]), "cdktf diff cluster");
      expect(diff.output).toContain(`playbooks/facts.yml; scale.yml --limit=${WORKER_4}`);
      const review = await rig.review("vms", "cluster");
      expect({ status: review.status, out: review.output }).toMatchObject({ status: 2 });
      expect(review.stdout).toContain("vms: changes\n");
      expect(review.stdout).toMatch(
        new RegExp(`^  \\+ proxmox_virtual_environment_vm\\.\\S+ \\(${WORKER_4}\\)$`, "m"),
      );
      expect(review.stdout).toContain(
        `  Kubespray will run: playbooks/facts.yml; scale.yml --limit=${WORKER_4}\n`,
      );
      const calls = await rig.deploy("vms", "cluster");
      expect(brief(calls)).toEqual([
        "playbooks/facts.yml",
        `node-prep.yml --limit=${WORKER_4}`,
        `scale.yml --limit=${WORKER_4}`,
      ]);
      expect(calls[2].kube_node).toContain(WORKER_4);
      expect(rig.env.clusterVms().map((v) => v.config.name)).toContain(WORKER_4);
    });

    it("one removed worker: remove-node.yml -e node=... while its VM still exists", async () => {
      rig.define((d) => {
        d.nodePools[1].count = 3;
      });
      const vmid = rig.env.clusterVms().find((v) => v.config.name === WORKER_4)?.vmid;
      expect(vmid).toBeDefined();
      const diff = expectSuccess(await rig.env.cdktf(["diff", "cluster"]), "cdktf diff cluster");
      expect(diff.output).toContain(`remove-node.yml -e node=${WORKER_4}`);
      const calls = await rig.deploy("vms", "cluster");
      expect(brief(calls)).toEqual([`remove-node.yml -e node=${WORKER_4}`]);
      expect(calls[0].extra_vars).toMatchObject({ skip_confirmation: "true", reset_nodes: "" });
      // Run with the record's copy of the inventory, which still holds the node...
      expect(calls[0].inventory).toEqual([rig.paths.recordHostsFile]);
      expect(calls[0].kube_node).toContain(WORKER_4);
      // ...while the double still had its VM, which is gone afterwards.
      expect(calls[0].pve_vms).toContain(WORKER_4);
      expect(rig.env.clusterVms().map((v) => v.config.name)).not.toContain(WORKER_4);
      expect(
        rig.env.double
          .requests()
          .some((r) => r.method === "DELETE" && r.path.endsWith(`/qemu/${vmid}`)),
      ).toBe(true);
      expect(readRecord(rig.env.stateDir)?.hosts.map((h) => h.name)).not.toContain(WORKER_4);
      expect((await rig.env.plan("cluster")).exitCode).toBe(0);
    });

    it("Kubernetes version bump: upgrade-cluster.yml", async () => {
      rig.define((d) => {
        d.kubernetes.version = "1.35.4";
      });
      const diff = expectSuccess(await rig.env.cdktf(["diff", "cluster"]), "cdktf diff cluster");
      expect(diff.output).toContain("upgrade-cluster.yml");
      const calls = await rig.deploy("vms", "cluster");
      expect(brief(calls)).toEqual(["node-prep.yml", "upgrade-cluster.yml"]);
      expect(calls[1].kube_version).toBe("1.35.4");
    });

    it("a playbook failure fails the deploy with the record untouched; the retry runs it again", async () => {
      rig.define((d) => {
        d.kubernetes.nodeLocalDns = false;
      });
      const recordBefore = readFileSync(rig.paths.recordFile, "utf8");
      const failing = { KSPRAY_STANDIN_FAIL_ONCE: "cluster.yml" };
      const first = await rig.callsOf(() =>
        rig.env.cdktf(["deploy", "vms", "cluster"], { env: failing }),
      );
      const failed = first.result;
      expect(failed.status).not.toBe(0);
      expect(failed.output).toMatch(/cluster\.yml failed .*the record is unchanged/);
      // Through OpenTofu and cdktf: the progress lines and the explanation, no control character.
      const runnerLines = failed.stdout.split("\n").filter((l) => l.includes("[kubespray-runner]"));
      expect(runnerLines.join("\n")).toMatch(/cluster\.yml, play 1 "Stand-in cluster\.yml": /);
      expect(runnerLines.join("\n")).not.toMatch(CONTROL);
      const failedRun = readdirSync(join(rig.env.stateDir, "runs"))
        .filter((f) => f.endsWith("-cluster.log"))
        .sort()
        .pop();
      expect(oneLine(failed.output)).toMatch(
        new RegExp(
          `failed host: kspray-cp-1 .*task: Fail .*message: stand-in cluster\\.yml fails once, as asked .*` +
            `runbook: docs/operations\\.md#a-failed-kubespray-run .*full log: ${join(rig.env.stateDir, "runs", failedRun ?? "")}`,
        ),
      );
      expect(brief(first.calls)).toEqual(["node-prep.yml", "cluster.yml"]);
      expect(readFileSync(rig.paths.recordFile, "utf8")).toBe(recordBefore);
      // The runner was replaced and its run failed: no teardown marker may be left, or a
      // node removed later would lose its remove-node.yml.
      expect(existsSync(rig.paths.teardownMarker)).toBe(false);

      const retry = await rig.callsOf(async () =>
        expectSuccess(
          await rig.env.cdktf(["deploy", "vms", "cluster"], { env: failing }),
          "the retry",
        ),
      );
      expect(brief(retry.calls)).toEqual(["node-prep.yml", "cluster.yml"]);
      expect(readRecord(rig.env.stateDir)?.vars.enable_nodelocaldns).toBe(false);
      expect((await rig.env.plan("cluster")).exitCode).toBe(0);
    });

    it("npm run status: the VMs per host, the record's version, the last runs, the review", async () => {
      const r = expectSuccess(
        await rig.status("vms", "cluster", "--no-cluster", "--json"),
        "npm run status",
      );
      const status = JSON.parse(r.stdout) as Status;
      const vms = rig.env.clusterVms();
      expect(
        status.proxmox.hosts
          .flatMap((h) => h.vms.map((v) => ({ host: h.host, ...v })))
          .sort((a, b) => a.name.localeCompare(b.name)),
      ).toEqual(
        vms
          .map((v) => ({
            host: v.node,
            name: v.config.name,
            vmId: v.vmid,
            // The guest agent's: the cloud-init address of each VM.
            address: /ip=([0-9.]+)\//.exec(v.config.ipconfig0 ?? "")?.[1],
            power: "running",
          }))
          .sort((a, b) => String(a.name).localeCompare(String(b.name))),
      );
      expect(status.proxmox.missing).toEqual([]);
      expect(status.kubernetes).toMatchObject({ version: "1.35.4", action: "cluster.yml" });
      const runs = status.runs.map((x) => `${x.label}: ${x.result}`);
      expect(runs.slice(-4)).toEqual([
        "node-prep.yml: succeeded",
        "cluster.yml: failed",
        "node-prep.yml: succeeded",
        "cluster.yml: succeeded",
      ]);
      expect(status.kubernetes?.runs).toEqual(status.runs.slice(-2).map((x) => x.name));
      expect(status.review.map((x) => `${x.stack}: ${x.outcome}`)).toEqual([
        "vms: no-changes",
        "cluster: no-changes",
      ]);
      expect(status.addons).toMatchObject({
        state: [],
        cluster: { error: "not asked (--no-cluster)" },
      });
    });

    it("full teardown: no node is removed one by one, and the double has no VM left", async () => {
      const { result, calls } = await rig.callsOf(() => rig.teardown());
      expectSuccess(result, TEARDOWN.join(" "));
      expect(calls).toEqual([]);
      expect(result.output).toContain("not removing");
      expect(rig.env.clusterVms()).toEqual([]);
      expect(existsSync(rig.paths.teardownMarker)).toBe(true);
      expect(readRecord(rig.env.stateDir)).toBeUndefined();
    });
  });

  describeWithAnsible("cloud-cluster (DHCP addresses from the guest agent)", () => {
    let rig: ClusterRig;

    beforeAll(async () => {
      rig = await ClusterRig.start(cloud(), "cloud");
    });
    afterAll(async () => {
      await rig?.stop();
    });

    it("deploys vms and cluster with the leased addresses in the inventory", async () => {
      const calls = await rig.deploy("vms", "cluster");
      expect(brief(calls)).toEqual(["node-prep.yml", "cluster.yml"]);
      // The lease the double gave each VM, by the MAC address of its first NIC.
      const { leases } = rig.env.double.state() as { leases: Record<string, string> };
      const leased = Object.fromEntries(
        rig.env.clusterVms().map((v) => {
          const mac = /=([0-9A-F:]{17})/i.exec(v.config.net0 ?? "")?.[1]?.toUpperCase() ?? "";
          return [v.config.name, leases[mac]] as const;
        }),
      );
      const inv = (await ansibleInventory(rig.paths.hostsFile)) as unknown as InventoryList;
      const names = ["cloud-controller-1", "cloud-cpu-worker-1", "cloud-gpu-worker-1"];
      expect(Object.keys(inv._meta.hostvars).sort()).toEqual(names);
      for (const name of names) {
        expect(leased[name]).toMatch(/^192\.168\.100\.1\d\d$/);
        expect(inv._meta.hostvars[name]).toMatchObject({
          ansible_host: leased[name],
          ip: leased[name],
          access_ip: leased[name],
        });
      }
      expect(calls[1].kube_node).toEqual(["cloud-cpu-worker-1", "cloud-gpu-worker-1"]);
      expect(mode(rig.paths.hostsFile)).toBe(0o600);
      expect(group(inv, "gpu_nodes").hosts).toEqual(["cloud-gpu-worker-1"]);
      expect(inv._meta.hostvars["cloud-gpu-worker-1"]).toMatchObject({
        node_labels: { "workload-type": "inference", "gpu-type": "rtx-a6000" },
        node_taints: ["nvidia.com/gpu=present:NoSchedule"],
      });
      expect((await rig.env.plan("cluster")).exitCode).toBe(0);
    });

    it("tears down without removing nodes one by one", async () => {
      const { result, calls } = await rig.callsOf(() => rig.teardown());
      expectSuccess(result, TEARDOWN.join(" "));
      expect(calls).toEqual([]);
      expect(rig.env.clusterVms()).toEqual([]);
    });
  });
});
