/**
 * `node --import tsx scripts/check-stacks.ts deploy|destroy [STACK...]`: prints the stacks
 * the command works on, space-separated: those named, or every stack when none is, in the
 * order the command takes them (lib/stacks.ts). A name that is no stack: one line naming the
 * stacks there are, and exit code 2. scripts/cdktf.sh runs it before anything else.
 */
import { UserError } from "../errors/user-error";
import { exitOnUserError } from "../lib/environment";
import { stacksOf } from "../lib/stacks";

const [command, ...names] = process.argv.slice(2);
const stacks = exitOnUserError(() => {
  if (command !== "deploy" && command !== "destroy")
    throw new UserError("usage: check-stacks.ts deploy|destroy [STACK...]");
  return stacksOf(names, command);
});
process.stdout.write(`${stacks.join(" ")}\n`);
