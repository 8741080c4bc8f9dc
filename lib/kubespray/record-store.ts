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
import {
  classifyPgError,
  connectPg,
  lostConnectionError,
  PgFaultError,
  serverWentAway,
  targetOf,
  withPg,
} from "../pg-connection";
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
  return withPg(env, (client) => storedRuns(client, store));
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
  return withPg(env, async (client) => (await readRow(client, store))?.record);
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
 *
 * What `fn` left is stored in one transaction (the runs' summaries and the record), so the
 * row is the old record or the new one, never half of each. A server that goes away while
 * `fn` runs (Kubespray takes an hour; PostgreSQL may restart meanwhile) or while the row is
 * written is waited for, up to `KSPRAY_PG_RETRY_SECONDS` (default 300): the runner
 * connects again, takes the lock again and stores the run, so that a successful Kubespray
 * run is not run again by the next deploy.
 */
export async function withRecordStore<T>(
  store: RecordStore | undefined,
  stateDir: string,
  fn: () => Promise<T> | T,
  env: NodeJS.ProcessEnv = process.env,
): Promise<T> {
  if (store === undefined) return fn();
  const session = await lockedSession(store, env);
  try {
    await session.use(async (client) => {
      await ensureTable(client, store);
      const row = await readRow(client, store);
      // No row yet: a local record (a cluster moving from the local backend) is kept and stored.
      if (row !== undefined) {
        writeRecord(stateDir, row.record);
        if (row.hosts_yaml !== null)
          writeCopy(statePaths(stateDir).recordHostsFile, row.hosts_yaml);
        openKubeconfig(row, stateDir, env);
      }
      await fetchRuns(client, store, stateDir);
    });
    let result: T;
    try {
      result = await fn();
    } catch (e) {
      // A failed run's summary travels too: the next operator sees what failed.
      await session.retrying((client) =>
        inTransaction(client, () => storeRuns(client, store, stateDir)),
      );
      throw e;
    }
    await session.retrying((client) =>
      inTransaction(client, async () => {
        await storeRuns(client, store, stateDir);
        await storeRecord(client, store, stateDir, env);
      }),
    );
    return result;
  } finally {
    await session.end(); // also releases the advisory lock
  }
}

/** What the runner left in `<state>/last-run/` (and the kubeconfig), into the row. */
async function storeRecord(
  client: Client,
  store: RecordStore,
  stateDir: string,
  env: NodeJS.ProcessEnv,
): Promise<void> {
  const paths = statePaths(stateDir);
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
}

async function inTransaction(client: Client, fn: () => Promise<void>): Promise<void> {
  await client.query("BEGIN");
  try {
    await fn();
    await client.query("COMMIT");
  } catch (e) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw e;
  }
}

/** How long a runner waits for a server that went away: `KSPRAY_PG_RETRY_SECONDS`. */
export const PG_RETRY_ENV = "KSPRAY_PG_RETRY_SECONDS";
const DEFAULT_RETRY_SECONDS = 300;

interface LockedSession {
  /** `fn` on the session; a pg error becomes the user's line (lib/pg-connection.ts). */
  use<R>(fn: (client: Client) => Promise<R>): Promise<R>;
  /** The same, connecting (and locking) again while the server is away, up to the limit. */
  retrying<R>(fn: (client: Client) => Promise<R>): Promise<R>;
  end(): Promise<void>;
}

/** A session holding the cluster's advisory lock, that can connect and lock again. */
async function lockedSession(store: RecordStore, env: NodeJS.ProcessEnv): Promise<LockedSession> {
  let lost = false;
  const open = async () => {
    lost = false;
    const client = await connectPg(env, () => (lost = true));
    // Session lock, keyed by the schema: a second runner of the same cluster waits here.
    await client.query("SELECT pg_advisory_lock(hashtext($1))", [store.schema]);
    return client;
  };
  let client = await open();
  const use = <R>(fn: (c: Client) => Promise<R>) =>
    withFault(client, () => fn(client)).catch((e: unknown) => {
      throw lost && !(e instanceof UserError) ? lostConnectionError(client, e) : e;
    });
  const seconds = Number(env[PG_RETRY_ENV] ?? DEFAULT_RETRY_SECONDS);
  return {
    use,
    async retrying(fn) {
      const deadline = Date.now() + seconds * 1000;
      for (;;) {
        try {
          if (lost) {
            await client.end().catch(() => undefined);
            client = await open();
          }
          return await use(fn);
        } catch (e) {
          if (!(lost || serverWentAway(e))) throw e;
          if (Date.now() >= deadline) throw stillAway(e, seconds);
          lost = true;
          await new Promise((r) => setTimeout(r, 1000));
        }
      }
    },
    end: () => client.end().catch(() => undefined),
  };
}

/** `fn`, its pg errors as the user's line (connection errors already are). */
async function withFault<R>(client: Client, fn: () => Promise<R>): Promise<R> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof PgFaultError) throw e;
    const fault = classifyPgError(e, targetOf(client));
    const code = (e as { code?: unknown }).code;
    throw fault ? new PgFaultError(fault, typeof code === "string" ? code : undefined) : e;
  }
}

/** The server stayed away past the limit: what was not stored, and what to do. */
function stillAway(e: unknown, seconds: number): UserError {
  const what = e instanceof PgFaultError ? e.fault.problem : "the connection was lost";
  return UserError.at(
    PG_CONN_STR,
    `${what}, and was not back within ${seconds} s (${PG_RETRY_ENV}): this run was not stored in ${RECORD_TABLE}`,
    "once PostgreSQL is back, deploy again (the playbooks of this run run again; they are idempotent)",
  );
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
  return withPg(env, async (client) => {
    const row = await readRow(client, store);
    return row === undefined ? undefined : openKubeconfig(row, stateDir, env);
  });
}

/** The inventory copy of the last run (no secret: Kubespray's artifacts are left out). */
function writeCopy(file: string, text: string): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(file, text, { mode: 0o600 });
}
