/**
 * With `state.backend: pg`, the record of the last successful Kubespray run (and the copy
 * of the inventory it used) travels with the state: one row of `kubespray_last_run` in the
 * cluster stack's schema. The runner works on the local copy under `<state>/last-run/` as
 * always; `withRecordStore` fills that copy from the row first and writes it back after,
 * under a PostgreSQL advisory lock, so that two operators never run against two records.
 * The synth reads the row directly (`readLastRun`).
 *
 * The row holds no secret: node names, addresses, Kubespray variables (validation keeps
 * credentials out of them) and the inventory without Kubespray's artifacts.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";

import { Client } from "pg";

import type { RunRecord } from "./planner";
import { readRecord, statePaths, writeRecord } from "./record";

/** Where the record lives in PostgreSQL (runner.json's `recordStore`). */
export interface RecordStore {
  /** The cluster stack's schema (`<cluster>_cluster`), beside OpenTofu's `states` table. */
  readonly schema: string;
}

export const RECORD_TABLE = "kubespray_last_run";
/** Read by OpenTofu's pg backend too; a `postgres://` URL. */
export const CONN_ENV = "PG_CONN_STR";

interface Row {
  record: RunRecord;
  hosts_yaml: string | null;
}

async function connect(env: NodeJS.ProcessEnv): Promise<Client> {
  const connectionString = env[CONN_ENV];
  if (!connectionString) throw new Error(`set ${CONN_ENV} in the environment (state.backend: pg)`);
  const client = new Client({ connectionString });
  await client.connect();
  return client;
}

function table(client: Client, store: RecordStore): string {
  return `${client.escapeIdentifier(store.schema)}.${client.escapeIdentifier(RECORD_TABLE)}`;
}

async function ensureTable(client: Client, store: RecordStore): Promise<void> {
  await client.query(`CREATE SCHEMA IF NOT EXISTS ${client.escapeIdentifier(store.schema)}`);
  await client.query(
    `CREATE TABLE IF NOT EXISTS ${table(client, store)} (
       id integer PRIMARY KEY CHECK (id = 1),
       record jsonb NOT NULL,
       hosts_yaml text,
       updated_at timestamptz NOT NULL DEFAULT now())`,
  );
}

async function readRow(client: Client, store: RecordStore): Promise<Row | undefined> {
  const found = await client.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = $1 AND table_name = $2",
    [store.schema, RECORD_TABLE],
  );
  if (found.rows[0].n === 0) return undefined;
  const result = await client.query<Row>(
    `SELECT record, hosts_yaml FROM ${table(client, store)} WHERE id = 1`,
  );
  return result.rows[0];
}

/** The record the planner starts from, at synth time. */
export async function readStoredRecord(
  store: RecordStore,
  env: NodeJS.ProcessEnv = process.env,
): Promise<RunRecord | undefined> {
  const client = await connect(env);
  try {
    return (await readRow(client, store))?.record;
  } finally {
    await client.end();
  }
}

/** The record the planner starts from: the stored one with pg, else the local file. */
export async function readLastRun(
  store: RecordStore | undefined,
  stateDir: string,
): Promise<RunRecord | undefined> {
  if (store === undefined) return readRecord(stateDir);
  // No row yet: the local record of a cluster moving from the local backend, if any.
  return (await readStoredRecord(store)) ?? readRecord(stateDir);
}

/**
 * Runs `fn` on a local copy of the stored record, then stores what `fn` left (a dropped
 * record deletes the row). Without a store, `fn` alone (the local backend).
 */
export async function withRecordStore<T>(
  store: RecordStore | undefined,
  stateDir: string,
  fn: () => Promise<T> | T,
  env: NodeJS.ProcessEnv = process.env,
): Promise<T> {
  if (store === undefined) return fn();
  const client = await connect(env);
  try {
    // Session lock, keyed by the schema: a second runner of the same cluster waits here.
    await client.query("SELECT pg_advisory_lock(hashtext($1))", [store.schema]);
    await ensureTable(client, store);
    const row = await readRow(client, store);
    const paths = statePaths(stateDir);
    // No row yet: a local record (a cluster moving from the local backend) is kept and stored.
    if (row !== undefined) {
      writeRecord(stateDir, row.record);
      if (row.hosts_yaml !== null) writeCopy(paths.recordHostsFile, row.hosts_yaml);
    }
    const result = await fn();
    const record = readRecord(stateDir);
    if (record === undefined) await client.query(`DELETE FROM ${table(client, store)}`);
    else
      await client.query(
        `INSERT INTO ${table(client, store)} (id, record, hosts_yaml) VALUES (1, $1, $2)
         ON CONFLICT (id) DO UPDATE SET record = $1, hosts_yaml = $2, updated_at = now()`,
        [
          JSON.stringify(record),
          existsSync(paths.recordHostsFile) ? readFileSync(paths.recordHostsFile, "utf8") : null,
        ],
      );
    return result;
  } finally {
    await client.end(); // also releases the advisory lock
  }
}

/** The inventory copy of the last run (no secret: Kubespray's artifacts are left out). */
function writeCopy(file: string, text: string): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(file, text, { mode: 0o600 });
}
