/** Absolute paths of the project's own programs, wherever the app is started from. */
import { existsSync } from "node:fs";
import { homedir } from "node:os";
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

export const PROJECT_ROOT = projectRoot(resolve(__dirname));
/** The compiled runner (`npm run build:runner`, also run by `npm install`). */
export const RUNNER_ENTRY = join(PROJECT_ROOT, "dist", "runner", "cli.js");
/** The compiled wait for Proxmox's HA manager (runner/ha-manager-ready.ts), run by the vms stack. */
export const HA_MANAGER_READY_ENTRY = join(PROJECT_ROOT, "dist", "runner", "ha-manager-ready.js");
/** Our node-preparation playbook, run before Kubespray. */
export const NODE_PREP_PLAYBOOK = join(PROJECT_ROOT, "ansible", "node-prep.yml");

/** A path with a leading `~` expanded to the home directory of the user running this. */
export function expandHome(path: string): string {
  return path === "~" || path.startsWith("~/") ? join(homedir(), path.slice(1)) : path;
}

/**
 * A user-given path made absolute against `base` (local-exec runs elsewhere); `~/...`
 * is kept for the runner to expand on the machine it runs on.
 */
export function absoluteUserPath(path: string, base: string): string {
  return path === "~" || path.startsWith("~/") ? path : resolve(base, path);
}
