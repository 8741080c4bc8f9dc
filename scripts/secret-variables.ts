/**
 * Prints the environment variable of every secret the definition's add-ons need
 * (`TF_VAR_...`), one per line: `npm run destroy` gives the unset ones a placeholder, since
 * uninstalling a release needs none of them (and a stack never deployed needs none either).
 * Reads `CLUSTER_CONFIG` (default: the bundled example), as the app does.
 */
import { loadClusterConfig } from "../config/load";
import { secretVariables } from "../config/secrets";
import { runMain } from "../errors/user-error";
import { definitionFile } from "../lib/environment";

void runMain(() => {
  const { config } = loadClusterConfig(definitionFile());
  for (const s of secretVariables(config)) process.stdout.write(`${s.env}\n`);
});
