/**
 * lib/kubespray/record-store.ts when its real PostgreSQL goes away: restarted while the
 * runner works (Kubespray runs), its session ended by `pg_terminate_backend`, stopped in the
 * middle of writing the record. The row is the old record or the new one, never half, and a
 * run that succeeded is stored once the server is back.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { UserError } from "../../../errors/user-error";
import type { RunRecord } from "../../../lib/kubespray/playbooks";
import { writeRecord } from "../../../lib/kubespray/record";
import {
  PG_RETRY_ENV,
  readStoredRecord,
  readStoredRuns,
  withRecordStore,
} from "../../../lib/kubespray/record-store";
import type { RunSummary } from "../../../lib/kubespray/runs";
import { writeSummary } from "../../../lib/kubespray/runs";
import type { Postgres } from "../../support/postgres";
import { hasPostgres, startPostgres } from "../../support/postgres";

// It starts PostgreSQL: a budget for a loaded two-core machine.
jest.setTimeout(120_000);

const store = { schema: "faults_cluster" };
const OLD = {
  kubesprayVersion: "v2.31.0",
  hosts: [{ name: "kspray-cp-1", address: "10.0.0.11", groups: ["kube_control_plane", "etcd"] }],
  controlPlaneOrder: ["kspray-cp-1"],
  vars: { kube_version: "1.34.3" },
  action: "cluster.yml",
  completedAt: "2026-01-01T00:00:00.000Z",
} as unknown as RunRecord;
const NEW = { ...OLD, action: "scale.yml --limit=kspray-worker-2" } as RunRecord;

const summary = (name: string): RunSummary => ({
  name,
  playbook: "scale.yml",
  label: "scale.yml --limit=kspray-worker-2",
  command: ["ansible-playbook", "scale.yml"],
  machine: "first",
  startedAt: "2026-01-02T00:00:00.000Z",
  finishedAt: "2026-01-02T00:10:00.000Z",
  durationSeconds: 600,
  result: "succeeded",
  exit: "exit 0",
  tasks: 10,
  hosts: {},
  changedTasks: [],
  failures: [],
  log: `${name}.log`,
});

/** Polls `check` until it holds; fails after `ms`. */
async function until(check: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 100));
  }
}

(hasPostgres() ? describe : describe.skip)("the record store when PostgreSQL goes away", () => {
  let pg: Postgres;
  let env: NodeJS.ProcessEnv;
  const dirs: string[] = [];
  const clone = () => {
    const dir = mkdtempSync(join(tmpdir(), "faults-"));
    dirs.push(dir);
    return join(dir, ".state", "kspray");
  };
  const storedRunNames = async () => (await readStoredRuns(store, env)).map((r) => r.name);

  beforeAll(async () => {
    pg = await startPostgres();
    env = { PG_CONN_STR: `${pg.createDatabase("team")}?sslmode=disable`, [PG_RETRY_ENV]: "60" };
  }, 60_000);
  beforeEach(async () => {
    // The old record, as the last successful run left it.
    pg.sql(
      "team",
      `SET client_min_messages = warning; DROP SCHEMA IF EXISTS ${store.schema} CASCADE`,
    );
    const dir = clone();
    await withRecordStore(
      store,
      dir,
      () => {
        writeRecord(dir, OLD);
        writeSummary(dir, { ...summary("20260101T000000.000Z-cluster"), label: "cluster.yml" });
      },
      env,
    );
  }, 60_000);
  afterAll(() => {
    pg?.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it("stores the run when PostgreSQL restarted while Kubespray ran", async () => {
    const dir = clone();
    await withRecordStore(
      store,
      dir,
      () => {
        pg.halt();
        pg.resume();
        writeRecord(dir, NEW);
        writeSummary(dir, summary("20260102T000000.000Z-scale"));
      },
      env,
    );
    expect(await readStoredRecord(store, env)).toEqual(NEW);
    expect(await storedRunNames()).toEqual([
      "20260101T000000.000Z-cluster",
      "20260102T000000.000Z-scale",
    ]);
  }, 120_000);

  it("stores the run when its session was ended (pg_terminate_backend)", async () => {
    const dir = clone();
    await withRecordStore(
      store,
      dir,
      () => {
        const ended = pg.sql(
          "team",
          "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = 'team' AND pid <> pg_backend_pid()",
        );
        expect(ended.trim()).toBe("1");
        writeRecord(dir, NEW);
      },
      env,
    );
    expect(await readStoredRecord(store, env)).toEqual(NEW);
  }, 120_000);

  describe("stopped while the record is written", () => {
    /**
     * Runs a deploy's record store to the moment it writes the row (held there by another
     * session's lock on the table), then stops the server: the transaction in flight is lost.
     */
    async function stopDuringWrite(retrySeconds: string, afterStop: () => void) {
      let holder: Promise<string> = Promise.resolve("");
      const dir = clone();
      const deploy = withRecordStore(
        store,
        dir,
        async () => {
          // Once the runner has read the record (Kubespray runs), another session takes the table.
          holder = pg
            .sqlAsync(
              "team",
              `BEGIN; LOCK TABLE ${store.schema}.kubespray_last_run IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(60); COMMIT;`,
            )
            .catch(() => "ended with the server");
          await until(
            () =>
              pg
                .sql(
                  "team",
                  "SELECT count(*) FROM pg_locks WHERE mode = 'AccessExclusiveLock' AND granted AND relation IS NOT NULL",
                )
                .trim() !== "0",
            30_000,
          );
          writeRecord(dir, NEW);
          writeSummary(dir, summary("20260102T000000.000Z-scale"));
        },
        { ...env, [PG_RETRY_ENV]: retrySeconds },
      ).then(
        () => undefined,
        (e: unknown) => e,
      );
      // The runner's INSERT waits for the table: its transaction has the runs written.
      await until(
        () =>
          pg
            .sql(
              "team",
              "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'INSERT INTO%kubespray_last_run%'",
            )
            .trim() === "1",
        30_000,
      );
      pg.halt();
      afterStop();
      await holder;
      return deploy;
    }

    it("keeps the old record and runs when the server stays away, and says so", async () => {
      const error = await stopDuringWrite("2", () => undefined);
      pg.resume();
      expect(error).toBeInstanceOf(UserError);
      expect((error as Error).message).toMatch(
        /^PG_CONN_STR: PostgreSQL at 127\.0\.0\.1:\d+\/team as user postgres.*was not back within 2 s \(KSPRAY_PG_RETRY_SECONDS\): this run was not stored/,
      );
      // Old, whole: neither the new record nor the new run's summary.
      expect(await readStoredRecord(store, env)).toEqual(OLD);
      expect(await storedRunNames()).toEqual(["20260101T000000.000Z-cluster"]);
    }, 120_000);

    it("stores the new record and run once the server is back", async () => {
      const error = await stopDuringWrite("60", () => pg.resume());
      expect(error).toBeUndefined();
      expect(await readStoredRecord(store, env)).toEqual(NEW);
      expect(await storedRunNames()).toEqual([
        "20260101T000000.000Z-cluster",
        "20260102T000000.000Z-scale",
      ]);
    }, 120_000);
  });
});
