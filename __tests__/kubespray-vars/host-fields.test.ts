/**
 * The table of host fields (kubespray-vars/host-fields.ts): each row writes its field into
 * the inventory and reads the same value back, and a change of a field on a node that stays
 * is what the planner sees.
 */
import { parse } from "yaml";

import { expandNodes } from "../../config/nodes";
import type { KubesprayHost } from "../../kubespray-vars/host-fields";
import {
  changesNeedingPlaybook,
  HOST_FIELDS,
  hostVariables,
  kubesprayHost,
} from "../../kubespray-vars/host-fields";
import { MANAGED_VARIABLES } from "../../kubespray-vars/managed";
import { buildInventory, parseInventory } from "../../lib/kubespray/inventory";
import { accept, cloud } from "../fixtures/definitions";

const host = (over: Partial<KubesprayHost> = {}): KubesprayHost => ({
  name: "w-1",
  role: "worker",
  address: "10.0.0.5",
  labels: {},
  taints: [],
  gpu: false,
  ...over,
});

describe("hostVariables", () => {
  it("uses one address for ansible_host, ip and access_ip", () => {
    expect(hostVariables(host())).toEqual({
      ansible_host: "10.0.0.5",
      ip: "10.0.0.5",
      access_ip: "10.0.0.5",
    });
  });

  it("adds node_labels and node_taints only when there are any", () => {
    expect(hostVariables(host({ labels: { gpu: "yes" }, taints: ["a:NoSchedule"] }))).toMatchObject(
      {
        node_labels: { gpu: "yes" },
        node_taints: ["a:NoSchedule"],
      },
    );
  });
});

describe("every row", () => {
  // The cloud example has a control plane, a worker and a GPU worker with labels and taints.
  const nodes = expandNodes(accept(cloud()).config).map((n, i) => ({
    ...n,
    ipv4: `192.168.100.${11 + i}`,
  }));
  const hosts = nodes.map(kubesprayHost);

  it("takes each field from the node", () => {
    expect(hosts.map((h) => [h.name, h.role, h.address, h.gpu])).toEqual([
      ["cloud-controller-1", "control-plane", "192.168.100.11", false],
      ["cloud-cpu-worker-1", "worker", "192.168.100.12", false],
      ["cloud-gpu-worker-1", "worker", "192.168.100.13", true],
    ]);
    expect(hosts[2].taints).toEqual(["nvidia.com/gpu=present:NoSchedule"]);
  });

  it("reads back from the written inventory exactly what it wrote", () => {
    const text = JSON.stringify(
      buildInventory({ hosts, sshUser: "debian", sshPrivateKeyFile: "~/.ssh/id" }),
    );
    expect(parseInventory(text).hosts).toEqual(hosts);
    expect(parse(text).all.children.gpu_nodes.hosts).toEqual({ "cloud-gpu-worker-1": {} });
  });

  it.each(Object.keys(HOST_FIELDS))("%s: a change on a node that stays is seen", (field) => {
    const changed: Record<string, KubesprayHost> = {
      role: host({ role: "control-plane" }),
      address: host({ address: "10.0.0.6" }),
      labels: host({ labels: { a: "b" } }),
      taints: host({ taints: ["a:NoSchedule"] }),
      gpu: host({ gpu: true }),
    };
    expect(changesNeedingPlaybook(host(), changed[field])).toEqual([field]);
    expect(changesNeedingPlaybook(host(), host())).toEqual([]);
  });

  it("does not compare an address that is not known yet", () => {
    expect(changesNeedingPlaybook(host(), host({ address: undefined }))).toEqual([]);
  });

  it("names the definition field behind each host variable Kubespray reads", () => {
    expect(MANAGED_VARIABLES).toMatchObject({
      ip: expect.stringContaining("nodePools[].firstIp"),
      access_ip: expect.stringContaining("nodePools[].firstIp"),
      node_labels: "nodePools[].labels",
      node_taints: "nodePools[].taints",
    });
  });
});
