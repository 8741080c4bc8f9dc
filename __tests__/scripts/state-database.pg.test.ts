/**
 * Every command that needs a `state.backend: pg` state, run as the user runs it, with its
 * database at fault (nothing listening; a wrong password against a real PostgreSQL): each
 * prints the one line lib/pg-connection.ts makes (the database tried, what came back, the
 * fix), exits 2, and shows no stack trace and no
 * password. Preflight says it before any other problem.
 */
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { parse, stringify } from "yaml";

import type { Postgres } from "../support/postgres";
import { startPostgres } from "../support/postgres";
import { describeWithToolchain, REPO_ROOT, toolchainEnv } from "../support/toolchain";

// It starts PostgreSQL: a budget for a loaded two-core machine.
jest.setTimeout(120_000);

const PASSWORD = "team-Pw-5512-right";
const WRONG = "team-Pw-0070-wrong";
const PASSPHRASE = "passphrase-of-the-fault-test-42";

interface Result {
  readonly status: number | null;
  readonly output: string;
}

function run(args: readonly string[], env: NodeJS.ProcessEnv): Promise<Result> {
  return new Promise((done) => {
    const child = spawn(args[0], args.slice(1), { cwd: REPO_ROOT, env });
    let output = "";
    child.stdout.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr.on("data", (d: Buffer) => (output += d.toString()));
    child.on("close", (status) => done({ status, output }));
  });
}

async function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 1));
    });
  });
}

const node = process.execPath;
/** Each command as package.json and scripts/cdktf.sh start it, and its exit code. */
const COMMANDS: ReadonlyArray<readonly [string, readonly string[], number]> = [
  ["synth", [node, "scripts/launch.js", "main.ts"], 2],
  ["preflight", [node, "--import", "tsx", "preflight/cli.ts"], 2],
  // With the vms stack, diff asks the Proxmox token first (on a closed port here).
  ["diff", [node, "scripts/launch.js", "scripts/review.ts", "cluster", "addons"], 2],
  ["status", [node, "scripts/launch.js", "scripts/status.ts"], 2],
  ["restore-files", [node, "--import", "tsx", "scripts/restore-files.ts"], 2],
  ["deploy", ["bash", "scripts/cdktf.sh", "deploy", "--auto-approve"], 2],
  [
    "deploy --skip-preflight",
    ["bash", "scripts/cdktf.sh", "deploy", "--auto-approve", "--skip-preflight"],
    2,
  ],
  ["destroy", ["bash", "scripts/cdktf.sh", "destroy", "--auto-approve"], 2],
  ["runner", [node, "dist/runner/cli.js", "forget-node", "<state>", "homelab-worker-1"], 2],
];

describeWithToolchain(["tofu"])("commands with the team's database at fault", () => {
  let pg: Postgres;
  let dir: string;
  let base: NodeJS.ProcessEnv;

  beforeAll(async () => {
    pg = await startPostgres({ hba: ["host all team 127.0.0.1/32 scram-sha-256"] });
    pg.sql("postgres", `CREATE ROLE team LOGIN PASSWORD '${PASSWORD}'`);
    pg.createDatabase("team_state");
    dir = mkdtempSync(join(tmpdir(), "pg-faults-"));
    const definition = parse(readFileSync(join(REPO_ROOT, "examples", "homelab.yaml"), "utf8"));
    definition.state = { backend: "pg" };
    // Preflight asks Proxmox next: on loopback, where nothing answers.
    definition.proxmox.endpoint = `https://127.0.0.1:${await closedPort()}/`;
    writeFileSync(join(dir, "kspray.yaml"), stringify(definition));
    const stateDir = join(dir, "state");
    mkdirSync(stateDir);
    // What the cluster stack leaves for the runner: its settings, naming the record's schema.
    writeFileSync(
      join(stateDir, "runner.json"),
      JSON.stringify({
        clusterName: "homelab",
        stateDir,
        kubesprayDir: join(dir, "kubespray"),
        kubesprayVersion: "v2.31.0",
        ansibleCore: { min: "2.18.0", max: "2.19.0" },
        pythonRequirements: ["ansible==11.13.0"],
        mode: "print",
        containerImage: "quay.io/kubespray/kubespray:v2.31.0",
        apiServerVip: "10.10.30.20",
        apiServerPort: 6443,
        nodePrep: { playbook: "node-prep.yml", iscsi: true, nfs: true },
        recordStore: { schema: "homelab_cluster" },
      }),
    );
    base = toolchainEnv({
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      CLUSTER_CONFIG: join(dir, "kspray.yaml"),
      STATE_DIR: stateDir,
      CDKTF_OUTDIR: join(dir, "cdktf.out"),
      TF_VAR_state_passphrase: PASSPHRASE,
      PROXMOX_VE_API_TOKEN: "cdktf@pve!deploy=00000000-0000-0000-0000-000000000000",
      CHECKPOINT_DISABLE: "1",
    });
  }, 120_000);
  afterAll(() => {
    pg?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const command = (args: readonly string[]) =>
    args.map((a) => (a === "<state>" ? join(dir, "state") : a));

  /** The output's lines from lib/pg-connection.ts. */
  const faultLines = (output: string) =>
    output.split("\n").filter((l) => l.includes("PG_CONN_STR: PostgreSQL at "));

  it.each(COMMANDS)(
    "%s: one line for a database nothing listens at",
    async (_name, args, code) => {
      const port = await closedPort();
      const result = await run(command(args), {
        ...base,
        PG_CONN_STR: `postgres://team:${PASSWORD}@127.0.0.1:${port}/team_state?sslmode=disable`,
      });
      const lines = faultLines(result.output);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain(
        `PostgreSQL at 127.0.0.1:${port}/team_state as user team: the connection was refused, nothing listens on 127.0.0.1:${port} (ECONNREFUSED); start PostgreSQL there`,
      );
      expect(result.output).not.toMatch(/^\s+at /m);
      expect(result.output).not.toContain(PASSWORD);
      expect(result.status).toBe(code);
    },
    240_000,
  );

  it.each(COMMANDS.filter(([name]) => ["synth", "preflight", "runner"].includes(name)))(
    "%s: one line for a wrong password (28P01)",
    async (_name, args, code) => {
      const result = await run(command(args), {
        ...base,
        PG_CONN_STR: `postgres://team@127.0.0.1:${pg.port}/team_state?sslmode=disable`,
        PGPASSWORD: WRONG,
      });
      const lines = faultLines(result.output);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain(
        `PostgreSQL at 127.0.0.1:${pg.port}/team_state as user team answered: password authentication failed for user "team" (28P01); put the role's password in ~/.pgpass`,
      );
      expect(result.output).not.toMatch(/^\s+at /m);
      expect(result.output).not.toContain(WRONG);
      expect(result.status).toBe(code);
    },
    240_000,
  );

  it("preflight says it first, before the other problems", async () => {
    const port = await closedPort();
    const result = await run(command(COMMANDS[1][1]), {
      ...base,
      PG_CONN_STR: `postgres://team@127.0.0.1:${port}/team_state`,
    });
    const problems = result.output.split("\n").filter((l) => /^[\w.[\]]+: /.test(l));
    expect(problems[0]).toMatch(/^PG_CONN_STR: PostgreSQL at /);
    // The Proxmox API, on a closed port too, is still checked: every problem at once.
    expect(result.output).toContain("proxmox.endpoint: cannot reach the Proxmox VE API");
  }, 120_000);
});
