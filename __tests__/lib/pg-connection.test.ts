/**
 * lib/pg-connection.ts against a real PostgreSQL on loopback: each fault a team's database
 * can show becomes one line naming the database tried (never the password), what the server
 * or the network answered (its code), and the fix.
 */
import { createServer } from "node:net";

import { UserError } from "../../errors/user-error";
import {
  checkPgConnection,
  classifyPgError,
  connectPg,
  PgFaultError,
  withPg,
} from "../../lib/pg-connection";
import type { Postgres } from "../support/postgres";
import { hasPostgres, startPostgres } from "../support/postgres";

// It serves and dials sockets on loopback: a budget for a loaded two-core machine.
jest.setTimeout(60_000);

const PASSWORD = "alice-Pw-4417";
const WRONG = "not-the-Pw-9038";

/** A loopback port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 1));
    });
  });
}

/** The one line a connection with `conn` fails with. */
async function failure(conn: string): Promise<string> {
  const error = await connectPg({ PG_CONN_STR: conn }).then(
    async (client) => {
      await client.end();
      return undefined;
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(PgFaultError);
  const message = (error as UserError).message;
  expect(message.split("\n")).toHaveLength(1);
  return message;
}

(hasPostgres() ? describe : describe.skip)("connections to a team's PostgreSQL", () => {
  let pg: Postgres;
  const at = (user: string, db: string, query = "sslmode=disable", password = "") =>
    `postgres://${user}${password ? `:${password}` : ""}@127.0.0.1:${pg.port}/${db}?${query}`;

  beforeAll(async () => {
    pg = await startPostgres({
      ssl: true,
      hba: [
        "host all alice 127.0.0.1/32 scram-sha-256",
        // What a server that wants TLS from this role says to a plain connection.
        "hostnossl all tlsonly 127.0.0.1/32 reject",
        "hostssl all tlsonly 127.0.0.1/32 trust",
      ],
    });
    pg.sql("postgres", `CREATE ROLE alice LOGIN PASSWORD '${PASSWORD}'`);
    pg.sql("postgres", "CREATE ROLE tlsonly LOGIN");
    pg.createDatabase("team_state");
  }, 120_000);
  afterAll(() => pg?.stop());

  it("connects with the right password, database and TLS", async () => {
    await expect(
      withPg({ PG_CONN_STR: at("alice", "team_state", "sslmode=disable", PASSWORD) }, (c) =>
        c.query<{ u: string }>("SELECT current_user AS u"),
      ).then((r) => r.rows[0].u),
    ).resolves.toBe("alice");
    const tls = at("tlsonly", "team_state", "sslmode=no-verify");
    await expect(checkPgConnection({ PG_CONN_STR: tls })).resolves.toBeUndefined();
  }, 30_000);

  it("names the port nothing listens on (ECONNREFUSED)", async () => {
    const port = await closedPort();
    const line = await failure(`postgres://alice:${PASSWORD}@127.0.0.1:${port}/team_state`);
    expect(line).toBe(
      `PG_CONN_STR: PostgreSQL at 127.0.0.1:${port}/team_state as user alice: the connection was refused, nothing listens on 127.0.0.1:${port} (ECONNREFUSED); start PostgreSQL there, or correct PG_CONN_STR (postgres://user@host:port/database?sslmode=...)`,
    );
  }, 30_000);

  it("says the password was refused (28P01), never showing it", async () => {
    const line = await failure(at("alice", "team_state", "sslmode=disable", WRONG));
    expect(line).toContain(`127.0.0.1:${pg.port}/team_state as user alice`);
    expect(line).toContain('password authentication failed for user "alice" (28P01)');
    expect(line).toContain("~/.pgpass");
    expect(line).not.toContain(WRONG);
  }, 30_000);

  it("says the database does not exist (3D000) and how to create it", async () => {
    const line = await failure(at("alice", "no_such_db", "sslmode=disable", PASSWORD));
    expect(line).toContain('database "no_such_db" does not exist (3D000)');
    expect(line).toContain("createdb -O alice no_such_db");
    expect(line).not.toContain(PASSWORD);
  }, 30_000);

  it("says the server wants TLS (28000) and asks for sslmode", async () => {
    const line = await failure(at("tlsonly", "team_state"));
    expect(line).toContain(`PostgreSQL at 127.0.0.1:${pg.port}/team_state as user tlsonly`);
    expect(line).toMatch(/no encryption \(28000\)/);
    expect(line).toContain("add sslmode=require");
  }, 30_000);

  it("says the server's certificate does not verify (a Node TLS code)", async () => {
    const line = await failure(at("tlsonly", "team_state", "sslmode=verify-full"));
    expect(line).toContain("the server's TLS certificate does not verify (");
    expect(line).toContain("sslrootcert=");
  }, 30_000);

  it("turns a session the server ended mid-command into the same kind of line", async () => {
    const conn = at("alice", "team_state", "sslmode=disable", PASSWORD);
    const error = await withPg({ PG_CONN_STR: conn }, async (client) => {
      const pid = (await client.query<{ p: number }>("SELECT pg_backend_pid() AS p")).rows[0].p;
      pg.sql("postgres", `SELECT pg_terminate_backend(${pid})`);
      return client.query("SELECT 1");
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PgFaultError);
    expect((error as Error).message).toContain("(57P01)");
    expect((error as Error).message).toContain("run the command again");
  }, 30_000);
});

describe("classifyPgError", () => {
  const target = { host: "db.example", port: 5432, database: "team_state", user: "alice" };

  it("names a host that does not resolve (ENOTFOUND), by its code", () => {
    // Built, not met: resolving a made-up name would ask a DNS server beyond loopback.
    const e = Object.assign(new Error("getaddrinfo ENOTFOUND db.example"), {
      code: "ENOTFOUND",
    });
    expect(classifyPgError(e, target)).toEqual({
      problem:
        "PostgreSQL at db.example:5432/team_state as user alice: the host name db.example does not resolve (ENOTFOUND)",
      fix: "check the host name, or correct PG_CONN_STR (postgres://user@host:port/database?sslmode=...)",
    });
  });

  it("leaves an error without a code to its caller", () => {
    expect(classifyPgError(new Error("password authentication failed"), target)).toBeUndefined();
  });

  it("requires PG_CONN_STR", async () => {
    await expect(connectPg({})).rejects.toThrow(UserError);
  });
});
