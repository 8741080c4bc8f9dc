/** Absolute paths of the project's own programs, wherever the app is started from. */
import { homedir } from "node:os";
import { join, resolve } from "node:path";

import { projectPath } from "../../config/project-root";

/** The compiled runner (`npm run build:runner`, also run by `npm install`). */
export const RUNNER_ENTRY = projectPath("dist", "runner", "cli.js");
/** The compiled wait for Proxmox's HA manager (runner/ha-manager-ready.ts), run by the vms stack. */
export const HA_MANAGER_READY_ENTRY = projectPath("dist", "runner", "ha-manager-ready.js");
/** Our node-preparation playbook, run before Kubespray. */
export const NODE_PREP_PLAYBOOK = projectPath("ansible", "node-prep.yml");
/** Our Ansible callback plugins: the runner's events (`kspray_events.py`). */
export const CALLBACK_PLUGINS_DIR = projectPath("ansible", "callback_plugins");

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
