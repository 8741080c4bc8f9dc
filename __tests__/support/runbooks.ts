/** Commands the runbooks in docs/ give a user, read from the docs so that tests run them as written. */
import { readFileSync } from "node:fs";
import { join } from "node:path";

import { REPO_ROOT } from "./toolchain";

/** docs/operations.md's push of an errored.tfstate, for the stack in `stackDir`. */
export function documentedRecovery(stackDir: string): string {
  const docs = readFileSync(join(REPO_ROOT, "docs", "operations.md"), "utf8");
  const block = [...docs.matchAll(/```sh\n([\s\S]*?)```/g)]
    .map((m) => m[1])
    .find((b) => b.includes("tofu state push"));
  if (block === undefined) throw new Error("docs/operations.md: no errored.tfstate recovery");
  return block.replace("cd cdktf.out/stacks/<stack>", `cd ${stackDir}`);
}
