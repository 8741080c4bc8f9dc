/**
 * lib/state-backend.ts with OpenTofu and a real PostgreSQL: two clones sharing nothing
 * but the database, the pg lock, and the state encryption.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

import { NullProvider } from "@cdktf/provider-null/lib/provider";
import { Resource } from "@cdktf/provider-null/lib/resource";
import { App, TerraformOutput, TerraformStack, TerraformVariable } from "cdktf";

import { loadClusterConfig } from "../../config/load";
import type { ClusterConfig } from "../../config/schema";
import { PASSPHRASE_ENV } from "../../lib/state-backend";
import { stateBackend } from "../../stacks/state-backend";
import type { Postgres } from "../support/postgres";
import { startPostgres } from "../support/postgres";
import { documentedRecovery } from "../support/runbooks";
import { tofu } from "../support/synth-app";
import { describeWithToolchain, REPO_ROOT, toolchainEnv, toolPath } from "../support/toolchain";

// It starts PostgreSQL and tofu: a budget for a loaded two-core machine.
jest.setTimeout(120_000);

const homelab = loadClusterConfig(join(__dirname, "..", "..", "examples", "homelab.yaml")).config;
const pgConfig: ClusterConfig = { ...homelab, state: { ...homelab.state, backend: "pg" } };
const PASSPHRASE = "team-passphrase-0123456789";
const SECRET = "s3cret-grafana-Value-42";
const MARKER = "marker-in-every-state-7781";
/** docs/operations.md's query: the sessions holding a pg backend's lock. */
const HOLDERS_QUERY =
  "SELECT a.pid, a.usename, a.client_addr, a.backend_start FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted";

describeWithToolchain(["tofu"])("state in PostgreSQL with OpenTofu", () => {
  let pg: Postgres;
  let env: NodeJS.ProcessEnv;
  const dirs: string[] = [];

  beforeAll(async () => {
    pg = await startPostgres();
    env = {
      PG_CONN_STR: `${pg.createDatabase("tf")}?sslmode=disable`,
      [PASSPHRASE_ENV]: PASSPHRASE,
      TF_VAR_demo_secret: SECRET,
    };
  }, 60_000);
  afterAll(() => {
    pg?.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  /** A fresh clone's synthesized `vms` stack: a null_resource and a secret in its state. */
  function clone(generation: number, sleepSeconds = 0, startedFile?: string): string {
    const dir = mkdtempSync(join(tmpdir(), "clone-"));
    dirs.push(dir);
    const app = new App({ outdir: join(dir, "cdktf.out") });
    const stack = new TerraformStack(app, "vms");
    stateBackend(stack, "vms", pgConfig, join(dir, ".state"), env);
    new NullProvider(stack, "null");
    const secret = new TerraformVariable(stack, "demo_secret", { type: "string", sensitive: true });
    const r = new Resource(stack, "node", {
      triggers: { generation: String(generation), secret: secret.stringValue },
    });
    if (sleepSeconds > 0)
      r.addOverride("provisioner", [
        {
          "local-exec": {
            command: `${startedFile ? `touch ${startedFile} && ` : ""}sleep ${sleepSeconds}`,
          },
        },
      ]);
    new TerraformOutput(stack, "marker", { value: MARKER });
    app.synth();
    const stackDir = join(dir, "cdktf.out", "stacks", "vms");
    const init = tofu(stackDir, ["init", "-input=false", "-no-color"], env);
    if (init.status !== 0) throw new Error(init.stderr + init.stdout);
    return stackDir;
  }
  const plan = (dir: string, extra: NodeJS.ProcessEnv = {}) =>
    tofu(dir, ["plan", "-input=false", "-no-color", "-detailed-exitcode"], { ...env, ...extra });
  const apply = (dir: string) =>
    tofu(dir, ["apply", "-input=false", "-no-color", "-auto-approve"], env);
  const rows = () => pg.sql("tf", "SELECT name || ' ' || data FROM vms_stack_rows()");

  it("gives a second clone the first one's state: no change", () => {
    expect(apply(clone(1)).status).toBe(0);
    const second = plan(clone(1));
    expect(second.stderr).toBe("");
    expect(second.status).toBe(0);
  }, 180_000);

  it("stores the state encrypted: no secret, no value of it in the rows", () => {
    pg.sql(
      "tf",
      "CREATE OR REPLACE FUNCTION vms_stack_rows() RETURNS TABLE(name text, data text) AS $$ SELECT name, data FROM kspray_vms.states $$ LANGUAGE sql",
    );
    const text = rows();
    expect(text).toContain("encrypted_data");
    for (const value of [SECRET, MARKER, PASSPHRASE, "null_resource"])
      expect(text).not.toContain(value);
  });

  it("is readable with the key and not without it", () => {
    const dir = clone(1);
    const show = tofu(dir, ["output", "-raw", "marker"], env);
    expect(show.stdout).toBe(MARKER);
    const wrong = plan(dir, { [PASSPHRASE_ENV]: "another-passphrase-of-16" });
    expect(wrong.status).toBe(1);
    expect(wrong.stderr).toMatch(/decryption failed/);
    // Without it: the scripts stop first (checkStateEnvironment); tofu alone names it too.
    const none = tofu(dir, ["plan", "-input=false", "-no-color"], {
      ...env,
      [PASSPHRASE_ENV]: undefined,
    });
    expect(none.status).toBe(1);
    expect(none.stderr).toMatch(/var\.state_passphrase which\s+is\s+not available/);
  }, 120_000);

  it("lets one deploy at a time hold the lock; the other fails cleanly, the state intact", async () => {
    const first = clone(2, 8);
    const second = clone(2);
    const running = new Promise<number | null>((resolve) => {
      const child = spawn(
        toolPath("tofu"),
        ["apply", "-input=false", "-no-color", "-auto-approve"],
        { cwd: first, env: { ...toolchainEnv(), TF_IN_AUTOMATION: "1", ...env }, stdio: "ignore" },
      );
      child.on("exit", resolve);
    });
    // Until the first apply holds the lock (it sleeps 8 s in its provisioner).
    const deadline = Date.now() + 60_000;
    while (
      pg.sql("postgres", "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'").trim() === "0"
    ) {
      if (Date.now() > deadline) throw new Error("the first apply never took the state lock");
      await new Promise((r) => setTimeout(r, 200));
    }
    const blocked = apply(second);
    expect(blocked.status).toBe(1);
    expect(blocked.stderr).toMatch(/Error acquiring the state lock/);
    expect(await running).toBe(0);
    expect(plan(second).status).toBe(0);
  }, 180_000);

  /** `tofu apply` in `dir`, started in the background; settles with its status and output. */
  function applyInBackground(dir: string) {
    let output = "";
    const child = spawn(toolPath("tofu"), ["apply", "-input=false", "-no-color", "-auto-approve"], {
      cwd: dir,
      env: { ...toolchainEnv(), TF_IN_AUTOMATION: "1", ...env },
    });
    child.stdout.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr.on("data", (d: Buffer) => (output += d.toString()));
    const done = new Promise<{ status: number | null; output: string }>((resolve) =>
      child.on("close", (status) => resolve({ status, output })),
    );
    return { child, done };
  }

  /** Polls `check` until it holds; fails after `ms`. */
  async function until(check: () => boolean, ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (!check()) {
      if (Date.now() > deadline) throw new Error("condition not met in time");
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  it("keeps what an apply did when the database stops under it: errored.tfstate, pushed back", async () => {
    expect(apply(clone(5)).status).toBe(0);
    const started = join(mkdtempSync(join(tmpdir(), "started-")), "started");
    dirs.push(dirname(started));
    const dir = clone(6, 3, started);
    const running = applyInBackground(dir);
    await until(() => existsSync(started), 60_000);
    pg.halt();
    const result = await running.done;
    pg.resume();
    expect(result.status).toBe(1);
    // OpenTofu's own words: where the state it could not save is, and how to push it.
    expect(result.output).toMatch(/errored\.tfstate/);
    const errored = join(dir, "errored.tfstate");
    expect(existsSync(errored)).toBe(true);
    // Before the push, the database still holds the state before the apply.
    expect(plan(dir).status).toBe(2);
    // tofu state push reads a file without the stack's encryption: the recovery
    // docs/operations.md shows decrypts it first; run as written there, in this stack.
    const recovery = spawnSync("bash", ["-euo", "pipefail", "-c", documentedRecovery(dir)], {
      cwd: REPO_ROOT,
      env: { ...toolchainEnv(), ...env },
      encoding: "utf8",
    });
    expect(recovery.stderr).toBe("");
    expect(recovery.status).toBe(0);
    expect(existsSync(errored)).toBe(false);
    expect(plan(dir).status).toBe(0);
    expect(plan(clone(6)).status).toBe(0);
  }, 240_000);

  it("frees the lock of a hung deploy once its session is ended, as docs/operations.md shows", async () => {
    const started = join(mkdtempSync(join(tmpdir(), "started-")), "started");
    dirs.push(dirname(started));
    const hung = applyInBackground(clone(7, 60, started));
    await until(() => existsSync(started), 60_000);
    hung.child.kill("SIGSTOP");
    const second = clone(7);
    const blocked = apply(second);
    expect(blocked.status).toBe(1);
    expect(blocked.stderr).toMatch(/Error acquiring the state lock/);
    const id = /ID:\s+(\S+)/.exec(blocked.stderr)?.[1] ?? "";
    expect(blocked.stderr).toMatch(/Who:\s+\S+@\S+/);
    // force-unlock says it unlocked, but the lock is the hung session's: still held.
    const unlock = tofu(second, ["force-unlock", "-force", "-no-color", id], env);
    expect(unlock.stdout).toContain("successfully unlocked");
    expect(apply(second).stderr).toMatch(/Error acquiring the state lock/);
    // Who holds it: the documented query names the session (its address and start).
    const holders = pg.sql("tf", HOLDERS_QUERY).trim().split("\n");
    expect(holders).toHaveLength(1);
    const [pid] = holders[0].split("|");
    pg.sql("tf", `SELECT pg_terminate_backend(${pid})`);
    expect(apply(second).status).toBe(0);
    hung.child.kill("SIGKILL");
    await hung.done;
    expect(plan(second).status).toBe(0);
  }, 240_000);

  it("loses a running apply's lock with its session: a second apply is let in meanwhile", async () => {
    expect(apply(clone(8)).status).toBe(0);
    const started = join(mkdtempSync(join(tmpdir(), "started-")), "started");
    dirs.push(dirname(started));
    const first = applyInBackground(clone(9, 30, started));
    await until(() => existsSync(started), 60_000);
    // What a restart or failover of the server does to every session: ended here by hand.
    const holders = pg.sql("tf", HOLDERS_QUERY).trim().split("\n");
    expect(holders).toHaveLength(1);
    pg.sql("tf", `SELECT pg_terminate_backend(${holders[0].split("|")[0]})`);
    // The first apply still runs, and holds no lock any more: the second one gets it and
    // ends first.
    const second = applyInBackground(clone(10));
    const firstDone = first.done.then((r) => ({ who: "first", ...r }));
    const ended = await Promise.race([
      firstDone,
      second.done.then((r) => ({ who: "second", ...r })),
    ]);
    expect({ who: ended.who, status: ended.status }).toEqual({ who: "second", status: 0 });
    // The first one then writes its state over the second's: the last to finish wins.
    const result = await firstDone;
    expect(result.status).toBe(0);
    const firstState = plan(clone(9));
    const secondState = plan(clone(10));
    expect({ first: firstState.status, second: secondState.status }).toEqual({
      first: 0,
      second: 2,
    });
  }, 240_000);
});
