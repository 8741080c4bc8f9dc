/**
 * A deploy rig around one e2e environment: the Proxmox VE double, a fresh copy of the
 * stand-in Kubespray run by the REAL ansible-playbook (Kubespray v2.31.0's pins, from
 * .toolchain/ansible-venv), the runner's test hooks (SSH checks to a loopback listener,
 * the stand-in's node preparation), and the stand-in's log of playbook calls.
 */
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import type { AddressInfo, Server } from "node:net";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { statePaths } from "../../../lib/kubespray/record";
import type { Definition } from "../../fixtures/definitions";
import { ANSIBLE_VENV, STANDIN } from "../../support/ansible";
import { REPO_ROOT } from "../../support/toolchain";

import type { CommandResult, E2eEnvironment, EnvironmentOptions } from "./harness";
import { expectSuccess, run, startEnvironment } from "./harness";

/** One line of the stand-in's log (see fixtures/kubespray-standin/record.yml). */
export interface Call {
  playbook: string;
  limit: string;
  extra_vars: Record<string, string>;
  kube_version: string;
  kube_control_plane: string[];
  kube_node: string[];
  inventory: string[];
  at: string;
  /** Names of the double's VMs when the playbook ran. */
  pve_vms: string[] | null;
}

/** `npm run diff`: the review of every stack. */
export const REVIEW = join(REPO_ROOT, "scripts", "review.ts");
/** `npm run status`. */
const STATUS = join(REPO_ROOT, "scripts", "status.ts");

/** `playbook [--limit=...] [-e node=...]`: what the assertions compare. */
export const brief = (calls: readonly Call[]): string[] =>
  calls.map((c) =>
    [
      c.playbook,
      ...(c.limit ? [`--limit=${c.limit}`] : []),
      ...(c.extra_vars.node ? [`-e node=${c.extra_vars.node}`] : []),
    ].join(" "),
  );

/**
 * The whole app, as docs/operations.md tears it down. (Not `destroy cluster vms
 * --ignore-missing-stack-dependencies`: cdktf 0.21 then starts the destroy of a stack again
 * and again while it is still running.)
 */
export const TEARDOWN = ["destroy", "addons", "cluster", "vms"];

/** Everything a stand-in run needs, around one e2e environment. */
export class ClusterRig {
  private constructor(
    readonly env: E2eEnvironment,
    readonly log: string,
    private readonly listener: Server,
    private readonly kubesprayDir: string,
  ) {}

  /**
   * A double and an environment for `definition`, with `kubespray.dir` at a fresh copy of
   * the stand-in, `kubespray.venv` at the test venv, and the runner's test hooks set;
   * `double` overrides the double's quick clones and tasks.
   */
  static async start(
    definition: Definition,
    seed: EnvironmentOptions["seed"],
    extraEnv: Record<string, string> = {},
    double: EnvironmentOptions["double"] = {},
  ): Promise<ClusterRig> {
    const kubesprayDir = mkdtempSync(join(tmpdir(), "kubespray-standin-"));
    cpSync(STANDIN, kubesprayDir, { recursive: true });
    const listener = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", resolve));
    const port = (listener.address() as AddressInfo).port;
    const log = join(kubesprayDir, "calls.jsonl");
    const env = await startEnvironment({
      definition: ClusterRig.withStandin(definition, kubesprayDir),
      seed,
      double: { cloneDurationMs: 50, taskDurationMs: 20, agentDelayMs: 200, ...double },
      env: {
        KSPRAY_STANDIN_LOG: log,
        KSPRAY_SSH_HOST: "127.0.0.1",
        KSPRAY_SSH_PORT: String(port),
        KSPRAY_SSH_TIMEOUT_SECONDS: "10",
        KSPRAY_NODE_PREP_PLAYBOOK: join(kubesprayDir, "node-prep.yml"),
        // A missing variable fails the command instead of waiting for an answer.
        TF_INPUT: "0",
        ...extraEnv,
      },
    });
    env.extraEnv.KSPRAY_STANDIN_PVE_STATE = `${env.double.endpoint}_double/state`;
    return new ClusterRig(env, log, listener, kubesprayDir);
  }

  private static withStandin(definition: Definition, kubesprayDir: string): Definition {
    return { ...definition, kubespray: { dir: kubesprayDir, venv: ANSIBLE_VENV, mode: "run" } };
  }

  /** Writes a changed definition (the stand-in settings kept). */
  define(change: (d: Definition) => void): void {
    const next = this.env.definition;
    change(next);
    this.env.writeDefinition(ClusterRig.withStandin(next, this.kubesprayDir));
  }

  calls(): Call[] {
    return existsSync(this.log)
      ? readFileSync(this.log, "utf8")
          .split("\n")
          .filter((l) => l.trim() !== "")
          .map((l) => JSON.parse(l) as Call)
      : [];
  }

  /** Runs `fn` and returns the playbook calls it made. */
  async callsOf<T>(fn: () => Promise<T>): Promise<{ result: T; calls: Call[] }> {
    const before = this.calls().length;
    const result = await fn();
    return { result, calls: this.calls().slice(before) };
  }

  /** `npm run diff -- <stacks>` (scripts/review.ts) in this environment. */
  review(...stacks: string[]): Promise<CommandResult> {
    return run(process.execPath, ["--import", "tsx", REVIEW, ...stacks], {
      cwd: REPO_ROOT,
      env: this.env.env({ CDKTF_OUTDIR: this.env.outDir }),
      timeoutMs: 300_000,
    });
  }

  /** `npm run status -- <args>` (scripts/status.ts) in this environment. */
  status(...args: string[]): Promise<CommandResult> {
    return run(process.execPath, ["--import", "tsx", STATUS, ...args], {
      cwd: REPO_ROOT,
      env: this.env.env({ CDKTF_OUTDIR: this.env.outDir }),
      timeoutMs: 300_000,
    });
  }

  /** `cdktf deploy <stacks>` that must succeed, and the playbooks it ran. */
  async deploy(...stacks: string[]): Promise<Call[]> {
    const { calls } = await this.callsOf(async () =>
      expectSuccess(
        await this.env.cdktf(["deploy", ...stacks]),
        `cdktf deploy ${stacks.join(" ")}`,
      ),
    );
    return calls;
  }

  /**
   * The full teardown. The addons stack was never deployed, but its destroy still wants
   * its secrets (TF_VAR_*), so each gets a placeholder.
   */
  teardown(): Promise<CommandResult> {
    const stack = JSON.parse(
      readFileSync(join(this.env.stackDir("addons"), "cdk.tf.json"), "utf8"),
    ) as { variable?: Record<string, unknown> };
    const secrets = Object.fromEntries(
      Object.keys(stack.variable ?? {}).map((name) => [`TF_VAR_${name}`, "unused"]),
    );
    return this.env.cdktf(TEARDOWN, { env: secrets });
  }

  get paths() {
    return statePaths(this.env.stateDir);
  }

  async stop(): Promise<void> {
    await this.env.stop();
    await new Promise<void>((resolve) => this.listener.close(() => resolve()));
    if (!process.env.KEEP_E2E_DIR) rmSync(this.kubesprayDir, { recursive: true, force: true });
  }
}
