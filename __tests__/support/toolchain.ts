/**
 * The offline toolchain built by scripts/toolchain.sh (`.toolchain/bin/tofu`, `helm`, the
 * provider mirror and `tofurc`), for tests that run the real tools. Without it, such tests
 * fail under CI (`CI` set) with a message saying how to build it, and are skipped locally.
 */
import { existsSync } from "node:fs";
import { delimiter, join, resolve } from "node:path";

export const REPO_ROOT = resolve(__dirname, "..", "..");
export const TOOLCHAIN_DIR = join(REPO_ROOT, ".toolchain");
export const TOOLCHAIN_BIN = join(TOOLCHAIN_DIR, "bin");

/** The environment scripts/toolchain-env.sh exports, on top of `base`. */
export function toolchainEnv(base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return {
    ...base,
    TOOLCHAIN_ROOT: TOOLCHAIN_DIR,
    TF_CLI_CONFIG_FILE: join(TOOLCHAIN_DIR, "tofurc"),
    TERRAFORM_BINARY_NAME: "tofu",
    CDKTF_DISABLE_PLUGIN_CACHE_ENV: "1",
    CHECKPOINT_DISABLE: "1",
    PATH: `${TOOLCHAIN_BIN}${delimiter}${base.PATH ?? ""}`,
  };
}

/** Absolute path of a toolchain binary (`tofu`, `helm`). */
export function toolPath(tool: string): string {
  return join(TOOLCHAIN_BIN, tool);
}

/** The tools of the list that are not built. */
export function missingTools(tools: readonly string[] = ["tofu"]): string[] {
  const missing = tools.filter((t) => !existsSync(toolPath(t)));
  if (tools.includes("tofu") && !existsSync(join(TOOLCHAIN_DIR, "tofurc"))) missing.push("tofurc");
  return missing;
}

export function hasToolchain(tools: readonly string[] = ["tofu"]): boolean {
  return missingTools(tools).length === 0;
}

/**
 * `describe` when the tools are built; otherwise `describe.skip` locally, and under CI an
 * error that fails the test file with what to run.
 */
export function describeWithToolchain(tools: readonly string[] = ["tofu"]): jest.Describe {
  const missing = missingTools(tools);
  if (missing.length === 0) return describe;
  if (process.env.CI) {
    throw new Error(
      `the offline toolchain lacks ${missing.join(", ")} in ${TOOLCHAIN_DIR}; run: bash scripts/toolchain.sh`,
    );
  }
  return describe.skip;
}
