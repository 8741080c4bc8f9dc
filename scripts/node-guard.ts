/**
 * Before `npm run deploy` changes the vms stack: plans it as synthesized in CDKTF_OUTDIR
 * (scripts/adopt.ts synthesizes it just before) and refuses, with exit code 2 and a
 * `what: problem; fix` line per node, a plan that would delete a node's VM and clone it
 * anew, or swap its disk for a blank one, while the node stays in the definition
 * (lib/node-guard.ts). A replacement is let through only for a node that is not part of
 * the cluster Kubespray built and that a failed deploy left unfinished or
 * `DESTROYABLE_NODES` names; those nodes are printed on stdout, comma-separated, for
 * scripts/cdktf.sh to hand to the deploy as `DESTROYABLE_NODES`. Messages go to stderr.
 *
 * Environment as for scripts/adopt.ts (CLUSTER_CONFIG, STATE_DIR, CDKTF_OUTDIR, the token).
 */
import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";

import { loadClusterConfig } from "../config/load";
import { runMain } from "../errors/user-error";
import { definitionFile, stateDirFromEnvironment } from "../lib/environment";
import { readLastRun, recordStoreOf } from "../lib/kubespray/record-store";
import type { DestroyableNodes, PlanWithChanges } from "../lib/node-guard";
import { describeLoss, destroyableNodes, judge, nodeVmLosses, refusal } from "../lib/node-guard";

import {
  capture,
  commandFailed,
  initStack,
  outdirFromEnvironment,
  toolchainEnv,
} from "./processes";

/** What the guard judges by: the nodes `DESTROYABLE_NODES` names, and the cluster's nodes. */
export interface GuardContext {
  readonly destroyable: DestroyableNodes;
  readonly inCluster: ReadonlySet<string>;
}

/** The definition's cluster as Kubespray's record holds it, and `DESTROYABLE_NODES`. */
export async function guardContext(env: NodeJS.ProcessEnv): Promise<GuardContext> {
  const { config } = loadClusterConfig(definitionFile(env));
  const record = await readLastRun(recordStoreOf(config), stateDirFromEnvironment(config, env));
  return {
    destroyable: destroyableNodes(env),
    inCluster: new Set((record?.hosts ?? []).map((h) => h.name)),
  };
}

/**
 * `tofu plan` of a synthesized stack into `planFile`, and the plan as `tofu show -json`
 * gives it. A plan that fails leaves its errored plan there too (OpenTofu writes one): a
 * plan refused by a node VM's `prevent_destroy` still says what it would replace, and why.
 * Undefined with the output when not even an errored plan was written.
 */
export async function planJson(
  dir: string,
  planFile: string,
  env: NodeJS.ProcessEnv,
  extraArgs: readonly string[] = [],
): Promise<{ status: number; output: string; plan?: PlanWithChanges }> {
  rmSync(join(dir, planFile), { force: true });
  const plan = await capture(
    "tofu",
    ["plan", "-input=false", "-no-color", "-detailed-exitcode", `-out=${planFile}`, ...extraArgs],
    dir,
    env,
  );
  const output = plan.stderr || plan.stdout;
  if (!existsSync(join(dir, planFile))) return { status: plan.status, output };
  const shown = await capture("tofu", ["show", "-json", "-no-color", planFile], dir, env);
  if (shown.status !== 0) return { status: 1, output: shown.stderr };
  return { status: plan.status, output, plan: JSON.parse(shown.stdout) as PlanWithChanges };
}

async function main(): Promise<number> {
  const env = toolchainEnv(process.env);
  const outdir = outdirFromEnvironment(env);
  const stack = join(outdir, "stacks", "vms");
  const init = await initStack(stack, env);
  if (init.status !== 0) throw commandFailed(stack, "tofu init", `${init.stdout}${init.stderr}`);
  const planned = await planJson(stack, "guard.tfplan", env);
  if (!planned.plan) throw commandFailed(stack, "tofu plan", planned.output);
  const losses = nodeVmLosses(planned.plan);
  if (losses.length === 0) return 0;
  const { destroyable, inCluster } = await guardContext(env);
  const { allowed, refused } = judge(losses, destroyable, inCluster);
  if (refused.length > 0) throw refusal(refused, inCluster);
  for (const l of allowed)
    process.stderr.write(
      `${l.node} (VM ${l.vm}): ${describeLoss(l)}; it is not part of the cluster, so the deploy makes it anew\n`,
    );
  process.stdout.write(`${allowed.map((l) => l.node).join(",")}\n`);
  return 0;
}

if (require.main === module) void runMain(main);
