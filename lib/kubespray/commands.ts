/**
 * The exact commands the runner executes, as argv arrays (never a shell line): Ansible
 * here (`run`), the same written to a script (`print`), or Kubespray's release image
 * through docker or podman (`container`).
 */
import { basename, dirname, resolve } from "node:path";

import type { NodeRole, RunnerMode } from "../../config/schema";
import { ANSIBLE_FORKS, DEFAULT_MAX_FORKS } from "../../kubespray-vars/forks";

import type { PlaybookStep } from "./playbooks";
import { describeLimited, limitOption } from "./playbooks";

export type { RunnerMode };

/** What the runner needs besides the inventory: written by the cluster stack as JSON. */
export interface RunnerSettings {
  readonly clusterName: string;
  /** Absolute, or (pg backend) relative to the settings file's directory. */
  readonly stateDir: string;
  /** Absolute, starting with `~/`, or relative like `stateDir`. */
  readonly kubesprayDir: string;
  /** e.g. `v2.31.0`. */
  readonly kubesprayVersion: string;
  /** ansible-core must be >= min and < max. */
  readonly ansibleCore: { readonly min: string; readonly max: string };
  readonly pythonRequirements: readonly string[];
  readonly mode: RunnerMode;
  /** Virtualenv holding Ansible. @default `<kubesprayDir>/.venv` if present, else PATH */
  readonly venv?: string;
  readonly containerImage: string;
  readonly apiServerVip?: string;
  readonly apiServerPort: number;
  readonly nodePrep: {
    /** Path of ansible/node-prep.yml (absolute, or relative like `stateDir`). */
    readonly playbook: string;
    readonly iscsi: boolean;
    readonly nfs: boolean;
  };
  /** Cap of Ansible's `--forks`. @default DEFAULT_MAX_FORKS (25) */
  readonly maxForks?: number;
  /** With `state.backend: pg`, where the record is stored. @default - only the local files */
  readonly recordStore?: { readonly schema: string };
  /**
   * The Proxmox side of the snapshots taken before a risky step (runner/safety-net.ts).
   * @default - none: written by a version without snapshots, which take none
   */
  readonly proxmox?: RunnerProxmoxSettings;
  /** Runs kept under `<state>/runs/`. @default DEFAULT_KEEP_RUNS (20) */
  readonly keepRuns?: number;
}

/** Where the node VMs are and how to snapshot them; the token comes from the environment. */
export interface RunnerProxmoxSettings {
  readonly endpoint: string;
  readonly insecure: boolean;
  /** `proxmox.snapshots` of the definition. */
  readonly snapshots: { readonly enabled: boolean; readonly keep: number };
  /** Every node's VM by node name: its VM ID, the host the definition gives it, its role. */
  readonly vms: Readonly<
    Record<string, { readonly vmId: number; readonly host: string; readonly role: NodeRole }>
  >;
}

/**
 * The settings with every relative path resolved against `dir`, the settings file's
 * directory (a pg backend's cluster stack writes them relative: see `portablePaths`);
 * absolute and `~/...` paths are kept.
 */
export function resolvedSettings(settings: RunnerSettings, dir: string): RunnerSettings {
  const at = (path: string) => (path === "~" || path.startsWith("~/") ? path : resolve(dir, path));
  return {
    ...settings,
    stateDir: at(settings.stateDir),
    kubesprayDir: at(settings.kubesprayDir),
    venv: settings.venv === undefined ? undefined : at(settings.venv),
    nodePrep: { ...settings.nodePrep, playbook: at(settings.nodePrep.playbook) },
  };
}

/** One process to start. */
export interface Command {
  readonly argv: readonly string[];
  readonly cwd: string;
  /** What it is, for logs and the record. */
  readonly label: string;
  /** The playbook as the runs folder names it: `cluster.yml`, `node-prep.yml`... */
  readonly playbook: string;
  /** Set in its environment (run mode; the container gets them as `--env`). */
  readonly env?: Readonly<Record<string, string>>;
}

/** Our callback plugin (ansible/callback_plugins/kspray_events.py), as Ansible enables it. */
export const EVENTS_CALLBACK = "kspray_events";

/** Where the callback plugin is and where it appends a run's events. */
export interface EventsOutput {
  /** The folder holding the plugin. */
  readonly pluginDir: string;
  /** The events file (in the runs folder). */
  readonly file: string;
}

/** What Ansible is told to load our callback plugin and write its events to `file`. */
function eventsEnv(pluginDir: string, file: string): Record<string, string> {
  return {
    ANSIBLE_CALLBACK_PLUGINS: pluginDir,
    ANSIBLE_CALLBACKS_ENABLED: EVENTS_CALLBACK,
    KSPRAY_EVENTS_FILE: file,
    // The log is a file: no colour codes in it.
    ANSIBLE_NOCOLOR: "1",
  };
}

export interface CommandContext {
  readonly settings: RunnerSettings;
  /** Kubespray directory with `~` expanded. */
  readonly kubesprayDir: string;
  readonly hostsFile: string;
  /** Further inventories (tests inject `ansible_connection=local` this way). */
  readonly extraInventories?: readonly string[];
  /** `ansible-playbook`, or the venv's. */
  readonly ansiblePlaybook: string;
  /** Private key with `~` expanded (container mode mounts it). */
  readonly sshPrivateKeyFile: string;
  /** `docker` or `podman` (container mode). */
  readonly containerEngine?: string;
  /** Hosts in the inventory: what a playbook without a limit touches. */
  readonly hostCount: number;
}

/**
 * `--forks` for a step: every host it touches at once (Ansible's default of 5 would run a
 * 6-node cluster's tasks in two batches), at least Ansible's default, at most the cap.
 */
export function forksFor(step: PlaybookStep, ctx: CommandContext): number {
  const touched = step.limit?.length ?? ctx.hostCount;
  return Math.min(ctx.settings.maxForks ?? DEFAULT_MAX_FORKS, Math.max(ANSIBLE_FORKS, touched));
}

/** Our node-preparation playbook, limited like the Kubespray step it precedes. */
export function nodePrepStep(settings: RunnerSettings, limit?: readonly string[]): PlaybookStep {
  return { playbook: settings.nodePrep.playbook, limit };
}

function playbookArgs(
  step: PlaybookStep,
  playbookPath: string,
  nodePrepVars: string | undefined,
  forks: number,
): string[] {
  const args = [playbookPath, ...limitOption(step), `--forks=${forks}`];
  for (const [k, v] of Object.entries(step.extraVars ?? {})) args.push("-e", `${k}=${v}`);
  if (nodePrepVars !== undefined) args.push("-e", nodePrepVars);
  return args;
}

const CONTAINER_INVENTORY = "/inventory";
const CONTAINER_KEY = "/root/.ssh/id_kubespray";
const CONTAINER_NODE_PREP = "/node-prep";
const CONTAINER_KUBESPRAY = "/kubespray";
const CONTAINER_CALLBACKS = "/kspray/callback_plugins";
const CONTAINER_RUNS = "/kspray/runs";

/**
 * The command for one step; with `events`, Ansible loads our callback plugin and writes
 * its events there (print mode's script goes without).
 */
export function stepCommand(
  step: PlaybookStep,
  ctx: CommandContext,
  events?: EventsOutput,
): Command {
  const s = ctx.settings;
  const isNodePrep = step.playbook === s.nodePrep.playbook;
  const nodePrepVars = isNodePrep
    ? JSON.stringify({ node_prep_iscsi: s.nodePrep.iscsi, node_prep_nfs: s.nodePrep.nfs })
    : undefined;
  const playbook = isNodePrep ? "node-prep.yml" : step.playbook;
  const label = describeLimited(step, playbook);
  if (s.mode === "container") {
    const engine = ctx.containerEngine ?? "docker";
    const inventoryDir = dirname(ctx.hostsFile);
    const inContainer = isNodePrep
      ? `${CONTAINER_NODE_PREP}/${basename(step.playbook)}`
      : step.playbook;
    const eventArgs =
      events === undefined
        ? []
        : [
            "-v",
            `${events.pluginDir}:${CONTAINER_CALLBACKS}:ro`,
            "-v",
            `${dirname(events.file)}:${CONTAINER_RUNS}`,
            ...Object.entries(
              eventsEnv(CONTAINER_CALLBACKS, `${CONTAINER_RUNS}/${basename(events.file)}`),
            ).flatMap(([k, v]) => ["--env", `${k}=${v}`]),
          ];
    const argv = [
      engine,
      "run",
      "--rm",
      "--network=host",
      "-v",
      `${inventoryDir}:${CONTAINER_INVENTORY}`,
      "-v",
      `${ctx.sshPrivateKeyFile}:${CONTAINER_KEY}:ro`,
      "-v",
      `${dirname(s.nodePrep.playbook)}:${CONTAINER_NODE_PREP}:ro`,
      ...eventArgs,
      "-w",
      CONTAINER_KUBESPRAY,
      s.containerImage,
      "ansible-playbook",
      "-i",
      `${CONTAINER_INVENTORY}/${basename(ctx.hostsFile)}`,
      "-e",
      `ansible_ssh_private_key_file=${CONTAINER_KEY}`,
      "-b",
      ...playbookArgs(step, inContainer, nodePrepVars, forksFor(step, ctx)),
    ];
    return { argv, cwd: ctx.settings.stateDir, label, playbook };
  }
  const inventories = [ctx.hostsFile, ...(ctx.extraInventories ?? [])].flatMap((i) => ["-i", i]);
  const argv = [
    ctx.ansiblePlaybook,
    ...inventories,
    "-b",
    ...playbookArgs(step, step.playbook, nodePrepVars, forksFor(step, ctx)),
  ];
  return {
    argv,
    cwd: ctx.kubesprayDir,
    label,
    playbook,
    env: events === undefined ? undefined : eventsEnv(events.pluginDir, events.file),
  };
}

/** Quotes one argument for a POSIX shell (print mode writes a script). */
export function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_./:=@,+-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** The script print mode writes: every command, in order, stopping at the first failure. */
export function printScript(commands: readonly Command[], after: readonly string[]): string {
  const lines = ["#!/bin/sh", "# Written by the cluster stack's runner (print mode).", "set -eu"];
  for (const c of commands) {
    lines.push(`# ${c.label}`, `(cd ${shellQuote(c.cwd)} && ${c.argv.map(shellQuote).join(" ")})`);
  }
  lines.push(
    "# Record the run as done and copy the kubeconfig",
    after.map(shellQuote).join(" "),
    "",
  );
  return lines.join("\n");
}
