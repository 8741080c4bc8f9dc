/**
 * A throwaway PostgreSQL server for tests: initdb into a temporary directory, pg_ctl start
 * on a free loopback port (no Unix socket outside that directory, no other address), trust
 * authentication for the local user; `stop()` stops it and deletes the directory.
 *
 * The binaries come from PG_BIN (a folder), else PATH, else Debian's
 * /usr/lib/postgresql/<version>/bin. As root (CI containers), the server runs as the
 * `postgres` user (initdb refuses root), via setpriv.
 */
import { execFile, execFileSync } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
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
  stop(): void;
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

export async function startPostgres(): Promise<Postgres> {
  const bin = findBin();
  const dir = mkdtempSync(join(tmpdir(), "pg-"));
  const asRoot = process.getuid?.() === 0;
  // As root, the server's commands run as postgres, owner of the directory.
  const run = (cmd: string, args: readonly string[]): string =>
    asRoot
      ? execFileSync(
          "setpriv",
          ["--reuid=postgres", "--regid=postgres", "--init-groups", join(bin, cmd), ...args],
          { encoding: "utf8", cwd: dir, stdio: ["ignore", "pipe", "pipe"] },
        )
      : execFileSync(join(bin, cmd), [...args], {
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
  const port = await freePort();
  run("pg_ctl", [
    "-D",
    data,
    "-l",
    join(dir, "server.log"),
    "-w",
    "-o",
    `-c listen_addresses=127.0.0.1 -p ${port} -k ${dir} -c fsync=off`,
    "start",
  ]);
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
    stop() {
      try {
        run("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
