/**
 * What a risky Kubespray step saved beside its snapshots, for `npm run rollback`: under
 * `<state>/snapshots/<snapshot name>/`, `step.json` (which step, when, which VMs) and
 * `last-run/`, a copy of the record of the last successful run and its inventory as they
 * were before the step. A rollback writes that record back, so the record no longer
 * claims what the rolled-back VMs lost.
 */
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";

import type { NodeRole } from "../../config/schema";

import type { RunRecord } from "./playbooks";
import { statePaths, writeRecord } from "./record";

/** A node's VM as the step snapshotted it. */
export interface SavedVm {
  /** The node (and VM) name. */
  readonly name: string;
  readonly vmid: number;
  /** The Proxmox host it was on when the snapshot was taken. */
  readonly node: string;
  readonly role: NodeRole;
}

export interface SavedStep {
  /** The snapshot's name on every VM, e.g. `upgrade-cluster-20260821-153000`. */
  readonly snapshot: string;
  /** `upgrade-cluster.yml`, `cluster.yml`, `remove-node.yml`. */
  readonly playbook: string;
  /** What the step changes: `upgrade-cluster.yml (Kubernetes 1.34.7 to 1.35.4)`. */
  readonly change: string;
  /** The snapshots' description. */
  readonly description: string;
  /** ISO time the snapshots were taken. */
  readonly takenAt: string;
  readonly vms: readonly SavedVm[];
  /** The record before the step: its action, Kubernetes version and time. */
  readonly before?: {
    readonly action: string;
    readonly kubeVersion: string;
    readonly completedAt: string;
  };
}

const STEP_FILE = "step.json";
const RECORD_COPY = "last-run";

export function savedStepsDir(stateDir: string): string {
  return join(stateDir, "snapshots");
}

function stepDir(stateDir: string, snapshot: string): string {
  return join(savedStepsDir(stateDir), snapshot);
}

/**
 * Saves `step` and a copy of the record as it is now (before the step runs), replacing
 * a saved step of the same name; written to a temporary folder first, then renamed.
 */
export function saveStep(stateDir: string, step: SavedStep): void {
  const dir = stepDir(stateDir, step.snapshot);
  const tmp = `${dir}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true, mode: 0o700 });
  const record = statePaths(stateDir).recordDir;
  if (existsSync(record)) cpSync(record, join(tmp, RECORD_COPY), { recursive: true });
  writeFileSync(join(tmp, STEP_FILE), `${JSON.stringify(step, null, 2)}\n`, { mode: 0o600 });
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
}

export function readStep(stateDir: string, snapshot: string): SavedStep | undefined {
  const file = join(stepDir(stateDir, snapshot), STEP_FILE);
  return existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as SavedStep) : undefined;
}

/** Every saved step, oldest first. */
export function listSteps(stateDir: string): SavedStep[] {
  const root = savedStepsDir(stateDir);
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .filter((name) => !name.endsWith(".tmp"))
    .map((name) => readStep(stateDir, name))
    .filter((s): s is SavedStep => s !== undefined)
    .sort((a, b) => a.takenAt.localeCompare(b.takenAt) || a.snapshot.localeCompare(b.snapshot));
}

export function dropStep(stateDir: string, snapshot: string): void {
  rmSync(stepDir(stateDir, snapshot), { recursive: true, force: true });
}

/** The record the step saved (the one before it), if there was one. */
export function savedRecord(stateDir: string, snapshot: string): RunRecord | undefined {
  const file = join(stepDir(stateDir, snapshot), RECORD_COPY, "record.json");
  return existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as RunRecord) : undefined;
}

/**
 * Writes the record the step saved back as the record of the last successful run, with
 * its inventory copy, marked as restored by a rollback to `snapshot` (the planner then
 * shows the step again as a change to run: lib/kubespray/planner.ts, `triggerAction`).
 * Returns the record written.
 */
export function restoreSavedRecord(stateDir: string, snapshot: string, at: Date): RunRecord {
  const record = savedRecord(stateDir, snapshot);
  if (record === undefined)
    throw new Error(`${stepDir(stateDir, snapshot)} holds no record to restore`);
  const restored: RunRecord = { ...record, rolledBack: { snapshot, at: at.toISOString() } };
  const inventory = join(stepDir(stateDir, snapshot), RECORD_COPY, "inventory");
  writeRecord(stateDir, restored, existsSync(inventory) ? inventory : undefined);
  return restored;
}
