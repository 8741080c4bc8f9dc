import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { File } from "@cdktf/provider-local/lib/file";
import { App, Testing } from "cdktf";
import "cdktf/lib/testing/adapters/jest";
import { parse } from "yaml";

import { loadClusterConfig } from "../../config/load";
import type { ClusterNode } from "../../config/nodes";
import { expandNodes } from "../../config/nodes";
import type { ClusterConfig } from "../../config/schema";
import { UserError } from "../../errors/user-error";
import { kubesprayHost } from "../../kubespray-vars/host-fields";
import { groupVars } from "../../kubespray-vars/vars";
import type { InventoryDocument } from "../../lib/kubespray/inventory";
import type { RunRecord } from "../../lib/kubespray/playbooks";
import { ClusterStack } from "../../stacks/cluster-stack";

const EXAMPLES = join(__dirname, "..", "..", "examples");
const homelab = loadClusterConfig(join(EXAMPLES, "homelab.yaml")).config;
const cloud = loadClusterConfig(join(EXAMPLES, "cloud-cluster.yaml")).config;

const staticNodes = (config: ClusterConfig): ClusterNode[] =>
  expandNodes(config).map((n) => ({ ...n, ipv4: n.staticIp ?? "" }));

interface Synth {
  resource: {
    local_file: Record<string, Record<string, unknown>>;
    null_resource: Record<string, { triggers: Record<string, string>; provisioner: unknown[] }>;
  };
  output: Record<string, { value: string }>;
}

function synth(
  config: ClusterConfig,
  lastRun?: RunRecord,
  nodes = staticNodes(config),
  root = mkdtempSync(join(tmpdir(), "cdktf-")),
) {
  const app = new App({ outdir: join(root, "cdktf.out") });
  const stateDir = config.state.backend === "pg" ? join(root, ".state", "kspray") : "/state/kspray";
  const stack = new ClusterStack(app, "cluster", {
    config,
    stateDir,
    baseDir: "/work",
    nodes,
    lastRun,
  });
  const json = Testing.synth(stack);
  return { stack, json, parsed: JSON.parse(json) as Synth };
}

function recordOf(config: ClusterConfig, action = "cluster.yml"): RunRecord {
  const nodes = staticNodes(config);
  return {
    kubesprayVersion: "v2.31.0",
    hosts: nodes.map(kubesprayHost),
    controlPlaneOrder: nodes.filter((n) => n.role === "control-plane").map((n) => n.name),
    vars: groupVars(config),
    action,
    completedAt: "2026-01-01T00:00:00Z",
  };
}

describe("ClusterStack", () => {
  it("with a pg backend, keeps paths relative to its directory: two clones synthesize the same", () => {
    const pg: ClusterConfig = { ...homelab, state: { ...homelab.state, backend: "pg" } };
    process.env.PG_CONN_STR = "postgres://127.0.0.1/unused"; // read by OpenTofu, never here
    const [first, second] = [1, 2].map(() => synth(pg, recordOf(pg)));
    delete process.env.PG_CONN_STR;
    expect(second.json).toBe(first.json);
    const files = Object.values(first.parsed.resource.local_file).map((f) => f.filename);
    expect(files.sort()).toEqual([
      "../../../.state/kspray/inventory/group_vars/all/kubespray.yml",
      "../../../.state/kspray/inventory/hosts.yaml",
      "../../../.state/kspray/runner.json",
    ]);
    const runner = Object.values(first.parsed.resource.null_resource).find(
      (r) => r.triggers.action !== undefined,
    );
    expect(runner?.triggers.state_dir).toBe("../../../.state/kspray");
    expect(runner?.triggers.runner).toMatch(/^(\.\.\/)+.*dist\/runner\/cli\.js$/);
    expect(first.parsed.output.kubeconfig_path.value).toBe("../../../.state/kspray/kubeconfig");
  });

  it("writes the inventory and group_vars as local files with mode 0600 under the state directory", () => {
    const { json } = synth(homelab);
    expect(json).toHaveResourceWithProperties(File, {
      filename: "/state/kspray/inventory/hosts.yaml",
      file_permission: "0600",
      directory_permission: "0700",
    });
    expect(json).toHaveResourceWithProperties(File, {
      filename: "/state/kspray/inventory/group_vars/all/kubespray.yml",
      file_permission: "0600",
    });
    expect(json).toHaveResourceWithProperties(File, {
      filename: "/state/kspray/runner.json",
      file_permission: "0600",
    });
  });

  it("yamlencodes the inventory and never writes the kubeconfig contents", () => {
    const { parsed, json } = synth(homelab);
    const hosts = Object.values(parsed.resource.local_file).find(
      (f) => f.filename === "/state/kspray/inventory/hosts.yaml",
    );
    expect(String(hosts?.content)).toMatch(/^\$\{yamlencode\(/);
    expect(String(hosts?.content)).toContain("kspray-cp-1");
    expect(json).not.toMatch(/admin\.conf"?\s*:\s*"apiVersion/);
  });

  it("triggers the runner on the file hashes, the release and the planned action", () => {
    const { parsed, stack } = synth(homelab);
    const [runner] = Object.values(parsed.resource.null_resource);
    expect(Object.keys(runner.triggers).sort()).toEqual([
      "action",
      "group_vars_sha256",
      "inventory_sha256",
      "kubespray_release",
      "runner",
      "settings_sha256",
      "state_dir",
    ]);
    expect(runner.triggers.inventory_sha256).toMatch(/\$\{local_file\..*\.content_sha256\}/);
    expect(runner.triggers.kubespray_release).toBe("v2.31.0");
    expect(runner.triggers.action).toBe("cluster.yml");
    expect(runner.triggers.runner).toMatch(/dist\/runner\/cli\.js$/);
    expect(stack.kubeconfigPath).toBe("/state/kspray/kubeconfig");
    expect(parsed.output.kubeconfig_path.value).toBe("/state/kspray/kubeconfig");
  });

  it("runs the runner without a shell; only the teardown resource marks a teardown", () => {
    const { parsed } = synth(homelab);
    const entries = Object.entries(parsed.resource.null_resource);
    const [, runner] = entries.find(
      ([id]) => id.startsWith("runner_") && !id.includes("Teardown"),
    )!;
    const [, teardown] = entries.find(([id]) => id.startsWith("runner_Teardown"))!;
    expect(runner.provisioner).toEqual([
      {
        "local-exec": {
          interpreter: [
            "node",
            expect.stringMatching(/cli\.js$/),
            "apply",
            "/state/kspray/runner.json",
            "--action",
          ],
          command: "cluster.yml",
        },
      },
    ]);
    expect(teardown.provisioner).toEqual([
      {
        "local-exec": {
          when: "destroy",
          interpreter: ["node", "${self.triggers.runner}", "teardown"],
          command: "${self.triggers.state_dir}",
        },
      },
    ]);
    // Nothing that a change of the cluster touches replaces (and so destroys) it.
    expect(teardown.triggers).toEqual({
      state_dir: "/state/kspray",
      runner: expect.stringMatching(/dist\/runner\/cli\.js$/),
    });
  });

  it("shows scale.yml for one added worker", () => {
    const bigger = {
      ...homelab,
      nodePools: homelab.nodePools.map((p) => (p.name === "worker" ? { ...p, count: 4 } : p)),
    };
    const { stack } = synth(bigger, recordOf(homelab));
    expect(stack.action).toBe("playbooks/facts.yml; scale.yml --limit=kspray-worker-4");
  });

  it("keeps the recorded action when nothing changed, so a redeploy plans nothing", () => {
    const { stack } = synth(
      homelab,
      recordOf(homelab, "playbooks/facts.yml; scale.yml --limit=kspray-worker-3"),
    );
    expect(stack.action).toBe("playbooks/facts.yml; scale.yml --limit=kspray-worker-3");
  });

  it("shows remove-node.yml for a removed worker", () => {
    const smaller = {
      ...homelab,
      nodePools: homelab.nodePools.map((p) => (p.name === "worker" ? { ...p, count: 2 } : p)),
    };
    expect(synth(smaller, recordOf(homelab)).stack.action).toBe(
      "remove-node.yml -e node=kspray-worker-3",
    );
  });

  it("refuses a skipped minor version as a UserError on kubernetes.version", () => {
    const old = { ...homelab, kubernetes: { ...homelab.kubernetes, version: "1.33.2" } };
    expect(() => synth(homelab, recordOf(old))).toThrow(UserError);
    expect(() => synth(homelab, recordOf(old))).toThrow(
      /kubernetes\.version: Kubernetes 1\.33\.2 to 1\.35\.4 skips a minor version/,
    );
  });

  it("leaves DHCP addresses (tokens) out of the synth-time comparison", () => {
    const app = Testing.app();
    const nodes = expandNodes(cloud).map((n) => ({ ...n, ipv4: "${TfToken[TOKEN.1]}" }));
    // As after a deploy: the record holds the addresses the guest agents reported.
    const recorded = recordOf(cloud, "recorded");
    const lastRun: RunRecord = {
      ...recorded,
      hosts: recorded.hosts.map((h, i) => ({ ...h, address: `10.20.0.${11 + i}` })),
    };
    const stack = new ClusterStack(app, "cluster", {
      config: cloud,
      stateDir: "/state/cloud",
      baseDir: "/work",
      nodes,
      lastRun,
    });
    expect(stack.action).toBe("recorded");
  });

  it("writes runner settings with the release's Ansible range and the container image", () => {
    const { parsed } = synth(homelab);
    const settings = Object.values(parsed.resource.local_file).find(
      (f) => f.filename === "/state/kspray/runner.json",
    );
    const content = JSON.parse(String(settings?.content)) as Record<string, unknown>;
    expect(content).toMatchObject({
      kubesprayVersion: "v2.31.0",
      ansibleCore: { min: "2.18.0", max: "2.19.0" },
      containerImage: "quay.io/kubespray/kubespray:v2.31.0",
      apiServerVip: "10.10.30.20",
      kubesprayDir: "~/git/kubespray",
      nodePrep: { iscsi: true, nfs: true },
    });
  });
});

describe("ClusterStack, moving the first control-plane node away", () => {
  it("renders nextControlPlaneOrder and plans cluster.yml", () => {
    const record = {
      ...recordOf(homelab),
      nextControlPlaneOrder: ["kspray-cp-2", "kspray-cp-3", "kspray-cp-1"],
    };
    const { stack, parsed } = synth(homelab, record);
    expect(stack.action).toBe("cluster.yml");
    const hosts = Object.values(parsed.resource.local_file).find(
      (f) => f.filename === "/state/kspray/inventory/hosts.yaml",
    );
    // In that order in the file Kubespray reads (yamlencode would sort the names).
    const written = parse(String(hosts?.content), { version: "1.1" }) as InventoryDocument;
    for (const group of ["kube_control_plane", "etcd"] as const)
      expect(Object.keys(written.all.children[group].hosts)).toEqual(record.nextControlPlaneOrder);
  });
});
