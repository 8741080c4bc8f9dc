/**
 * How the command-line entry points (the cdktf app, `npm run validate`, `npm run render`)
 * turn a user's mistake into lines and exit code 2, never a stack trace.
 */
import { ConfigError, EXIT_INVALID_CONFIG } from "../config/errors";
import type { LoadedConfig } from "../config/load";
import { BUNDLED_EXAMPLE, loadClusterConfig } from "../config/load";

/** Runs `fn`; a `ConfigError` is printed line by line to stderr and exits with code 2. */
export function exitOnConfigError<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof ConfigError) {
      for (const line of e.lines()) process.stderr.write(`${line}\n`);
      process.exit(EXIT_INVALID_CONFIG);
    }
    throw e;
  }
}

/** Loads `CLUSTER_CONFIG`, or the bundled example with a one-line notice. */
export function loadFromEnvironment(env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  const file = env.CLUSTER_CONFIG;
  if (file === undefined || file === "") {
    // On stdout: cdktf shows whatever an app writes to stderr as errors.
    process.stdout.write(
      `CLUSTER_CONFIG is not set; using the bundled example ${BUNDLED_EXAMPLE}\n`,
    );
    return exitOnConfigError(() => loadClusterConfig(BUNDLED_EXAMPLE));
  }
  return exitOnConfigError(() => loadClusterConfig(file));
}
