/**
 * A throwaway PostgreSQL server for tests: initdb into a temporary directory, pg_ctl start
 * on a free loopback port (no Unix socket outside that directory, no other address), trust
 * authentication for the local user; `stop()` stops it and deletes the directory.
 * `startPostgres({ hba, ssl })` adds pg_hba.conf lines before the trust ones and turns TLS
 * on with a self-signed certificate (openssl), for the faults a team's server can show.
 *
 * The binaries come from PG_BIN (a folder), else PATH, else Debian's
 * /usr/lib/postgresql/<version>/bin. As root (CI containers), the server runs as the
 * `postgres` user (initdb refuses root), via setpriv.
 */
import { execFile, execFileSync } from "node:child_process";
import {
  chownSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";

export interface Postgres {
  /** `postgres://postgres@127.0.0.1:<port>/postgres` */
  readonly url: string;
  readonly port: number;
  /** A new, empty database on this server, as a URL. */
  createDatabase(name: string): string;
  /** Runs SQL with psql; returns its unaligned, tuples-only output. */
  sql(database: string, query: string): string;
  /** The same without waiting: settles when psql exits (e.g. a transaction held open). */
  sqlAsync(database: string, query: string): Promise<string>;
  /** Stops the server (`pg_ctl stop -m immediate`: as a crash), keeping its data. */
  halt(): void;
  /** Starts it again on the same port and data, waiting until it accepts connections. */
  resume(): void;
  stop(): void;
}

export interface PostgresOptions {
  /** pg_hba.conf lines matched before initdb's trust lines. @default - none */
  readonly hba?: readonly string[];
  /** TLS on, with a self-signed certificate for 127.0.0.1. @default false */
  readonly ssl?: boolean;
}

const INSTALL_HINT =
  "PostgreSQL server binaries (initdb, pg_ctl, psql) not found: install them (Debian: apt-get install -y postgresql) or set PG_BIN to their folder";

function findBin(): string {
  const candidates = [
    ...(process.env.PG_BIN ? [process.env.PG_BIN] : []),
    ...(process.env.PATH ?? "").split(delimiter),
    ...(existsSync("/usr/lib/postgresql")
      ? readdirSync("/usr/lib/postgresql")
          .sort((a, b) => Number(b) - Number(a))
          .map((v) => join("/usr/lib/postgresql", v, "bin"))
      : []),
  ];
  const found = candidates.find(
    (dir) => dir !== "" && ["initdb", "pg_ctl", "psql"].every((b) => existsSync(join(dir, b))),
  );
  if (found === undefined) throw new Error(INSTALL_HINT);
  return found;
}

/** Whether this machine can start a PostgreSQL server (for a clear skip or failure). */
export function hasPostgres(): boolean {
  try {
    findBin();
    return true;
  } catch {
    return false;
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() =>
        typeof address === "object" && address
          ? resolve(address.port)
          : reject(new Error("no port")),
      );
    });
  });
}

export async function startPostgres(options: PostgresOptions = {}): Promise<Postgres> {
  const bin = findBin();
  const dir = mkdtempSync(join(tmpdir(), "pg-"));
  const asRoot = process.getuid?.() === 0;
  // As root, the server's commands run as postgres, owner of the directory.
  const path = (cmd: string) => (cmd === "openssl" ? cmd : join(bin, cmd));
  const run = (cmd: string, args: readonly string[]): string =>
    asRoot
      ? execFileSync(
          "setpriv",
          ["--reuid=postgres", "--regid=postgres", "--init-groups", path(cmd), ...args],
          { encoding: "utf8", cwd: dir, stdio: ["ignore", "pipe", "pipe"] },
        )
      : execFileSync(path(cmd), [...args], {
          encoding: "utf8",
          cwd: dir,
          stdio: ["ignore", "pipe", "pipe"],
        });
  if (asRoot) {
    const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim());
    const gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim());
    chownSync(dir, uid, gid);
  }
  const data = join(dir, "data");
  run("initdb", ["-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"]);
  if (options.hba) {
    const hba = join(data, "pg_hba.conf");
    writeFileSync(hba, `${options.hba.join("\n")}\n${readFileSync(hba, "utf8")}`);
  }
  let tls = "";
  if (options.ssl) {
    // Written by the server's user: it refuses a key file others can read or it cannot.
    run("openssl", [
      ...["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1"],
      ...["-keyout", join(data, "server.key"), "-out", join(data, "server.crt")],
    ]);
    tls = " -c ssl=on";
  }
  const port = await freePort();
  const start = () =>
    run("pg_ctl", [
      "-D",
      data,
      "-l",
      join(dir, "server.log"),
      "-w",
      "-o",
      `-c listen_addresses=127.0.0.1 -p ${port} -k ${dir} -c fsync=off${tls}`,
      "start",
    ]);
  start();
  let running = true;
  const url = (db: string) => `postgres://postgres@127.0.0.1:${port}/${db}`;
  const sql = (database: string, query: string): string =>
    execFileSync(
      join(bin, "psql"),
      ["-X", "-At", "-v", "ON_ERROR_STOP=1", url(database), "-c", query],
      {
        encoding: "utf8",
      },
    );
  const sqlAsync = (database: string, query: string): Promise<string> =>
    new Promise((done, fail) =>
      execFile(
        join(bin, "psql"),
        ["-X", "-At", "-v", "ON_ERROR_STOP=1", url(database), "-c", query],
        { encoding: "utf8" },
        (error, stdout, stderr) =>
          error ? fail(new Error(`${error.message}${stderr}`)) : done(stdout),
      ),
    );
  return {
    url: url("postgres"),
    port,
    createDatabase(name) {
      sql("postgres", `CREATE DATABASE "${name}"`);
      return url(name);
    },
    sql,
    sqlAsync,
    halt() {
      run("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"]);
      running = false;
    },
    resume() {
      start();
      running = true;
    },
    stop() {
      try {
        if (running) run("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
