/**
 * The compiled runner with the REAL ansible-playbook (Kubespray v2.31.0's pins, from
 * .toolchain/ansible-venv) against the stand-in Kubespray, whose playbooks record how they
 * were called. SSH waits point at a loopback listener.
 */
// Terminal control sequences are what some of these tests look for.
/* eslint-disable no-control-regex */
import { spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from "node:fs";
import type { AddressInfo, Server } from "node:net";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

import { parse } from "yaml";

import { loadClusterConfig } from "../../config/load";
import type { ClusterConfig } from "../../config/schema";
import type { RunnerSettings } from "../../lib/kubespray/commands";
import { readRecord } from "../../lib/kubespray/record";
import { renderFiles } from "../../lib/kubespray/render";
import type { RunSummary } from "../../lib/kubespray/runs";
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
  /** Which of KSPRAY_STANDIN_ENV_NAMES Ansible's environment held. */
  env_seen: string[];
}

/** Every kind of secret a deploy's environment holds; none may reach Ansible or a run's files. */
const SECRETS = {
  TF_VAR_grafana_admin_password: "grafana-Pa55word-of-the-runner-test",
  TF_VAR_truenas_api_key_nas: "1-c2VjcmV0IGFwaSBrZXkgb2YgdGhlIHRlc3Q",
  TF_VAR_state_passphrase: "the state passphrase of the runner test",
  PROXMOX_VE_API_TOKEN: "cdktf@pve!deploy=0b9c4d8e-1f2a-4b3c-9d8e-7f6a5b4c3d2e",
  PG_CONN_STR: "postgres://kspray:pg-Pa55word-of-the-test@127.0.0.1:1/kspray_state",
  PGPASSWORD: "pg-Pa55word-of-the-test",
};
/** Each secret, and the parts of one that could be printed alone. */
const SECRET_VALUES = [
  ...Object.values(SECRETS),
  "0b9c4d8e-1f2a-4b3c-9d8e-7f6a5b4c3d2e",
  "pg-Pa55word-of-the-test",
];

const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f]/;

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
      // No Proxmox here: the snapshots before risky steps are tested in safety-net.test.ts.
      proxmox: {
        endpoint: "https://127.0.0.1:1/",
        insecure: true,
        snapshots: { enabled: false, keep: 2 },
        vms: {},
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

  /** The runner's environment: the stand-in's log, SSH checks at the loopback listener. */
  const runnerEnv = (env: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
    ...process.env,
    KSPRAY_STANDIN_LOG: log,
    KSPRAY_SSH_PORT: String(port),
    KSPRAY_SSH_TIMEOUT_SECONDS: "5",
    ...env,
  });
  const run = (args: string[], env: NodeJS.ProcessEnv = {}) =>
    spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", env: runnerEnv(env) });

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

  /** The runs folder's summaries, oldest first. */
  const summaries = (): RunSummary[] =>
    readdirSync(join(stateDir, "runs"))
      .filter((f) => f.endsWith(".json"))
      .sort()
      .map((f) => JSON.parse(readFileSync(join(stateDir, "runs", f), "utf8")) as RunSummary);
  const runFile = (name: string, ext: "log" | "json") => join(stateDir, "runs", `${name}.${ext}`);
  const mode = (file: string) => statSync(file).mode & 0o777;

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

  it("KSPRAY_VIP_SERVER: the kubeconfig names that server in place of the VIP, the rest as Kubespray wrote it", () => {
    deploy(initial);
    const server = "https://127.0.0.1:40123";
    ok(run(["apply", settings()], { KSPRAY_VIP_SERVER: server }));
    const admin = readFileSync(join(stateDir, "inventory", "artifacts", "admin.conf"), "utf8");
    const kubeconfig = readFileSync(join(stateDir, "kubeconfig"), "utf8");
    expect(kubeconfig).toContain(`server: ${server}\n`);
    expect(kubeconfig).not.toContain("10.10.30.20");
    expect(parse(kubeconfig.replace(server, "https://127.0.0.1:6443"))).toEqual(parse(admin));
    // Without a VIP, Kubespray's own server stays.
    ok(run(["apply", settings({ apiServerVip: undefined })], { KSPRAY_VIP_SERVER: server }));
    expect(readFileSync(join(stateDir, "kubeconfig"), "utf8")).toBe(admin);
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
    // Keeping one run: the record's three stay, the first deploy's two go.
    const made = newCalls(() => ok(run(["apply", settings({ keepRuns: 1 })])));
    expect(brief(made)).toEqual([
      "playbooks/facts.yml",
      "node-prep.yml --limit=kspray-worker-4",
      "scale.yml --limit=kspray-worker-4",
    ]);
    expect(made[2].kube_node).toContain("kspray-worker-4");
    expect(readRecord(stateDir)?.action).toBe(
      "playbooks/facts.yml; scale.yml --limit=kspray-worker-4",
    );
    const kept = summaries();
    expect(kept.map((r) => r.label)).toEqual([
      "playbooks/facts.yml",
      "node-prep.yml --limit=kspray-worker-4",
      "scale.yml --limit=kspray-worker-4",
    ]);
    expect(readRecord(stateDir)?.runs).toEqual(kept.map((r) => r.name));
    expect(readdirSync(join(stateDir, "runs")).sort()).toEqual(
      kept.flatMap((r) => [`${r.name}.json`, `${r.name}.log`]).sort(),
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

  it("a long run: progress lines per play, its log and summary, no secret, no control character", () => {
    deploy(initial);
    let r: ReturnType<typeof run> | undefined;
    const made = newCalls(() => {
      r = run(["apply", settings(), "--action", "cluster.yml"], {
        ...SECRETS,
        KSPRAY_STANDIN_SLOW_SECONDS: "4",
        KSPRAY_PROGRESS_SECONDS: "1",
        // A secret's value that reaches Ansible's output another way is hidden too.
        KSPRAY_STANDIN_ECHO: `the password is ${SECRETS.TF_VAR_grafana_admin_password}`,
        KSPRAY_STANDIN_ENV_NAMES: Object.keys(SECRETS).join(":"),
      });
    });
    ok(r as ReturnType<typeof run>);
    const { stdout, stderr } = r as ReturnType<typeof run>;
    // No secret reached Ansible's environment.
    expect(made.map((c) => c.env_seen)).toEqual([[], []]);

    // Without a terminal: plain lines, one per play when it starts, while it runs, when it ends.
    expect(`${stdout}${stderr}`).not.toMatch(CONTROL);
    const play2 = stderr
      .split("\n")
      .filter((l) => l.includes(`cluster.yml, play 2 "Stand-in work on each host"`));
    expect(play2[0]).toMatch(
      /^\[kubespray-runner\] cluster\.yml, play 2 "Stand-in work on each host": 0 tasks done; hosts 0 ok, 0 changed, 0 failed, 0 unreachable; (\d+m)?\d+s/,
    );
    expect(play2.length).toBeGreaterThanOrEqual(4);
    expect(play2[play2.length - 1]).toMatch(
      /play 2 "Stand-in work on each host" done: 6 tasks done; hosts 0 ok, 6 changed, 0 failed, 0 unreachable; (\d+m)?\d+s$/,
    );
    expect(stderr).toMatch(/cluster\.yml, play 1 "Stand-in cluster\.yml" done: 9 tasks done; /);

    // The log and the summary of each playbook, 0600 in a 0700 folder; the record points to them.
    expect(mode(join(stateDir, "runs"))).toBe(0o700);
    const [prep, cluster] = summaries();
    expect(readRecord(stateDir)?.runs).toEqual([prep.name, cluster.name]);
    expect(prep.playbook).toBe("node-prep.yml");
    expect(cluster).toMatchObject({
      playbook: "cluster.yml",
      label: "cluster.yml",
      result: "succeeded",
      exit: "exit 0",
      log: `${cluster.name}.log`,
    });
    expect(cluster.name).toMatch(/^\d{8}T\d{6}\.\d{3}Z-cluster$/);
    expect(cluster.command).toContain("cluster.yml");
    expect(cluster.durationSeconds).toBeGreaterThanOrEqual(4);
    const nodes = Object.keys(renderFiles(initial).inventory.all.hosts).sort();
    expect(Object.keys(cluster.hosts)).toEqual(nodes);
    expect(Object.values(cluster.hosts).map((h) => h.result)).toEqual(nodes.map(() => "changed"));
    expect(cluster.changedTasks).toContainEqual({
      play: "Stand-in work on each host",
      task: "Change something",
      hosts: expect.arrayContaining(nodes) as string[],
    });
    expect(cluster.failures).toEqual([]);
    const log = readFileSync(runFile(cluster.name, "log"), "utf8");
    expect(log).toContain("TASK [Change something]");
    expect(log).toMatch(/PLAY RECAP/);
    expect(log).toContain("the password is [hidden: TF_VAR_grafana_admin_password]");
    for (const name of [prep.name, cluster.name])
      for (const ext of ["log", "json"] as const) expect(mode(runFile(name, ext))).toBe(0o600);

    const everything = [
      stdout,
      stderr,
      ...readdirSync(join(stateDir, "runs")).map((f) =>
        readFileSync(join(stateDir, "runs", f), "utf8"),
      ),
      readFileSync(join(stateDir, "last-run", "record.json"), "utf8"),
    ].join("\n");
    for (const secret of SECRET_VALUES) expect(everything).not.toContain(secret);
  });

  it("failed and unreachable hosts: the last lines name each with its task and message, the runbooks and the log", () => {
    built(base);
    deploy({ ...base, kubernetes: { ...base.kubernetes, nodeLocalDns: false } });
    const recordBefore = readFileSync(join(stateDir, "last-run", "record.json"), "utf8");
    const r = run(["apply", settings()], {
      ...SECRETS,
      KSPRAY_STANDIN_FAIL_HOST: "kspray-worker-2",
      KSPRAY_STANDIN_FAIL_PLAYBOOK: "cluster.yml",
      KSPRAY_STANDIN_FAIL_TASK: "etcd : Check if etcd cluster is healthy",
      KSPRAY_STANDIN_FAIL_MSG: `etcd cluster is unhealthy (${SECRETS.PGPASSWORD})`,
      KSPRAY_STANDIN_UNREACHABLE_HOST: "kspray-cp-3",
    });
    expect(r.status).toBe(2);
    const [, , , failed] = summaries();
    const logFile = runFile(failed.name, "log");
    expect(r.stderr.trimEnd().split("\n").slice(-10)).toEqual([
      expect.stringMatching(
        /^\[kubespray-runner\] error: cluster\.yml failed \(exit [24]\); the record is unchanged, so the next deploy runs it again$/,
      ) as string,
      "[kubespray-runner] error: unreachable host: kspray-cp-3",
      "[kubespray-runner] error: task: Reach the host",
      expect.stringMatching(
        /^\[kubespray-runner\] error: message: Failed to connect to the host via ssh: .*127\.0\.0\.1 port 1/,
      ) as string,
      "[kubespray-runner] error: failed host: kspray-worker-2",
      "[kubespray-runner] error: task: etcd : Check if etcd cluster is healthy",
      "[kubespray-runner] error: message: etcd cluster is unhealthy ([hidden: PGPASSWORD])",
      `[kubespray-runner] error: runbook: docs/operations.md#an-unreachable-node ("An unreachable node")`,
      `[kubespray-runner] error: runbook: docs/operations.md#etcd-is-not-healthy ("etcd is not healthy")`,
      `[kubespray-runner] error: full log: ${logFile}`,
    ]);
    // The estimate from the first deploy's cluster.yml.
    expect(r.stderr).toMatch(
      /cluster\.yml, play 1 .*(about (\d+m)?\d+s left \(last run|longer than the last run)/,
    );
    expect(failed).toMatchObject({ playbook: "cluster.yml", result: "failed" });
    expect(failed.hosts["kspray-worker-2"].result).toBe("failed");
    expect(failed.hosts["kspray-cp-3"].result).toBe("unreachable");
    expect(failed.hosts["kspray-worker-1"].result).toBe("changed");
    expect(failed.failures.map((f) => [f.host, f.task, f.unreachable])).toEqual([
      ["kspray-cp-3", "Reach the host", true],
      ["kspray-worker-2", "etcd : Check if etcd cluster is healthy", false],
    ]);
    expect(readFileSync(logFile, "utf8")).toContain("fatal: [kspray-worker-2]: FAILED!");
    expect(readFileSync(join(stateDir, "last-run", "record.json"), "utf8")).toBe(recordBefore);
    expect(`${r.stderr}${readFileSync(logFile, "utf8")}`).not.toContain(SECRETS.PGPASSWORD);
  });

  it("on a terminal, the line of the running play is rewritten in place", () => {
    deploy(initial);
    // `script` gives the runner a terminal (util-linux; -e: its exit status).
    const cmd = [process.execPath, CLI, "apply", settings()].map((a) => `'${a}'`).join(" ");
    // A wide terminal, so that the whole line fits (it is cut to the width).
    const r = spawnSync("script", ["-qec", `stty cols 250; ${cmd}`, "/dev/null"], {
      encoding: "utf8",
      env: runnerEnv({ KSPRAY_STANDIN_SLOW_SECONDS: "2" }),
    });
    ok(r);
    // A rewrite: back to the line's start, the new text, the rest of the old one erased.
    expect(r.stdout).toMatch(
      /\u001b\[K\r\[kubespray-runner\] cluster\.yml, play 2 "Stand-in work on each host": \d+ tasks done;[^\r\n]*\u001b\[K/,
    );
    expect(r.stdout).toMatch(
      /play 2 "Stand-in work on each host" done: 6 tasks done;[^\r\n]*\u001b\[K\r?\n/,
    );
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
    expect(failed?.stderr).toMatch(/cluster\.yml failed .*the record is unchanged/);
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
    // Snapshots are off here (safety-net.test.ts has them): the runner says so, never silently.
    expect(refused.stderr).toBe(
      "[kubespray-runner] proxmox.snapshots.enabled is false: no snapshot of kspray-cp-1, kspray-cp-2, kspray-cp-3 before remove-node.yml -e node=kspray-worker-4; it cannot be rolled back\n" +
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
