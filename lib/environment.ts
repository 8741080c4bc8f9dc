/**
 * What the entry points (the cdktf app, the scripts, preflight) read from the environment:
 * the definition (`CLUSTER_CONFIG`), the cluster's state directory (`STATE_DIR`), the
 * add-on charts' folder (`UPSTREAM_CHARTS`), the test cluster's control plane
 * (`CONTROL_PLANE_DIR`), and a path the user typed.
 */
import { resolve } from "node:path";

import type { LoadedConfig } from "../config/load";
import { BUNDLED_EXAMPLE, loadClusterConfig } from "../config/load";
import { CONTROL_PLANE_DIR, projectPath } from "../config/project-root";
import type { ClusterConfig } from "../config/schema";

/**
 * A path the user typed, absolute: a relative one starts in the folder the user ran the
 * command in. npm runs every script in the project's folder and passes the user's as
 * `INIT_CWD`; run otherwise, that is the working directory.
 */
export function userPath(path: string, env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env.INIT_CWD || process.cwd(), path);
}

/** The definition's file: `CLUSTER_CONFIG` (see `userPath`), else the bundled example. */
export function definitionFile(env: NodeJS.ProcessEnv = process.env): string {
  return env.CLUSTER_CONFIG ? userPath(env.CLUSTER_CONFIG, env) : BUNDLED_EXAMPLE;
}

/** Loads `CLUSTER_CONFIG`, or the bundled example with a one-line notice. */
export function loadFromEnvironment(env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  if (!env.CLUSTER_CONFIG) {
    // On stdout: cdktf shows whatever an app writes to stderr as errors.
    process.stdout.write(
      `CLUSTER_CONFIG is not set; using the bundled example ${BUNDLED_EXAMPLE}\n`,
    );
  }
  return loadClusterConfig(definitionFile(env));
}

/** The cluster's state directory: `STATE_DIR`, else `.state/<name>` under the working directory. */
export function stateDirFromEnvironment(
  config: ClusterConfig,
  env: NodeJS.ProcessEnv = process.env,
): string {
  return resolve(env.STATE_DIR ?? resolve(".state", config.name));
}

/**
 * The folder of the pinned add-on charts, packaged, with their `index.yaml` (an air-gapped
 * site's chart mirror): `UPSTREAM_CHARTS`, else `../shared/charts` beside the project.
 */
export function chartsDirFromEnvironment(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env.UPSTREAM_CHARTS ?? projectPath("..", "shared", "charts"));
}

/**
 * Where the test cluster's control plane is (`scripts/toolchain.sh` builds it):
 * `CONTROL_PLANE_DIR`, else `.toolchain/control-plane` of this checkout.
 */
export function controlPlaneDirFromEnvironment(env: NodeJS.ProcessEnv = process.env): string {
  return env.CONTROL_PLANE_DIR ? userPath(env.CONTROL_PLANE_DIR, env) : CONTROL_PLANE_DIR;
}
