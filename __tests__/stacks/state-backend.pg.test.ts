/**
 * lib/state-backend.ts with OpenTofu and a real PostgreSQL: two clones sharing nothing
 * but the database, the pg lock, and the state encryption.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { NullProvider } from "@cdktf/provider-null/lib/provider";
import { Resource } from "@cdktf/provider-null/lib/resource";
import { App, TerraformOutput, TerraformStack, TerraformVariable } from "cdktf";

import { loadClusterConfig } from "../../config/load";
import type { ClusterConfig } from "../../config/schema";
import { PASSPHRASE_ENV } from "../../lib/state-backend";
import { stateBackend } from "../../stacks/state-backend";
import type { Postgres } from "../support/postgres";
import { startPostgres } from "../support/postgres";
import { tofu } from "../support/synth-app";
import { describeWithToolchain, toolchainEnv, toolPath } from "../support/toolchain";

const homelab = loadClusterConfig(join(__dirname, "..", "..", "examples", "homelab.yaml")).config;
const pgConfig: ClusterConfig = { ...homelab, state: { ...homelab.state, backend: "pg" } };
const PASSPHRASE = "team-passphrase-0123456789";
const SECRET = "s3cret-grafana-Value-42";
const MARKER = "marker-in-every-state-7781";

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
  function clone(generation: number, sleepSeconds = 0): string {
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
      r.addOverride("provisioner", [{ "local-exec": { command: `sleep ${sleepSeconds}` } }]);
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
    for (let i = 0; i < 50; i++) {
      if (
        pg.sql("postgres", "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'").trim() !==
        "0"
      )
        break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const blocked = apply(second);
    expect(blocked.status).toBe(1);
    expect(blocked.stderr).toMatch(/Error acquiring the state lock/);
    expect(await running).toBe(0);
    expect(plan(second).status).toBe(0);
  }, 180_000);
});
