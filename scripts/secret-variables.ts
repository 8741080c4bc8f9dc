/**
 * Prints the environment variable of every secret the definition's add-ons need
 * (`TF_VAR_...`), one per line: `npm run destroy` gives the unset ones a placeholder, since
 * uninstalling a release needs none of them (and a stack never deployed needs none either).
 * Reads `CLUSTER_CONFIG` (default: the bundled example), as the app does.
 */
import { BUNDLED_EXAMPLE, loadClusterConfig } from "../config/load";
import { secretVariables } from "../config/secrets";
import { exitOnUserError } from "../lib/cli";

const file = process.env.CLUSTER_CONFIG || BUNDLED_EXAMPLE;
const { config } = exitOnUserError(() => loadClusterConfig(file));
for (const s of secretVariables(config)) process.stdout.write(`${s.env}\n`);
