/**
 * What the TypeScript entry points share for running the toolchain: the environment of
 * `scripts/toolchain-env.sh` without a shell, and a child process whose output is kept.
 */
import { spawn } from "node:child_process";
import { delimiter, join, resolve } from "node:path";

import { PROJECT_ROOT, projectPath } from "../config/project-root";
import { UserError } from "../errors/user-error";

/** The offline toolchain (`npm run toolchain`). */
export const TOOLCHAIN = projectPath(".toolchain");

/** Where the app is synthesized: `CDKTF_OUTDIR`, else `cdktf.out` in the project. */
export function outdirFromEnvironment(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env.CDKTF_OUTDIR ?? projectPath("cdktf.out"));
}

/** `base` with the offline toolchain first: tofu, the provider mirror, no prompts. */
export function toolchainEnv(base: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return {
    ...base,
    TF_CLI_CONFIG_FILE: join(TOOLCHAIN, "tofurc"),
    TERRAFORM_BINARY_NAME: "tofu",
    CDKTF_DISABLE_PLUGIN_CACHE_ENV: "1",
    TF_IN_AUTOMATION: "1",
    TF_INPUT: "0",
    CHECKPOINT_DISABLE: "1",
    PATH: `${join(TOOLCHAIN, "bin")}${delimiter}${base.PATH ?? ""}`,
  };
}

export interface Captured {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command to its end without blocking the event loop; never rejects. */
export function capture(
  cmd: string,
  args: readonly string[],
  cwd: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Captured> {
  return new Promise((done) => {
    const child = spawn(cmd, [...args], { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", (e) => done({ status: 127, stdout, stderr: `${stderr}${e.message}\n` }));
    child.on("close", (code) => done({ status: code ?? 1, stdout, stderr }));
  });
}

/**
 * A command of the toolchain that failed (`tofu init`, the synth...), as the error a user
 * fixes: the folder it ran in, and what it said.
 */
export function commandFailed(dir: string, what: string, output: string): UserError {
  return UserError.at(
    dir,
    `${what} failed`,
    `fix what it says, then run again:\n${output.trimEnd()}`,
  );
}

/** PostgreSQL's unique_violation, as OpenTofu's pg backend reports it. */
const UNIQUE_VIOLATION = "(23505)";
const INIT_ATTEMPTS = 3;

/**
 * `tofu init` of a synthesized stack folder. A first init against a database creates what
 * OpenTofu's pg backend needs with `CREATE ... IF NOT EXISTS`, among it one sequence that
 * every schema shares (`public.global_states_id_seq`): two inits at once (this clone's
 * stacks in parallel, or another operator's first deploy) can both try, and PostgreSQL
 * refuses the later one with a unique violation once the first commits. What it wanted
 * exists then, so the init is run again.
 */
export async function initStack(
  dir: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Captured> {
  for (let attempt = 1; ; attempt++) {
    const init = await capture(
      "tofu",
      ["init", "-reconfigure", "-input=false", "-no-color"],
      dir,
      env,
    );
    const raced = init.status !== 0 && `${init.stderr}${init.stdout}`.includes(UNIQUE_VIOLATION);
    if (!raced || attempt === INIT_ATTEMPTS) return init;
  }
}

/**
 * The cdktf app (`main.ts`) synthesized into `outdir`, from the project root as cdktf runs
 * it (cdktf.json's app: scripts/launch.js, compiled when the build is fresh).
 */
export function synthesize(
  outdir: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Captured> {
  return capture(process.execPath, [projectPath("scripts", "launch.js"), "main.ts"], PROJECT_ROOT, {
    ...env,
    CDKTF_OUTDIR: outdir,
    CHECKPOINT_DISABLE: "1",
  });
}
