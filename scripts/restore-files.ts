/**
 * Writes back the files a shared state holds and this clone lacks or has in an older
 * version (lib/state-files.ts):
 * the inventory, the group_vars and runner.json of the cluster stack, with their
 * permissions, read from the decrypted state (`tofu show -json`), and the admin kubeconfig
 * the Kubespray record carries (lib/kubespray/record-store.ts). `npm run deploy`,
 * `npm run destroy` and `cdktf.sh diff` run it before cdktf (scripts/cdktf.sh), `npm run
 * diff` before each plan (scripts/review.ts). On its own: `npx tsx scripts/restore-files.ts`
 * with the environment of a deploy and the offline toolchain's (`source
 * scripts/toolchain-env.sh`).
 *
 * First, whatever the backend, the state directory is made its owner's alone
 * (`protectStateDir`: 0700, the local state files 0600).
 *
 * Only stacks whose backend is not `local`: a local state's files live beside it, and the
 * local backend behaves exactly as before. Every stack is restored whichever are deployed:
 * the vms stack's node removals read the cluster stack's runner.json.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";

import { loadClusterConfig } from "../config/load";
import type { ClusterConfig } from "../config/schema";
import { runMain } from "../errors/user-error";
import { definitionFile, stateDirFromEnvironment } from "../lib/environment";
import { recordStoreOf, restoreKubeconfig } from "../lib/kubespray/record-store";
import { checkStateEnvironment, protectStateDir } from "../lib/state-backend";
import { filesInState, restoreFiles } from "../lib/state-files";
import type { ShowState } from "../lib/state-files";

import { capture, commandFailed, initStack, outdirFromEnvironment, synthesize } from "./processes";

/** Whether a synthesized stack keeps its state elsewhere than in a local file. */
export function sharedState(stackDir: string): boolean {
  const json = JSON.parse(readFileSync(join(stackDir, "cdk.tf.json"), "utf8")) as {
    terraform?: { backend?: Record<string, unknown> };
  };
  const backends = Object.keys(json.terraform?.backend ?? {});
  return backends.length > 0 && !backends.includes("local");
}

/**
 * Restores the missing or stale files of one initialized stack from its state; returns the paths
 * written, or throws with tofu's output. A stack without a state has nothing to restore.
 */
export async function restoreStack(stackDir: string, env: NodeJS.ProcessEnv): Promise<string[]> {
  if (!sharedState(stackDir)) return [];
  const shown = await capture("tofu", ["show", "-json", "-no-color"], stackDir, env);
  if (shown.status !== 0) throw commandFailed(stackDir, "tofu show", shown.stderr || shown.stdout);
  return restoreFiles(filesInState(JSON.parse(shown.stdout) as ShowState), stackDir);
}

/** The definition, silently: the synth says which one it uses. */
function definition(env: NodeJS.ProcessEnv): ClusterConfig {
  return loadClusterConfig(definitionFile(env)).config;
}

/**
 * The admin kubeconfig of the last Kubespray run, from the database (sealed with the state
 * passphrase) to `<state>/kubeconfig` when this clone lacks it; returns the path written.
 */
export async function restoreKubeconfigFromEnvironment(
  env: NodeJS.ProcessEnv,
  config: ClusterConfig = definition(env),
): Promise<string | undefined> {
  const store = recordStoreOf(config);
  return store && restoreKubeconfig(store, stateDirFromEnvironment(config, env), env);
}

async function main(): Promise<number> {
  const config = definition(process.env);
  checkStateEnvironment(config);
  protectStateDir(stateDirFromEnvironment(config));
  if (config.state.backend === "local") return 0;
  const outdir = outdirFromEnvironment();
  const synth = await synthesize(outdir);
  if (synth.status !== 0) {
    process.stderr.write(synth.stderr || synth.stdout);
    return synth.status;
  }
  const manifest = JSON.parse(readFileSync(join(outdir, "manifest.json"), "utf8")) as {
    stacks: Record<string, { workingDirectory: string }>;
  };
  const restored = await Promise.all(
    Object.values(manifest.stacks).map(async ({ workingDirectory }) => {
      const dir = join(outdir, workingDirectory);
      const init = await initStack(dir);
      if (init.status !== 0) throw commandFailed(dir, "tofu init", init.stderr);
      return restoreStack(dir, process.env);
    }),
  );
  const kubeconfig = await restoreKubeconfigFromEnvironment(process.env, config);
  for (const path of [...restored.flat(), ...(kubeconfig ? [kubeconfig] : [])])
    process.stdout.write(`restore-files: wrote ${path} from the state\n`);
  return 0;
}

if (require.main === module) void runMain(main);
