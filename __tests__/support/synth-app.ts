/**
 * Synthesizes the whole cdktf app (main.ts) for one cluster definition into a directory, the
 * way `cdktf synth` does, and runs `tofu init -backend=false` + `tofu validate` on a stack.
 * Reusable for every stack: `tofuValidate(join(out, "stacks", "vms"))`.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";

import { REPO_ROOT, toolchainEnv, toolPath } from "./toolchain";

export interface SynthResult {
  /** The cdktf output directory (holds `stacks/<name>/cdk.tf.json`). */
  readonly outDir: string;
  readonly stderr: string;
}

/**
 * Runs main.ts with `CLUSTER_CONFIG=definitionFile` into `outDir` (created if needed).
 * `env` adds variables (e.g. `TF_VAR_*`); the state directory defaults to `<outDir>/state`.
 * Throws with the app's output when it fails.
 */
export function synthApp(
  definitionFile: string,
  outDir: string,
  env: NodeJS.ProcessEnv = {},
): SynthResult {
  mkdirSync(outDir, { recursive: true });
  const result = spawnSync(process.execPath, ["--import", "tsx", join(REPO_ROOT, "main.ts")], {
    cwd: REPO_ROOT,
    encoding: "utf8",
    env: {
      ...process.env,
      CHECKPOINT_DISABLE: "1",
      CLUSTER_CONFIG: definitionFile,
      STATE_DIR: join(outDir, "state"),
      CDKTF_OUTDIR: outDir,
      ...env,
    },
    timeout: 180_000,
  });
  if (result.status !== 0) {
    throw new Error(
      `synthesizing ${definitionFile} failed (exit ${result.status}):\n${result.stderr}${result.stdout}`,
    );
  }
  return { outDir, stderr: result.stderr };
}

/** Directory of one synthesized stack. */
export function stackDir(outDir: string, stack: string): string {
  const dir = join(outDir, "stacks", stack);
  if (!existsSync(join(dir, "cdk.tf.json"))) throw new Error(`no stack ${stack} in ${outDir}`);
  return dir;
}

export interface ToolRun {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the toolchain's tofu in a stack directory, offline (provider mirror only). */
export function tofu(dir: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): ToolRun {
  const result = spawnSync(toolPath("tofu"), [...args], {
    cwd: dir,
    encoding: "utf8",
    env: { ...toolchainEnv(), TF_IN_AUTOMATION: "1", ...env },
    timeout: 300_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/**
 * `tofu init -backend=false` and `tofu validate -json` in a stack directory. Returns the
 * validate report; throws with tofu's output if init fails.
 */
export function tofuValidate(dir: string): {
  valid: boolean;
  diagnostics: { severity: string; summary: string; detail?: string }[];
  raw: string;
} {
  const init = tofu(dir, ["init", "-backend=false", "-input=false", "-no-color"]);
  if (init.status !== 0)
    throw new Error(`tofu init failed in ${dir}:\n${init.stderr}${init.stdout}`);
  const validate = tofu(dir, ["validate", "-json", "-no-color"]);
  const report = JSON.parse(validate.stdout) as {
    valid: boolean;
    diagnostics: { severity: string; summary: string; detail?: string }[];
  };
  return { ...report, raw: validate.stdout };
}
