import { relative, resolve } from "node:path";

import { LocalProvider } from "@cdktf/provider-local/lib/provider";
import { NullProvider } from "@cdktf/provider-null/lib/provider";
import { App, TerraformOutput, TerraformStack } from "cdktf";
import type { Construct } from "constructs";

import type { ClusterNode } from "../config/nodes";
import type { ClusterConfig } from "../config/schema";
import { KubesprayInventory } from "../constructs/kubespray-inventory";
import { KubesprayRunner } from "../constructs/kubespray-runner";
import type { RunRecord } from "../lib/kubespray/playbooks";
import { RUNNER_ENTRY } from "../lib/kubespray/project";
import { statePaths } from "../lib/kubespray/record";
import { runnerInputs } from "../lib/kubespray/runner-inputs";

import { stateBackend } from "./state-backend";

export interface ClusterStackProps {
  readonly config: ClusterConfig;
  readonly stateDir: string;
  /** Where relative paths of the definition start (the directory cdktf runs in). */
  readonly baseDir: string;
  /** The nodes from the vms stack (cross-stack references). */
  readonly nodes: readonly ClusterNode[];
  /**
   * The record of the last successful Kubespray run (`readRecord(stateDir)`).
   * @default - none: the whole cluster is built (cluster.yml)
   */
  readonly lastRun?: RunRecord;
}

/** Kubespray inventory, variables and the runner. */
export class ClusterStack extends TerraformStack {
  /** Path of the admin kubeconfig the runner writes (mode 0600); never its contents. */
  public readonly kubeconfigPath: string;
  /** What the runner will do, as shown in its trigger (e.g. `cluster.yml`). */
  public readonly action: string;

  constructor(scope: Construct, id: string, props: ClusterStackProps) {
    super(scope, id);
    stateBackend(this, id, props.config, props.stateDir);
    new LocalProvider(this, "local");
    new NullProvider(this, "null");
    // With a shared state (pg), paths in it are relative to the stack's directory, where
    // OpenTofu runs, so that every clone plans the same; the local backend keeps them absolute.
    const portable = props.config.state.backend === "pg";
    const stackDir = resolve(App.of(this).outdir, "stacks", id);
    const at = (path: string) => (portable ? relative(stackDir, path) : path);
    const paths = statePaths(props.stateDir);
    const inputs = runnerInputs(props.config, props.nodes, props.lastRun, {
      stateDir: props.stateDir,
      baseDir: props.baseDir,
      portablePaths: portable,
    });
    this.action = inputs.action;

    const files = new KubesprayInventory(this, "inventory", {
      hostsFile: at(paths.hostsFile),
      groupVarsFile: at(paths.groupVarsFile),
      inventory: inputs.inventory,
      groupVars: inputs.groupVars,
    });
    new KubesprayRunner(this, "runner", {
      settingsFile: at(paths.settingsFile),
      settings: inputs.settings,
      stateDir: at(props.stateDir),
      inventorySha256: files.hostsFile.contentSha256,
      groupVarsSha256: files.groupVarsFile.contentSha256,
      action: inputs.action,
      runnerEntry: at(RUNNER_ENTRY),
    });

    this.kubeconfigPath = paths.kubeconfig;
    new TerraformOutput(this, "kubeconfig_path", { value: at(this.kubeconfigPath) });
    new TerraformOutput(this, "kubespray_action", { value: inputs.action });
  }
}
