import { existsSync, mkdtempSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import type { RunSummary } from "../../../lib/kubespray/runs";
import {
  ensureRunsDir,
  lastSuccessfulRun,
  listRuns,
  rotateRuns,
  runFiles,
  runName,
  writeSummary,
} from "../../../lib/kubespray/runs";

const summary = (name: string, playbook: string, result: RunSummary["result"]): RunSummary => ({
  name,
  playbook,
  label: playbook,
  command: ["ansible-playbook", playbook],
  machine: "here",
  startedAt: "2026-05-14T21:26:33.123Z",
  finishedAt: "2026-05-14T21:46:33.123Z",
  durationSeconds: 1200,
  result,
  exit: result === "succeeded" ? "exit 0" : "exit 2",
  tasks: 3,
  hosts: {},
  changedTasks: [],
  failures: [],
  log: `${name}.log`,
});

describe("runs folder", () => {
  let stateDir = "";
  beforeEach(() => {
    stateDir = mkdtempSync(join(tmpdir(), "runs-"));
  });

  /** A run's summary and log, as the runner leaves them. */
  const made = (
    name: string,
    playbook = "cluster.yml",
    result: RunSummary["result"] = "succeeded",
  ) => {
    writeSummary(stateDir, summary(name, playbook, result));
    writeFileSync(runFiles(stateDir, name).log, "PLAY RECAP\n");
  };

  it("names a run by its UTC time and playbook, so that names sort by time", () => {
    const at = new Date("2026-05-14T21:26:33.123Z");
    expect(runName("cluster.yml", at)).toBe("20260514T212633.123Z-cluster");
    expect(runName("playbooks/facts.yml", at)).toBe("20260514T212633.123Z-facts");
    expect(runName("/repo/ansible/node-prep.yml", at)).toBe("20260514T212633.123Z-node-prep");
    expect(runName("cluster.yml", at) < runName("cluster.yml", new Date(at.getTime() + 1))).toBe(
      true,
    );
  });

  it("keeps its folder 0700 and summaries 0600", () => {
    ensureRunsDir(stateDir);
    made("20260101T000000.000Z-cluster");
    expect(statSync(join(stateDir, "runs")).mode & 0o777).toBe(0o700);
    expect(statSync(runFiles(stateDir, "20260101T000000.000Z-cluster").summary).mode & 0o777).toBe(
      0o600,
    );
  });

  it("keeps the newest runs and the ones the record points to", () => {
    const names = [1, 2, 3, 4, 5].map((d) => `2026010${d}T000000.000Z-cluster`);
    for (const n of names) made(n);
    writeFileSync(runFiles(stateDir, names[0]).events, "{}\n"); // left by a killed runner
    const removed = rotateRuns(stateDir, 2, [names[1]]);
    expect(removed).toEqual([names[0], names[2]]);
    expect(listRuns(stateDir).map((r) => r.name)).toEqual([names[1], names[3], names[4]]);
    expect(readdirSync(join(stateDir, "runs")).sort()).toEqual(
      [names[1], names[3], names[4]].flatMap((n) => [`${n}.json`, `${n}.log`]).sort(),
    );
    expect(rotateRuns(join(stateDir, "nothing"), 2, [])).toEqual([]);
  });

  it("estimates from the newest successful run of the same playbook", () => {
    made("20260101T000000.000Z-cluster");
    made("20260102T000000.000Z-scale", "scale.yml");
    made("20260103T000000.000Z-cluster", "cluster.yml", "failed");
    const runs = listRuns(stateDir);
    expect(lastSuccessfulRun(runs, "cluster.yml")?.name).toBe("20260101T000000.000Z-cluster");
    expect(lastSuccessfulRun(runs, "upgrade-cluster.yml")).toBeUndefined();
    expect(existsSync(runFiles(stateDir, "20260103T000000.000Z-cluster").log)).toBe(true);
  });
});
