/**
 * The compiled runner with the REAL ansible-playbook (Kubespray v2.31.0's pins, from
 * .toolchain/ansible-venv) against the stand-in Kubespray, whose playbooks record how they
 * were called. SSH waits point at a loopback listener.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import type { AddressInfo, Server } from "node:net";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

import { loadClusterConfig } from "../../config/load";
import type { ClusterConfig } from "../../config/schema";
import type { RunnerSettings } from "../../lib/kubespray/commands";
import { readRecord } from "../../lib/kubespray/record";
import { renderFiles } from "../../lib/kubespray/render";
import { ANSIBLE_VENV, describeWithAnsible, ROOT, STANDIN } from "../support/ansible";

const HOMELAB = join(ROOT, "examples", "homelab.yaml");
const CLI = join(ROOT, "dist", "runner", "cli.js");

interface Call {
  playbook: string;
  limit: string;
  extra_vars: Record<string, unknown>;
  kube_version: string;
  kube_node: string[];
  inventory: string[];
}

describeWithAnsible("runner with real Ansible and the stand-in Kubespray", () => {
  jest.setTimeout(120_000);
  const base = loadClusterConfig(HOMELAB).config;
  const initial: ClusterConfig = { ...base, kubernetes: { ...base.kubernetes, version: "1.34.7" } };
  let listener: Server;
  let port = 0;
  let stateDir = "";
  let log = "";

  const settings = (over: Partial<RunnerSettings> = {}): string => {
    const s: RunnerSettings = {
      clusterName: "kspray",
      stateDir,
      kubesprayDir: STANDIN,
      kubesprayVersion: "v2.31.0",
      ansibleCore: { min: "2.18.0", max: "2.19.0" },
      pythonRequirements: ["ansible==11.13.0"],
      mode: "run",
      venv: ANSIBLE_VENV,
      containerImage: "quay.io/kubespray/kubespray:v2.31.0",
      apiServerVip: "10.10.30.20",
      apiServerPort: 6443,
      nodePrep: { playbook: join(STANDIN, "node-prep.yml"), iscsi: true, nfs: true },
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
    const record = readRecord(stateDir);
    const { files } = renderFiles(
      { ...config, nodePools: config.nodePools.map((p) => ({ ...p, firstIp: undefined })) },
      { addresses, record },
    );
    for (const [rel, content] of Object.entries(files)) {
      const target = join(stateDir, "inventory", rel);
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(target, content, { mode: 0o600 });
    }
  };

  const run = (args: string[], env: NodeJS.ProcessEnv = {}) =>
    spawnSync(process.execPath, [CLI, ...args], {
      encoding: "utf8",
      env: {
        ...process.env,
        KSPRAY_STANDIN_LOG: log,
        KSPRAY_SSH_PORT: String(port),
        KSPRAY_SSH_TIMEOUT_SECONDS: "5",
        ...env,
      },
    });

  const calls = (): Call[] =>
    existsSync(log)
      ? readFileSync(log, "utf8")
          .trim()
          .split("\n")
          .filter(Boolean)
          .map((l) => JSON.parse(l) as Call)
      : [];
  /** Calls made by `fn`, as `playbook [limit]`. */
  const newCalls = (fn: () => void): Call[] => {
    const before = calls().length;
    fn();
    return calls().slice(before);
  };
  const brief = (cs: Call[]) =>
    cs.map((c) => (c.limit ? `${c.playbook} --limit=${c.limit}` : c.playbook));
  const ok = (r: ReturnType<typeof run>) => {
    if (r.status !== 0) throw new Error(`runner failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  };
  /** A cluster built from `config` and recorded: where most tests start. */
  const built = (config: ClusterConfig) => {
    deploy(config);
    ok(run(["apply", settings()]));
  };
  const bigger: ClusterConfig = {
    ...initial,
    nodePools: initial.nodePools.map((p) => (p.name === "worker" ? { ...p, count: 4 } : p)),
  };

  beforeAll(async () => {
    const build = spawnSync(
      process.execPath,
      [
        join(ROOT, "node_modules", "typescript", "bin", "tsc"),
        "-p",
        join(ROOT, "tsconfig.build.json"),
      ],
      { encoding: "utf8" },
    );
    if (build.status !== 0) throw new Error(build.stdout + build.stderr);
    listener = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", resolve));
    port = (listener.address() as AddressInfo).port;
  });
  // Every test starts from an empty state directory of its own.
  beforeEach(() => {
    stateDir = mkdtempSync(join(tmpdir(), "runner-state-"));
    log = join(stateDir, "calls.jsonl");
  });
  afterAll(() => new Promise<void>((resolve) => listener.close(() => resolve())));

  it("first run: node preparation, then cluster.yml; record and kubeconfig written", () => {
    deploy(initial);
    const made = newCalls(() => ok(run(["apply", settings(), "--action", "cluster.yml"])));
    expect(brief(made)).toEqual(["node-prep.yml", "cluster.yml"]);
    expect(made[0].extra_vars).toMatchObject({ node_prep_iscsi: true, node_prep_nfs: true });
    expect(made[1].inventory).toEqual([join(stateDir, "inventory", "hosts.yaml")]);
    expect(made[1].kube_version).toBe("1.34.7");
    expect(readRecord(stateDir)?.action).toBe("cluster.yml");
    const kubeconfig = join(stateDir, "kubeconfig");
    expect(statSync(kubeconfig).mode & 0o777).toBe(0o600);
    expect(readFileSync(kubeconfig, "utf8")).toContain("server: https://10.10.30.20:6443");
  });

  it("no-op redeploy: no playbook", () => {
    built(initial);
    deploy(initial);
    const made = newCalls(() => ok(run(["apply", settings(), "--action", "cluster.yml"])));
    expect(made).toEqual([]);
  });

  it("one added worker: facts.yml, then node preparation and scale.yml limited to it", () => {
    built(initial);
    deploy(bigger);
    const made = newCalls(() => ok(run(["apply", settings()])));
    expect(brief(made)).toEqual([
      "playbooks/facts.yml",
      "node-prep.yml --limit=kspray-worker-4",
      "scale.yml --limit=kspray-worker-4",
    ]);
    expect(made[2].kube_node).toContain("kspray-worker-4");
    expect(readRecord(stateDir)?.action).toBe(
      "playbooks/facts.yml; scale.yml --limit=kspray-worker-4",
    );
  });

  it("one removed worker: remove-node.yml -e node=... before the VM goes, then nothing", () => {
    built(bigger);
    const made = newCalls(() => ok(run(["remove-node", stateDir, "kspray-worker-4"])));
    expect(brief(made)).toEqual(["remove-node.yml"]);
    expect(made[0].extra_vars).toMatchObject({
      node: "kspray-worker-4",
      skip_confirmation: "true",
      reset_nodes: "",
    });
    // Run with the record's copy of the inventory, which still holds the node.
    expect(made[0].inventory).toEqual([join(stateDir, "last-run", "inventory", "hosts.yaml")]);
    expect(made[0].kube_node).toContain("kspray-worker-4");
    expect(readRecord(stateDir)?.hosts.map((h) => h.name)).not.toContain("kspray-worker-4");
    deploy(initial);
    expect(newCalls(() => ok(run(["apply", settings()])))).toEqual([]);
  });

  it("refuses to remove the first control-plane node", () => {
    built(initial);
    const r = run(["remove-node", stateDir, "kspray-cp-1"]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/kspray-cp-1 is the first control-plane node.*docs\/operations\.md/);
  });

  it("version bump: upgrade-cluster.yml", () => {
    built(initial);
    deploy(base);
    const made = newCalls(() => ok(run(["apply", settings()])));
    expect(brief(made)).toEqual(["node-prep.yml", "upgrade-cluster.yml"]);
    expect(made[1].kube_version).toBe("1.35.4");
  });

  it("playbook failure: non-zero exit and the record untouched; the retry succeeds", () => {
    built(base);
    const changed = { ...base, kubernetes: { ...base.kubernetes, nodeLocalDns: false } };
    deploy(changed);
    const recordBefore = readFileSync(join(stateDir, "last-run", "record.json"), "utf8");
    let failed: ReturnType<typeof run> | undefined;
    const first = newCalls(() => {
      failed = run(["apply", settings()], { KSPRAY_STANDIN_FAIL_ONCE: "cluster.yml" });
    });
    expect(failed?.status).toBe(2);
    expect(failed?.stderr).toMatch(/cluster\.yml: failed .*the record is unchanged/);
    expect(brief(first)).toEqual(["node-prep.yml", "cluster.yml"]);
    expect(readFileSync(join(stateDir, "last-run", "record.json"), "utf8")).toBe(recordBefore);
    const retry = newCalls(() =>
      ok(run(["apply", settings()], { KSPRAY_STANDIN_FAIL_ONCE: "cluster.yml" })),
    );
    expect(brief(retry)).toEqual(["node-prep.yml", "cluster.yml"]);
    expect(readRecord(stateDir)?.vars.enable_nodelocaldns).toBe(false);
  });

  it("fails clearly when a host does not answer on SSH", () => {
    // A change, so that there is something to run and hosts to wait for.
    built(base);
    deploy({ ...base, kubernetes: { ...base.kubernetes, metricsServer: false } });
    const r2 = run(["apply", settings()], {
      KSPRAY_SSH_PORT: "1",
      KSPRAY_SSH_TIMEOUT_SECONDS: "1",
    });
    expect(r2.status).toBe(2);
    expect(r2.stderr).toMatch(/no SSH answer on port 1 from kspray-cp-1 \(127\.0\.0\.1\)/);
  });

  it("names a missing PG_CONN_STR of a pg record store in one line, exit 2, no stack trace", () => {
    deploy(initial);
    const r = run(["apply", settings({ recordStore: { schema: "kspray_cluster" } })], {
      PG_CONN_STR: "",
    });
    expect({ status: r.status, stderr: r.stderr }).toEqual({
      status: 2,
      stderr:
        "[kubespray-runner] error: PG_CONN_STR: not set, and state.backend: pg keeps the Kubespray record in PostgreSQL; " +
        "set it in the environment as for the deploy: postgres://user@host/db?sslmode=...\n",
    });
  });

  it("refuses a Kubespray directory of another release and a missing Ansible, with the fix", () => {
    const other = mkdtempSync(join(tmpdir(), "kubespray-other-"));
    writeFileSync(join(other, "galaxy.yml"), "version: 2.30.0\n");
    deploy(initial);
    const r = run(["apply", settings({ kubesprayDir: other })]);
    expect(r.stderr).toMatch(
      /holds Kubespray v2\.30\.0, not v2\.31\.0; run: npm run kubespray:install/,
    );
    const r2 = run(["apply", settings({ venv: join(other, "no-venv") })]);
    expect(r2.status).toBe(2);
    expect(r2.stderr).toMatch(
      /cannot run .*ansible-playbook; install the release's requirements: python3 -m venv/,
    );
  });

  it("print mode writes the exact commands to a script and runs nothing", () => {
    deploy(initial);
    const made = newCalls(() => ok(run(["apply", settings({ mode: "print" })])));
    expect(made).toEqual([]);
    const script = readFileSync(join(stateDir, "kubespray-commands.sh"), "utf8");
    expect(script).toContain(`-b cluster.yml`);
    expect(script).toContain(`${CLI} record ${join(stateDir, "runner.json")} --action cluster.yml`);
  });

  it("print mode removes a node: the script removes it, then forgets it, and the next deploy goes on", () => {
    built(bigger);
    settings({ mode: "print" });
    const refused = run(["remove-node", stateDir, "kspray-worker-4"]);
    expect(refused.status).toBe(2);
    // One line with the runbook's steps (docs/operations.md, "Removing nodes").
    expect(refused.stderr).toBe(
      `[kubespray-runner] error: kspray-worker-4: kubespray.mode is print, so nothing here removes it from the cluster and the deploy stops before deleting its VM; ` +
        `1. run ${join(stateDir, "kubespray-commands.sh")} where Kubespray runs (remove-node.yml -e node=kspray-worker-4, then forget-node takes it out of the record), ` +
        `2. run the same deploy again: it deletes the VM\n`,
    );
    const script = join(stateDir, "kubespray-commands.sh");
    expect(readFileSync(script, "utf8").trim().split("\n").pop()).toBe(
      `${process.execPath} ${CLI} forget-node ${stateDir} kspray-worker-4`,
    );
    // The operator runs it where Kubespray runs.
    const made = newCalls(() => {
      const byHand = spawnSync("sh", [script], {
        encoding: "utf8",
        env: { ...process.env, KSPRAY_STANDIN_LOG: log },
      });
      expect({ status: byHand.status, out: byHand.stdout + byHand.stderr }).toMatchObject({
        status: 0,
      });
    });
    expect(brief(made)).toEqual(["remove-node.yml"]);
    expect(readRecord(stateDir)?.hosts.map((h) => h.name)).not.toContain("kspray-worker-4");
    // The deploy again: the node is gone from the record, so its VM may go.
    const again = run(["remove-node", stateDir, "kspray-worker-4"]);
    expect(again.status).toBe(0);
    expect(again.stdout + again.stderr).toContain(
      "kspray-worker-4 is not part of the recorded cluster",
    );
  });

  it("teardown: later node removals run nothing and the record is dropped", () => {
    built(initial);
    ok(run(["teardown", stateDir]));
    const made = newCalls(() => {
      for (const node of [
        "kspray-worker-3",
        "kspray-worker-2",
        "kspray-worker-1",
        "kspray-cp-3",
        "kspray-cp-2",
        "kspray-cp-1",
      ])
        ok(run(["remove-node", stateDir, node]));
    });
    expect(made).toEqual([]);
    expect(readRecord(stateDir)).toBeUndefined();
  });
});
