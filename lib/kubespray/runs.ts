/**
 * The runs of Ansible kept under `<state>/runs/`: for every playbook the runner starts, its
 * full output (`<name>.log`) and a summary (`<name>.json`), named `<UTC time>-<playbook>`
 * (e.g. `20260514T212633.123Z-cluster`, so that names sort by time). The folder is 0700,
 * the files 0600; neither holds a secret (the runner keeps them out of Ansible's
 * environment and hides their values in what it writes). Only the newest `keepRuns` are
 * kept, and always the runs the record points to.
 */
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { basename, join } from "node:path";

/**
 * Playbook runs kept under `<state>/runs/`: a first deploy makes 2 (node preparation and
 * cluster.yml), adding workers 3, so 20 holds the last several deploys that ran Ansible
 * (a 6-node cluster.yml's log is a few MB) without growing without bound.
 */
export const DEFAULT_KEEP_RUNS = 20;

/** How one host ended a run (its worst result). */
export type HostOutcome = "ok" | "changed" | "failed" | "unreachable";

/** Ansible's stats of one host, and how it ended. */
export interface HostResult {
  readonly ok: number;
  readonly changed: number;
  readonly failures: number;
  readonly unreachable: number;
  readonly skipped: number;
  readonly rescued: number;
  readonly ignored: number;
  readonly result: HostOutcome;
}

/** A task that failed on a host, or found it unreachable (not the ignored failures). */
export interface TaskFailure {
  readonly host: string;
  readonly play: string;
  readonly task: string;
  /** The Ansible module, e.g. `ansible.builtin.apt`. */
  readonly action: string;
  readonly unreachable: boolean;
  /** Ansible's message: `msg`, the command's stderr, or a failed item's. */
  readonly message: string;
}

/** A task that changed something, and where. */
export interface ChangedTask {
  readonly play: string;
  readonly task: string;
  readonly hosts: readonly string[];
}

/** `<name>.json`: what one playbook run did. */
export interface RunSummary {
  /** The files' common name, e.g. `20260514T212633.123Z-cluster`. */
  readonly name: string;
  /** As the planner names it, e.g. `cluster.yml`, `playbooks/facts.yml`, `node-prep.yml`. */
  readonly playbook: string;
  /** The step with its limit, e.g. `scale.yml --limit=kspray-worker-4`. */
  readonly label: string;
  /** The argv the runner started (no secret is ever in it). */
  readonly command: readonly string[];
  /** The machine it ran on: the full log is there (with pg, only summaries travel). */
  readonly machine: string;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly durationSeconds: number;
  readonly result: "succeeded" | "failed";
  /** `exit 0`, `exit 2`, `SIGTERM`... */
  readonly exit: string;
  /** Tasks started (handlers included). */
  readonly tasks: number;
  /** Every host Ansible worked on, by name. */
  readonly hosts: Readonly<Record<string, HostResult>>;
  readonly changedTasks: readonly ChangedTask[];
  readonly failures: readonly TaskFailure[];
  /** The full output, beside the summary. */
  readonly log: string;
}

export function runsDir(stateDir: string): string {
  return join(stateDir, "runs");
}

/** The folder, made 0700 (also when it existed with other permissions). */
export function ensureRunsDir(stateDir: string): string {
  const dir = runsDir(stateDir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  return dir;
}

/** `20260514T212633.123Z-cluster` for `cluster.yml` (or `playbooks/facts.yml` → `facts`). */
export function runName(playbook: string, at: Date): string {
  const stamp = at.toISOString().replace(/[-:]/g, "");
  const stem = basename(playbook)
    .replace(/\.ya?ml$/, "")
    .replace(/[^A-Za-z0-9._-]/g, "_");
  return `${stamp}-${stem}`;
}

export interface RunFiles {
  readonly log: string;
  readonly summary: string;
  /** The callback plugin's events while the run lasts; removed afterwards. */
  readonly events: string;
}

export function runFiles(stateDir: string, name: string): RunFiles {
  const dir = runsDir(stateDir);
  return {
    log: join(dir, `${name}.log`),
    summary: join(dir, `${name}.json`),
    events: join(dir, `${name}.events.jsonl`),
  };
}

/** Writes a file of the runs folder, mode 0600. */
export function writeRunFile(file: string, text: string): void {
  writeFileSync(file, text, { mode: 0o600 });
  chmodSync(file, 0o600);
}

export function writeSummary(stateDir: string, summary: RunSummary): string {
  ensureRunsDir(stateDir);
  const file = runFiles(stateDir, summary.name).summary;
  writeRunFile(file, `${JSON.stringify(summary, null, 2)}\n`);
  return file;
}

/** Every summary of the folder, oldest first; unreadable files are skipped. */
export function listRuns(stateDir: string): RunSummary[] {
  const dir = runsDir(stateDir);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .flatMap((f) => {
      try {
        return [JSON.parse(readFileSync(join(dir, f), "utf8")) as RunSummary];
      } catch {
        return [];
      }
    });
}

/** The newest successful run of `playbook`: what an estimate of the next one starts from. */
export function lastSuccessfulRun(
  runs: readonly RunSummary[],
  playbook: string,
): RunSummary | undefined {
  return [...runs].reverse().find((r) => r.playbook === playbook && r.result === "succeeded");
}

/**
 * Keeps the newest `keep` runs and the ones named in `pinned` (the record's); removes the
 * others' files (summary, log, leftover events). Returns the names removed.
 */
export function rotateRuns(stateDir: string, keep: number, pinned: readonly string[]): string[] {
  const dir = runsDir(stateDir);
  if (!existsSync(dir)) return [];
  const names = [
    ...new Set(
      readdirSync(dir)
        .map((f) => /^(.+?)\.(json|log|events\.jsonl)$/.exec(f)?.[1])
        .filter((n): n is string => n !== undefined),
    ),
  ].sort();
  const removed = names
    .slice(0, Math.max(0, names.length - keep))
    .filter((n) => !pinned.includes(n));
  for (const name of removed) {
    const files = runFiles(stateDir, name);
    for (const file of [files.summary, files.log, files.events]) rmSync(file, { force: true });
  }
  return removed;
}
