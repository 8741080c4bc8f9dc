/**
 * The runner's commands: `apply` (plan against the record, prepare the nodes, run Kubespray,
 * record, copy the kubeconfig), `remove-node` (before a VM is deleted), `teardown` (the
 * cluster stack is destroyed) and `record` (after running a printed script by hand).
 */
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

import { lock } from "proper-lockfile";
import { parse } from "yaml";

import { UserError } from "../config/errors";
import type { Command, CommandContext, RunnerSettings } from "../lib/kubespray/commands";
import { nodePrepStep, printScript, stepCommand } from "../lib/kubespray/commands";
import { parseInventory, withoutHost } from "../lib/kubespray/inventory";
import { pointAtVip } from "../lib/kubespray/kubeconfig";
import type { ClusterState, PlaybookStep, RunRecord } from "../lib/kubespray/planner";
import {
  checkRemovable,
  describeStep,
  planChanges,
  REMOVE_NODE,
  removeNodeStep,
} from "../lib/kubespray/planner";
import { dropRecord, readRecord, statePaths, writeRecord } from "../lib/kubespray/record";
import { stateFromFiles } from "../lib/kubespray/state";

import {
  canConnect,
  checkAnsible,
  checkKubesprayDir,
  findAnsiblePlaybook,
  waitForSsh,
} from "./checks";

export interface RunnerEnv {
  /** @default 22 */
  readonly sshPort: number;
  /**
   * Where every SSH check connects instead of the node's own address (tests whose nodes
   * are not reachable point it at a loopback listener).
   * @default - each node's address
   */
  readonly sshHost?: string;
  /**
   * A node-preparation playbook to run instead of the project's (tests use the stand-in's,
   * which only records the call).
   * @default - the playbook named in the runner settings
   */
  readonly nodePrepPlaybook?: string;
  /** How long to wait for SSH on every host. @default 600 s */
  readonly sshTimeoutMs: number;
  readonly extraInventories: readonly string[];
  readonly containerEngine?: string;
  readonly log: (line: string) => void;
  /** Absolute path of this program, for the line print mode adds at the end. */
  readonly self: string;
}

export function runnerEnv(env: NodeJS.ProcessEnv, self: string): RunnerEnv {
  return {
    sshPort: Number(env.KSPRAY_SSH_PORT ?? 22),
    sshHost: env.KSPRAY_SSH_HOST || undefined,
    nodePrepPlaybook: env.KSPRAY_NODE_PREP_PLAYBOOK || undefined,
    sshTimeoutMs: Number(env.KSPRAY_SSH_TIMEOUT_SECONDS ?? 600) * 1000,
    extraInventories: (env.KSPRAY_EXTRA_INVENTORY ?? "").split(":").filter((p) => p !== ""),
    containerEngine: env.KSPRAY_CONTAINER_ENGINE,
    log: (line) => process.stderr.write(`[kubespray-runner] ${line}\n`),
    self,
  };
}

export function expandHome(path: string): string {
  return path === "~" || path.startsWith("~/") ? join(homedir(), path.slice(1)) : path;
}

export function readSettings(file: string, env?: RunnerEnv): RunnerSettings {
  if (!existsSync(file))
    throw new UserError(`no runner settings at ${file}; deploy the cluster stack first`);
  const settings = JSON.parse(readFileSync(file, "utf8")) as RunnerSettings;
  return env?.nodePrepPlaybook === undefined
    ? settings
    : { ...settings, nodePrep: { ...settings.nodePrep, playbook: env.nodePrepPlaybook } };
}

/** How long a runner waits for another one on the same state directory. @default 2 h */
const LOCK_WAIT_SECONDS = 7200;

/**
 * Runs `fn` holding the state directory's lock. Terraform destroys the instances of the
 * vms stack's node removal in parallel (a teardown, or several nodes removed at once), and
 * each runner reads and rewrites the record: one at a time, or the record is lost. It
 * also keeps two Kubespray runs off the same cluster.
 */
export async function withStateLock<T>(
  stateDir: string,
  env: RunnerEnv,
  fn: () => Promise<T> | T,
): Promise<T> {
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const lockfilePath = join(stateDir, "runner.lock");
  const options = {
    realpath: false,
    lockfilePath,
    // A holder refreshes the lock every few seconds; one not refreshed for 30 s is dead.
    stale: 30_000,
    onCompromised: (e: Error) => {
      throw new UserError(`lost the lock ${lockfilePath}: ${e.message}`);
    },
  };
  const release = await lock(stateDir, options).catch(async (e: unknown) => {
    if ((e as NodeJS.ErrnoException).code !== "ELOCKED") throw e;
    env.log(`waiting for another runner holding ${lockfilePath}`);
    return lock(stateDir, {
      ...options,
      retries: { retries: LOCK_WAIT_SECONDS, factor: 1, minTimeout: 1000, maxTimeout: 1000 },
    }).catch((e2: unknown) => {
      throw new UserError(
        `another runner still holds ${lockfilePath} after ${LOCK_WAIT_SECONDS} s: ${(e2 as Error).message}`,
      );
    });
  });
  try {
    return await fn();
  } finally {
    await release();
  }
}

/** The address the SSH checks use for a node. */
function sshAddress(env: RunnerEnv, address: string | undefined): string | undefined {
  return address === undefined || address === "" ? undefined : (env.sshHost ?? address);
}

/** The desired cluster from the files the cluster stack wrote. */
export function desiredFromFiles(settings: RunnerSettings): ClusterState {
  const paths = statePaths(settings.stateDir);
  const inventory = parseInventory(readFileSync(paths.hostsFile, "utf8"));
  const vars = (parse(readFileSync(paths.groupVarsFile, "utf8")) ?? {}) as Record<string, unknown>;
  return stateFromFiles(inventory, vars, settings.kubesprayVersion);
}

function containerEngine(env: RunnerEnv): string {
  if (env.containerEngine) return env.containerEngine;
  for (const engine of ["docker", "podman"])
    if (!spawnSync(engine, ["--version"]).error) return engine;
  throw new UserError("container mode needs docker or podman on PATH");
}

/** Checks what the mode needs and returns how to build its commands. */
function prepare(settings: RunnerSettings, env: RunnerEnv, hostsFile: string): CommandContext {
  const dir = expandHome(settings.kubesprayDir);
  const inventory = parseInventory(readFileSync(hostsFile, "utf8"));
  let ansiblePlaybook = "ansible-playbook";
  if (settings.mode === "run") {
    checkKubesprayDir(settings, dir);
    ansiblePlaybook = findAnsiblePlaybook(settings, dir);
    checkAnsible(settings, dir, ansiblePlaybook);
  } else if (settings.mode === "print") {
    ansiblePlaybook = findAnsiblePlaybook(settings, dir);
  }
  return {
    settings,
    kubesprayDir: dir,
    hostsFile,
    extraInventories: env.extraInventories,
    ansiblePlaybook,
    sshPrivateKeyFile: expandHome(inventory.sshPrivateKeyFile),
    containerEngine: settings.mode === "container" ? containerEngine(env) : undefined,
  };
}

/** Runs one command, streaming its output; rejects when it fails. */
export function execute(command: Command, log: (line: string) => void): Promise<void> {
  log(`running ${command.label}`);
  return new Promise((resolve, reject) => {
    const child = spawn(command.argv[0], command.argv.slice(1), {
      cwd: command.cwd,
      stdio: "inherit",
    });
    child.once("error", (e) =>
      reject(new UserError(`cannot start ${command.argv[0]}: ${e.message}`)),
    );
    child.once("exit", (code, signal) =>
      code === 0
        ? resolve()
        : reject(
            new UserError(
              `${command.label} failed (${signal ?? `exit ${code}`}); the record is unchanged, ` +
                `so the next deploy retries (docs/operations.md, "A failed Kubespray run")`,
            ),
          ),
    );
  });
}

/** Kubespray steps with our node preparation before the first one that installs. */
export function withNodePrep(
  settings: RunnerSettings,
  steps: readonly PlaybookStep[],
): PlaybookStep[] {
  const out: PlaybookStep[] = [];
  let prepared = false;
  for (const step of steps) {
    if (!prepared && step.playbook !== REMOVE_NODE && !step.playbook.startsWith("playbooks/")) {
      out.push(nodePrepStep(settings, step.limit));
      prepared = true;
    }
    out.push(step);
  }
  return out;
}

/** Copies Kubespray's admin.conf to the state directory, mode 0600, server at the VIP. */
export function copyKubeconfig(settings: RunnerSettings, log: (line: string) => void): void {
  const paths = statePaths(settings.stateDir);
  if (!existsSync(paths.adminConf)) {
    log(`no ${paths.adminConf} yet; the kubeconfig is written after Kubespray's first run`);
    return;
  }
  const text = pointAtVip(
    readFileSync(paths.adminConf, "utf8"),
    settings.apiServerVip,
    settings.apiServerPort,
  );
  writeFileSync(paths.kubeconfig, text, { mode: 0o600 });
  chmodSync(paths.kubeconfig, 0o600);
}

function newRecord(desired: ClusterState, action: string): RunRecord {
  return { ...desired, action, completedAt: new Date().toISOString() };
}

export interface ApplyOptions {
  /** The action shown in the trigger at synth time; recorded so a redeploy plans nothing. */
  readonly action?: string;
}

/** `apply`: what a change of the inventory or variables needs, and only that. */
export async function apply(
  settings: RunnerSettings,
  env: RunnerEnv,
  options: ApplyOptions = {},
): Promise<void> {
  const paths = statePaths(settings.stateDir);
  // A create after a destroy (a replacement) means the cluster stack is alive again.
  rmSync(paths.teardownMarker, { force: true });
  const desired = desiredFromFiles(settings);
  const record = readRecord(settings.stateDir);
  const plan = planChanges(desired, record);
  const action = options.action ?? plan.description;
  if (plan.steps.length === 0) {
    env.log("nothing changed since the last successful run; no playbook to run");
    writeRecord(
      settings.stateDir,
      newRecord(desired, record?.action ?? action),
      paths.inventoryDir,
    );
    copyKubeconfig(settings, env.log);
    return;
  }
  env.log(`planned: ${plan.description}`);
  const ctx = prepare(settings, env, paths.hostsFile);
  const steps = withNodePrep(settings, plan.steps);
  const removing = new Set(plan.removed);

  if (settings.mode === "print") {
    const commands = steps.map((s) => stepCommand(s, ctx));
    const after = [process.execPath, env.self, "record", paths.settingsFile, "--action", action];
    writeFileSync(paths.printScript, printScript(commands, after), { mode: 0o700 });
    env.log(`print mode: wrote ${paths.printScript}; run it where Kubespray runs`);
    return;
  }

  const remaining = desired.hosts.filter((h) => !removing.has(h.name));
  await waitForSsh(
    remaining.map((h) => ({ name: h.name, address: sshAddress(env, h.address) ?? "" })),
    env.sshPort,
    env.sshTimeoutMs,
    env.log,
  );
  for (const step of steps) {
    if (step.playbook === REMOVE_NODE) {
      // Removed nodes are still in the record's copy of the inventory.
      const node = step.extraVars?.node ?? "";
      await removeNodeWith(settings, env, node, record as RunRecord);
      continue;
    }
    await execute(stepCommand(step, ctx), env.log);
  }
  writeRecord(settings.stateDir, newRecord(desired, action), paths.inventoryDir);
  copyKubeconfig(settings, env.log);
  env.log(`done: ${plan.description}`);
}

/** `record`: marks the planned run as done (after running a printed script by hand). */
export function markDone(
  settings: RunnerSettings,
  env: RunnerEnv,
  options: ApplyOptions = {},
): void {
  const paths = statePaths(settings.stateDir);
  const desired = desiredFromFiles(settings);
  const plan = planChanges(desired, readRecord(settings.stateDir));
  writeRecord(
    settings.stateDir,
    newRecord(desired, options.action ?? plan.description),
    paths.inventoryDir,
  );
  copyKubeconfig(settings, env.log);
}

async function removeNodeWith(
  settings: RunnerSettings,
  env: RunnerEnv,
  node: string,
  record: RunRecord,
): Promise<void> {
  const paths = statePaths(settings.stateDir);
  const hostsFile = existsSync(paths.recordHostsFile) ? paths.recordHostsFile : paths.hostsFile;
  const address = sshAddress(
    env,
    parseInventory(readFileSync(hostsFile, "utf8")).hosts.find((h) => h.name === node)?.address,
  );
  const reachable = address !== undefined && (await canConnect(address, env.sshPort, 5000));
  const extraVars: Record<string, string> = { node, skip_confirmation: "true" };
  if (!reachable) {
    env.log(`${node} does not answer on SSH: removing it without draining or resetting it`);
    extraVars.reset_nodes = "false";
    extraVars.allow_ungraceful_removal = "true";
  }
  const ctx = prepare(settings, env, hostsFile);
  const step: PlaybookStep = { playbook: REMOVE_NODE, extraVars };
  if (settings.mode === "print") {
    const script = printScript([stepCommand(step, ctx)], []);
    writeFileSync(paths.printScript, script, { mode: 0o700 });
    throw new UserError(
      `print mode: run ${paths.printScript} to remove ${node}, then deploy again`,
    );
  }
  await execute(stepCommand(step, ctx), env.log);
  forgetNode(settings.stateDir, record, node, describeStep(removeNodeStep(node)));
}

/** Drops a node from the record and its inventory copy. */
function forgetNode(stateDir: string, record: RunRecord, node: string, action: string): void {
  const paths = statePaths(stateDir);
  const hosts = record.hosts.filter((h) => h.name !== node);
  if (hosts.length === 0) {
    dropRecord(stateDir);
    return;
  }
  if (existsSync(paths.recordHostsFile))
    writeFileSync(
      paths.recordHostsFile,
      withoutHost(readFileSync(paths.recordHostsFile, "utf8"), node),
    );
  writeRecord(stateDir, {
    ...record,
    hosts,
    controlPlaneOrder: record.controlPlaneOrder.filter((n) => n !== node),
    action,
    completedAt: new Date().toISOString(),
  });
}

/**
 * `remove-node`: takes a node out of the cluster before its VM is deleted. Nothing to do
 * when the cluster was never built, the node never joined, or the whole cluster is being
 * torn down (then the node is only forgotten).
 */
export async function removeNode(stateDir: string, node: string, env: RunnerEnv): Promise<void> {
  const paths = statePaths(stateDir);
  const record = readRecord(stateDir);
  if (record === undefined || !record.hosts.some((h) => h.name === node)) {
    env.log(`${node} is not part of the recorded cluster; nothing to remove`);
    return;
  }
  if (existsSync(paths.teardownMarker)) {
    env.log(`the cluster is being torn down; not removing ${node} on its own`);
    forgetNode(stateDir, record, node, record.action);
    return;
  }
  checkRemovable(node, record.controlPlaneOrder);
  await removeNodeWith(readSettings(paths.settingsFile, env), env, node, record);
}

/** `teardown`: the cluster stack is being destroyed; later node removals are no-ops. */
export function teardown(stateDir: string, env: RunnerEnv): void {
  const paths = statePaths(stateDir);
  if (existsSync(stateDir)) {
    writeFileSync(paths.teardownMarker, `${new Date().toISOString()}\n`);
    env.log(`marked ${stateDir} as torn down: nodes are not removed one by one`);
  }
}
