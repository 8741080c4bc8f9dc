/**
 * The runner's snapshots before a risky Kubespray step (lib/maintenance/safety-net.ts),
 * through the Proxmox API with the deploy's token (`PROXMOX_VE_API_TOKEN`, which OpenTofu
 * hands local-exec with the rest of cdktf's environment): taken here before the step runs,
 * or, in print mode, a `snapshot` command at the top of the printed script, so that they
 * are taken where and when the script runs.
 */
import { PROXMOX_ENV } from "../config/secrets";
import { UserError } from "../errors/user-error";
import type { Command, RunnerSettings } from "../lib/kubespray/commands";
import { statePaths } from "../lib/kubespray/record";
import type { RiskyChange } from "../lib/kubespray/risky-steps";
import { snapshotBeforeStep } from "../lib/maintenance/safety-net";
import { ProxmoxHttpsClient } from "../preflight/proxmox-api";

import type { RunnerEnv } from "./env";

/** Whether to snapshot before `risky`; a UserError when it cannot be told (old runner.json). */
function wanted(settings: RunnerSettings, env: RunnerEnv, risky: RiskyChange): boolean {
  const px = settings.proxmox;
  if (px === undefined)
    throw UserError.at(
      statePaths(settings.stateDir).settingsFile,
      `written by a version without snapshots, so it names no VM to snapshot before ${risky.change}`,
      "deploy the cluster stack on its own first (npm run deploy -- cluster), then this change",
    );
  if (!px.snapshots.enabled) {
    env.log(
      `proxmox.snapshots.enabled is false: no snapshot of ${risky.nodes.join(", ")} before ${risky.change}; it cannot be rolled back`,
    );
    return false;
  }
  return true;
}

/** Snapshots the VMs `risky` writes to, before it runs (run and container modes). */
export async function snapshotBefore(
  settings: RunnerSettings,
  env: RunnerEnv,
  risky: RiskyChange | undefined,
  processEnv: NodeJS.ProcessEnv = process.env,
): Promise<void> {
  if (risky === undefined || !wanted(settings, env, risky)) return;
  const px = settings.proxmox!;
  const token = processEnv[PROXMOX_ENV.token];
  if (!token)
    throw UserError.at(
      PROXMOX_ENV.token,
      `not set, and the runner snapshots ${risky.nodes.join(", ")} through the Proxmox API before ${risky.change}`,
      "export the deploy's token, or set proxmox.snapshots.enabled: false to run it without a way back",
    );
  const step = await snapshotBeforeStep(
    {
      api: new ProxmoxHttpsClient({ endpoint: px.endpoint, token, insecure: px.insecure }),
      stateDir: settings.stateDir,
      clusterName: settings.clusterName,
      vms: px.vms,
      keep: px.snapshots.keep,
      log: env.log,
    },
    risky,
  );
  env.log(
    `snapshot ${step.snapshot} taken; undo ${risky.change} with: npm run rollback -- ${step.snapshot}`,
  );
}

/** Print mode: the runner's `snapshot` command that takes them when the script runs. */
export function snapshotCommands(
  settings: RunnerSettings,
  env: RunnerEnv,
  risky: RiskyChange | undefined,
): Command[] {
  if (risky === undefined || !wanted(settings, env, risky)) return [];
  const argv = [
    process.execPath,
    env.self,
    "snapshot",
    statePaths(settings.stateDir).settingsFile,
    "--playbook",
    risky.playbook,
    "--nodes",
    risky.nodes.join(","),
    "--change",
    risky.change,
  ];
  return [
    {
      argv,
      cwd: settings.stateDir,
      label: `snapshot ${risky.nodes.join(", ")} before ${risky.playbook} (needs ${PROXMOX_ENV.token})`,
      // Not a playbook: the runs folder never sees it (print mode only).
      playbook: "snapshot",
    },
  ];
}

/** The `snapshot` command's arguments back as a change. */
export function changeFromArgs(args: readonly string[]): RiskyChange {
  const value = (name: string) => {
    const i = args.indexOf(name);
    const v = i >= 0 ? args[i + 1] : undefined;
    if (v === undefined || v === "")
      throw UserError.at(
        `snapshot ${name}`,
        "missing",
        "run the script the cluster stack printed as it is: each of its snapshot lines names --playbook, --nodes and --change",
      );
    return v;
  };
  return {
    playbook: value("--playbook"),
    nodes: value("--nodes").split(","),
    change: value("--change"),
  };
}
