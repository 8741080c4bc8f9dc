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
 * state needs them, a definition the synth refuses, the toolchain not built; with the vms
 * stack, a Proxmox token that is unset or refused, checked as preflight checks it) is one
 * line each on stderr and exit code 2, as in every command.
 *
 * Environment: CLUSTER_CONFIG, STATE_DIR and the secrets as for `npm run deploy`;
 * CDKTF_OUTDIR (default `cdktf.out`). The offline toolchain must be built (`npm run
 * toolchain`).
 */
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";

import { loadClusterConfig } from "../config/load";
import { expandNodes } from "../config/nodes";
import type { ClusterConfig } from "../config/schema";
import { formatIssue, runMain, UserError } from "../errors/user-error";
import { definitionFile, stateDirFromEnvironment } from "../lib/environment";
import { describeOrder, replaceCommand, replacementUnderWay } from "../lib/maintenance/replacement";
import type { PlanWithChanges, Verdict } from "../lib/node-guard";
import { describeLoss, judge, nodeVmLosses } from "../lib/node-guard";
import { checkStackNames } from "../lib/stacks";
import { checkStateEnvironment } from "../lib/state-backend";
import type { CapacityCheck } from "../preflight/capacity";
import { proxmoxApiOf } from "../preflight/proxmox-api";
import { checkToken } from "../preflight/proxmox-checks";

import { erroredStateError } from "./errored-state";
import { guardContext } from "./node-guard";
import type { Captured } from "./processes";
import {
  capture,
  initStack,
  outdirFromEnvironment,
  synthesize,
  TOOLCHAIN,
  toolchainEnv,
} from "./processes";
import type * as restoreFiles from "./restore-files";

/** The plan a review saves in each stack's folder (`tofu show` reads it back). */
const PLAN_FILE = "review.tfplan";

/** Exit codes, as `tofu plan -detailed-exitcode`. */
export const NO_CHANGES = 0;
export const ERROR = 1;
export const CHANGES = 2;

export interface Manifest {
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
  // The runner: the null_resource whose triggers name the action (its teardown's do not).
  const action = changes
    .filter((c) => c.address.startsWith("null_resource."))
    .map((c) => (c.change.after?.triggers as Record<string, unknown> | undefined)?.action)
    .find((a) => typeof a === "string");
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

/** One line of `tofu plan -json` (OpenTofu's machine-readable UI): the parts read here. */
export interface PlanEvent {
  readonly type: string;
  readonly change?: {
    readonly resource: {
      readonly addr: string;
      readonly resource_type: string;
      readonly resource_name: string;
    };
    readonly action: string;
  };
  readonly diagnostic?: {
    readonly severity: string;
    readonly summary: string;
    readonly detail?: string;
  };
}

export function planEvents(stdout: string): PlanEvent[] {
  return stdout.split("\n").flatMap((line) => {
    try {
      return line.trim() === "" ? [] : [JSON.parse(line) as PlanEvent];
    } catch {
      return [];
    }
  });
}

/** The plan's errors as tofu prints them: `Error: <summary>`, then the detail. */
export function diagnostics(events: readonly PlanEvent[]): string {
  return events
    .flatMap((e) =>
      e.diagnostic?.severity === "error"
        ? [`Error: ${e.diagnostic.summary}`, e.diagnostic.detail ?? ""]
        : [],
    )
    .join("\n");
}

/** A stack's cdk.tf.json: each resource's configuration by type and name. */
interface StackConfig {
  readonly resource?: Record<string, Record<string, Record<string, unknown>>>;
}

/**
 * The changes of a plan that only creates and updates, as `tofu show -json` gives them,
 * from the plan's events and the stack's configuration; undefined when it also deletes,
 * replaces or moves something, whose values before the change only `tofu show` has (and
 * `tofu show` loads every provider's schema: a plan's worth of time).
 */
export function changesFromConfig(
  events: readonly PlanEvent[],
  config: StackConfig,
): PlanJson | undefined {
  const changes = events.flatMap((e) =>
    e.type === "planned_change" && e.change && !["noop", "read"].includes(e.change.action)
      ? [e.change]
      : [],
  );
  if (changes.some((c) => c.action !== "create" && c.action !== "update")) return undefined;
  // In the order `tofu show` lists them: by address.
  const sorted = [...changes].sort((a, b) =>
    a.resource.addr < b.resource.addr ? -1 : a.resource.addr > b.resource.addr ? 1 : 0,
  );
  return {
    resource_changes: sorted.map((c) => {
      const after = config.resource?.[c.resource.resource_type]?.[c.resource.resource_name];
      // An instance of for_each or count shares one configuration: no name of its own.
      const own = c.resource.addr === `${c.resource.resource_type}.${c.resource.resource_name}`;
      return { address: c.resource.addr, change: { actions: [c.action], after: own ? after : {} } };
    }),
  };
}

function failed(stack: string, output: string): StackReview {
  const { lines, missing } = explainError(output);
  return { stack, outcome: "error", lines, missingEnvironment: missing };
}

/** What tofu says of a folder it cannot work in before `tofu init` sets it up. */
const NEEDS_INIT = /\btofu init\b/;

type Planned = { readonly plan: Captured } | { readonly error: string } | "needs-init";

type Restore = typeof restoreFiles;

/** The shared state's files written back (restore-files), then the plan. */
async function restoreAndPlan(
  dir: string,
  env: NodeJS.ProcessEnv,
  restore: Restore,
): Promise<Planned> {
  try {
    await restore.restoreStack(dir, env);
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    return NEEDS_INIT.test(message) ? "needs-init" : { error: message };
  }
  rmSync(join(dir, PLAN_FILE), { force: true });
  const plan = await capture(
    "tofu",
    [
      "plan",
      "-json",
      "-input=false",
      "-no-color",
      "-detailed-exitcode",
      "-lock-timeout=0s",
      `-out=${PLAN_FILE}`,
    ],
    dir,
    env,
  );
  const errors = `${diagnostics(planEvents(plan.stdout))}\n${plan.stderr}`;
  return plan.status === 1 && NEEDS_INIT.test(errors) ? "needs-init" : { plan };
}

async function reviewStack(
  stack: string,
  dir: string,
  env: NodeJS.ProcessEnv,
  restore: Restore,
): Promise<StackReview> {
  // A folder an earlier review or deploy initialized is planned at once (an init costs as
  // much as a small plan); tofu refuses when it needs `tofu init` (never initialized,
  // another backend, other providers), and then it is initialized and planned again.
  let planned = await restoreAndPlan(dir, env, restore);
  if (planned === "needs-init") {
    const init = await initStack(dir, env);
    if (init.status !== 0) return failed(stack, init.stderr || init.stdout);
    planned = await restoreAndPlan(dir, env, restore);
  }
  if (planned === "needs-init") return failed(stack, `tofu init in ${dir} did not set it up`);
  if ("error" in planned) return failed(stack, planned.error);
  const { plan } = planned;
  const events = planEvents(plan.stdout);
  if (plan.status === 0) return { stack, outcome: "no-changes", lines: [] };
  if (plan.status === 2) {
    const config = JSON.parse(readFileSync(join(dir, "cdk.tf.json"), "utf8")) as StackConfig;
    const created = changesFromConfig(events, config);
    if (created) return { stack, outcome: "changes", lines: describePlan(created) };
  }
  // A plan that deletes, replaces or moves, or one that failed: the values before the change
  // come from tofu show. A plan that would take a node's VM away fails on its prevent_destroy
  // (tofu still writes the errored plan) or plans a disk swap: either way, named with what
  // the deploy does about it (lib/node-guard.ts).
  const shown = existsSync(join(dir, PLAN_FILE))
    ? await capture("tofu", ["show", "-json", "-no-color", PLAN_FILE], dir, env)
    : undefined;
  const shownPlan =
    shown?.status === 0 ? (JSON.parse(shown.stdout) as PlanJson & PlanWithChanges) : undefined;
  const losses = shownPlan ? nodeVmLosses(shownPlan) : [];
  if (shownPlan && losses.length > 0) {
    const { destroyable, inCluster } = await guardContext(env);
    const verdict = judge(losses, destroyable, inCluster);
    const outcome = verdict.refused.length > 0 ? "refused" : "changes";
    return { stack, outcome, lines: describePlan(shownPlan, verdict) };
  }
  if (plan.status !== 2) return failed(stack, diagnostics(events) || plan.stderr || plan.stdout);
  if (!shownPlan) return failed(stack, shown?.stderr ?? `tofu wrote no ${PLAN_FILE}`);
  return { stack, outcome: "changes", lines: describePlan(shownPlan) };
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

/** What `reviewStacks` found, and where the app was synthesized. */
export interface Review {
  readonly outdir: string;
  readonly manifest: Manifest;
  /** What the synth printed (the notice about the bundled example, cdktf's warnings). */
  readonly synthOutput: string;
  /** Every stack asked for, in deploy order. */
  readonly reviews: StackReview[];
}

/**
 * Synthesizes the app into `outdir` and plans `stacks` (every stack when empty) side by
 * side. Throws a UserError when the toolchain is missing, the synth fails or a stack does
 * not exist.
 */
export async function reviewStacks(
  outdir: string,
  stacks: readonly string[],
  base: NodeJS.ProcessEnv = process.env,
): Promise<Review> {
  checkStackNames(stacks);
  if (!existsSync(join(TOOLCHAIN, "bin", "tofu")))
    throw UserError.at(".toolchain", "the offline toolchain is not built", "run npm run toolchain");
  const synthesized = synthesize(outdir, base);
  // What writes a shared state's files back (the definition, PostgreSQL) loads meanwhile.
  const restore = await import("./restore-files");
  const synth = await synthesized;
  // The synth's own lines (main.ts prints a definition's problems as `file:line: path: ...`).
  if (synth.status !== 0)
    throw new UserError([{ path: "", message: `${synth.stdout}${synth.stderr}`.trimEnd() }]);
  const manifest = JSON.parse(readFileSync(join(outdir, "manifest.json"), "utf8")) as Manifest;
  const all = deployOrder(manifest);
  const env = toolchainEnv(base);
  // The addons stack's plan reads the kubeconfig: a shared state's, from the database.
  await restore.restoreKubeconfigFromEnvironment(env);
  const reviews = await Promise.all(
    all
      .filter((s) => stacks.length === 0 || stacks.includes(s))
      .map((s) => reviewStack(s, stackDir(outdir, manifest, s), env, restore)),
  );
  return { outdir, manifest, synthOutput: synth.stdout, reviews: settle(reviews, manifest) };
}

/** The folder a stack was synthesized into. */
export function stackDir(outdir: string, manifest: Manifest, stack: string): string {
  return join(outdir, manifest.stacks[stack].workingDirectory);
}

/** The stacks whose changes can change whether the add-ons fit: the nodes, the add-ons. */
const CAPACITY_STACKS: readonly string[] = ["vms", "addons"];

/**
 * The add-ons' requests against the nodes, as preflight checks them (preflight/capacity.ts),
 * when the review covers the nodes or the add-ons. It renders every chart (about 10 s), so
 * it starts beside the plans, and its answer is shown only when one of those stacks changes
 * (`capacityAfterChange`). Loaded on demand: it loads cdktf.
 */
function startCapacity(config: ClusterConfig, named: readonly string[]) {
  if (named.length > 0 && !named.some((s) => CAPACITY_STACKS.includes(s))) return undefined;
  return import("../preflight/capacity").then(({ capacityRenderOptions, checkCapacity }) =>
    checkCapacity(config, capacityRenderOptions(process.env, process.cwd())),
  );
}

/** The capacity check's answer when the nodes or the add-ons change; else undefined. */
async function capacityAfterChange(
  started: Promise<CapacityCheck> | undefined,
  reviews: readonly StackReview[],
): Promise<CapacityCheck | undefined> {
  if (started === undefined) return undefined;
  const check = await started;
  const changing = reviews.some(
    (r) => CAPACITY_STACKS.includes(r.stack) && r.outcome !== "no-changes" && r.outcome !== "error",
  );
  return changing ? check : undefined;
}

/**
 * The review's capacity lines, none for a definition without add-on pods; `refuses` when
 * preflight would refuse the deploy for them.
 */
export function capacityReport(check: CapacityCheck): { lines: string[]; refuses: boolean } {
  const lines = check.problems.map((p) => `  ${formatIssue(p)}`);
  if (check.report === undefined)
    return { lines: ["capacity: not checked", ...lines], refuses: false };
  if (check.report.workloads.length === 0) return { lines: [], refuses: false };
  const refuses = check.problems.some((p) => p.warning !== true);
  const head = refuses
    ? "capacity: the add-ons do not fit the nodes, so npm run deploy's preflight refuses this"
    : "capacity: every add-on pod finds a node (their requests, counted as npm run preflight counts them)";
  return { lines: [head, ...lines], refuses };
}

async function main(argv: readonly string[]): Promise<number> {
  // The saved plans hold the add-ons' secrets: readable by the user alone.
  process.umask(0o077);
  const named: readonly string[] = checkStackNames(argv);
  // Before anything plans, as a deploy does: the definition (its mistakes, exit 2), what the
  // state needs from the environment (PG_CONN_STR, TF_VAR_state_passphrase), the token.
  const { config } = loadClusterConfig(definitionFile(process.env));
  checkStateEnvironment(config, process.env);
  // A state an apply could not save (errored.tfstate): every plan would be against the one
  // from before it.
  const errored = await erroredStateError("before", config, outdirFromEnvironment());
  if (errored) throw errored;
  if (named.length === 0 || named.includes("vms")) await checkTokenFirst(config, process.env);
  // A mistake found later but before anything is planned (the toolchain, what the synth
  // refuses) is a UserError too: its lines, exit code 2 (runMain).
  const started = startCapacity(config, named);
  // Settled either way, so that a review that fails first leaves no render behind.
  const review = await reviewStacks(outdirFromEnvironment(), named).catch(async (e: unknown) => {
    await started?.catch(() => undefined);
    throw e;
  });
  process.stdout.write(review.synthOutput);
  process.stdout.write(`${report(review.reviews)}\n`);
  // A replacement that stopped half-way: its order, and where it is.
  const underWay = replacementUnderWay(stateDirFromEnvironment(config));
  if (underWay !== undefined)
    process.stdout.write(
      `a node replacement is under way; run ${replaceCommand(underWay.order)} to go on:\n${describeOrder(
        underWay.order,
        expandNodes(config),
        underWay,
      )
        .map((l) => `  ${l}\n`)
        .join("")}`,
    );
  const capacity = await capacityAfterChange(started, review.reviews);
  if (capacity === undefined) return exitCode(review.reviews);
  const { lines, refuses } = capacityReport(capacity);
  for (const line of lines) process.stdout.write(`${line}\n`);
  return refuses ? ERROR : exitCode(review.reviews);
}

if (require.main === module) void runMain(() => main(process.argv.slice(2)));
