/**
 * End-to-end harness: a Proxmox VE API double seeded like a reference example, the
 * definition rewritten to point at it, and the real `cdktf` CLI (with the offline OpenTofu
 * toolchain) run against it from the repository root, with its output, state and temp
 * files in a directory of its own.
 *
 *   const env = await startEnvironment({ definition: homelab(), seed: "homelab" });
 *   const deploy = await env.cdktf(["deploy", "vms"]);   // --auto-approve added
 *   expect(deploy.status).toBe(0);
 *   expect((await env.plan("vms")).exitCode).toBe(0);     // no changes
 *   await env.stop();
 *
 * The double runs in the test process, so every command is spawned asynchronously (a
 * synchronous spawn would block the double's event loop and hang the provider).
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { parse, stringify } from "yaml";

import type { ProxmoxDoubleOptions, VmView } from "../../../proxmox-double";
import { ProxmoxDouble } from "../../../proxmox-double";
import { Privileges } from "../../../proxmox-double/acl";
import { API_SCHEMA_FILE, ApiSchema } from "../../../proxmox-double/api-schema";
import type { SeedInput } from "../../../proxmox-double/seed";
import type { Definition } from "../../fixtures/definitions";
import { describeWithToolchain, REPO_ROOT, toolchainEnv, toolPath } from "../../support/toolchain";

import { documentedAcl, documentedRole } from "./role";

/** Proxmox's API description: the shared, full one when present, else the double's copy. */
const SHARED_API_SCHEMA = join(REPO_ROOT, "..", "shared", "proxmox", "api-schema.json");
let apiSchema: ApiSchema | undefined;

/** The seeds the double ships for the reference examples. */
export const SEEDS = {
  homelab: join(REPO_ROOT, "proxmox-double", "seed.homelab.yaml"),
  cloud: join(REPO_ROOT, "proxmox-double", "seed.cloud.yaml"),
} as const;

export const CDKTF_BIN = join(REPO_ROOT, "node_modules", ".bin", "cdktf");
export const RUNNER_CLI = join(REPO_ROOT, "dist", "runner", "cli.js");

/** Commands that get `--auto-approve`. */
const APPROVING = new Set(["deploy", "destroy", "apply"]);
/** Commands that take `--no-color`. */
const COLOURED = new Set(["deploy", "destroy", "apply", "diff", "plan", "output"]);
/**
 * Commands that would otherwise run `tofu providers lock`, which asks the registry for
 * every platform's checksums: offline, the mirror's lock entries are all there is.
 */
const LOCKING = new Set(["deploy", "destroy", "apply", "diff", "plan"]);

/** Default bound of one command; a hung provider fails the test instead of jest's timeout. */
const COMMAND_TIMEOUT_MS = 300_000;

export interface EnvironmentOptions {
  /** The definition as a user writes it; `proxmox.endpoint`/`insecure` are replaced. */
  readonly definition: Definition;
  /** A seed the double ships (`homelab`, `cloud`), a seed file, or a seed object. */
  readonly seed: keyof typeof SEEDS | NonNullable<ProxmoxDoubleOptions["seed"]>;
  /**
   * Options of the double besides its seed (faults, task timings, the token's ACL).
   * @default clones 300 ms, tasks 100 ms, agent answering 500 ms after start, and the token
   *   holding exactly the role docs/proxmox.md documents, on `/`
   */
  readonly double?: Omit<ProxmoxDoubleOptions, "seed">;
  /**
   * File name of the written definition (VM descriptions name it).
   * @default `<definition name>.yaml`
   */
  readonly fileName?: string;
  /** Variables added to every command's environment (also settable later on `extraEnv`). */
  readonly env?: Record<string, string>;
  /**
   * Whether `stop()` fails when the provider sent anything real Proxmox would refuse
   * (`trafficViolations()`); off only for tests that provoke refusals on purpose.
   * @default true
   */
  readonly checkTraffic?: boolean;
}

export interface CommandResult {
  /** Exit status; null when killed (see `timedOut`). */
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** stdout then stderr, ANSI sequences removed: what to search for messages. */
  readonly output: string;
  readonly durationMs: number;
  readonly timedOut: boolean;
}

export interface CommandOptions {
  /** @default 300000 */
  readonly timeoutMs?: number;
  /** Variables for this command only, on top of everything else. */
  readonly env?: Record<string, string>;
  /** @default the repository root */
  readonly cwd?: string;
  /** Ends the command (its whole process group) when aborted, as a timeout does. */
  readonly signal?: AbortSignal;
  /**
   * Ctrl-C: once this holds (polled every 100 ms), SIGINT goes to the command's whole process
   * group, as a terminal sends it to its foreground job. @default never
   */
  readonly interruptWhen?: () => boolean;
}

/** One planned resource change of `tofu show -json`. */
export interface PlannedChange {
  readonly address: string;
  readonly type: string;
  /** `["no-op"]`, `["create"]`, `["update"]`, `["delete"]`, `["delete","create"]`... */
  readonly actions: readonly string[];
}

export interface PlanResult extends CommandResult {
  /** `tofu plan -detailed-exitcode`: 0 no changes, 2 changes, 1 error. */
  readonly exitCode: number | null;
  /** Every resource change of the saved plan, no-ops included (empty if the plan failed). */
  readonly changes: readonly PlannedChange[];
}

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*[A-Za-z]/g;

/** Runs a command without blocking the event loop; kills its process group on timeout. */
export function run(
  command: string,
  args: readonly string[],
  opts: {
    cwd: string;
    env: NodeJS.ProcessEnv;
    timeoutMs: number;
    signal?: AbortSignal;
    interruptWhen?: () => boolean;
  },
): Promise<CommandResult> {
  const started = Date.now();
  return new Promise((resolvePromise, reject) => {
    // detached: its own process group, so a timeout also ends tofu and the provider.
    const child = spawn(command, [...args], {
      cwd: opts.cwd,
      env: opts.env,
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const kill = () => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
      } catch {
        // already gone
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      kill();
    }, opts.timeoutMs);
    opts.signal?.addEventListener("abort", kill, { once: true });
    const { interruptWhen } = opts;
    const poll =
      interruptWhen &&
      setInterval(() => {
        if (!interruptWhen()) return;
        clearInterval(poll);
        try {
          if (child.pid !== undefined) process.kill(-child.pid, "SIGINT");
        } catch {
          // already gone
        }
      }, 100);
    const settle = () => {
      clearTimeout(timer);
      if (poll) clearInterval(poll);
    };
    child.on("error", (e) => {
      settle();
      reject(e);
    });
    child.on("close", (status) => {
      settle();
      resolvePromise({
        status,
        stdout,
        stderr,
        output: `${stdout}\n${stderr}`.replace(ANSI, ""),
        durationMs: Date.now() - started,
        timedOut,
      });
    });
  });
}

/** `text` with every run of whitespace made one space: tofu wraps long messages. */
export function oneLine(text: string): string {
  return text.replace(/\s+/g, " ");
}

/** Throws with the command's output unless it exited 0. */
export function expectSuccess(result: CommandResult, what: string): CommandResult {
  if (result.status !== 0) {
    throw new Error(
      `${what} exited ${result.status}${result.timedOut ? " (timed out)" : ""} after ${result.durationMs} ms:\n${result.output}`,
    );
  }
  return result;
}

/** A double, a working directory and the real cdktf CLI pointed at both. */
export class E2eEnvironment {
  /** Holds the definition, `cdktf.out`, the state, and the provider's temp files. */
  public readonly dir: string;
  /** `STATE_DIR` of the app: `<stack>.tfstate` files, the cluster record. */
  public readonly stateDir: string;
  /** `--output` of every cdktf command. */
  public readonly outDir: string;
  /** `CLUSTER_CONFIG` of the app. */
  public readonly definitionFile: string;
  /** Added to every command's environment; tests may add to it. */
  public readonly extraEnv: Record<string, string>;
  private written: Definition;

  constructor(
    public readonly double: ProxmoxDouble,
    definition: Definition,
    fileName: string,
    extraEnv: Record<string, string>,
    private readonly checkTraffic = true,
  ) {
    this.dir = mkdtempSync(join(tmpdir(), "e2e-"));
    this.stateDir = join(this.dir, "state");
    this.outDir = join(this.dir, "cdktf.out");
    this.definitionFile = join(this.dir, fileName);
    mkdirSync(join(this.dir, "tmp"));
    this.extraEnv = { ...extraEnv };
    this.written = definition;
    this.writeDefinition(definition);
  }

  /** A copy of the definition last written (endpoint pointing at the double). */
  get definition(): Definition {
    return structuredClone(this.written);
  }

  /**
   * Writes `definition` as the app's `CLUSTER_CONFIG`, with `proxmox.endpoint` set to the
   * double and `insecure: true` (its certificate is self-signed). The object is not changed.
   */
  writeDefinition(definition: Definition): string {
    const copy = structuredClone(definition);
    copy.proxmox = { ...copy.proxmox, endpoint: this.double.endpoint, insecure: true };
    writeFileSync(this.definitionFile, stringify(copy));
    this.written = copy;
    return this.definitionFile;
  }

  /** The environment of every command: toolchain, app settings, the double's token. */
  env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    const base: NodeJS.ProcessEnv = { ...process.env };
    // Nothing from the caller's shell may point the provider elsewhere.
    for (const key of Object.keys(base)) {
      if (key.startsWith("PROXMOX_VE_") || key.startsWith("TF_VAR_")) delete base[key];
    }
    delete base.CDKTF_OUTDIR;
    return {
      ...toolchainEnv(base),
      CHECKPOINT_DISABLE: "1",
      TF_IN_AUTOMATION: "1",
      TF_INPUT: "0", // a missing variable fails instead of waiting for input
      NO_COLOR: "1",
      FORCE_COLOR: "0",
      CI: base.CI ?? "true", // cdktf: no interactive UI
      CLUSTER_CONFIG: this.definitionFile,
      STATE_DIR: this.stateDir,
      PROXMOX_VE_API_TOKEN: this.double.token,
      // The provider keeps a VM ID sequence and lock files in TMPDIR: one per environment.
      TMPDIR: join(this.dir, "tmp"),
      ...this.extraEnv,
      ...extra,
    };
  }

  /**
   * `cdktf <args...> --output <outDir>` from the repository root (`cdktf.json` names the
   * app), with `--auto-approve` for deploy/destroy, `--no-color`, `--skip-provider-lock`
   * (offline), and `--ignore-missing-stack-dependencies` when destroying a single stack
   * (name several with all their dependants: `destroy addons cluster vms`); a destroy gets
   * `DESTROYABLE_NODES=all` as from `npm run destroy`. Never throws on a failed command.
   */
  cdktf(args: readonly string[], opts: CommandOptions = {}): Promise<CommandResult> {
    const [command] = args;
    const full = [...args, "--output", this.outDir];
    if (APPROVING.has(command) && !full.includes("--auto-approve")) full.push("--auto-approve");
    // `destroy vms` alone is refused while the cluster stack depends on it; tests destroy
    // stacks one at a time on purpose. Only for ONE stack: with several, cdktf 0.21's
    // destroy then ignores their order and starts a stack's destroy again and again while
    // it runs (`next()` returns the first stack not "done"), spawning tofu until no PTY is
    // left (cli-core/src/lib/cdktf-project.js, destroy()).
    const stacks = args.slice(1).filter((a) => !a.startsWith("-"));
    if (
      command === "destroy" &&
      stacks.length === 1 &&
      !full.includes("--ignore-missing-stack-dependencies")
    )
      full.push("--ignore-missing-stack-dependencies");
    if (COLOURED.has(command) && !full.includes("--no-color")) full.push("--no-color");
    if (LOCKING.has(command) && !full.includes("--skip-provider-lock"))
      full.push("--skip-provider-lock");
    return run(CDKTF_BIN, full, {
      cwd: opts.cwd ?? REPO_ROOT,
      // A teardown, as scripts/cdktf.sh's: node VMs are otherwise prevent_destroy.
      env: this.env(command === "destroy" ? { DESTROYABLE_NODES: "all", ...opts.env } : opts.env),
      timeoutMs: opts.timeoutMs ?? COMMAND_TIMEOUT_MS,
      signal: opts.signal,
    });
  }

  /**
   * `npm run <script> -- <args...>` as a user runs it, from `opts.cwd` (default the
   * repository root; npm passes that folder as `INIT_CWD`): deploy and destroy through
   * scripts/cdktf.sh with `--output <outDir>`, `--no-color` and `--auto-approve` added;
   * diff (scripts/review.ts) with `CDKTF_OUTDIR=<outDir>`. Never throws on a failed command.
   */
  npmRun(
    script: "deploy" | "destroy" | "diff" | "preflight",
    args: readonly string[] = [],
    opts: CommandOptions = {},
  ): Promise<CommandResult> {
    const full = [...args];
    if (script === "deploy" || script === "destroy") {
      full.push("--output", this.outDir, "--no-color");
      if (!full.includes("--auto-approve")) full.push("--auto-approve");
    }
    return run("npm", ["--prefix", REPO_ROOT, "run", "--silent", script, "--", ...full], {
      cwd: opts.cwd ?? REPO_ROOT,
      env: this.env({ CDKTF_OUTDIR: this.outDir, ...opts.env }),
      timeoutMs: opts.timeoutMs ?? COMMAND_TIMEOUT_MS,
      interruptWhen: opts.interruptWhen,
    });
  }

  /** `cdktf synth`; throws with the output when it fails. */
  async synth(): Promise<void> {
    expectSuccess(await this.cdktf(["synth"]), "cdktf synth");
  }

  /** Directory of a synthesized stack (`<outDir>/stacks/<stack>`). */
  stackDir(stack: string): string {
    return join(this.outDir, "stacks", stack);
  }

  /** The toolchain's tofu in a synthesized stack's directory. */
  tofu(stack: string, args: readonly string[], opts: CommandOptions = {}): Promise<CommandResult> {
    return run(toolPath("tofu"), [...args], {
      cwd: opts.cwd ?? this.stackDir(stack),
      env: this.env(opts.env),
      timeoutMs: opts.timeoutMs ?? COMMAND_TIMEOUT_MS,
    });
  }

  /**
   * Plans a stack against its state and the double: `cdktf synth` of the current definition
   * (unless `synth: false`), `tofu init`, `tofu plan -detailed-exitcode -out`, and the
   * saved plan's resource changes from `tofu show -json`.
   */
  async plan(stack: string, opts: { synth?: boolean } = {}): Promise<PlanResult> {
    if (opts.synth ?? true) await this.synth();
    expectSuccess(
      await this.tofu(stack, ["init", "-input=false", "-no-color"]),
      `tofu init (${stack})`,
    );
    const planFile = join(this.dir, `${stack}.tfplan`);
    rmSync(planFile, { force: true });
    const plan = await this.tofu(stack, [
      "plan",
      "-input=false",
      "-lock=false",
      "-no-color",
      "-detailed-exitcode",
      `-out=${planFile}`,
    ]);
    let changes: PlannedChange[] = [];
    if (plan.status !== 1 && existsSync(planFile)) {
      const show = expectSuccess(
        await this.tofu(stack, ["show", "-json", "-no-color", planFile]),
        "tofu show -json",
      );
      const json = JSON.parse(show.stdout) as {
        resource_changes?: { address: string; type: string; change: { actions: string[] } }[];
      };
      changes = (json.resource_changes ?? []).map((c) => ({
        address: c.address,
        type: c.type,
        actions: c.change.actions,
      }));
    }
    return { ...plan, exitCode: plan.status, changes };
  }

  /** `tofu plan -detailed-exitcode` of a stack: 0 no changes, 2 changes, 1 error. */
  async planExitCode(stack: string, opts: { synth?: boolean } = {}): Promise<number | null> {
    return (await this.plan(stack, opts)).exitCode;
  }

  /** A stack's outputs (`tofu output -json`), as values. */
  async outputs(stack: string): Promise<Record<string, unknown>> {
    const result = expectSuccess(
      await this.tofu(stack, ["output", "-json", "-no-color"]),
      `tofu output (${stack})`,
    );
    const json = JSON.parse(result.stdout) as Record<string, { value: unknown }>;
    return Object.fromEntries(Object.entries(json).map(([k, v]) => [k, v.value]));
  }

  /** The state file of a stack (`<stateDir>/<stack>.tfstate`), parsed; undefined if absent. */
  state(stack: string): { resources?: unknown[] } | undefined {
    const file = join(this.stateDir, `${stack}.tfstate`);
    return existsSync(file)
      ? (JSON.parse(readFileSync(file, "utf8")) as { resources?: unknown[] })
      : undefined;
  }

  /** The double's VMs that are not templates (the seed's other VMs included). */
  vms(): VmView[] {
    return this.double.vms().filter((v) => v.config.template !== "1");
  }

  /** The double's VMs whose name starts with `<cluster name>-`. */
  clusterVms(): VmView[] {
    const prefix = `${String(this.written.name)}-`;
    return this.vms().filter((v) => (v.config.name ?? "").startsWith(prefix));
  }

  /**
   * What makes each of the cluster's VMs the same VM, by name: its ID and host, its
   * vmgenid, the MAC of each NIC and the volume of each disk. A VM deleted and cloned
   * anew under the same name and ID has another vmgenid, other MACs and new volumes.
   */
  vmIdentities(): Record<string, VmIdentity> {
    const dataOf = (node: string, volid: string) =>
      this.double.cluster.store.get(node, volid)?.dataId;
    return Object.fromEntries(
      this.clusterVms().map((v) => [v.config.name, vmIdentity(v, dataOf)] as const),
    );
  }

  /** `DELETE /nodes/{node}/qemu/{vmid}` requests since the `from`-th, as `node/vmid`. */
  deletedVms(from = 0): string[] {
    return this.double
      .requests()
      .slice(from)
      .filter((r) => r.method === "DELETE" && r.template === "/nodes/{node}/qemu/{vmid}")
      .map((r) => r.path.replace(/^\/nodes\/([^/]+)\/qemu\/(\d+)$/, "$1/$2"));
  }

  /**
   * Every request the provider sent that real Proxmox VE would refuse before a handler
   * runs, as `METHOD path: problem` lines: parameters checked again against Proxmox's API
   * description, plus what the double refused with 400 (parameters), 403 (a privilege the
   * documented role lacks) or 501 (an endpoint it does not know).
   */
  trafficViolations(): string[] {
    apiSchema ??= ApiSchema.load(
      existsSync(SHARED_API_SCHEMA) ? SHARED_API_SCHEMA : API_SCHEMA_FILE,
    );
    const out: string[] = [];
    for (const r of this.double.requests()) {
      const what = `${r.method} ${r.path}`;
      if (r.status === 400 || r.status === 403 || r.status === 501) {
        out.push(`${what}: answered ${r.status}`);
      }
      const endpoint = apiSchema.endpoint(r.method, r.rawPath ?? r.path);
      if (!endpoint) {
        out.push(`${what}: no such endpoint in the API description`);
        continue;
      }
      const errors = ApiSchema.verify(endpoint.schema, { ...r.params, ...endpoint.pathParams });
      for (const [param, message] of Object.entries(errors)) {
        out.push(`${what}: ${param}: ${message.replace(/\n/g, " ")}`);
      }
    }
    return out;
  }

  /**
   * The documented role's privileges that the requests so far needed: those without which
   * Proxmox would have refused at least one of them (403).
   */
  privilegesNeeded(): Set<string> {
    apiSchema ??= ApiSchema.load(
      existsSync(SHARED_API_SCHEMA) ? SHARED_API_SCHEMA : API_SCHEMA_FILE,
    );
    const role = documentedRole().privileges;
    const without = role.map((p) => [p, new Privileges(documentedAcl([p]))] as const);
    const needed = new Set<string>();
    for (const r of this.double.requests()) {
      if (r.status === 403) continue;
      const endpoint = apiSchema.endpoint(r.method, r.rawPath ?? r.path);
      if (!endpoint) continue;
      const all = { ...r.params, ...endpoint.pathParams };
      for (const [priv, privileges] of without) {
        if (needed.has(priv)) continue;
        const refused =
          privileges.checkSchema(endpoint.schema.permissions, all) ??
          privileges.checkHandler(r.method, endpoint.template, all);
        if (refused) needed.add(priv);
      }
    }
    return needed;
  }

  /**
   * Stops the double and removes the directory (kept when `KEEP_E2E_DIR` is set); then,
   * unless `checkTraffic` is off, fails if any request was one real Proxmox refuses, so
   * every suite using the harness checks the provider's whole traffic.
   */
  async stop(): Promise<void> {
    const violations = this.checkTraffic ? this.trafficViolations() : [];
    await this.double.stop();
    if (!process.env.KEEP_E2E_DIR) rmSync(this.dir, { recursive: true, force: true });
    if (violations.length > 0) {
      throw new Error(
        `the provider sent ${violations.length} request(s) Proxmox VE would refuse:\n${violations.join("\n")}`,
      );
    }
  }
}

/** The homelab seed with template 9000 on pve01's local-lvm instead of shared NFS. */
export function homelabLocalTemplateSeed(): SeedInput {
  const seed = parse(readFileSync(SEEDS.homelab, "utf8")) as SeedInput;
  const template = seed.vms?.find((v) => v.vmid === 9000);
  if (!template?.config) throw new Error("homelab seed: no template 9000");
  template.config.scsi0 = "local-lvm:base-9000-disk-0,iothread=1,size=3G";
  template.config.ide2 = "local-lvm:vm-9000-cloudinit,media=cdrom";
  return seed;
}

/** What makes a VM the same VM (see `E2eEnvironment.vmIdentities`). */
export interface VmIdentity {
  readonly vm: string;
  readonly vmgenid: string | undefined;
  /** `net0: BC:24:11:...`, per NIC. */
  readonly macs: Record<string, string>;
  /**
   * Per disk (`scsi0`, `efidisk0`...), what its volume holds (the double's `dataId`): kept
   * when Proxmox moves or migrates the disk, new for a blank, cloned or imported one. The
   * cloud-init drive, which Proxmox writes anew from the config, is left out.
   */
  readonly disks: Record<string, string | undefined>;
}

const NIC = /^net\d+$/;
const DISK = /^(scsi|virtio|sata|ide|efidisk|tpmstate)\d+$/;

/** `vm`'s identity; `dataOf` answers what a volume (`storage:name` on a node) holds. */
export function vmIdentity(
  vm: VmView,
  dataOf: (node: string, volid: string) => string | undefined,
): VmIdentity {
  const entries = Object.entries(vm.config);
  return {
    vm: `${vm.node}/${vm.vmid}`,
    vmgenid: vm.config.vmgenid,
    macs: Object.fromEntries(
      entries
        .filter(([k]) => NIC.test(k))
        .map(([k, v]) => [k, /(?:^|,)[a-z0-9]+=([0-9A-Fa-f:]{17})(?:,|$)/.exec(v)?.[1] ?? v]),
    ),
    disks: Object.fromEntries(
      entries
        .filter(([k, v]) => DISK.test(k) && !/cloudinit|media=cdrom/.test(v))
        .map(([k, v]) => [k, dataOf(vm.node, v.split(",")[0])]),
    ),
  };
}

/** Starts a double for `seed` and an environment for `definition` against it. */
export async function startEnvironment(opts: EnvironmentOptions): Promise<E2eEnvironment> {
  const seed =
    typeof opts.seed === "string" && opts.seed in SEEDS
      ? SEEDS[opts.seed as keyof typeof SEEDS]
      : opts.seed;
  const double = await ProxmoxDouble.start({
    cloneDurationMs: 300,
    taskDurationMs: 100,
    agentDelayMs: 500,
    acl: documentedAcl(),
    ...opts.double,
    seed,
  });
  return new E2eEnvironment(
    double,
    opts.definition,
    opts.fileName ?? `${String(opts.definition.name)}.yaml`,
    opts.env ?? {},
    opts.checkTraffic ?? true,
  );
}

/**
 * `describe` for end-to-end suites: needs the toolchain (tofu, the provider mirror) and the
 * compiled runner (`npm run build:runner`); under CI a missing piece fails with what to run,
 * locally the suite is skipped.
 */
export function describeE2e(name: string, fn: () => void): void {
  const withTofu = describeWithToolchain(["tofu"]);
  if (withTofu === describe && !existsSync(RUNNER_CLI)) {
    if (process.env.CI) throw new Error(`${RUNNER_CLI} is missing; run: npm run build:runner`);
    describe.skip(`${name} (no ${RUNNER_CLI}; run npm run build:runner)`, fn);
    return;
  }
  withTofu(name, fn);
}
