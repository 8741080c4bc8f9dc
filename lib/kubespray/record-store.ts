/**
 * With `state.backend: pg`, the record of the last successful Kubespray run (and the copy
 * of the inventory it used) travels with the state: one row of `kubespray_last_run` in the
 * cluster stack's schema. The runner works on the local copy under `<state>/last-run/` as
 * always; `withRecordStore` fills that copy from the row first and writes it back after,
 * under a PostgreSQL advisory lock, so that two operators never run against two records.
 * The synth reads the row directly (`readLastRun`).
 *
 * The row holds no secret in clear: node names, addresses, Kubespray variables (validation
 * keeps credentials out of them) and the inventory without Kubespray's artifacts. The admin
 * kubeconfig the runner copies to `<state>/kubeconfig` travels too, sealed with the state
 * passphrase (`TF_VAR_state_passphrase`: AES-256-GCM, scrypt key, random salt), so that
 * every clone gets it back from the database (`restoreKubeconfig`) instead of a hand copy.
 * Without a passphrase (an unencrypted pg state) it is not stored.
 *
 * The summaries of the runs (`<state>/runs/*.json`) travel as well, one row each of
 * `kubespray_runs`: every clone sees the last runs (`npm run status`) and estimates a
 * playbook's duration from the last one, whoever ran it. The table holds what the runs
 * folder holds after each command (the newest `kubespray.keepRuns` and the record's), a
 * failed run's included. The full logs stay on the machine that ran them (the summary
 * names it): they are large, and hold nothing the summary does not point to.
 */
import { createCipheriv, createDecipheriv, randomBytes, scryptSync } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";

import type { Client } from "pg";

import type { ClusterConfig } from "../../config/schema";
import { UserError } from "../../errors/user-error";
import { PASSPHRASE_ENV, PG_CONN_STR, pgSchemaName } from "../state-backend";

import type { RunRecord } from "./playbooks";
import { readRecord, statePaths, writeRecord } from "./record";
import type { RunSummary } from "./runs";
import { ensureRunsDir, listRuns, runFiles, writeRunFile } from "./runs";

/** Where the record lives in PostgreSQL (runner.json's `recordStore`). */
export interface RecordStore {
  /** The cluster stack's schema (`<cluster>_cluster`), beside OpenTofu's `states` table. */
  readonly schema: string;
}

/** Where the record lives with a pg backend: the cluster stack's schema. */
export function recordStoreOf(config: ClusterConfig): RecordStore | undefined {
  return config.state.backend === "pg"
    ? { schema: pgSchemaName(config.name, "cluster") }
    : undefined;
}

export const RECORD_TABLE = "kubespray_last_run";
/** The runs' summaries: one row per run, named like its files. */
export const RUNS_TABLE = "kubespray_runs";

interface Row {
  record: RunRecord;
  hosts_yaml: string | null;
  /** `sealText` of the kubeconfig. */
  kubeconfig: string | null;
}

const SEALED = "kspray-sealed-v1";

/** `text` encrypted with a key derived from `passphrase` (AES-256-GCM, scrypt, random salt). */
export function sealText(text: string, passphrase: string): string {
  const salt = randomBytes(16);
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", scryptSync(passphrase, salt, 32), iv);
  const data = Buffer.concat([cipher.update(text, "utf8"), cipher.final()]);
  return [SEALED, ...[salt, iv, cipher.getAuthTag(), data].map((b) => b.toString("base64"))].join(
    ".",
  );
}

/** The text `sealText` sealed; throws when the passphrase is not the one it was sealed with. */
export function openText(sealed: string, passphrase: string): string {
  const [tag, ...parts] = sealed.split(".");
  if (tag !== SEALED || parts.length !== 4) throw new Error("not a sealed text");
  const [salt, iv, authTag, data] = parts.map((p) => Buffer.from(p, "base64"));
  const decipher = createDecipheriv("aes-256-gcm", scryptSync(passphrase, salt, 32), iv);
  decipher.setAuthTag(authTag);
  return Buffer.concat([decipher.update(data), decipher.final()]).toString("utf8");
}

async function connect(env: NodeJS.ProcessEnv): Promise<Client> {
  const connectionString = env[PG_CONN_STR];
  if (!connectionString)
    throw UserError.at(
      PG_CONN_STR,
      "not set, and state.backend: pg keeps the Kubespray record in PostgreSQL",
      "set it in the environment as for the deploy: postgres://user@host/db?sslmode=...",
    );
  // Loaded only with the pg backend: every synth of a local one would pay for it.
  const pg = await import("pg");
  const client = new pg.Client({ connectionString });
  try {
    await client.connect();
  } catch (e) {
    throw UserError.at(
      PG_CONN_STR,
      `cannot connect to PostgreSQL (${(e as Error).message})`,
      "check the address in it, that the server runs and the password (~/.pgpass or PGPASSWORD)",
    );
  }
  return client;
}

function table(client: Client, store: RecordStore, name = RECORD_TABLE): string {
  return `${client.escapeIdentifier(store.schema)}.${client.escapeIdentifier(name)}`;
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
  await client.query(
    `ALTER TABLE ${table(client, store)} ADD COLUMN IF NOT EXISTS kubeconfig text`,
  );
  await client.query(
    `CREATE TABLE IF NOT EXISTS ${table(client, store, RUNS_TABLE)} (
       name text PRIMARY KEY,
       summary jsonb NOT NULL)`,
  );
}

async function tableExists(client: Client, store: RecordStore, name: string): Promise<boolean> {
  const found = await client.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = $1 AND table_name = $2",
    [store.schema, name],
  );
  return found.rows[0].n > 0;
}

async function storedRuns(client: Client, store: RecordStore): Promise<RunSummary[]> {
  if (!(await tableExists(client, store, RUNS_TABLE))) return [];
  const result = await client.query<{ summary: RunSummary }>(
    `SELECT summary FROM ${table(client, store, RUNS_TABLE)} ORDER BY name`,
  );
  return result.rows.map((r) => r.summary);
}

/** The stored summaries this clone lacks, into `<state>/runs/` (0600, the folder 0700). */
async function fetchRuns(client: Client, store: RecordStore, stateDir: string): Promise<void> {
  const runs = await storedRuns(client, store);
  if (runs.length === 0) return;
  ensureRunsDir(stateDir);
  for (const run of runs) {
    const file = runFiles(stateDir, run.name).summary;
    if (!existsSync(file)) writeRunFile(file, `${JSON.stringify(run, null, 2)}\n`);
  }
}

/** The table made to hold what the runs folder holds now. */
async function storeRuns(client: Client, store: RecordStore, stateDir: string): Promise<void> {
  const runs = listRuns(stateDir);
  for (const run of runs)
    await client.query(
      `INSERT INTO ${table(client, store, RUNS_TABLE)} (name, summary) VALUES ($1, $2)
       ON CONFLICT (name) DO UPDATE SET summary = $2`,
      [run.name, JSON.stringify(run)],
    );
  await client.query(`DELETE FROM ${table(client, store, RUNS_TABLE)} WHERE NOT name = ANY($1)`, [
    runs.map((r) => r.name),
  ]);
}

/** The last runs, oldest first, as `npm run status` shows them from any clone. */
export async function readStoredRuns(
  store: RecordStore,
  env: NodeJS.ProcessEnv = process.env,
): Promise<RunSummary[]> {
  const client = await connect(env);
  try {
    return await storedRuns(client, store);
  } finally {
    await client.end();
  }
}

async function readRow(client: Client, store: RecordStore): Promise<Row | undefined> {
  if (!(await tableExists(client, store, RECORD_TABLE))) return undefined;
  // to_jsonb: a table from before the kubeconfig column reads as null there.
  const result = await client.query<Row>(
    `SELECT record, hosts_yaml, to_jsonb(t) ->> 'kubeconfig' AS kubeconfig FROM ${table(client, store)} t WHERE id = 1`,
  );
  return result.rows[0];
}

/** The record the playbooks are chosen against, at synth time. */
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

/** The record the playbooks are chosen against: the stored one with pg, else the local file. */
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
      openKubeconfig(row, stateDir, env);
    }
    await fetchRuns(client, store, stateDir);
    let result: T;
    try {
      result = await fn();
    } finally {
      // A failed run's summary travels too: the next operator sees what failed.
      await storeRuns(client, store, stateDir);
    }
    const record = readRecord(stateDir);
    const passphrase = env[PASSPHRASE_ENV];
    const kubeconfig =
      passphrase && existsSync(paths.kubeconfig)
        ? sealText(readFileSync(paths.kubeconfig, "utf8"), passphrase)
        : null;
    if (record === undefined) await client.query(`DELETE FROM ${table(client, store)}`);
    else
      await client.query(
        `INSERT INTO ${table(client, store)} AS t (id, record, hosts_yaml, kubeconfig) VALUES (1, $1, $2, $3)
         ON CONFLICT (id) DO UPDATE SET record = $1, hosts_yaml = $2,
           kubeconfig = COALESCE($3, t.kubeconfig), updated_at = now()`,
        [
          JSON.stringify(record),
          existsSync(paths.recordHostsFile) ? readFileSync(paths.recordHostsFile, "utf8") : null,
          kubeconfig,
        ],
      );
    return result;
  } finally {
    await client.end(); // also releases the advisory lock
  }
}

/**
 * Writes the stored kubeconfig to `<state>/kubeconfig` (mode 0600) when this clone lacks it
 * or has another one; returns the path when it wrote it. Nothing without a stored one or
 * without the passphrase.
 */
function openKubeconfig(row: Row, stateDir: string, env: NodeJS.ProcessEnv): string | undefined {
  const passphrase = env[PASSPHRASE_ENV];
  if (row.kubeconfig === null || !passphrase) return undefined;
  let text: string;
  try {
    text = openText(row.kubeconfig, passphrase);
  } catch {
    throw UserError.at(
      PASSPHRASE_ENV,
      `the kubeconfig stored in ${RECORD_TABLE} does not open with it`,
      "set the passphrase of this cluster's state",
    );
  }
  const file = statePaths(stateDir).kubeconfig;
  if (existsSync(file) && readFileSync(file, "utf8") === text) return undefined;
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(file, text, { mode: 0o600 });
  chmodSync(file, 0o600);
  return file;
}

/** The kubeconfig of the last run, from the database to `<state>/kubeconfig` (see above). */
export async function restoreKubeconfig(
  store: RecordStore,
  stateDir: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string | undefined> {
  const client = await connect(env);
  try {
    const row = await readRow(client, store);
    return row === undefined ? undefined : openKubeconfig(row, stateDir, env);
  } finally {
    await client.end();
  }
}

/** The inventory copy of the last run (no secret: Kubespray's artifacts are left out). */
function writeCopy(file: string, text: string): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(file, text, { mode: 0o600 });
}
