import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { parse } from "yaml";

import { ANSIBLE_BIN, describeWithAnsible, ROOT } from "../support/ansible";

// It runs real Ansible: a budget for a loaded two-core machine.
jest.setTimeout(120_000);

const PLAYBOOK = join(ROOT, "ansible", "node-prep.yml");

describeWithAnsible("ansible/node-prep.yml", () => {
  it("passes ansible-playbook --syntax-check", () => {
    const dir = mkdtempSync(join(tmpdir(), "node-prep-"));
    writeFileSync(
      join(dir, "hosts.yaml"),
      "all:\n  children:\n    k8s_cluster:\n      hosts:\n        n1: {}\n",
    );
    const out = spawnSync(
      join(ANSIBLE_BIN, "ansible-playbook"),
      ["-i", join(dir, "hosts.yaml"), "--syntax-check", PLAYBOOK],
      { encoding: "utf8" },
    );
    expect(out.stderr).toBe("");
    expect(out.status).toBe(0);
  });
});

describe("ansible/node-prep.yml content", () => {
  const [play] = parse(readFileSync(PLAYBOOK, "utf8")) as [
    { hosts: string; tasks: { name: string; when?: unknown }[]; vars: Record<string, string> },
  ];
  it("targets the cluster nodes and blacklists nouveau only on gpu_nodes", () => {
    expect(play.hosts).toBe("k8s_cluster");
    const nouveau = play.tasks.find((t) => t.name === "Blacklist nouveau on GPU nodes");
    expect(String(nouveau?.when)).toContain("groups['gpu_nodes']");
  });
  it("installs the storage packages only when democratic-csi needs them", () => {
    const pkgs = play.vars.node_prep_packages;
    expect(pkgs).toContain("qemu-guest-agent");
    expect(pkgs).toMatch(/'open-iscsi', 'multipath-tools'\] if node_prep_iscsi/);
    expect(pkgs).toMatch(/'nfs-common'\] if node_prep_nfs/);
  });
});
