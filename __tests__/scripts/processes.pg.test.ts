/**
 * scripts/processes.ts initStack against a real PostgreSQL: a first init that meets another
 * session creating the pg backend's shared sequence at the same moment still succeeds.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { initStack } from "../../scripts/processes";
import type { Postgres } from "../support/postgres";
import { startPostgres } from "../support/postgres";
import { describeWithToolchain, toolchainEnv } from "../support/toolchain";

// It starts PostgreSQL and tofu: a budget for a loaded two-core machine.
jest.setTimeout(120_000);

describeWithToolchain(["tofu"])("tofu init of a stack in PostgreSQL", () => {
  let pg: Postgres;
  let dir: string;

  beforeAll(async () => {
    pg = await startPostgres();
    dir = mkdtempSync(join(tmpdir(), "init-race-"));
  }, 60_000);
  afterAll(() => {
    pg?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("runs again when another first init created the shared sequence meanwhile", async () => {
    const database = "race";
    const conn = `${pg.createDatabase(database)}?sslmode=disable`;
    writeFileSync(
      join(dir, "main.tf.json"),
      JSON.stringify({ terraform: { backend: { pg: { schema_name: "race_vms" } } } }),
    );
    // Another session's first init, caught between creating the sequence and committing:
    // this init's CREATE SEQUENCE IF NOT EXISTS waits for it, then meets its row.
    const other = pg.sqlAsync(
      database,
      "BEGIN; CREATE SEQUENCE public.global_states_id_seq AS bigint; SELECT pg_sleep(2); COMMIT;",
    );
    // Until it sleeps in its transaction, the sequence made and not committed.
    const deadline = Date.now() + 30_000;
    while (
      pg
        .sql(database, "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep'")
        .trim() === "0"
    ) {
      if (Date.now() > deadline) throw new Error("the other init never held its transaction open");
      await new Promise((r) => setTimeout(r, 50));
    }
    const init = await initStack(dir, toolchainEnv({ ...process.env, PG_CONN_STR: conn }));
    await other;
    expect(`${init.stdout}${init.stderr}`).not.toContain("(23505)");
    expect(init.status).toBe(0);
    expect(pg.sql(database, "SELECT count(*) FROM race_vms.states")).toBe("0\n");
  }, 60_000);
});
