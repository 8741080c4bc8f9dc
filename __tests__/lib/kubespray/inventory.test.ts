import { spawnSync } from "node:child_process";
import { mkdtempSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

import { parse } from "yaml";

import { loadClusterConfig } from "../../../config/load";
import { UserError } from "../../../errors/user-error";
import {
  buildInventory,
  controlPlaneOrder,
  parseInventory,
  withoutHost,
} from "../../../lib/kubespray/inventory";
import { renderFiles } from "../../../lib/kubespray/render";
import { describeWithAnsible, ANSIBLE_BIN } from "../../support/ansible";

// It runs real Ansible: a budget for a loaded two-core machine.
jest.setTimeout(120_000);

const HOMELAB = join(__dirname, "..", "..", "..", "examples", "homelab.yaml");
const CLOUD = join(__dirname, "..", "..", "..", "examples", "cloud-cluster.yaml");
const CLOUD_ADDRESSES = {
  "cloud-controller-1": "192.168.100.11",
  "cloud-cpu-worker-1": "192.168.100.12",
  "cloud-gpu-worker-1": "192.168.100.13",
};

interface Inv {
  all: {
    vars: Record<string, unknown>;
    hosts: Record<string, Record<string, unknown>>;
    children: Record<
      string,
      { hosts?: Record<string, unknown>; children?: Record<string, unknown> }
    >;
  };
}

const groupHosts = (inv: Inv, group: string) => Object.keys(inv.all.children[group].hosts ?? {});

describe("homelab inventory", () => {
  const { files } = renderFiles(loadClusterConfig(HOMELAB).config);
  const inv = parse(files["hosts.yaml"]) as Inv;

  it("lists every host with ansible_host, ip and access_ip", () => {
    expect(Object.keys(inv.all.hosts)).toEqual([
      "kspray-cp-1",
      "kspray-cp-2",
      "kspray-cp-3",
      "kspray-worker-1",
      "kspray-worker-2",
      "kspray-worker-3",
    ]);
    expect(inv.all.hosts["kspray-worker-2"]).toEqual({
      ansible_host: "10.10.30.32",
      ip: "10.10.30.32",
      access_ip: "10.10.30.32",
    });
  });

  it("puts control planes in kube_control_plane and etcd, workers in kube_node", () => {
    expect(groupHosts(inv, "kube_control_plane")).toEqual([
      "kspray-cp-1",
      "kspray-cp-2",
      "kspray-cp-3",
    ]);
    expect(groupHosts(inv, "etcd")).toEqual(["kspray-cp-1", "kspray-cp-2", "kspray-cp-3"]);
    expect(groupHosts(inv, "kube_node")).toEqual([
      "kspray-worker-1",
      "kspray-worker-2",
      "kspray-worker-3",
    ]);
    expect(inv.all.children.k8s_cluster.children).toEqual({
      kube_control_plane: {},
      kube_node: {},
    });
    expect(groupHosts(inv, "calico_rr")).toEqual([]);
    expect(groupHosts(inv, "gpu_nodes")).toEqual([]);
  });

  it("sets the SSH user and key in all.vars", () => {
    expect(inv.all.vars).toEqual({
      ansible_user: "debian",
      ansible_ssh_private_key_file: "~/.ssh/id_ed25519",
    });
  });
});

describe("cloud-cluster inventory (DHCP, rendered with fake addresses)", () => {
  const config = loadClusterConfig(CLOUD).config;

  it("refuses to render DHCP pools without addresses, naming the field", () => {
    expect(() => renderFiles(config)).toThrow(UserError);
    expect(() => renderFiles(config)).toThrow(
      /nodePools\[0\]\.firstIp: pool "controller" uses DHCP/,
    );
  });

  const inv = parse(renderFiles(config, { addresses: CLOUD_ADDRESSES }).files["hosts.yaml"]) as Inv;

  it("gives the GPU worker its labels, taints and the gpu_nodes group", () => {
    expect(inv.all.hosts["cloud-gpu-worker-1"]).toEqual({
      ansible_host: "192.168.100.13",
      ip: "192.168.100.13",
      access_ip: "192.168.100.13",
      node_labels: { "workload-type": "inference", "gpu-type": "rtx-a6000" },
      node_taints: ["nvidia.com/gpu=present:NoSchedule"],
    });
    expect(groupHosts(inv, "gpu_nodes")).toEqual(["cloud-gpu-worker-1"]);
    expect(inv.all.hosts["cloud-cpu-worker-1"].node_labels).toBeUndefined();
  });

  it("groups one control plane and two workers", () => {
    expect(groupHosts(inv, "kube_control_plane")).toEqual(["cloud-controller-1"]);
    expect(groupHosts(inv, "etcd")).toEqual(["cloud-controller-1"]);
    expect(groupHosts(inv, "kube_node")).toEqual(["cloud-cpu-worker-1", "cloud-gpu-worker-1"]);
    expect(inv.all.vars.ansible_ssh_private_key_file).toBe("~/.ssh/cloud_ed25519");
  });
});

describe("control-plane order", () => {
  it("keeps the recorded order and appends new control planes", () => {
    expect(controlPlaneOrder(["cp-1", "cp-2", "cp-3", "cp-4"], ["cp-2", "cp-3", "cp-1"])).toEqual([
      "cp-2",
      "cp-3",
      "cp-1",
      "cp-4",
    ]);
    expect(controlPlaneOrder(["cp-1", "cp-3"], ["cp-1", "cp-2", "cp-3"])).toEqual(["cp-1", "cp-3"]);
  });

  it("renders a control plane added later at the end of its groups", () => {
    const host = (name: string) => ({
      name,
      role: "control-plane" as const,
      address: "10.0.0.1",
      labels: {},
      taints: [],
      gpu: false,
    });
    const inv = buildInventory({
      hosts: [host("a-0"), host("b-1"), host("c-2")],
      sshUser: "u",
      sshPrivateKeyFile: "k",
      previousControlPlaneOrder: ["b-1", "c-2"],
    });
    expect(Object.keys(inv.all.children.kube_control_plane.hosts)).toEqual(["b-1", "c-2", "a-0"]);
    expect(Object.keys(inv.all.children.etcd.hosts)).toEqual(["b-1", "c-2", "a-0"]);
    // Without workers, the control planes run workloads too.
    expect(Object.keys(inv.all.children.kube_node.hosts)).toEqual(["b-1", "c-2", "a-0"]);
  });
});

describe("parseInventory / withoutHost", () => {
  const text = renderFiles(loadClusterConfig(CLOUD).config, { addresses: CLOUD_ADDRESSES }).files[
    "hosts.yaml"
  ];

  it("reads back what buildInventory wrote", () => {
    const parsed = parseInventory(text);
    expect(parsed.controlPlaneOrder).toEqual(["cloud-controller-1"]);
    expect(parsed.hosts.map((h) => [h.name, h.role, h.address, h.gpu])).toEqual([
      ["cloud-controller-1", "control-plane", "192.168.100.11", false],
      ["cloud-cpu-worker-1", "worker", "192.168.100.12", false],
      ["cloud-gpu-worker-1", "worker", "192.168.100.13", true],
    ]);
    expect(parsed.hosts[2].taints).toEqual(["nvidia.com/gpu=present:NoSchedule"]);
  });

  it("drops a host from all.hosts and every group", () => {
    const inv = parse(withoutHost(text, "cloud-gpu-worker-1")) as Inv;
    expect(Object.keys(inv.all.hosts)).not.toContain("cloud-gpu-worker-1");
    expect(groupHosts(inv, "kube_node")).toEqual(["cloud-cpu-worker-1"]);
    expect(groupHosts(inv, "gpu_nodes")).toEqual([]);
  });
});

describeWithAnsible("ansible-inventory --list on the generated inventory", () => {
  function list(files: Readonly<Record<string, string>>) {
    const dir = mkdtempSync(join(tmpdir(), "inventory-"));
    for (const [rel, content] of Object.entries(files)) {
      mkdirSync(dirname(join(dir, rel)), { recursive: true });
      writeFileSync(join(dir, rel), content);
    }
    const out = spawnSync(
      join(ANSIBLE_BIN, "ansible-inventory"),
      ["-i", join(dir, "hosts.yaml"), "--list"],
      {
        encoding: "utf8",
      },
    );
    expect(out.stderr).not.toMatch(/WARNING|ERROR/);
    expect(out.status).toBe(0);
    return JSON.parse(out.stdout) as {
      _meta: { hostvars: Record<string, Record<string, unknown>> };
      [group: string]: { hosts?: string[]; children?: string[] } | unknown;
    };
  }

  it("shows the homelab groups in order and the host and group variables", () => {
    const listed = list(renderFiles(loadClusterConfig(HOMELAB).config).files);
    const group = (g: string) => listed[g] as { hosts?: string[]; children?: string[] };
    expect(group("kube_control_plane").hosts).toEqual([
      "kspray-cp-1",
      "kspray-cp-2",
      "kspray-cp-3",
    ]);
    expect(group("etcd").hosts).toEqual(["kspray-cp-1", "kspray-cp-2", "kspray-cp-3"]);
    expect(group("kube_node").hosts).toEqual([
      "kspray-worker-1",
      "kspray-worker-2",
      "kspray-worker-3",
    ]);
    expect(group("k8s_cluster").children?.sort()).toEqual(["kube_control_plane", "kube_node"]);
    const cp1 = listed._meta.hostvars["kspray-cp-1"];
    expect(cp1).toMatchObject({
      ansible_host: "10.10.30.21",
      ip: "10.10.30.21",
      access_ip: "10.10.30.21",
      ansible_user: "debian",
      kube_version: "1.35.4",
      kube_vip_address: "10.10.30.20",
    });
  });

  it("shows the cloud GPU worker's labels and taints", () => {
    const listed = list(
      renderFiles(loadClusterConfig(CLOUD).config, { addresses: CLOUD_ADDRESSES }).files,
    );
    expect(listed._meta.hostvars["cloud-gpu-worker-1"]).toMatchObject({
      node_labels: { "workload-type": "inference", "gpu-type": "rtx-a6000" },
      node_taints: ["nvidia.com/gpu=present:NoSchedule"],
    });
    expect((listed.gpu_nodes as { hosts: string[] }).hosts).toEqual(["cloud-gpu-worker-1"]);
  });
});
