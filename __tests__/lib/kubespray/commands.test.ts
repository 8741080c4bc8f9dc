import type { CommandContext, RunnerSettings } from "../../../lib/kubespray/commands";
import {
  nodePrepStep,
  printScript,
  shellQuote,
  stepCommand,
} from "../../../lib/kubespray/commands";

const settings: RunnerSettings = {
  clusterName: "kspray",
  stateDir: "/state",
  kubesprayDir: "/opt/kubespray",
  kubesprayVersion: "v2.31.0",
  ansibleCore: { min: "2.18.0", max: "2.19.0" },
  pythonRequirements: ["ansible==11.13.0"],
  mode: "run",
  containerImage: "quay.io/kubespray/kubespray:v2.31.0",
  apiServerPort: 6443,
  nodePrep: { playbook: "/repo/ansible/node-prep.yml", iscsi: true, nfs: false },
};
const ctx: CommandContext = {
  settings,
  kubesprayDir: "/opt/kubespray",
  hostsFile: "/state/inventory/hosts.yaml",
  ansiblePlaybook: "/venv/bin/ansible-playbook",
  sshPrivateKeyFile: "/home/me/.ssh/id_ed25519",
  hostCount: 6,
};

describe("stepCommand", () => {
  it("runs ansible-playbook in the Kubespray directory with become and the limit", () => {
    const c = stepCommand({ playbook: "scale.yml", limit: ["w-4", "w-5"] }, ctx);
    expect(c.cwd).toBe("/opt/kubespray");
    expect(c.argv).toEqual([
      "/venv/bin/ansible-playbook",
      "-i",
      "/state/inventory/hosts.yaml",
      "-b",
      "scale.yml",
      "--limit=w-4,w-5",
      "--forks=5",
    ]);
  });

  it("passes remove-node's variables as separate -e arguments", () => {
    const c = stepCommand(
      { playbook: "remove-node.yml", extraVars: { node: "w-2", skip_confirmation: "true" } },
      {
        ...ctx,
        extraInventories: ["/tmp/local.yaml"],
      },
    );
    expect(c.argv).toEqual([
      "/venv/bin/ansible-playbook",
      "-i",
      "/state/inventory/hosts.yaml",
      "-i",
      "/tmp/local.yaml",
      "-b",
      "remove-node.yml",
      "--forks=6",
      "-e",
      "node=w-2",
      "-e",
      "skip_confirmation=true",
    ]);
  });

  it("passes the node-preparation switches as JSON", () => {
    const c = stepCommand(nodePrepStep(settings, ["w-4"]), ctx);
    expect(c.argv.slice(-5)).toEqual([
      "/repo/ansible/node-prep.yml",
      "--limit=w-4",
      "--forks=5",
      "-e",
      '{"node_prep_iscsi":true,"node_prep_nfs":false}',
    ]);
    expect(c.label).toBe("node-prep.yml --limit=w-4");
  });

  it("loads our callback plugin and names the events file when asked for events", () => {
    const events = {
      pluginDir: "/repo/ansible/callback_plugins",
      file: "/state/runs/x.events.jsonl",
    };
    const c = stepCommand({ playbook: "cluster.yml" }, ctx, events);
    expect(c.env).toEqual({
      ANSIBLE_CALLBACK_PLUGINS: "/repo/ansible/callback_plugins",
      ANSIBLE_CALLBACKS_ENABLED: "kspray_events",
      KSPRAY_EVENTS_FILE: "/state/runs/x.events.jsonl",
      ANSIBLE_NOCOLOR: "1",
    });
    expect(c.argv).toEqual(stepCommand({ playbook: "cluster.yml" }, ctx).argv);
    expect(stepCommand({ playbook: "cluster.yml" }, ctx).env).toBeUndefined();
    // In a container: the plugin and the runs folder mounted, the variables passed.
    const inContainer = stepCommand(
      { playbook: "cluster.yml" },
      { ...ctx, settings: { ...settings, mode: "container" }, containerEngine: "docker" },
      events,
    );
    const argv = inContainer.argv.join(" ");
    expect(argv).toContain(
      "-v /repo/ansible/callback_plugins:/kspray/callback_plugins:ro -v /state/runs:/kspray/runs",
    );
    expect(argv).toContain(
      "--env ANSIBLE_CALLBACK_PLUGINS=/kspray/callback_plugins --env ANSIBLE_CALLBACKS_ENABLED=kspray_events " +
        "--env KSPRAY_EVENTS_FILE=/kspray/runs/x.events.jsonl --env ANSIBLE_NOCOLOR=1 -w /kubespray",
    );
    expect(inContainer.playbook).toBe("cluster.yml");
  });

  it("builds the docker argv of container mode with the inventory and key mounted", () => {
    const c = stepCommand(
      { playbook: "cluster.yml" },
      { ...ctx, settings: { ...settings, mode: "container" }, containerEngine: "podman" },
    );
    expect(c.argv).toEqual([
      "podman",
      "run",
      "--rm",
      "--network=host",
      "-v",
      "/state/inventory:/inventory",
      "-v",
      "/home/me/.ssh/id_ed25519:/root/.ssh/id_kubespray:ro",
      "-v",
      "/repo/ansible:/node-prep:ro",
      "-w",
      "/kubespray",
      "quay.io/kubespray/kubespray:v2.31.0",
      "ansible-playbook",
      "-i",
      "/inventory/hosts.yaml",
      "-e",
      "ansible_ssh_private_key_file=/root/.ssh/id_kubespray",
      "-b",
      "cluster.yml",
      "--forks=6",
    ]);
  });

  it("runs every host the playbook touches at once, from Ansible's 5 up to the cap", () => {
    const forks = (hosts: number, limit?: string[], maxForks?: number) =>
      stepCommand(
        { playbook: "cluster.yml", limit },
        { ...ctx, hostCount: hosts, settings: { ...settings, maxForks } },
      ).argv.filter((a) => a.startsWith("--forks="));
    expect(forks(3)).toEqual(["--forks=5"]);
    expect(forks(8)).toEqual(["--forks=8"]);
    expect(forks(60)).toEqual(["--forks=25"]);
    expect(forks(60, undefined, 40)).toEqual(["--forks=40"]);
    expect(forks(60, ["a", "b", "c", "d", "e", "f", "g"])).toEqual(["--forks=7"]);
  });

  it("maps the node-preparation playbook into the container", () => {
    const c = stepCommand(nodePrepStep(settings), {
      ...ctx,
      settings: { ...settings, mode: "container" },
    });
    expect(c.argv[0]).toBe("docker");
    expect(c.argv).toContain("/node-prep/node-prep.yml");
  });
});

describe("printScript", () => {
  it("quotes arguments and stops at the first failure", () => {
    const script = printScript(
      [stepCommand(nodePrepStep(settings), ctx), stepCommand({ playbook: "cluster.yml" }, ctx)],
      [
        "node",
        "/repo/dist/runner/cli.js",
        "record",
        "/state/runner.json",
        "--action",
        "cluster.yml",
      ],
    );
    expect(script).toMatch(/^#!\/bin\/sh\n/);
    expect(script).toContain("set -eu");
    expect(script).toContain(`'{"node_prep_iscsi":true,"node_prep_nfs":false}'`);
    expect(script).toContain(
      "(cd /opt/kubespray && /venv/bin/ansible-playbook -i /state/inventory/hosts.yaml -b cluster.yml --forks=6)",
    );
    expect(script.trim().split("\n").pop()).toBe(
      "node /repo/dist/runner/cli.js record /state/runner.json --action cluster.yml",
    );
  });

  it("shellQuote escapes single quotes", () => {
    expect(shellQuote("it's")).toBe(`'it'\\''s'`);
    expect(shellQuote("plain-arg")).toBe("plain-arg");
  });
});
