import { File } from "@cdktf/provider-local/lib/file";
import { Resource } from "@cdktf/provider-null/lib/resource";
import { Construct } from "constructs";

import type { RunnerSettings } from "../lib/kubespray/commands";

export interface KubesprayRunnerProps {
  /** Where the runner settings are written (JSON, no secrets). */
  readonly settingsFile: string;
  readonly settings: RunnerSettings;
  /** SHA-256 of the inventory file (a token). */
  readonly inventorySha256: string;
  /** SHA-256 of the group_vars file (a token). */
  readonly groupVarsSha256: string;
  /**
   * The planned playbooks, shown in `cdktf diff`, e.g. `scale.yml --limit=kspray-worker-4`;
   * unchanged when nothing changed.
   */
  readonly action: string;
  /**
   * Path of the compiled runner, `dist/runner/cli.js`: absolute, or relative to the stack's
   * directory (where OpenTofu runs local-exec).
   */
  readonly runnerEntry: string;
  /**
   * The state directory as the teardown marker's command gets it (relative to the stack's
   * directory, where OpenTofu runs, for a state kept elsewhere than on this machine).
   * @default settings.stateDir
   */
  readonly stateDir?: string;
  /**
   * The Node.js executable that starts the runner.
   * @default "node" - from PATH
   */
  readonly nodeBinary?: string;
}

/**
 * Runs Kubespray (through our runner) when the inventory, the variables or the release
 * change, and leaves a teardown marker when the cluster stack is destroyed.
 *
 * The marker has a resource of its own, which nothing but the state directory replaces:
 * the runner itself is replaced (destroyed, then created) by every change, and a marker
 * left by that destroy would make the vms stack skip remove-node.yml for a node removed
 * later, should the create fail in between.
 */
export class KubesprayRunner extends Construct {
  /** The null_resource (main child). */
  public readonly resource: Resource;
  public readonly settingsFile: File;
  /** Writes the teardown marker when destroyed, i.e. only when the stack is torn down. */
  public readonly teardown: Resource;

  constructor(scope: Construct, id: string, props: KubesprayRunnerProps) {
    super(scope, id);
    const node = props.nodeBinary ?? "node";
    const stateDir = props.stateDir ?? props.settings.stateDir;
    this.settingsFile = new File(this, "Settings", {
      filename: props.settingsFile,
      content: `${JSON.stringify(props.settings, null, 2)}\n`,
      filePermission: "0600",
      directoryPermission: "0700",
    });
    this.resource = new Resource(this, "Resource", {
      triggers: {
        inventory_sha256: props.inventorySha256,
        group_vars_sha256: props.groupVarsSha256,
        settings_sha256: this.settingsFile.contentSha256,
        kubespray_release: props.settings.kubesprayVersion,
        action: props.action,
        // Kept so that clusters deployed before the teardown resource are not re-run.
        state_dir: stateDir,
        runner: props.runnerEntry,
      },
      provisioners: [
        {
          // The interpreter takes the argv and the command is its last argument: no shell.
          type: "local-exec",
          interpreter: [node, props.runnerEntry, "apply", props.settingsFile, "--action"],
          command: props.action,
        },
      ],
    });
    this.teardown = new Resource(this, "Teardown", {
      triggers: { state_dir: stateDir, runner: props.runnerEntry },
      provisioners: [
        {
          type: "local-exec",
          when: "destroy",
          // Destroy-time provisioners can only reach their own attributes through `self`.
          interpreter: [node, "${self.triggers.runner}", "teardown"],
          command: "${self.triggers.state_dir}",
        },
      ],
    });
  }
}
