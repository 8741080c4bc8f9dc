/**
 * The snapshots the compiled runner takes before a risky Kubespray step, against the
 * Proxmox VE double (with the documented role's privileges), the REAL ansible-playbook and
 * the stand-in Kubespray, whose upgrade writes to the upgraded VMs' disks: every VM the
 * step writes to is snapshotted, disk only, before the playbook runs; the record before
 * the step is saved beside; only `keep` of ours stay per VM; and a VM that cannot be
 * snapshotted, a missing token, or a failing snapshot stops the step before it runs.
 * Commands are spawned asynchronously: the double answers from this process.
 */
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import type { AddressInfo, Server } from "node:net";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

import { loadClusterConfig } from "../../config/load";
import { expandNodes } from "../../config/nodes";
import type { ClusterConfig } from "../../config/schema";
import type { RunnerSettings } from "../../lib/kubespray/commands";
import { readRecord } from "../../lib/kubespray/record";
import { renderFiles } from "../../lib/kubespray/render";
import { listSteps, savedRecord } from "../../lib/kubespray/saved-steps";
import { rollbackVms, stepVms, vmGenerations } from "../../lib/maintenance/rollback";
import { ProxmoxHttpsClient } from "../../preflight/proxmox-api";
import { ProxmoxDouble } from "../../proxmox-double";
import type { SeedInput } from "../../proxmox-double/seed";
import { checkVms } from "../../runner/rollback";
import { capture } from "../../scripts/processes";
import { documentedAcl } from "../e2e/support/role";
import { ANSIBLE_VENV, describeWithAnsible, ROOT, STANDIN } from "../support/ansible";

const HOMELAB = join(ROOT, "examples", "homelab.yaml");
const CLI = join(ROOT, "dist", "runner", "cli.js");

interface Call {
  playbook: string;
  extra_vars: Record<string, unknown>;
  kube_version: string;
}

const base = loadClusterConfig(HOMELAB).config;
const initial: ClusterConfig = { ...base, kubernetes: { ...base.kubernetes, version: "1.34.7" } };
const NODES = expandNodes(base);
const CONTROL_PLANE = NODES.filter((n) => n.role === "control-plane").map((n) => n.name);
const ALL = NODES.map((n) => n.name);

/** Every node's VM, running, its disk on LVM-thin (`dirDisk`: raw on a directory storage). */
function seed(dirDisk?: string): SeedInput {
  return {
    nodes: [{ name: "pve01" }, { name: "pve02" }, { name: "pve03" }],
    storages: [
      { id: "local", type: "dir", content: ["images", "iso", "import"], sizeGiB: 500 },
      { id: "local-lvm", type: "lvmthin", sizeGiB: 2000 },
    ],
    vms: NODES.map((n) => ({
      vmid: n.vmId,
      node: n.host,
      status: "running" as const,
      config: {
        name: n.name,
        ostype: "l26",
        cores: 2,
        memory: "2048",
        agent: "enabled=1",
        // As Proxmox gives every VM it creates: its rollback hook replaces it.
        vmgenid: `0c0ffee0-0000-4000-8000-${String(n.vmId).padStart(12, "0")}`,
        scsi0:
          n.name === dirDisk
            ? `local:${n.vmId}/vm-${n.vmId}-disk-0.raw,size=8G`
            : `local-lvm:vm-${n.vmId}-disk-0,size=8G`,
      },
    })),
  };
}

/** Polls `done` every 50 ms until it holds; throws naming `what` after `ms`. */
async function until(what: string, done: () => boolean, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`still waiting after ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Until the wall clock is in the next second: the runner's snapshot names carry the second. */
async function nextSecond(): Promise<void> {
  const second = Math.floor(Date.now() / 1000);
  await until("the next second", () => Math.floor(Date.now() / 1000) > second, 5_000);
}

describeWithAnsible("runner: snapshots before risky steps (Proxmox VE double)", () => {
  jest.setTimeout(180_000);
  let listener: Server;
  let port = 0;
  let double: ProxmoxDouble;
  let stateDir = "";
  let kubespray = "";
  let log = "";

  const settings = (over: Partial<RunnerSettings> = {}, keep = 2, enabled = true): string => {
    const s: RunnerSettings = {
      clusterName: "kspray",
      stateDir,
      kubesprayDir: kubespray,
      kubesprayVersion: "v2.31.0",
      ansibleCore: { min: "2.18.0", max: "2.19.0" },
      pythonRequirements: ["ansible==11.13.0"],
      mode: "run",
      venv: ANSIBLE_VENV,
      containerImage: "quay.io/kubespray/kubespray:v2.31.0",
      apiServerVip: "10.10.30.20",
      apiServerPort: 6443,
      nodePrep: { playbook: join(kubespray, "node-prep.yml"), iscsi: false, nfs: false },
      proxmox: {
        endpoint: double.endpoint,
        insecure: true,
        snapshots: { enabled, keep },
        vms: Object.fromEntries(
          NODES.map((n) => [n.name, { vmId: n.vmId, host: n.host, role: n.role }]),
        ),
      },
      ...over,
    };
    const file = join(stateDir, "runner.json");
    writeFileSync(file, JSON.stringify(s));
    return file;
  };

  /** Writes the files the cluster stack would, every node at the loopback address. */
  const deploy = (config: ClusterConfig) => {
    const addresses = Object.fromEntries(
      Object.keys(renderFiles(config).inventory.all.hosts).map((n) => [n, "127.0.0.1"]),
    );
    const { files } = renderFiles(
      { ...config, nodePools: config.nodePools.map((p) => ({ ...p, firstIp: undefined })) },
      { addresses, record: readRecord(stateDir) },
    );
    for (const [rel, content] of Object.entries(files)) {
      const target = join(stateDir, "inventory", rel);
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(target, content, { mode: 0o600 });
    }
  };

  const run = (args: string[], env: NodeJS.ProcessEnv = {}) =>
    capture(process.execPath, [CLI, ...args], ROOT, {
      ...process.env,
      KSPRAY_STANDIN_LOG: log,
      KSPRAY_STANDIN_PVE_STATE: `${double.endpoint}_double/state`,
      KSPRAY_SSH_PORT: String(port),
      KSPRAY_SSH_TIMEOUT_SECONDS: "5",
      PROXMOX_VE_API_TOKEN: double.token,
      ...env,
    });
  const ok = async (args: string[], env: NodeJS.ProcessEnv = {}) => {
    const r = await run(args, env);
    if (r.status !== 0) throw new Error(`runner failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
    return r;
  };
  const calls = (): Call[] =>
    existsSync(log)
      ? readFileSync(log, "utf8")
          .trim()
          .split("\n")
          .filter(Boolean)
          .map((l) => JSON.parse(l) as Call)
      : [];
  const vmOf = (name: string) => double.vms().find((v) => v.config.name === name)!;
  const snapshotsOf = (name: string) => Object.keys(vmOf(name).snapshots);
  const disk = (name: string) => {
    const vm = vmOf(name);
    return double.cluster.store.get(vm.node, vm.config.scsi0.split(",")[0])!;
  };

  const start = async (dirDisk?: string) => {
    double = await ProxmoxDouble.start({
      seed: seed(dirDisk),
      taskDurationMs: 20,
      acl: documentedAcl(),
    });
    stateDir = mkdtempSync(join(tmpdir(), "safety-net-"));
    kubespray = join(stateDir, "kubespray");
    cpSync(STANDIN, kubespray, { recursive: true });
    log = join(stateDir, "calls.jsonl");
    // A cluster built from the definition and recorded: cluster.yml, nothing to snapshot.
    deploy(initial);
    await ok(["apply", settings()]);
    expect(double.vms().every((v) => Object.keys(v.snapshots).length === 0)).toBe(true);
  };

  beforeAll(async () => {
    listener = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", resolve));
    port = (listener.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => listener.close(() => resolve()));
  });
  afterEach(async () => {
    await double?.stop();
    rmSync(stateDir, { recursive: true, force: true });
  });

  it("snapshots every VM, disk only, before upgrade-cluster.yml writes to it, and saves the record before it", async () => {
    await start();
    const before = Object.fromEntries(ALL.map((n) => [n, disk(n).dataId]));
    deploy(base);
    const made = calls().length;
    const r = await ok(["apply", settings()]);
    expect(
      calls()
        .slice(made)
        .map((c) => c.playbook),
    ).toEqual(["node-prep.yml", "upgrade-cluster.yml"]);

    const [step] = listSteps(stateDir);
    expect(step).toMatchObject({
      playbook: "upgrade-cluster.yml",
      change: "upgrade-cluster.yml (Kubernetes 1.34.7 to 1.35.4)",
      before: { action: "cluster.yml", kubeVersion: "1.34.7" },
    });
    expect(step.snapshot).toMatch(/^upgrade-cluster-\d{8}-\d{6}$/);
    expect(step.vms.map((v) => v.name)).toEqual(ALL);
    expect(r.stderr).toContain(
      `undo upgrade-cluster.yml (Kubernetes 1.34.7 to 1.35.4) with: npm run rollback -- ${step.snapshot}`,
    );
    for (const name of ALL) {
      const snap = vmOf(name).snapshots[step.snapshot];
      expect({ name, vmstate: snap?.vmstate, description: snap?.description }).toEqual({
        name,
        vmstate: undefined,
        description: `proxmox-kubespray-cdktf: before upgrade-cluster.yml (Kubernetes 1.34.7 to 1.35.4) on cluster kspray; roll back with: npm run rollback -- ${step.snapshot}`,
      });
      // Taken before the upgrade wrote to the disk: it holds what was there before.
      const taken = disk(name).snapshots?.find((s) => s.name === step.snapshot);
      expect({ name, taken: taken?.dataId }).toEqual({ name, taken: before[name] });
      expect(disk(name).dataId).not.toBe(before[name]);
    }
    // The record before the step, saved beside the snapshots; the record now is the upgrade's.
    expect(savedRecord(stateDir, step.snapshot)?.vars.kube_version).toBe("1.34.7");
    expect(readRecord(stateDir)?.vars.kube_version).toBe("1.35.4");
    // Only the snapshot calls: no RAM state asked for.
    const posts = double
      .requests()
      .filter((q) => q.method === "POST" && /\/snapshot$/.test(q.path));
    expect(posts.map((q) => q.params?.vmstate)).toEqual(ALL.map(() => "0"));
  });

  // Three applies of real Ansible: a budget of its own, sized for a loaded machine.
  it("keeps the newest `keep` of its own per VM, never an operator's, and drops what it saved for the others", async () => {
    await start();
    const cp1 = vmOf("kspray-cp-1");
    double.cluster.createSnapshot(cp1.node, cp1.vmid, { snapname: "mine" });
    await until("kspray-cp-1 unlocked", () => vmOf("kspray-cp-1").lock === undefined);
    // Three changes that rewrite every node, a second apart (names carry the second).
    const labelled = (v: string): ClusterConfig => ({
      ...initial,
      nodePools: initial.nodePools.map((p) => ({ ...p, labels: { ...p.labels, round: v } })),
    });
    for (const round of ["a", "b", "c"]) {
      deploy(labelled(round));
      await ok(["apply", settings({}, 2)]);
      await nextSecond();
    }
    const steps = listSteps(stateDir);
    expect(steps.map((s) => s.playbook)).toEqual(["cluster.yml", "cluster.yml"]);
    for (const name of ALL)
      expect({ name, snapshots: snapshotsOf(name).sort() }).toEqual({
        name,
        snapshots: [
          ...(name === "kspray-cp-1" ? ["mine"] : []),
          ...steps.map((s) => s.snapshot),
        ].sort(),
      });
  }, 600_000);

  it("snapshots the control plane, not the worker, before remove-node.yml", async () => {
    await start();
    deploy({
      ...initial,
      nodePools: initial.nodePools.map((p) => (p.name === "worker" ? { ...p, count: 2 } : p)),
    });
    await ok(["remove-node", stateDir, "kspray-worker-3"]);
    const [step] = listSteps(stateDir);
    expect(step).toMatchObject({
      playbook: "remove-node.yml",
      change: "remove-node.yml -e node=kspray-worker-3",
    });
    expect(step.vms.map((v) => v.name)).toEqual(CONTROL_PLANE);
    expect(snapshotsOf("kspray-worker-3")).toEqual([]);
  });

  it("refuses the step, running nothing, when a VM cannot be snapshotted; names the VM and the opt-out", async () => {
    await start("kspray-worker-2");
    deploy(base);
    const made = calls().length;
    const r = await run(["apply", settings()]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(
      "[kubespray-runner] error: proxmox.snapshots: kspray-worker-2's disk scsi0 (local:4201/vm-4201-disk-0.raw) is raw on dir storage, which cannot be snapshotted, so upgrade-cluster.yml (Kubernetes 1.34.7 to 1.35.4) cannot be snapshotted first; put the VM's disks on storage that can (LVM-thin, ZFS, Ceph RBD, BTRFS, or qcow2 on a directory, NFS, CIFS or CephFS storage), or set proxmox.snapshots.enabled: false",
    );
    expect(calls().slice(made)).toEqual([]);
    expect(readRecord(stateDir)?.vars.kube_version).toBe("1.34.7");
    expect(ALL.flatMap(snapshotsOf)).toEqual([]);

    // With the opt-out, the step runs and says it has no way back.
    const optOut = await ok(["apply", settings({}, 2, false)]);
    expect(optOut.stderr).toContain(
      "proxmox.snapshots.enabled is false: no snapshot of kspray-cp-1, kspray-cp-2, kspray-cp-3, kspray-worker-1, kspray-worker-2, kspray-worker-3 before upgrade-cluster.yml (Kubernetes 1.34.7 to 1.35.4); it cannot be rolled back",
    );
    expect(
      calls()
        .slice(made)
        .map((c) => c.playbook),
    ).toEqual(["node-prep.yml", "upgrade-cluster.yml"]);
  });

  it("refuses without the token, and takes back its snapshots when one fails", async () => {
    await start();
    deploy(base);
    const made = calls().length;
    const noToken = await run(["apply", settings()], { PROXMOX_VE_API_TOKEN: "" });
    expect(noToken.status).toBe(2);
    expect(noToken.stderr).toContain(
      "PROXMOX_VE_API_TOKEN: not set, and the runner snapshots kspray-cp-1, kspray-cp-2, kspray-cp-3, kspray-worker-1, kspray-worker-2, kspray-worker-3 through the Proxmox API before upgrade-cluster.yml",
    );
    double.setFaults({ failTasks: ["qmsnapshot"] });
    const failing = await run(["apply", settings()]);
    double.setFaults({});
    expect(failing.status).toBe(2);
    expect(failing.stderr).toMatch(
      /proxmox\.snapshots: kspray-cp-1 \(VM pve01\/4100\): create of snapshot upgrade-cluster-\d{8}-\d{6} of VM 4100 on pve01 failed: .* \(nothing ran and the record is unchanged\); fix it and deploy again/,
    );
    expect(calls().slice(made)).toEqual([]);
    expect(ALL.flatMap(snapshotsOf)).toEqual([]);
    expect(listSteps(stateDir)).toEqual([]);
  });

  it("print mode: the script snapshots first, when it runs", async () => {
    await start();
    deploy(base);
    await ok(["apply", settings({ mode: "print" })]);
    const script = readFileSync(join(stateDir, "kubespray-commands.sh"), "utf8");
    const lines = script.split("\n").filter((l) => l.startsWith("("));
    expect(lines[0]).toContain(
      `${CLI} snapshot ${join(stateDir, "runner.json")} --playbook upgrade-cluster.yml --nodes ${ALL.join(",")} --change 'upgrade-cluster.yml (Kubernetes 1.34.7 to 1.35.4)'`,
    );
    expect(ALL.flatMap(snapshotsOf)).toEqual([]);
    const byHand = await capture("sh", [join(stateDir, "kubespray-commands.sh")], stateDir, {
      ...process.env,
      KSPRAY_STANDIN_LOG: log,
      PROXMOX_VE_API_TOKEN: double.token,
    });
    expect({ status: byHand.status, out: byHand.stderr }).toMatchObject({ status: 0 });
    const [step] = listSteps(stateDir);
    expect(step.vms.map((v) => v.name)).toEqual(ALL);
    expect(readRecord(stateDir)?.vars.kube_version).toBe("1.35.4");
  });
  it("rolls an upgrade back: all VMs stopped first, the control plane started before the workers, the disks and the record as before it; the next deploy upgrades again", async () => {
    await start();
    const before = Object.fromEntries(ALL.map((n) => [n, disk(n).dataId]));
    deploy(base);
    await ok(["apply", settings()]);
    const [step] = listSteps(stateDir);
    const list = await ok(["rollback", stateDir]);
    expect(list.stdout).toContain(
      `${step.snapshot}  taken ${step.takenAt} before upgrade-cluster.yml (Kubernetes 1.34.7 to 1.35.4)\n    VMs: kspray-cp-1 (pve01/4100),`,
    );
    expect(list.stdout).toContain("record before it: cluster.yml, Kubernetes 1.34.7");

    const generations = Object.fromEntries(ALL.map((n) => [n, vmOf(n).config.vmgenid]));
    const mark = double.requests().length;
    const r = await ok(["rollback", stateDir, step.snapshot]);
    for (const name of ALL)
      expect({ name, data: disk(name).dataId, status: vmOf(name).status }).toEqual({
        name,
        data: before[name],
        status: "running",
      });
    for (const name of ALL) expect(vmOf(name).config.vmgenid).not.toBe(generations[name]);
    expect(readRecord(stateDir)).toMatchObject({
      action: "cluster.yml",
      vars: { kube_version: "1.34.7" },
      rolledBack: { snapshot: step.snapshot },
    });
    expect(r.stderr).toContain("the record says Kubernetes 1.34.7 again");
    expect(r.stderr).toContain(
      "the next deploy of the cluster stack runs upgrade-cluster.yml again",
    );

    // Every stop before any rollback, every rollback before any start, control plane first.
    const vmName = new Map(double.vms().map((v) => [String(v.vmid), v.config.name]));
    const order = double
      .requests()
      .slice(mark)
      .filter((q) => q.method === "POST")
      .map((q) => {
        const m = /\/qemu\/(\d+)\/(?:status\/(start|stop)|snapshot\/[^/]+\/(rollback))$/.exec(
          q.path,
        );
        return m ? `${m[2] ?? m[3]} ${vmName.get(m[1])}` : q.path;
      });
    const kinds = order.map((o) => o.split(" ")[0]);
    expect(kinds).toEqual([
      ...ALL.map(() => "stop"),
      ...ALL.map(() => "rollback"),
      ...ALL.map(() => "start"),
    ]);
    const starts = order.filter((o) => o.startsWith("start")).map((o) => o.split(" ")[1]);
    expect(starts.slice(0, CONTROL_PLANE.length).sort()).toEqual(CONTROL_PLANE);

    // The record no longer claims the upgrade: the next apply runs it again, snapshotted again.
    const made = calls().length;
    await nextSecond();
    await ok(["apply", settings()]);
    expect(
      calls()
        .slice(made)
        .map((c) => c.playbook),
    ).toEqual(["node-prep.yml", "upgrade-cluster.yml"]);
    expect(listSteps(stateDir)).toHaveLength(2);
    expect(readRecord(stateDir)?.vars.kube_version).toBe("1.35.4");
  });

  it("the rollback's closing check names a VM left out of it, though its config names the snapshot", async () => {
    await start();
    deploy(base);
    await ok(["apply", settings()]);
    const [step] = listSteps(stateDir);
    const api = new ProxmoxHttpsClient({
      endpoint: double.endpoint,
      token: double.token,
      insecure: true,
    });
    const vms = await stepVms(api, step);
    const generations = await vmGenerations(api, vms);
    const skipped = vms.find((v) => v.name === "kspray-worker-2")!;
    const quiet = { api, stateDir, log: () => undefined };
    await rollbackVms(
      quiet,
      step,
      vms.filter((v) => v !== skipped),
    );
    expect(vmOf("kspray-worker-2").config.parent).toBe(step.snapshot);
    expect(await checkVms(api, step, vms, generations)).toEqual([
      `kspray-worker-2: VM pve03/4201 was not rolled back: its vmgenid is the one from before the rollback (${generations.get("kspray-worker-2")}), and a rollback gives it a new one`,
    ]);
  });

  it("refuses a rollback, changing nothing, when a VM no longer holds the snapshot or the step is unknown", async () => {
    await start();
    deploy(base);
    await ok(["apply", settings()]);
    const [step] = listSteps(stateDir);
    const unknown = await run(["rollback", stateDir, "upgrade-cluster-20200101-000000"]);
    expect(unknown.stderr).toContain(
      `upgrade-cluster-20200101-000000: no such saved step in ${stateDir}; the steps that can be rolled back are ${step.snapshot}`,
    );
    const w2 = vmOf("kspray-worker-2");
    double.cluster.deleteSnapshot(w2.node, w2.vmid, step.snapshot);
    await until("kspray-worker-2 unlocked", () => vmOf("kspray-worker-2").lock === undefined);
    const data = Object.fromEntries(ALL.map((n) => [n, disk(n).dataId]));
    const mark = double.requests().length;
    const r = await run(["rollback", stateDir, step.snapshot]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(
      `kspray-worker-2: VM pve03/4201 no longer holds snapshot ${step.snapshot}; the step cannot be rolled back as a whole, so nothing was changed`,
    );
    expect(
      double
        .requests()
        .slice(mark)
        .filter((q) => q.method !== "GET"),
    ).toEqual([]);
    expect(Object.fromEntries(ALL.map((n) => [n, disk(n).dataId]))).toEqual(data);
    expect(readRecord(stateDir)?.vars.kube_version).toBe("1.35.4");
  });
});
