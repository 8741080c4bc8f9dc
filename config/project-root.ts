/**
 * Where the project's own files are (the bundled example, our charts, the facts of the
 * Kubespray releases, the toolchain), wherever its code runs from: the sources through tsx,
 * or compiled under `dist/` (the runner, and the app `npm run build:app` compiles).
 */
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";

function projectRoot(from: string): string {
  let dir = from;
  while (!existsSync(join(dir, "package.json"))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${from}`);
    dir = parent;
  }
  return dir;
}

/** The folder holding the project's package.json. */
export const PROJECT_ROOT = projectRoot(resolve(__dirname));

/** A path inside the project, e.g. `projectPath("examples", "homelab.yaml")`. */
export function projectPath(...parts: string[]): string {
  return join(PROJECT_ROOT, ...parts);
}

/** The test cluster's control plane, built by `scripts/toolchain.sh`. */
export const CONTROL_PLANE_DIR = projectPath(".toolchain", "control-plane");
