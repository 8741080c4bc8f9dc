/**
 * `node --import tsx scripts/check-stacks.ts STACK...`: nothing when every argument names a
 * stack; otherwise one line naming the stacks there are, and exit code 2. scripts/cdktf.sh
 * runs it before a deploy or destroy starts (lib/stacks.ts holds the list).
 */
import { exitOnUserError } from "../lib/cli";
import { checkStackNames } from "../lib/stacks";

exitOnUserError(() => checkStackNames(process.argv.slice(2)));
