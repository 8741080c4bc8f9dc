/** How the runner is set up: its environment (tests override SSH and playbooks) and settings. */
import { existsSync, readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";

import { UserError } from "../errors/user-error";
import type { RunnerSettings } from "../lib/kubespray/commands";
import { resolvedSettings } from "../lib/kubespray/commands";

import type { Terminal } from "./progress";

export interface RunnerEnv {
  /** @default 22 */
  readonly sshPort: number;
  /**
   * Where every SSH check connects instead of the node's own address (tests whose nodes
   * are not reachable point it at a loopback listener).
   * @default - each node's address
   */
  readonly sshHost?: string;
  /**
   * A node-preparation playbook to run instead of the project's (tests use the stand-in's,
   * which only records the call).
   * @default - the playbook named in the runner settings
   */
  readonly nodePrepPlaybook?: string;
  /**
   * The server the kubeconfig names in place of `https://<API server VIP>:6443` (tests whose
   * VIP is not reachable point it at a test cluster on loopback).
   * @default - the VIP's address
   */
  readonly vipServer?: string;
  /** How long to wait for SSH on every host. @default 600 s */
  readonly sshTimeoutMs: number;
  readonly extraInventories: readonly string[];
  readonly containerEngine?: string;
  readonly log: (line: string) => void;
  /** Absolute path of this program, for the line print mode adds at the end. */
  readonly self: string;
  /** The runner's own environment: Ansible's is made from it, without the secrets. */
  readonly environment: NodeJS.ProcessEnv;
  /** stderr when it is a terminal: the progress line is rewritten in place there. */
  readonly terminal?: Terminal;
  /** Without a terminal, at most one progress line per interval while a play runs. @default 30 s */
  readonly progressIntervalMs: number;
}

/** Prefix of every line the runner prints. */
export const LOG_PREFIX = "[kubespray-runner] ";

export function runnerEnv(env: NodeJS.ProcessEnv, self: string): RunnerEnv {
  return {
    sshPort: Number(env.KSPRAY_SSH_PORT ?? 22),
    sshHost: env.KSPRAY_SSH_HOST || undefined,
    nodePrepPlaybook: env.KSPRAY_NODE_PREP_PLAYBOOK || undefined,
    vipServer: env.KSPRAY_VIP_SERVER || undefined,
    sshTimeoutMs: Number(env.KSPRAY_SSH_TIMEOUT_SECONDS ?? 600) * 1000,
    extraInventories: (env.KSPRAY_EXTRA_INVENTORY ?? "").split(":").filter((p) => p !== ""),
    containerEngine: env.KSPRAY_CONTAINER_ENGINE,
    log: (line) => process.stderr.write(`${LOG_PREFIX}${line}\n`),
    self,
    environment: env,
    terminal: process.stderr.isTTY
      ? {
          write: (text) => process.stderr.write(text),
          get columns() {
            return process.stderr.columns || 80;
          },
        }
      : undefined,
    progressIntervalMs: Number(env.KSPRAY_PROGRESS_SECONDS ?? 30) * 1000,
  };
}

/** The settings the cluster stack wrote, with the environment's node-prep playbook. */
export function readSettings(file: string, env?: RunnerEnv): RunnerSettings {
  if (!existsSync(file))
    throw UserError.at(file, "no runner settings there", "deploy the cluster stack first");
  const settings = resolvedSettings(
    JSON.parse(readFileSync(file, "utf8")) as RunnerSettings,
    dirname(resolve(file)),
  );
  return env?.nodePrepPlaybook === undefined
    ? settings
    : { ...settings, nodePrep: { ...settings.nodePrep, playbook: env.nodePrepPlaybook } };
}

/** The address the SSH checks use for a node. */
export function sshAddress(env: RunnerEnv, address: string | undefined): string | undefined {
  return address === undefined || address === "" ? undefined : (env.sshHost ?? address);
}
