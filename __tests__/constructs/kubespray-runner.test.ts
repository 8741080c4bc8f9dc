import { Resource } from "@cdktf/provider-null/lib/resource";
import { TerraformStack, Testing } from "cdktf";
import "cdktf/lib/testing/adapters/jest";

import { KubesprayRunner } from "../../constructs/kubespray-runner";
import type { RunnerSettings } from "../../lib/kubespray/commands";

const settings: RunnerSettings = {
  clusterName: "kspray",
  stateDir: "/state/kspray",
  kubesprayDir: "/opt/kubespray",
  kubesprayVersion: "v2.31.0",
  ansibleCore: { min: "2.18.0", max: "2.19.0" },
  pythonRequirements: [],
  mode: "run",
  containerImage: "quay.io/kubespray/kubespray:v2.31.0",
  apiServerPort: 6443,
  nodePrep: { playbook: "/repo/ansible/node-prep.yml", iscsi: false, nfs: true },
};

interface NullResource {
  triggers: Record<string, string>;
  provisioner: { "local-exec": { interpreter: string[]; command: string; when?: string } }[];
}

function synth(nodeBinary?: string, stateDir?: string) {
  const stack = new TerraformStack(Testing.app(), "test");
  const runner = new KubesprayRunner(stack, "runner", {
    settingsFile: "/state/kspray/runner.json",
    settings,
    inventorySha256: "inv-sha",
    groupVarsSha256: "vars-sha",
    action: "scale.yml --limit=kspray-worker-4",
    runnerEntry: "/repo/dist/runner/cli.js",
    nodeBinary,
    stateDir,
  });
  const json = Testing.synth(stack);
  const parsed = JSON.parse(json) as {
    resource: {
      null_resource: Record<string, NullResource>;
      local_file: Record<string, { filename: string; content: string; file_permission: string }>;
    };
  };
  const resources = Object.values(parsed.resource.null_resource);
  return {
    runner,
    json,
    settingsFile: Object.values(parsed.resource.local_file)[0],
    apply: resources.find((r) => r.triggers.action !== undefined) as NullResource,
    teardown: resources.find((r) => r.triggers.action === undefined) as NullResource,
  };
}

describe("KubesprayRunner", () => {
  it("writes the settings as JSON, mode 0600", () => {
    const { settingsFile } = synth();
    expect(settingsFile.filename).toBe("/state/kspray/runner.json");
    expect(settingsFile.file_permission).toBe("0600");
    expect(JSON.parse(settingsFile.content)).toEqual(settings);
  });

  it("re-runs on a change of the inventory, the variables, the settings, the release or the action", () => {
    const { apply, json } = synth();
    expect(json).toHaveResourceWithProperties(Resource, {
      triggers: expect.objectContaining({
        inventory_sha256: "inv-sha",
        group_vars_sha256: "vars-sha",
        kubespray_release: "v2.31.0",
        action: "scale.yml --limit=kspray-worker-4",
      }) as unknown,
    });
    expect(apply.triggers.settings_sha256).toMatch(/^\$\{local_file\..*\.content_sha256\}$/);
  });

  it("starts the runner without a shell: argv in the interpreter, the action as the command", () => {
    const { apply } = synth("/usr/bin/node20");
    expect(apply.provisioner[0]["local-exec"]).toEqual({
      interpreter: [
        "/usr/bin/node20",
        "/repo/dist/runner/cli.js",
        "apply",
        "/state/kspray/runner.json",
        "--action",
      ],
      command: "scale.yml --limit=kspray-worker-4",
    });
  });

  it("gives both resources the state directory it is told, else the settings' one", () => {
    const told = synth(undefined, "../../../.state/kspray");
    expect(told.apply.triggers.state_dir).toBe("../../../.state/kspray");
    expect(told.teardown.triggers.state_dir).toBe("../../../.state/kspray");
    expect(synth().teardown.triggers.state_dir).toBe(settings.stateDir);
  });

  it("leaves the teardown marker only when destroyed, from a resource of its own", () => {
    const { teardown, runner } = synth();
    expect(teardown.provisioner[0]["local-exec"]).toEqual({
      when: "destroy",
      interpreter: ["node", "${self.triggers.runner}", "teardown"],
      command: "${self.triggers.state_dir}",
    });
    expect(teardown.triggers).toEqual({
      state_dir: "/state/kspray",
      runner: "/repo/dist/runner/cli.js",
    });
    expect(runner.resource.node.id).toBe("Resource");
    expect(runner.teardown.node.id).toBe("Teardown");
  });
});
