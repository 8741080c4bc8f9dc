import { join } from "node:path";

import { LocalProvider } from "@cdktf/provider-local/lib/provider";
import { NullProvider } from "@cdktf/provider-null/lib/provider";
import { LocalBackend, TerraformOutput, TerraformStack, Token } from "cdktf";
import type { Construct } from "constructs";

import type { ClusterConfig } from "../config/schema";
import { KubesprayInventory } from "../constructs/kubespray-inventory";
import { KubesprayRunner } from "../constructs/kubespray-runner";
import { kubesprayRelease } from "../kubespray-vars/releases";
import { API_SERVER_PORT, groupVars } from "../kubespray-vars/vars";
import type { RunnerSettings } from "../lib/kubespray/commands";
import { buildInventory } from "../lib/kubespray/inventory";
import type { RunRecord } from "../lib/kubespray/planner";
import { planChanges, previousControlPlaneOrder, triggerAction } from "../lib/kubespray/planner";
import { absoluteUserPath, NODE_PREP_PLAYBOOK, RUNNER_ENTRY } from "../lib/kubespray/project";
import { readRecord, statePaths } from "../lib/kubespray/record";
import { desiredState, inventoryHosts } from "../lib/kubespray/state";

import type { ClusterNode } from "./vms-stack";

export interface ClusterStackProps {
  readonly config: ClusterConfig;
  readonly stateDir: string;
  /** The nodes from the vms stack (cross-stack references). */
  readonly nodes: readonly ClusterNode[];
  /**
   * The record of the last successful Kubespray run (`null`: none).
   * @default - read from `<stateDir>/last-run/record.json`
   */
  readonly lastRun?: RunRecord | null;
}

/** Kubespray inventory, variables and the runner. */
export class ClusterStack extends TerraformStack {
  /** Path of the admin kubeconfig the runner writes (mode 0600); never its contents. */
  public readonly kubeconfigPath: string;
  /** What the runner will do, as shown in its trigger (e.g. `cluster.yml`). */
  public readonly plannedAction: string;

  constructor(scope: Construct, id: string, props: ClusterStackProps) {
    super(scope, id);
    new LocalBackend(this, { path: join(props.stateDir, `${id}.tfstate`) });
    new LocalProvider(this, "local");
    new NullProvider(this, "null");
    const { config } = props;
    const paths = statePaths(props.stateDir);
    const release = kubesprayRelease(config.kubernetes.kubesprayVersion);
    const record =
      props.lastRun === undefined ? readRecord(props.stateDir) : (props.lastRun ?? undefined);

    const hosts = inventoryHosts(props.nodes, (n) => (n as ClusterNode).ipv4);
    const inventory = buildInventory({
      hosts,
      sshUser: config.ssh.user,
      sshPrivateKeyFile: config.ssh.privateKeyFile,
      previousControlPlaneOrder: previousControlPlaneOrder(record),
    });
    const vars = groupVars(config);
    // DHCP addresses are tokens until the VMs exist: left out of the synth-time comparison.
    const desired = desiredState(
      hosts,
      vars,
      release.version,
      previousControlPlaneOrder(record),
      (a) => a !== "" && !Token.isUnresolved(a),
    );
    // A change the planner refuses (e.g. a skipped minor version) throws a ConfigError.
    const action = triggerAction(planChanges(desired, record), record);
    this.plannedAction = action;

    const files = new KubesprayInventory(this, "inventory", {
      hostsFile: paths.hostsFile,
      groupVarsFile: paths.groupVarsFile,
      inventory,
      groupVars: vars,
    });
    const drivers = (config.addons.storage?.democraticCsi ?? []).map((b) => b.driver);
    const settings: RunnerSettings = {
      clusterName: config.name,
      stateDir: props.stateDir,
      kubesprayDir: absoluteUserPath(config.kubespray.dir, process.cwd()),
      kubesprayVersion: release.version,
      ansibleCore: release.ansibleCore,
      pythonRequirements: release.pythonRequirements,
      mode: config.kubespray.mode,
      venv:
        config.kubespray.venv === undefined
          ? undefined
          : absoluteUserPath(config.kubespray.venv, process.cwd()),
      containerImage:
        config.kubespray.containerImage ?? `quay.io/kubespray/kubespray:${release.version}`,
      apiServerVip: config.kubernetes.apiServerVip,
      apiServerPort: API_SERVER_PORT,
      maxForks: config.kubespray.maxForks,
      nodePrep: {
        playbook: NODE_PREP_PLAYBOOK,
        iscsi: drivers.some((d) => d.endsWith("iscsi")),
        nfs: drivers.some((d) => d.endsWith("nfs")),
      },
    };
    new KubesprayRunner(this, "runner", {
      settingsFile: paths.settingsFile,
      settings,
      inventorySha256: files.hostsFile.contentSha256,
      groupVarsSha256: files.groupVarsFile.contentSha256,
      action,
      runnerEntry: RUNNER_ENTRY,
    });

    this.kubeconfigPath = paths.kubeconfig;
    new TerraformOutput(this, "kubeconfig_path", { value: this.kubeconfigPath });
    new TerraformOutput(this, "kubespray_action", { value: action });
  }
}
