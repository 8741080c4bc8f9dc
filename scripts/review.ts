/**
 * `npm run diff [-- STACK...]`: the review of a change to the whole cluster, before a deploy.
 *
 * Synthesizes the app once, then plans every stack (or the ones named) with OpenTofu, side
 * by side, and says for each what would change, and which Kubespray playbooks the cluster
 * stack would run. A stack that reads values an earlier stack has yet to produce is shown
 * as such instead of failing. A change that would take a node's VM away is named, with
 * what causes it (lib/node-guard.ts). Exit code as `tofu plan -detailed-exitcode`: 0
 * nothing to change, 2 changes, 1 an error or a change `npm run deploy` refuses; a mistake
 * found before anything is planned (a stack that does not exist, a mistake in the
 * definition or a file it names, PG_CONN_STR or TF_VAR_state_passphrase unset where the
 * state needs them; with the vms stack, a Proxmox token that is unset or refused, checked
 * as preflight checks it) is one line each on stderr and exit code 2, as in every command.
 *
 * Environment: CLUSTER_CONFIG, STATE_DIR and the secrets as for `npm run deploy`;
 * CDKTF_OUTDIR (default `cdktf.out`). The offline toolchain must be built (`npm run
 * toolchain`).
 */
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";

import { loadClusterConfig } from "../config/load";
import type { ClusterConfig } from "../config/schema";
import { EXIT_USER_ERROR, runMain, UserError } from "../errors/user-error";
import { definitionFile } from "../lib/environment";
import type { Verdict } from "../lib/node-guard";
import { describeLoss, judge, nodeVmLosses } from "../lib/node-guard";
import { checkStackNames } from "../lib/stacks";
import { checkStateEnvironment } from "../lib/state-backend";
import { proxmoxApiOf } from "../preflight/proxmox-api";
import { checkToken } from "../preflight/proxmox-checks";

import { guardContext, planJson } from "./node-guard";
import { initStack, synthesize, toolchainEnv } from "./processes";
import { restoreKubeconfigFromEnvironment, restoreStack } from "./restore-files";

const ROOT = resolve(__dirname, "..");
const TOOLCHAIN = join(ROOT, ".toolchain");

/** Exit codes, as `tofu plan -detailed-exitcode`. */
export const NO_CHANGES = 0;
export const ERROR = 1;
export const CHANGES = 2;

interface Manifest {
  readonly stacks: Record<
    string,
    { readonly workingDirectory: string; readonly dependencies: string[] }
  >;
}

/** One resource change of a plan (`tofu show -json`'s resource_changes). */
interface ResourceChange {
  readonly address: string;
  readonly change: {
    readonly actions: readonly string[];
    readonly after?: Record<string, unknown> | null;
    readonly before?: Record<string, unknown> | null;
  };
}

interface PlanJson {
  readonly resource_changes?: readonly ResourceChange[];
}

export interface StackReview {
  readonly stack: string;
  readonly outcome: "no-changes" | "changes" | "refused" | "after-dependencies" | "error";
  /** Human lines, indented under the stack's line. */
  readonly lines: string[];
  /** Environment variables an error asks for: such an error is never settled. */
  readonly missingEnvironment?: string[];
}

const SYMBOL: Record<string, string> = {
  create: "+",
  delete: "-",
  update: "~",
  "delete,create": "-/+",
  "create,delete": "+/-",
};

/**
 * The changes of a plan, a line each; under a node VM that the change takes away, what
 * does it and whether the deploy refuses it (`verdict`); the Kubespray action when the
 * runner would run.
 */
export function describePlan(plan: PlanJson, verdict?: Verdict): string[] {
  const changes = (plan.resource_changes ?? []).filter(
    (c) => !c.change.actions.every((a) => a === "no-op" || a === "read"),
  );
  const judged = new Map([
    ...(verdict?.refused ?? []).map((l) => [l.address, `refused: ${describeLoss(l)}`] as const),
    ...(verdict?.allowed ?? []).map(
      (l) => [l.address, `made anew, not part of the cluster: ${describeLoss(l)}`] as const,
    ),
  ]);
  const lines = changes.flatMap((c) => {
    const symbol = SYMBOL[c.change.actions.join(",")] ?? c.change.actions.join(",");
    const name = (c.change.after ?? c.change.before)?.name;
    const note = judged.get(c.address);
    return [
      `${symbol} ${c.address}${typeof name === "string" ? ` (${name})` : ""}`,
      ...(note ? [`  ${note}`] : []),
    ];
  });
  const runner = changes.find(
    (c) => c.address.startsWith("null_resource.") && typeof c.change.after?.triggers === "object",
  );
  const action = (runner?.change.after?.triggers as Record<string, unknown> | undefined)?.action;
  if (typeof action === "string") lines.push(`Kubespray will run: ${action}`);
  return lines;
}

/**
 * tofu's error output as lines; where it misses secrets, only what to set, once each. (The
 * Proxmox token is checked before anything plans: `checkTokenFirst`.)
 */
export function explainError(output: string): { lines: string[]; missing: string[] } {
  // Without the box tofu draws around a diagnostic, so that a wrapped line reads on.
  const stderr = output.replace(/^[│╷╵] ?/gm, "");
  const missing = [
    ...new Set([...stderr.matchAll(/input variable\s+"([^"]+)"/g)].map((m) => `TF_VAR_${m[1]}`)),
  ];
  if (missing.length > 0)
    return { lines: missing.map((v) => `set ${v} in the environment`), missing };
  const lines = stderr
    .split("\n")
    .map((l) => l.trimEnd())
    .filter((l) => l.trim() !== "");
  return { lines, missing };
}

function failed(stack: string, output: string): StackReview {
  const { lines, missing } = explainError(output);
  return { stack, outcome: "error", lines, missingEnvironment: missing };
}

async function reviewStack(
  stack: string,
  dir: string,
  env: NodeJS.ProcessEnv,
): Promise<StackReview> {
  const init = await initStack(dir, env);
  if (init.status !== 0) return failed(stack, init.stderr || init.stdout);
  // A shared state's files this clone lacks or has stale, written back first (restore-files).
  try {
    await restoreStack(dir, env);
  } catch (e) {
    return failed(stack, e instanceof Error ? e.message : String(e));
  }
  const planned = await planJson(dir, "review.tfplan", env, ["-lock-timeout=0s"]);
  if (planned.status === 0) return { stack, outcome: "no-changes", lines: [] };
  // A plan that would take a node's VM away fails on its prevent_destroy, or plans a disk
  // swap: either way, named with what the deploy does about it (lib/node-guard.ts).
  const losses = planned.plan ? nodeVmLosses(planned.plan) : [];
  if (planned.plan && losses.length > 0) {
    const { destroyable, inCluster } = await guardContext(env);
    const verdict = judge(losses, destroyable, inCluster);
    const outcome = verdict.refused.length > 0 ? "refused" : "changes";
    return { stack, outcome, lines: describePlan(planned.plan, verdict) };
  }
  if (planned.status !== 2 || !planned.plan) return failed(stack, planned.output);
  return { stack, outcome: "changes", lines: describePlan(planned.plan) };
}

/**
 * The Proxmox token, checked as a deploy's preflight checks it: unset, refused or the API
 * out of reach is one line each (a `UserError`), where the vms stack's plan would print the
 * provider's error once per VM.
 */
async function checkTokenFirst(config: ClusterConfig, env: NodeJS.ProcessEnv): Promise<void> {
  const problems = await checkToken(config, proxmoxApiOf(config, env), env);
  if (problems.length > 0) throw new UserError(problems);
}

/** Stacks in deploy order: each after the ones it depends on. */
export function deployOrder(manifest: Manifest): string[] {
  const order: string[] = [];
  const visit = (name: string) => {
    if (order.includes(name)) return;
    for (const d of manifest.stacks[name]?.dependencies ?? []) visit(d);
    order.push(name);
  };
  for (const name of Object.keys(manifest.stacks)) visit(name);
  return order;
}

/**
 * A stack whose plan failed while a stack it depends on has changes still to apply reads
 * values that do not exist yet: it is planned for real once those are applied.
 */
export function settle(reviews: StackReview[], manifest: Manifest): StackReview[] {
  const byName = new Map(reviews.map((r) => [r.stack, r]));
  const pending = (name: string): string[] =>
    (manifest.stacks[name]?.dependencies ?? []).flatMap((d) => {
      const r = byName.get(d);
      return r && (r.outcome === "changes" || r.outcome === "after-dependencies")
        ? [d]
        : pending(d);
    });
  return reviews.map((r) => {
    if (r.outcome !== "error" || (r.missingEnvironment ?? []).length > 0) return r;
    const waiting = pending(r.stack);
    if (waiting.length === 0) return r;
    const settled: StackReview = {
      stack: r.stack,
      outcome: "after-dependencies",
      lines: [
        `reads values that ${waiting.join(" and ")} will produce: planned when they are applied`,
        ...r.lines.slice(0, 3).map((l) => `(${l})`),
      ],
    };
    byName.set(r.stack, settled);
    return settled;
  });
}

export function exitCode(reviews: readonly StackReview[]): number {
  if (reviews.some((r) => r.outcome === "error" || r.outcome === "refused")) return ERROR;
  return reviews.every((r) => r.outcome === "no-changes") ? NO_CHANGES : CHANGES;
}

export function report(reviews: readonly StackReview[]): string {
  const head: Record<StackReview["outcome"], string> = {
    "no-changes": "no changes",
    changes: "changes",
    refused: "changes that npm run deploy refuses: they take nodes' VMs away",
    "after-dependencies": "changes after its dependencies apply",
    error: "ERROR",
  };
  return reviews
    .flatMap((r) => [`${r.stack}: ${head[r.outcome]}`, ...r.lines.map((l) => `  ${l}`)])
    .join("\n");
}

async function main(argv: readonly string[]): Promise<number> {
  // The saved plans hold the add-ons' secrets: readable by the user alone.
  process.umask(0o077);
  const named: readonly string[] = checkStackNames(argv);
  // Before anything plans, as a deploy does: the definition (its mistakes, exit 2), what the
  // state needs from the environment (PG_CONN_STR, TF_VAR_state_passphrase), the token.
  const { config } = loadClusterConfig(definitionFile(process.env));
  checkStateEnvironment(config, process.env);
  if (named.length === 0 || named.includes("vms")) await checkTokenFirst(config, process.env);
  const outdir = resolve(process.env.CDKTF_OUTDIR ?? join(ROOT, "cdktf.out"));
  if (!existsSync(join(TOOLCHAIN, "bin", "tofu"))) {
    process.stderr.write("the offline toolchain is not built: run npm run toolchain\n");
    return ERROR;
  }
  const synth = await synthesize(outdir);
  process.stdout.write(synth.stdout);
  if (synth.status !== 0) {
    process.stderr.write(synth.stderr);
    // A mistake the synth finds in what the definition names (a file, a downgrade) is the
    // user's, as in every command.
    return synth.status === EXIT_USER_ERROR ? EXIT_USER_ERROR : ERROR;
  }
  const manifest = JSON.parse(readFileSync(join(outdir, "manifest.json"), "utf8")) as Manifest;
  const all = deployOrder(manifest);
  const stacks = named.length > 0 ? all.filter((s) => named.includes(s)) : all;
  const env = toolchainEnv(process.env);
  // The addons stack's plan reads the kubeconfig: a shared state's, from the database.
  await restoreKubeconfigFromEnvironment(env);
  const reviews = await Promise.all(
    stacks.map((s) => reviewStack(s, join(outdir, manifest.stacks[s].workingDirectory), env)),
  );
  const settled = settle(reviews, manifest);
  process.stdout.write(`${report(settled)}\n`);
  return exitCode(settled);
}

if (require.main === module) void runMain(() => main(process.argv.slice(2)));
