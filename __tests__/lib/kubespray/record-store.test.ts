import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import type { RunRecord } from "../../../lib/kubespray/playbooks";
import { readRecord, statePaths, writeRecord } from "../../../lib/kubespray/record";
import {
  readLastRun,
  readStoredRecord,
  readStoredRuns,
  RECORD_TABLE,
  restoreKubeconfig,
  withRecordStore,
} from "../../../lib/kubespray/record-store";
import type { RunSummary } from "../../../lib/kubespray/runs";
import { listRuns, rotateRuns, runFiles, writeSummary } from "../../../lib/kubespray/runs";
import type { Postgres } from "../../support/postgres";
import { startPostgres } from "../../support/postgres";

// It starts PostgreSQL and tofu: a budget for a loaded two-core machine.
jest.setTimeout(120_000);

const store = { schema: "kspray_cluster" };
const record: RunRecord = {
  kubesprayVersion: "v2.31.0",
  hosts: [{ name: "kspray-cp-1", address: "10.0.0.11", groups: ["kube_control_plane", "etcd"] }],
  controlPlaneOrder: ["kspray-cp-1"],
  vars: { kube_version: "1.34.3" },
  action: "cluster.yml",
  completedAt: "2026-01-01T00:00:00.000Z",
} as unknown as RunRecord;

let pg: Postgres;
let env: NodeJS.ProcessEnv;
const dirs: string[] = [];
const clone = () => {
  const dir = mkdtempSync(join(tmpdir(), "clone-"));
  dirs.push(dir);
  return join(dir, ".state", "kspray");
};

beforeAll(async () => {
  pg = await startPostgres();
  env = { PG_CONN_STR: pg.createDatabase("team") };
}, 60_000);
afterAll(() => {
  pg?.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe("the record in PostgreSQL", () => {
  it("travels from one clone's runner to another clone's synth", async () => {
    const first = clone();
    expect(await readStoredRecord(store, env)).toBeUndefined();
    await withRecordStore(store, first, () => writeRecord(first, record), env);

    const second = clone();
    expect(await readStoredRecord(store, env)).toEqual(record);
    expect(await readLastRun(undefined, second)).toBeUndefined(); // local: only files
    // A runner on the second clone starts from the stored record and its inventory copy.
    await withRecordStore(
      store,
      second,
      () => {
        expect(readRecord(second)).toEqual(record);
        writeRecord(second, { ...record, action: "scale.yml --limit=kspray-worker-2" });
      },
      env,
    );
    expect((await readStoredRecord(store, env))?.action).toBe("scale.yml --limit=kspray-worker-2");
  });

  it("deletes the row when the runner drops the record (teardown)", async () => {
    const dir = clone();
    await withRecordStore(
      store,
      dir,
      () => rmSync(statePaths(dir).recordDir, { recursive: true }),
      env,
    );
    expect(await readStoredRecord(store, env)).toBeUndefined();
    expect(pg.sql("team", `SELECT count(*) FROM kspray_cluster.${RECORD_TABLE}`).trim()).toBe("0");
  });

  it("lets one runner at a time work on the record", async () => {
    const order: string[] = [];
    const waiting = () =>
      pg
        .sql(
          "postgres",
          "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted",
        )
        .trim() !== "0";
    // The first runner in works until it sees the other wait for the lock; without the
    // lock both would be in at once, and neither would see anyone wait.
    let seenWaiting = false;
    const work = (name: string) => async () => {
      order.push(`${name} start`);
      const deadline = Date.now() + 30_000;
      while (!seenWaiting && !(seenWaiting = waiting())) {
        if (Date.now() > deadline) throw new Error(`${name}: no other runner waited for the lock`);
        await new Promise((r) => setTimeout(r, 50));
      }
      order.push(`${name} end`);
    };
    await Promise.all([
      withRecordStore(store, clone(), work("a"), env),
      withRecordStore(store, clone(), work("b"), env),
    ]);
    expect(order[1]).toMatch(/end$/);
    expect(order[3]).toMatch(/end$/);
  });

  it("carries the kubeconfig sealed with the state passphrase, to another clone", async () => {
    const KEY = "client-key-data: c2VjcmV0LWFkbWluLWtleQ==";
    const kubeconfig = `apiVersion: v1\nusers:\n- user:\n    ${KEY}\n`;
    const sealed = { ...env, TF_VAR_state_passphrase: "team-passphrase-0123" };
    const first = clone();
    await withRecordStore(
      store,
      first,
      () => {
        writeRecord(first, record);
        writeFileSync(statePaths(first).kubeconfig, kubeconfig, { mode: 0o600 });
      },
      sealed,
    );
    const row = pg.sql("team", `SELECT kubeconfig FROM kspray_cluster.${RECORD_TABLE}`);
    expect(row).toMatch(/^kspray-sealed-v1\./);
    expect(row).not.toContain("client-key-data");
    expect(row).not.toContain("c2VjcmV0LWFkbWluLWtleQ");

    const second = clone();
    expect(await restoreKubeconfig(store, second, sealed)).toBe(statePaths(second).kubeconfig);
    expect(readFileSync(statePaths(second).kubeconfig, "utf8")).toBe(kubeconfig);
    expect(statSync(statePaths(second).kubeconfig).mode & 0o777).toBe(0o600);
    expect(await restoreKubeconfig(store, second, sealed)).toBeUndefined(); // already there
    // Without the passphrase nothing is written; with another one, an error says why.
    expect(await restoreKubeconfig(store, clone(), env)).toBeUndefined();
    await expect(
      restoreKubeconfig(store, clone(), {
        ...env,
        TF_VAR_state_passphrase: "another-one-16-chars",
      }),
    ).rejects.toThrow(
      /^TF_VAR_state_passphrase: the kubeconfig stored in kubespray_last_run does not open with it; set the passphrase/,
    );
    // A runner without the kubeconfig keeps the stored one.
    await withRecordStore(store, clone(), () => undefined, sealed);
    expect(pg.sql("team", `SELECT kubeconfig FROM kspray_cluster.${RECORD_TABLE}`)).toMatch(
      /^kspray-sealed-v1\./,
    );
  });

  it("carries the runs' summaries to another clone, a failed run's too; the logs stay", async () => {
    const runsStore = { schema: "kspray_runs_cluster" };
    const run = (name: string, result: RunSummary["result"]): RunSummary => ({
      name,
      playbook: "cluster.yml",
      label: "cluster.yml",
      command: ["ansible-playbook", "cluster.yml"],
      machine: "first",
      startedAt: "2026-01-01T00:00:00.000Z",
      finishedAt: "2026-01-01T00:20:00.000Z",
      durationSeconds: 1200,
      result,
      exit: result === "failed" ? "exit 2" : "exit 0",
      tasks: 1200,
      hosts: {},
      changedTasks: [],
      failures: [],
      log: `${name}.log`,
    });
    const first = clone();
    await withRecordStore(
      runsStore,
      first,
      () => {
        writeSummary(first, run("20260101T000000.000Z-cluster", "succeeded"));
        writeFileSync(runFiles(first, "20260101T000000.000Z-cluster").log, "PLAY RECAP\n");
      },
      env,
    );
    // A failed run: the runner throws, its summary is stored all the same.
    await expect(
      withRecordStore(
        runsStore,
        first,
        () => {
          writeSummary(first, run("20260102T000000.000Z-cluster", "failed"));
          throw new Error("cluster.yml failed");
        },
        env,
      ),
    ).rejects.toThrow("cluster.yml failed");
    expect((await readStoredRuns(runsStore, env)).map((r) => [r.name, r.result])).toEqual([
      ["20260101T000000.000Z-cluster", "succeeded"],
      ["20260102T000000.000Z-cluster", "failed"],
    ]);

    const second = clone();
    await withRecordStore(
      runsStore,
      second,
      () => {
        expect(listRuns(second)).toEqual([
          run("20260101T000000.000Z-cluster", "succeeded"),
          run("20260102T000000.000Z-cluster", "failed"),
        ]);
        expect(
          statSync(runFiles(second, "20260101T000000.000Z-cluster").summary).mode & 0o777,
        ).toBe(0o600);
        expect(existsSync(runFiles(second, "20260101T000000.000Z-cluster").log)).toBe(false);
        // This clone's run, and its rotation: the table follows the folder.
        writeSummary(second, run("20260103T000000.000Z-cluster", "succeeded"));
        rotateRuns(second, 2, []);
      },
      env,
    );
    expect((await readStoredRuns(runsStore, env)).map((r) => r.name)).toEqual([
      "20260102T000000.000Z-cluster",
      "20260103T000000.000Z-cluster",
    ]);
  }, 60_000);

  it("keeps the local files alone with the local backend", async () => {
    const dir = clone();
    await withRecordStore(undefined, dir, () => writeRecord(dir, record), {});
    expect(existsSync(statePaths(dir).recordFile)).toBe(true);
    expect(JSON.parse(readFileSync(statePaths(dir).recordFile, "utf8"))).toEqual(record);
  });
});

describe("moving from the local backend", () => {
  it("plans from the local record while the database has none, then stores it", async () => {
    const pg2 = await startPostgres();
    try {
      const env2 = { PG_CONN_STR: pg2.createDatabase("fresh") };
      const dir = clone();
      writeRecord(dir, record);
      process.env.PG_CONN_STR = env2.PG_CONN_STR;
      expect(await readLastRun(store, dir)).toEqual(record);
      await withRecordStore(store, dir, () => undefined, env2);
      expect(await readStoredRecord(store, env2)).toEqual(record);
    } finally {
      delete process.env.PG_CONN_STR;
      pg2.stop();
    }
  }, 60_000);
});
