/**
 * The runner's inputs: everything the cluster stack writes for the runner and has it run
 * (the inventory, the group_vars, runner.json and the action), from the definition, its
 * nodes (with their addresses) and the record of the last successful run. Pure: the caller
 * reads the record and says where relative paths start, so the cluster stack and
 * `npm run render` share one pipeline, tested without constructs.
 */
import { isAbsolute, relative } from "node:path";

import { Token } from "cdktf";

import type { ClusterNode } from "../../config/nodes";
import type { ClusterConfig } from "../../config/schema";
import { storageDriver } from "../../config/storage-drivers";
import { kubesprayHost } from "../../kubespray-vars/host-fields";
import { kubesprayRelease } from "../../kubespray-vars/releases";
import { API_SERVER_PORT, groupVars } from "../../kubespray-vars/vars";

import type { RunnerSettings } from "./commands";
import { desiredCluster } from "./desired-cluster";
import type { InventoryDocument } from "./inventory";
import { buildInventory } from "./inventory";
import type { RunRecord } from "./playbooks";
import { playbooksFor, previousControlPlaneOrder, triggerAction } from "./playbooks";
import { absoluteUserPath, NODE_PREP_PLAYBOOK } from "./project";
import { recordStoreOf } from "./record-store";

/** The Kubespray inventory and its variables. */
export interface KubesprayFiles {
  readonly inventory: InventoryDocument;
  readonly groupVars: Record<string, unknown>;
}

export interface RunnerInputs extends KubesprayFiles {
  /** What the runner needs besides the inventory (written as JSON). */
  readonly settings: RunnerSettings;
  /** The planned playbooks, or the last run's action when nothing changed. */
  readonly action: string;
}

export interface RunnerInputsOptions {
  /** The cluster's state directory (absolute). */
  readonly stateDir: string;
  /** Where relative paths of the definition (`kubespray.dir`, `kubespray.venv`) start. */
  readonly baseDir: string;
  /**
   * Paths in the runner settings relative to the settings file's directory (the state
   * directory), so that the settings, kept in the state, are the same in every clone
   * (`state.backend: pg`); paths the definition gives as absolute or `~/...` stay as given.
   * @default false - absolute paths
   */
  readonly portablePaths?: boolean;
}

/** The inventory and variables; `record` keeps the control-plane order of the last run. */
export function kubesprayFiles(
  config: ClusterConfig,
  nodes: readonly ClusterNode[],
  record: RunRecord | undefined,
): KubesprayFiles {
  return {
    inventory: buildInventory({
      hosts: nodes.map(kubesprayHost),
      sshUser: config.ssh.user,
      sshPrivateKeyFile: config.ssh.privateKeyFile,
      previousControlPlaneOrder: previousControlPlaneOrder(record),
    }),
    groupVars: groupVars(config),
  };
}

/**
 * The runner's inputs. A change no playbook can make (e.g. a skipped minor version) throws
 * a UserError. DHCP addresses are tokens until the VMs exist: they are left out of the
 * comparison with the record.
 */
export function runnerInputs(
  config: ClusterConfig,
  nodes: readonly ClusterNode[],
  record: RunRecord | undefined,
  options: RunnerInputsOptions,
): RunnerInputs {
  const release = kubesprayRelease(config.kubernetes.kubesprayVersion);
  const files = kubesprayFiles(config, nodes, record);
  const desired = desiredCluster(
    nodes.map(kubesprayHost),
    files.groupVars,
    release.version,
    previousControlPlaneOrder(record),
    (a) => a !== "" && !Token.isUnresolved(a),
  );
  const protocols = (config.addons.storage?.democraticCsi ?? []).map(
    (b) => storageDriver(b.driver).protocol,
  );
  // The runner resolves relative paths against the settings file's directory (readSettings).
  const stated = (path: string) =>
    options.portablePaths ? relative(options.stateDir, path) || "." : path;
  const userPath = (path: string) =>
    isAbsolute(path) || path === "~" || path.startsWith("~/")
      ? path
      : stated(absoluteUserPath(path, options.baseDir));
  const settings: RunnerSettings = {
    clusterName: config.name,
    stateDir: stated(options.stateDir),
    kubesprayDir: userPath(config.kubespray.dir),
    kubesprayVersion: release.version,
    ansibleCore: release.ansibleCore,
    pythonRequirements: release.pythonRequirements,
    mode: config.kubespray.mode,
    venv: config.kubespray.venv === undefined ? undefined : userPath(config.kubespray.venv),
    containerImage:
      config.kubespray.containerImage ?? `quay.io/kubespray/kubespray:${release.version}`,
    apiServerVip: config.kubernetes.apiServerVip,
    apiServerPort: API_SERVER_PORT,
    maxForks: config.kubespray.maxForks,
    keepRuns: config.kubespray.keepRuns,
    nodePrep: {
      playbook: stated(NODE_PREP_PLAYBOOK),
      iscsi: protocols.includes("iscsi"),
      nfs: protocols.includes("nfs"),
    },
    recordStore: recordStoreOf(config),
    proxmox: {
      endpoint: config.proxmox.endpoint,
      insecure: config.proxmox.insecure,
      snapshots: { enabled: config.proxmox.snapshots.enabled, keep: config.proxmox.snapshots.keep },
      vms: Object.fromEntries(
        nodes.map((n) => [n.name, { vmId: n.vmId, host: n.host, role: n.role }]),
      ),
    },
  };
  return { ...files, settings, action: triggerAction(playbooksFor(desired, record), record) };
}
