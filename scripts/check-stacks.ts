/**
 * `node --import tsx scripts/check-stacks.ts deploy|destroy [STACK...]`: prints the stacks
 * the command works on, space-separated: those named, or every stack when none is, in the
 * order the command takes them (lib/stacks.ts). A name that is no stack: one line naming the
 * stacks there are, and exit code 2. scripts/cdktf.sh runs it before anything else.
 */
import { runMain, UserError } from "../errors/user-error";
import { stacksOf } from "../lib/stacks";

void runMain(() => {
  const [command, ...names] = process.argv.slice(2);
  if (command !== "deploy" && command !== "destroy")
    throw UserError.at(
      "check-stacks.ts",
      `not a command that names stacks: ${command ?? "(none)"}`,
      "usage: check-stacks.ts deploy|destroy [STACK...]",
    );
  process.stdout.write(`${stacksOf(names, command).join(" ")}\n`);
});
