/**
 * A team sharing state through PostgreSQL (docs/operations.md, "Working as a team"): two
 * clones of the project, each a working directory of its own (the tracked files copied;
 * node_modules, the built runner and .toolchain reached by symlink: binaries, not state),
 * sharing nothing but one PostgreSQL database and the Proxmox VE double. Each runs the
 * project's own entry points (scripts/cdktf.sh deploy, scripts/review.ts) from its
 * directory, with Kubespray in print mode.
 */
import { execFileSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { stringify } from "yaml";

import { ProxmoxDouble } from "../../proxmox-double";
import type { Definition } from "../fixtures/definitions";
import { homelab } from "../fixtures/definitions";
import type { Postgres } from "../support/postgres";
import { startPostgres } from "../support/postgres";
import { REPO_ROOT, toolchainEnv } from "../support/toolchain";

import type { CommandResult } from "./support/harness";
import { describeE2e, expectSuccess, run, SEEDS } from "./support/harness";
import { documentedAcl } from "./support/role";

const PASSPHRASE = "team-state-passphrase-5521";
const PG_PASSWORD = "pg-Password-of-the-team-0917";
/** What binaries and builds a clone reaches by symlink. */
const SHARED_BUILDS = ["node_modules", ".toolchain", "dist"];

/** One operator's clone of the project. */
class Clone {
  readonly dir: string;
  readonly definitionFile: string;
  readonly stateDir: string;

  constructor(
    readonly name: string,
    private readonly common: () => NodeJS.ProcessEnv,
  ) {
    this.dir = mkdtempSync(join(tmpdir(), `team-${name}-`));
    // The project's files (tracked, or new and not ignored) as the working tree has them.
    const files = execFileSync(
      "git",
      ["ls-files", "-z", "--cached", "--others", "--exclude-standard"],
      { cwd: REPO_ROOT, encoding: "utf8" },
    )
      .split("\0")
      .filter((f) => f !== "" && existsSync(join(REPO_ROOT, f)));
    execFileSync("tar", ["-cf", join(this.dir, ".files.tar"), "--null", "-T", "-"], {
      cwd: REPO_ROOT,
      input: files.join("\0"),
    });
    execFileSync("tar", ["-xf", ".files.tar"], { cwd: this.dir });
    rmSync(join(this.dir, ".files.tar"));
    for (const build of SHARED_BUILDS) symlinkSync(join(REPO_ROOT, build), join(this.dir, build));
    mkdirSync(join(this.dir, "tmp"));
    this.definitionFile = join(this.dir, "kspray.yaml");
    this.stateDir = join(this.dir, ".state", "kspray");
  }

  define(definition: Definition): void {
    writeFileSync(this.definitionFile, stringify(definition));
  }

  env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
    return {
      ...this.common(),
      CLUSTER_CONFIG: this.definitionFile,
      TMPDIR: join(this.dir, "tmp"),
      ...extra,
    };
  }

  /** `npm run deploy -- <stacks> --auto-approve` (scripts/cdktf.sh), from this clone. */
  deploy(...stacks: string[]): Promise<CommandResult> {
    return run(
      "bash",
      ["scripts/cdktf.sh", "deploy", ...stacks, "--auto-approve", "--skip-preflight", "--no-color"],
      { cwd: this.dir, env: this.env(), timeoutMs: 300_000 },
    );
  }

  /** `npm run diff` (scripts/review.ts), from this clone. */
  review(): Promise<CommandResult> {
    return run(process.execPath, ["--import", "tsx", "scripts/review.ts"], {
      cwd: this.dir,
      env: this.env(),
      timeoutMs: 300_000,
    });
  }

  /** In print mode the operator runs the printed script; its last line records the run. */
  async recordPrintedRun(): Promise<void> {
    const script = readFileSync(join(this.stateDir, "kubespray-commands.sh"), "utf8");
    const record = script.trim().split("\n").pop() ?? "";
    expectSuccess(
      await run("sh", ["-c", record], { cwd: this.dir, env: this.env(), timeoutMs: 60_000 }),
      "the printed script's record line",
    );
  }

  remove(): void {
    if (!process.env.KEEP_E2E_DIR) rmSync(this.dir, { recursive: true, force: true });
  }
}

describeE2e("a team sharing state in PostgreSQL", () => {
  let pg: Postgres;
  let double: ProxmoxDouble;
  let connStr: string;
  let a: Clone;
  let b: Clone;
  let definition: Definition;

  const common = (): NodeJS.ProcessEnv => {
    const base: NodeJS.ProcessEnv = { ...process.env };
    for (const key of Object.keys(base))
      if (/^(PROXMOX_VE_|TF_VAR_|PG)|^(CLUSTER_CONFIG|STATE_DIR|CDKTF_OUTDIR)$/.test(key))
        delete base[key];
    return {
      ...toolchainEnv(base),
      CI: "true",
      NO_COLOR: "1",
      FORCE_COLOR: "0",
      PROXMOX_VE_API_TOKEN: double.token,
      PG_CONN_STR: connStr,
      PGPASSWORD: PG_PASSWORD,
      TF_VAR_state_passphrase: PASSPHRASE,
    };
  };

  beforeAll(async () => {
    pg = await startPostgres();
    pg.sql("postgres", `CREATE ROLE team LOGIN PASSWORD '${PG_PASSWORD}'`);
    pg.createDatabase("team_state");
    pg.sql("postgres", `ALTER DATABASE team_state OWNER TO team`);
    connStr = `postgres://team@127.0.0.1:${pg.port}/team_state?sslmode=disable`;
    double = await ProxmoxDouble.start({
      seed: SEEDS.homelab,
      cloneDurationMs: 300,
      taskDurationMs: 100,
      agentDelayMs: 500,
      acl: documentedAcl(),
    });
    definition = homelab();
    definition.proxmox = { ...definition.proxmox, endpoint: double.endpoint, insecure: true };
    definition.kubespray = { ...definition.kubespray, mode: "print" };
    definition.addons = {};
    definition.state = { backend: "pg" };
    a = new Clone("a", common);
    b = new Clone("b", common);
    a.define(definition);
    b.define(definition);
  }, 120_000);

  afterAll(async () => {
    await double?.stop();
    pg?.stop();
    a?.remove();
    b?.remove();
  });

  /** Every stack of `npm run diff` says "no changes", and it exits 0. */
  function expectNoChanges(review: CommandResult, who: string): void {
    const lines = review.stdout.split("\n").filter((l) => /^\w+: /.test(l));
    expect({ who, status: review.status, lines }).toEqual({
      who,
      status: 0,
      lines: ["vms: no changes", "cluster: no changes", "addons: no changes"],
    });
  }

  /** Both clones' definitions, changed alike (the definition is in the team's repository). */
  function defineBoth(change: (d: Definition) => void): void {
    change(definition);
    a.define(definition);
    b.define(definition);
  }

  it("gives the second clone the first one's plan: no change after a deploy", async () => {
    expectSuccess(await a.deploy("vms", "cluster"), "deploy from the first clone");
    await a.recordPrintedRun();
    expect(existsSync(b.stateDir)).toBe(false);

    expectNoChanges(await b.review(), "second clone");
    // The cluster stack's files, written back from the state as the first clone has them.
    for (const file of [
      "inventory/hosts.yaml",
      "inventory/group_vars/all/kubespray.yml",
      "runner.json",
    ]) {
      const [mine, theirs] = [a, b].map((c) => join(c.stateDir, file));
      expect(readFileSync(theirs, "utf8")).toBe(readFileSync(mine, "utf8"));
      expect(mode(theirs)).toBe(0o600);
    }
    expect(mode(join(b.stateDir, "inventory"))).toBe(0o700);
  }, 300_000);

  it("plans scale.yml for a worker added from the second clone; the first then sees no change", async () => {
    const workers = definition.nodePools.findIndex((p: Definition) => p.role === "worker");
    defineBoth((d) => (d.nodePools[workers].count += 1));
    const review = await b.review();
    expect(review.status).toBe(2);
    expect(review.stdout).toContain(
      "Kubespray will run: playbooks/facts.yml; scale.yml --limit=kspray-worker-4",
    );
    expectSuccess(await b.deploy("vms", "cluster"), "deploy from the second clone");
    expect(readFileSync(join(b.stateDir, "kubespray-commands.sh"), "utf8")).toMatch(
      /scale\.yml .*--limit=kspray-worker-4/,
    );
    await b.recordPrintedRun();

    expectNoChanges(await a.review(), "first clone");
    expectNoChanges(await b.review(), "second clone");
  }, 300_000);
});

const mode = (path: string): number => statSync(path).mode & 0o777;
