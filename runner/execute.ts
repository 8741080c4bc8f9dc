/**
 * Starting the commands: what each mode needs (checked first), and one playbook at a time,
 * its output to the runs folder and its progress to the runner's lines.
 */
import { spawn, spawnSync } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { hostname } from "node:os";
import { basename, delimiter } from "node:path";

import { UserError } from "../errors/user-error";
import { checkoutProblems, findAnsiblePlaybook } from "../lib/kubespray/checkout";
import type { CommandContext, RunnerSettings } from "../lib/kubespray/commands";
import { stepCommand } from "../lib/kubespray/commands";
import { parseInventory } from "../lib/kubespray/inventory";
import type { PlaybookStep } from "../lib/kubespray/playbooks";
import { CALLBACK_PLUGINS_DIR, expandHome } from "../lib/kubespray/project";
import { readRecord } from "../lib/kubespray/record";
import type { RunSummary } from "../lib/kubespray/runs";
import {
  DEFAULT_KEEP_RUNS,
  ensureRunsDir,
  lastSuccessfulRun,
  listRuns,
  rotateRuns,
  runFiles,
  runName,
  writeRunFile,
  writeSummary,
} from "../lib/kubespray/runs";

import type { RunnerEnv } from "./env";
import { LOG_PREFIX } from "./env";
import type { PlayProgress } from "./events";
import { EventFile, RunTracker } from "./events";
import { explainFailure } from "./failure";
import { ProgressView } from "./progress";
import { ansibleEnvironment, Redactor } from "./secrets";

function containerEngine(env: RunnerEnv): string {
  if (env.containerEngine) return env.containerEngine;
  for (const engine of ["docker", "podman"])
    if (!spawnSync(engine, ["--version"]).error) return engine;
  throw UserError.at(
    "kubespray.mode",
    "container mode needs docker or podman, and neither is on PATH",
    "install one of them, or use mode run",
  );
}

/** Checks what the mode needs and returns how to build its commands. */
export function prepare(
  settings: RunnerSettings,
  env: RunnerEnv,
  hostsFile: string,
): CommandContext {
  const dir = expandHome(settings.kubesprayDir);
  const inventory = parseInventory(readFileSync(hostsFile, "utf8"));
  let ansiblePlaybook = "ansible-playbook";
  if (settings.mode === "run") {
    ansiblePlaybook = findAnsiblePlaybook(settings, dir);
    const problems = checkoutProblems(settings, dir, ansiblePlaybook);
    if (problems.length > 0) throw new UserError(problems);
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
    hostCount: inventory.hosts.length,
  };
}

/** After a command: the newest `keepRuns` runs are kept, and the ones the record names. */
export function pruneRuns(settings: RunnerSettings): void {
  rotateRuns(
    settings.stateDir,
    settings.keepRuns ?? DEFAULT_KEEP_RUNS,
    readRecord(settings.stateDir)?.runs ?? [],
  );
}

/** Lines of a stream, each passed on whole (a secret is never split across two writes). */
function lineSplitter(onLine: (line: string) => void): { push(d: Buffer): void; end(): void } {
  let partial = "";
  return {
    push(d) {
      const lines = (partial + d.toString("utf8")).split("\n");
      partial = lines.pop() ?? "";
      for (const line of lines) onLine(line);
    },
    end() {
      if (partial !== "") onLine(partial);
      partial = "";
    },
  };
}

/** A run's name not taken yet (two runs of a playbook within one millisecond). */
function freshRunName(stateDir: string, playbook: string): string {
  const name = runName(playbook, new Date());
  let candidate = name;
  for (let i = 2; existsSync(runFiles(stateDir, candidate).summary); i++)
    candidate = `${name}-${i}`;
  return candidate;
}

/** Lines of Ansible's output kept for a failure that no host event explains. */
const LOG_TAIL = 8;

/**
 * Runs one step's playbook: Ansible's output goes to `<state>/runs/<name>.log`, its events
 * (our callback plugin) to the progress lines and `<name>.json`. Resolves with the summary;
 * rejects with the explained failure (a UserError) when the playbook fails.
 */
export function execute(
  step: PlaybookStep,
  ctx: CommandContext,
  env: RunnerEnv,
): Promise<RunSummary> {
  const stateDir = ctx.settings.stateDir;
  ensureRunsDir(stateDir);
  const name = freshRunName(stateDir, stepCommand(step, ctx).playbook);
  const files = runFiles(stateDir, name);
  const command = stepCommand(step, ctx, { pluginDir: CALLBACK_PLUGINS_DIR, file: files.events });
  const redactor = new Redactor(env.environment);
  const lastRun = lastSuccessfulRun(listRuns(stateDir), command.playbook);
  writeRunFile(files.events, "");
  writeRunFile(files.log, `${redactor.hide(`$ cd ${command.cwd} && ${command.argv.join(" ")}`)}\n`);
  const log = openSync(files.log, "a");
  const tail: string[] = [];
  const toLog = (line: string) => {
    const shown = redactor.hide(line);
    writeSync(log, `${shown}\n`);
    if (shown.trim() !== "") tail.push(shown);
    if (tail.length > LOG_TAIL) tail.shift();
  };
  const tracker = new RunTracker();
  const events = new EventFile(files.events);
  const terminal = env.terminal;
  const progress = new ProgressView({
    label: command.label,
    lastRunSeconds: lastRun?.durationSeconds,
    // Task and play names are Ansible's too: hidden alike.
    log: (line) => env.log(redactor.hide(line)),
    terminal: terminal && {
      write: (text) => terminal.write(redactor.hide(text)),
      get columns() {
        return terminal.columns;
      },
    },
    intervalMs: env.progressIntervalMs,
    now: Date.now,
    prefix: LOG_PREFIX,
  });
  const readEvents = () => {
    const ended: PlayProgress[] = [];
    let started = false;
    for (const e of events.read()) {
      const end = tracker.add(e);
      if (end) ended.push(end);
      if (e.event === "play_start") started = true;
    }
    if (ended.length > 0 || started || env.terminal) progress.update(tracker, ended, started);
  };
  const startedAt = new Date();
  env.log(`running ${command.label} (log: ${files.log})`);

  return new Promise((resolve, reject) => {
    const parent = ansibleEnvironment(env.environment);
    const child = spawn(command.argv[0], command.argv.slice(1), {
      cwd: command.cwd,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...parent, ...command.env, ...callbackPaths(parent, command.env) },
    });
    const stdout = lineSplitter(toLog);
    const stderr = lineSplitter(toLog);
    child.stdout.on("data", (d: Buffer) => stdout.push(d));
    child.stderr.on("data", (d: Buffer) => stderr.push(d));
    // A terminal's line shows the elapsed time every second; plain lines once per interval.
    const timer = setInterval(
      () => {
        readEvents();
        progress.tick(tracker);
      },
      Math.min(1000, env.progressIntervalMs),
    );
    child.once("error", (e) => {
      clearInterval(timer);
      closeSync(log);
      rmSync(files.events, { force: true });
      reject(
        UserError.at(
          command.argv[0],
          `cannot start it (${e.message})`,
          "check that it is installed",
        ),
      );
    });
    child.once("close", (code, signal) => {
      clearInterval(timer);
      stdout.end();
      stderr.end();
      closeSync(log);
      readEvents();
      progress.finish(tracker);
      rmSync(files.events, { force: true });
      const finishedAt = new Date();
      const exit = signal ?? `exit ${code}`;
      const summary: RunSummary = redactor.hideIn({
        name,
        playbook: command.playbook,
        label: command.label,
        command: command.argv,
        machine: hostname(),
        startedAt: startedAt.toISOString(),
        finishedAt: finishedAt.toISOString(),
        durationSeconds: Math.round((finishedAt.getTime() - startedAt.getTime()) / 100) / 10,
        result: code === 0 ? "succeeded" : "failed",
        exit,
        ...tracker.summary(),
        log: basename(files.log),
      });
      writeSummary(stateDir, summary);
      if (code === 0) {
        resolve(summary);
        return;
      }
      reject(
        // One line each: the failed hosts, their tasks and messages, the runbooks, the log.
        new UserError(
          explainFailure({
            label: command.label,
            exit,
            failures: summary.failures,
            logTail: tail,
            logFile: files.log,
          }).map((message) => ({ path: "", message })),
        ),
      );
    });
  });
}

/**
 * The callback plugin's folder and name added to what the environment already enables
 * (Ansible reads both as lists), so that a user's own callbacks keep working.
 */
function callbackPaths(
  parent: NodeJS.ProcessEnv,
  own: Readonly<Record<string, string>> | undefined,
): Record<string, string> {
  const out: Record<string, string> = {};
  const join = (key: string, separator: string) => {
    const mine = own?.[key];
    const theirs = parent[key];
    if (mine !== undefined && theirs) out[key] = `${mine}${separator}${theirs}`;
  };
  join("ANSIBLE_CALLBACK_PLUGINS", delimiter);
  join("ANSIBLE_CALLBACKS_ENABLED", ",");
  return out;
}
