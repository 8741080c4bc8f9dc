/**
 * The app's stacks by name, in deploy order: the one list that main.ts builds and that
 * every command naming stacks (`npm run deploy|destroy|preflight|diff -- STACK...`) checks
 * its arguments against before anything runs. The names are cdktf stack IDs, part of each
 * stack's state path (`<state>/<name>.tfstate`): never rename one.
 */
import { show, UserError } from "../errors/user-error";

export const STACK_NAMES = ["vms", "cluster", "addons"] as const;
export type StackName = (typeof STACK_NAMES)[number];

export function isStackName(name: string): name is StackName {
  return (STACK_NAMES as readonly string[]).includes(name);
}

/**
 * The stacks a command was given, checked: an unknown name (a typo such as `adons`) is a
 * `UserError` naming the stacks there are, instead of a command that skips checks or fails
 * later in cdktf.
 */
export function checkStackNames(names: readonly string[]): StackName[] {
  const unknown = names.filter((n) => !isStackName(n));
  if (unknown.length > 0) {
    const what = `stack${unknown.length > 1 ? "s" : ""} ${unknown.map((n) => show(n)).join(", ")}`;
    throw UserError.at(
      what,
      "no such stack",
      `the stacks are ${STACK_NAMES.join(", ")} (name none for all of them)`,
    );
  }
  return names.filter(isStackName);
}

/**
 * The stacks a deploy or destroy works on: those named, checked, or, when none is, every
 * stack, in the order the command takes them (a destroy starts with the last to deploy).
 */
export function stacksOf(names: readonly string[], command: "deploy" | "destroy"): StackName[] {
  const named = checkStackNames(names);
  if (named.length > 0) return named;
  return command === "destroy" ? [...STACK_NAMES].reverse() : [...STACK_NAMES];
}
