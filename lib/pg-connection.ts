/**
 * The one way in to the team's PostgreSQL (`state.backend: pg`) for our own code: the
 * record store (lib/kubespray/record-store.ts), hence the synth, `npm run diff`, `npm run
 * status`, restore-files and the runner, and preflight's first check. A connection that
 * fails becomes one line naming the database tried (host:port/database and user, never the
 * password), what PostgreSQL or the network answered, and the fix: a `UserError`, exit 2.
 *
 * Faults are told apart by their codes, never by message text: PostgreSQL's SQLSTATE
 * (`28P01`, `3D000`, ...) and Node's errno and TLS codes (`ECONNREFUSED`, `ENOTFOUND`,
 * `DEPTH_ZERO_SELF_SIGNED_CERT`, ...). OpenTofu's pg backend reads the same `PG_CONN_STR`
 * itself and reports its own errors.
 */
import type { Client } from "pg";

import { issue, UserError } from "../errors/user-error";

import { PG_CONN_STR } from "./state-backend";

/** Where a connection went: what the client resolved from `PG_CONN_STR` and PG* variables. */
export interface PgTarget {
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly user: string;
}

/** What went wrong, and what to do: the two halves of the line a user sees. */
export interface PgFault {
  readonly problem: string;
  readonly fix: string;
}

/** `host:port/database as user`: never the password. */
export function describeTarget(target: PgTarget): string {
  return `${target.host}:${target.port}/${target.database} as user ${target.user}`;
}

const SQLSTATE = /^[0-9A-Z]{5}$/;
const CONN = `correct ${PG_CONN_STR} (postgres://user@host:port/database?sslmode=...)`;
const PASSWORD_FIX =
  "put the role's password in ~/.pgpass (host:port:database:user:password, mode 0600) or PGPASSWORD, or in " +
  PG_CONN_STR;
const RETRY = "wait until PostgreSQL accepts connections again, then run the command again";

/** Node's codes for a server certificate that did not verify. */
const CERTIFICATE_CODES = new Set([
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_HAS_EXPIRED",
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);

/** The `code` of an error from pg or Node, when it has one. */
function codeOf(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * What a pg or network error means for a user, by its code; undefined for a code this does
 * not know (the caller decides whether that is still the user's to fix).
 */
export function classifyPgError(e: unknown, target: PgTarget): PgFault | undefined {
  const code = codeOf(e);
  if (code === undefined) return undefined;
  const at = `PostgreSQL at ${describeTarget(target)}`;
  const answered = `${messageOf(e)} (${code})`;
  switch (code) {
    case "ECONNREFUSED":
      return {
        problem: `${at}: the connection was refused, nothing listens on ${target.host}:${target.port} (${code})`,
        fix: `start PostgreSQL there, or ${CONN}`,
      };
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return {
        problem: `${at}: the host name ${target.host} does not resolve (${code})`,
        fix: `check the host name, or ${CONN}`,
      };
    case "ETIMEDOUT":
    case "EHOSTUNREACH":
    case "ENETUNREACH":
      return {
        problem: `${at}: the network gives no way there (${code})`,
        fix: `check that ${target.host} is up and its port ${target.port} is reachable from here (firewall, VPN), or ${CONN}`,
      };
    case "ECONNRESET":
    case "EPIPE":
      return {
        problem: `${at}: the connection was dropped (${code})`,
        fix: `${RETRY}; if it recurs, check the server's log and what sits between (proxy, firewall)`,
      };
    case "28P01":
      return { problem: `${at} answered: ${answered}`, fix: PASSWORD_FIX };
    case "28000":
      return {
        problem: `${at} answered: ${answered}`,
        fix:
          "the server's pg_hba.conf admits no such connection: if its entry is hostssl (TLS only), add sslmode=require " +
          `(or verify-full with sslrootcert=) to ${PG_CONN_STR}; else ask its administrator for an entry for this user, database and address`,
      };
    case "3D000":
      return {
        problem: `${at} answered: ${answered}`,
        fix: `create it (createdb -O ${target.user} ${target.database}), or ${CONN}`,
      };
    case "57P03":
    case "57P01":
    case "57P02":
    case "08006":
    case "08003":
    case "08001":
      return { problem: `${at} answered: ${answered}`, fix: RETRY };
    case "53300":
      return {
        problem: `${at} answered: ${answered}`,
        fix: "wait for other sessions to end, or raise the server's max_connections",
      };
    case "42501":
      return {
        problem: `${at} answered: ${answered}`,
        fix: `grant ${target.user} CREATE on the database (ALTER DATABASE ${target.database} OWNER TO ${target.user}, as docs/operations.md shows)`,
      };
    default:
      if (CERTIFICATE_CODES.has(code))
        return {
          problem: `${at}: the server's TLS certificate does not verify (${code})`,
          fix: `add sslrootcert=<file of the CA that signed the server's certificate> to ${PG_CONN_STR}`,
        };
      // Any other SQLSTATE is what the server said: show it, and where to look.
      return SQLSTATE.test(code)
        ? { problem: `${at} answered: ${answered}`, fix: "see the server's log for the cause" }
        : undefined;
  }
}

/** A failed connection (or statement), printed as the one line a user sees. */
export class PgFaultError extends UserError {
  constructor(
    readonly fault: PgFault,
    /** The code it was told by, when it had one. */
    readonly code?: string,
  ) {
    super([issue(PG_CONN_STR, fault.problem, fault.fix)]);
    this.name = "PgFaultError";
  }
}

/** The target a client went to (pg's Client keeps what it resolved). */
export function targetOf(client: Client): PgTarget {
  return {
    host: client.host,
    port: client.port,
    database: client.database ?? client.user ?? "",
    user: client.user ?? "",
  };
}

/**
 * A connected client for `PG_CONN_STR`; a failure to connect is a `UserError` (any error
 * from connecting is: known codes get their fix, others the server's or client's words). An
 * error the server sends later to an idle client (a restart, `pg_terminate_backend`) is kept
 * for the next statement to meet instead of ending the process.
 */
export async function connectPg(
  env: NodeJS.ProcessEnv = process.env,
  onLost: () => void = () => undefined,
): Promise<Client> {
  const connectionString = env[PG_CONN_STR];
  if (!connectionString)
    throw UserError.at(
      PG_CONN_STR,
      "not set, and state.backend: pg keeps the Kubespray record in PostgreSQL",
      "set it in the environment as for the deploy: postgres://user@host/db?sslmode=...",
    );
  // Loaded only with the pg backend: every synth of a local one would pay for it.
  const pg = await import("pg");
  let client: Client;
  try {
    client = new pg.Client({ connectionString });
  } catch (e) {
    throw UserError.at(PG_CONN_STR, `not a connection string pg reads (${messageOf(e)})`, CONN);
  }
  client.on("error", onLost);
  client.on("end", onLost);
  try {
    await client.connect();
  } catch (e) {
    const target = targetOf(client);
    throw new PgFaultError(
      classifyPgError(e, target) ?? {
        problem: `PostgreSQL at ${describeTarget(target)}: could not connect (${messageOf(e)})`,
        fix: CONN,
      },
      codeOf(e),
    );
  }
  return client;
}

/**
 * `fn` with a client; a pg or network error it meets (by code) becomes the user's line too:
 * the server went away mid-command, or refused a statement for lack of privileges.
 */
export async function withPg<T>(
  env: NodeJS.ProcessEnv,
  fn: (client: Client) => Promise<T>,
): Promise<T> {
  const client = await connectPg(env);
  try {
    return await fn(client);
  } catch (e) {
    const fault = classifyPgError(e, targetOf(client));
    throw fault ? new PgFaultError(fault, codeOf(e)) : e;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** A session that ended under a command (pg gives that error no code): the user's line. */
export function lostConnectionError(client: Client, e: unknown): PgFaultError {
  return new PgFaultError({
    problem: `PostgreSQL at ${describeTarget(targetOf(client))}: the connection was lost (${messageOf(e)})`,
    fix: RETRY,
  });
}

/**
 * Codes that say the server or the way to it went away (a restart, a failover,
 * `pg_terminate_backend`, a dropped connection), not that it refused what was asked: worth
 * connecting again once it is back.
 */
export function serverWentAway(e: unknown): boolean {
  const code = e instanceof PgFaultError ? e.code : codeOf(e);
  return (
    code !== undefined &&
    (/^(08|57P)/.test(code) ||
      ["ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT", "EHOSTUNREACH"].includes(code))
  );
}

/** Preflight's check: the connection's fault, or undefined when a `SELECT 1` succeeds. */
export async function checkPgConnection(
  env: NodeJS.ProcessEnv = process.env,
): Promise<PgFault | undefined> {
  try {
    await withPg(env, (client) => client.query("SELECT 1"));
    return undefined;
  } catch (e) {
    if (e instanceof PgFaultError) return e.fault;
    throw e;
  }
}

/**
 * `PostgreSQL at host:port/database as user <user>` for `PG_CONN_STR` as pg resolves it (PG*
 * variables and defaults included), without connecting; undefined when it is unset.
 */
export async function describeDatabase(
  env: NodeJS.ProcessEnv = process.env,
): Promise<string | undefined> {
  const connectionString = env[PG_CONN_STR];
  if (!connectionString) return undefined;
  const pg = await import("pg");
  try {
    return `PostgreSQL at ${describeTarget(targetOf(new pg.Client({ connectionString })))}`;
  } catch {
    return undefined;
  }
}
