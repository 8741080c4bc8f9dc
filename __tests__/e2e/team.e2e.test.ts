/**
 * A team sharing state through PostgreSQL (docs/operations.md, "Working as a team"): two
 * clones of the project, each a working directory of its own (the tracked files copied;
 * node_modules, the built runner and .toolchain reached by symlink: binaries, not state),
 * sharing nothing but one PostgreSQL database and the Proxmox VE double. Each runs the
 * project's own entry points (scripts/cdktf.sh deploy, scripts/review.ts) from its
 * directory, with Kubespray in print mode.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
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
import { describeE2e, expectSuccess, oneLine, run, SEEDS } from "./support/harness";
import { documentedAcl } from "./support/role";

// Made up for each run, so that no file of the project (this one included) holds them.
const PASSPHRASE = `passphrase-${randomBytes(12).toString("hex")}`;
const PG_PASSWORD = `pw${randomBytes(12).toString("hex")}`;
/** The admin credential in the kubeconfig Kubespray leaves (kubeconfig_localhost). */
const CLIENT_KEY = randomBytes(24).toString("base64");
/** What binaries and builds a clone reaches by symlink. */
const SHARED_BUILDS = ["node_modules", ".toolchain", "dist"];

/** One operator's clone of the project. */
class Clone {
  readonly dir: string;
  readonly definitionFile: string;
  private cluster = "";

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
  }

  define(definition: Definition): void {
    writeFileSync(this.definitionFile, stringify(definition));
    this.cluster = String(definition.name);
  }

  /** The default state directory, `.state/<cluster>` in the clone. */
  get stateDir(): string {
    return join(this.dir, ".state", this.cluster);
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

  /**
   * In print mode the operator runs the printed script; its last line records the run (and
   * copies Kubespray's admin.conf, when `adminConf` stands in for what Kubespray wrote).
   */
  async recordPrintedRun(adminConf?: string): Promise<void> {
    if (adminConf !== undefined) {
      const artifacts = join(this.stateDir, "inventory", "artifacts");
      mkdirSync(artifacts, { recursive: true });
      writeFileSync(join(artifacts, "admin.conf"), adminConf, { mode: 0o600 });
    }
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

/** What Kubespray's kubeconfig_localhost leaves in inventory/artifacts (print mode: by hand). */
const ADMIN_CONF = stringify({
  apiVersion: "v1",
  kind: "Config",
  clusters: [{ name: "cluster.local", cluster: { server: "https://10.10.30.11:6443" } }],
  users: [{ name: "kubernetes-admin", user: { "client-key-data": CLIENT_KEY } }],
  contexts: [{ name: "admin", context: { cluster: "cluster.local", user: "kubernetes-admin" } }],
  "current-context": "admin",
});

/** How many of the two deploys at once met the other's lock (reported, not asserted). */
let lockContention = -1;

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
      TF_VAR_state_passphrase: PASSPHRASE,
    };
  };

  beforeAll(async () => {
    pg = await startPostgres();
    pg.sql("postgres", `CREATE ROLE team LOGIN PASSWORD '${PG_PASSWORD}'`);
    pg.createDatabase("team_state");
    pg.sql("postgres", `ALTER DATABASE team_state OWNER TO team`);
    // The password in the URL, where a leak would show first.
    connStr = `postgres://team:${PG_PASSWORD}@127.0.0.1:${pg.port}/team_state?sslmode=disable`;
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
    process.stdout.write(
      `team e2e: deploys at once that met the other's lock: ${lockContention}\n`,
    );
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
    await a.recordPrintedRun(ADMIN_CONF);
    expect(readFileSync(join(a.stateDir, "kubeconfig"), "utf8")).toContain(CLIENT_KEY);
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
    // The kubeconfig too, from the database (sealed with the state passphrase).
    const kubeconfig = join(b.stateDir, "kubeconfig");
    expect(readFileSync(kubeconfig, "utf8")).toBe(
      readFileSync(join(a.stateDir, "kubeconfig"), "utf8"),
    );
    expect(mode(kubeconfig)).toBe(0o600);
  }, 300_000);

  it("writes a file the clone lost back before cdktf's own diff, which then sees no change", async () => {
    const hosts = join(b.stateDir, "inventory", "hosts.yaml");
    const before = readFileSync(hosts, "utf8");
    rmSync(hosts);
    const diff = await run("bash", ["scripts/cdktf.sh", "diff", "cluster", "--no-color"], {
      cwd: b.dir,
      env: b.env(),
      timeoutMs: 300_000,
    });
    expectSuccess(diff, "scripts/cdktf.sh diff cluster from the second clone");
    expect(diff.output).toContain("No changes");
    expect(readFileSync(hosts, "utf8")).toBe(before);
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

  it("lets one of two deploys at once hold the lock; the other waits or fails cleanly", async () => {
    const workers = definition.nodePools.findIndex((p: Definition) => p.role === "worker");
    defineBoth((d) => (d.nodePools[workers].count += 1));
    const newWorker = `kspray-worker-${definition.nodePools[workers].count}`;
    const [first, second] = await Promise.all([
      a.deploy("vms", "cluster"),
      b.deploy("vms", "cluster"),
    ]);
    const locked = [first, second].filter((r) => /Error acquiring the state lock/.test(r.output));
    // Each one succeeded, or failed on the lock and on nothing else.
    for (const r of [first, second])
      if (r.status !== 0) expect(oneLine(r.output)).toMatch(/Error acquiring the state lock/);
    expect(locked.length).toBeLessThan(2);
    expect([first, second].some((r) => r.status === 0)).toBe(true);
    // One VM for the new worker, and both clones agree there is nothing left to do.
    expect(double.vms().filter((v) => v.config.name === newWorker)).toHaveLength(1);
    expectNoChanges(await a.review(), "first clone");
    expectNoChanges(await b.review(), "second clone");
    lockContention = locked.length;
  }, 300_000);

  it("leaves none of the secret values in the database's rows or in any file of either clone", () => {
    const secrets = {
      "the Proxmox token's secret": double.token.split("=")[1],
      "the database password": PG_PASSWORD,
      "the state passphrase": PASSPHRASE,
    };
    const rows = everyRow(pg, "team_state");
    expect(rows.length).toBeGreaterThan(0);
    // The kubeconfig's credential too: it travels sealed.
    for (const [what, value] of Object.entries({ ...secrets, "the admin's key": CLIENT_KEY }))
      expect({ what, inRows: rows.filter((r) => r.includes(value)) }).toEqual({ what, inRows: [] });
    for (const clone of [a, b]) {
      const files = filesUnder(clone.dir);
      expect(files.length).toBeGreaterThan(100);
      for (const [what, value] of Object.entries(secrets)) {
        const holding = files.filter((f) => readFileSync(f).includes(value));
        expect({ clone: clone.name, what, holding }).toEqual({
          clone: clone.name,
          what,
          holding: [],
        });
      }
    }
  });

  it("stores the state encrypted: unreadable without the key, readable with it", async () => {
    const states = pg.sql("team_state", "SELECT name || ' ' || data FROM kspray_cluster.states");
    expect(states).toContain("encrypted_data");
    for (const clear of ["local_file", "kspray-worker-1", "hosts.yaml"])
      expect(states).not.toContain(clear);

    const stack = join(b.dir, "cdktf.out", "stacks", "cluster");
    const show = (passphrase: string | undefined) =>
      run("tofu", ["show", "-json", "-no-color"], {
        cwd: stack,
        env: b.env({ TF_VAR_state_passphrase: passphrase }),
        timeoutMs: 120_000,
      });
    const withKey = await show(PASSPHRASE);
    expect(withKey.status).toBe(0);
    expect(withKey.stdout).toContain("kspray-worker-1");
    const wrongKey = await show("not-the-team-passphrase");
    expect(wrongKey.status).toBe(1);
    expect(oneLine(wrongKey.output)).toMatch(/decryption failed/);
    // Without it, the deploy stops before OpenTofu reads anything, naming what to set.
    const noKey = await run(
      "bash",
      ["scripts/cdktf.sh", "deploy", "cluster", "--auto-approve", "--skip-preflight"],
      {
        cwd: b.dir,
        env: b.env({ TF_VAR_state_passphrase: undefined }),
        timeoutMs: 120_000,
      },
    );
    expect(noKey.status).toBe(2);
    expect(noKey.output).toContain(
      "TF_VAR_state_passphrase: not set, and the state is encrypted (state.encryption); set it in the environment",
    );
  }, 300_000);

  it("moves a cluster from an unencrypted local state to pg, encrypted, as docs/operations.md says", async () => {
    // Another cluster on the same Proxmox: its own name, VM IDs and addresses.
    const c = new Clone("c", common);
    try {
      const local: Definition = {
        ...structuredClone(definition),
        name: "mig",
        state: { backend: "local" },
      };
      local.proxmox.vmIdStart = 4300;
      local.kubernetes.apiServerVip = "10.10.30.120";
      local.nodePools = [
        { ...local.nodePools[0], count: 1, firstIp: "10.10.30.121" },
        { ...local.nodePools[1], count: 1, firstIp: "10.10.30.131" },
      ];
      c.define(local);
      expectSuccess(await c.deploy("vms", "cluster"), "deploy with the local backend");
      await c.recordPrintedRun();
      const stateDir = join(c.dir, ".state", "mig");
      expect(
        JSON.parse(readFileSync(join(stateDir, "cluster.tfstate"), "utf8")).resources,
      ).not.toEqual([]);

      // 2. pg with the fallback, the environment set, npm run synth.
      c.define({ ...local, state: { backend: "pg", encryption: { unencryptedFallback: true } } });
      expectSuccess(
        await run("npm", ["run", "--silent", "synth"], {
          cwd: c.dir,
          env: c.env(),
          timeoutMs: 120_000,
        }),
        "npm run synth",
      );
      // 3. In each stack: tofu init -migrate-state -force-copy.
      for (const stack of ["vms", "cluster", "addons"])
        expectSuccess(
          await run(
            "tofu",
            ["init", "-migrate-state", "-force-copy", "-input=false", "-no-color"],
            {
              cwd: join(c.dir, "cdktf.out", "stacks", stack),
              env: c.env(),
              timeoutMs: 120_000,
            },
          ),
          `tofu init -migrate-state (${stack})`,
        );
      const migrated = pg.sql("team_state", "SELECT data FROM mig_cluster.states");
      expect(migrated).toContain("encrypted_data");
      expect(migrated).not.toContain("local_file");

      // 4. The fallback off; 5. one deploy of the cluster stack: its paths become the clone's
      // own relative ones and the runner, finding nothing changed, stores the record.
      c.define({ ...local, state: { backend: "pg" } });
      const deploy = expectSuccess(await c.deploy("cluster"), "deploy of the cluster stack");
      expect(deploy.output).toContain("nothing changed since the last successful run");
      expect(
        pg.sql("team_state", "SELECT record->>'action' FROM mig_cluster.kubespray_last_run").trim(),
      ).toBe("cluster.yml");
      // 6. npm run diff: no change, the state read with the key alone.
      expectNoChanges(await c.review(), "migrated clone");
      expect(double.vms().filter((v) => v.config.name?.startsWith("mig-"))).toHaveLength(2);
    } finally {
      c.remove();
    }
  }, 300_000);
});

/** Every row of every table outside PostgreSQL's own schemas, as text. */
function everyRow(pg: Postgres, database: string): string[] {
  const tables = pg
    .sql(
      database,
      "SELECT quote_ident(table_schema) || '.' || quote_ident(table_name) FROM information_schema.tables WHERE table_schema NOT IN ('pg_catalog', 'information_schema') AND table_type = 'BASE TABLE'",
    )
    .split("\n")
    .filter((t) => t !== "");
  return tables.flatMap((t) =>
    pg
      .sql(database, `SELECT '${t} ' || r::text FROM ${t} r`)
      .split("\n")
      .filter((l) => l !== ""),
  );
}

/** Every regular file under `dir`, symlinks (the shared builds) not followed. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return filesUnder(path);
    return e.isFile() ? [path] : [];
  });
}

const mode = (path: string): number => statSync(path).mode & 0o777;
