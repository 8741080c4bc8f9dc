/**
 * Where the cluster stack and the runner keep their files under the state directory, and
 * the record of the last successful Kubespray run (with a copy of the inventory it used,
 * so that a node can still be removed after it left the definition).
 */
import {
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";

import { withoutHost } from "./inventory";
import type { ClusterSpec, RunRecord } from "./playbooks";

export interface StatePaths {
  readonly stateDir: string;
  readonly inventoryDir: string;
  readonly hostsFile: string;
  readonly groupVarsFile: string;
  /** Kubespray writes admin.conf here (`kubeconfig_localhost`, `artifacts_dir`). */
  readonly adminConf: string;
  readonly settingsFile: string;
  readonly recordDir: string;
  readonly recordFile: string;
  /** Copy of the inventory of the last successful run. */
  readonly recordHostsFile: string;
  readonly kubeconfig: string;
  /** Left by the destroy of the cluster stack: node removals become no-ops. */
  readonly teardownMarker: string;
  /** Written in `print` mode. */
  readonly printScript: string;
}

export function statePaths(stateDir: string): StatePaths {
  const inventoryDir = join(stateDir, "inventory");
  const recordDir = join(stateDir, "last-run");
  return {
    stateDir,
    inventoryDir,
    hostsFile: join(inventoryDir, "hosts.yaml"),
    groupVarsFile: join(inventoryDir, "group_vars", "all", "kubespray.yml"),
    adminConf: join(inventoryDir, "artifacts", "admin.conf"),
    settingsFile: join(stateDir, "runner.json"),
    recordDir,
    recordFile: join(recordDir, "record.json"),
    recordHostsFile: join(recordDir, "inventory", "hosts.yaml"),
    kubeconfig: join(stateDir, "kubeconfig"),
    teardownMarker: join(stateDir, "teardown"),
    printScript: join(stateDir, "kubespray-commands.sh"),
  };
}

export function readRecord(stateDir: string): RunRecord | undefined {
  const file = statePaths(stateDir).recordFile;
  if (!existsSync(file)) return undefined;
  return JSON.parse(readFileSync(file, "utf8")) as RunRecord;
}

/**
 * Writes the record and, when given, a copy of the inventory directory the run used
 * (without Kubespray's artifacts, which hold the admin credentials).
 */
export function writeRecord(stateDir: string, record: RunRecord, inventoryDir?: string): void {
  const paths = statePaths(stateDir);
  const tmp = `${paths.recordDir}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true, mode: 0o700 });
  const snapshot = join(tmp, "inventory");
  const source = inventoryDir ?? dirname(paths.recordHostsFile);
  if (existsSync(source))
    cpSync(source, snapshot, {
      recursive: true,
      filter: (src) => !src.startsWith(join(source, "artifacts")),
    });
  writeFileSync(join(tmp, "record.json"), `${JSON.stringify(record, null, 2)}\n`, {
    mode: 0o600,
  });
  rmSync(paths.recordDir, { recursive: true, force: true });
  renameSync(tmp, paths.recordDir);
}

/** Forgets the cluster (after a full teardown): the next deploy runs cluster.yml. */
export function dropRecord(stateDir: string): void {
  rmSync(statePaths(stateDir).recordDir, { recursive: true, force: true });
}

/**
 * The record of a run of `action` that has just brought the cluster to `desired`, made by
 * the runs named `runs` (`<state>/runs/`).
 */
export function completedRun(
  desired: ClusterSpec,
  action: string,
  runs: readonly string[] = [],
): RunRecord {
  return { ...desired, action, completedAt: new Date().toISOString(), runs };
}

/**
 * Drops a node from the record and its inventory copy; `runs` removed it.
 * @param runs @default - the record's (the node was only forgotten)
 */
export function forgetNode(
  stateDir: string,
  record: RunRecord,
  node: string,
  action: string,
  runs: readonly string[] = record.runs ?? [],
): void {
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
    ...completedRun(record, action, runs),
    hosts,
    controlPlaneOrder: record.controlPlaneOrder.filter((n) => n !== node),
  });
}
