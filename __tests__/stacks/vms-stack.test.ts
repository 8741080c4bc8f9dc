import { Testing } from "cdktf";

import { parseClusterConfig } from "../../config/load";
import type { ClusterConfig } from "../../config/schema";
import { VmsStack } from "../../stacks/vms-stack";
import { cloud, DEBIAN_IMAGE, homelab, withImage } from "../fixtures/definitions";
import type { Definition } from "../fixtures/definitions";

type Vm = Record<string, unknown> & {
  name: string;
  node_name: string;
  vm_id: number;
  tags: string[];
};
interface Synthesized {
  resource: { proxmox_virtual_environment_vm: Record<string, Vm> };
  provider: { proxmox: Record<string, unknown>[] };
  output: Record<string, { value: unknown }>;
}

function config(definition: Definition): ClusterConfig {
  return parseClusterConfig(definition).config;
}

function synth(definition: Definition): { stack: VmsStack; json: Synthesized; text: string } {
  const app = Testing.app();
  const stack = new VmsStack(app, "vms", { config: config(definition), stateDir: "/state/x" });
  const text = Testing.synth(stack);
  return { stack, json: JSON.parse(text) as Synthesized, text };
}

/** The VMs keyed by their name, with the construct ID prefix of each resource key. */
function vmsByName(json: Synthesized): Map<string, Vm & { key: string }> {
  return new Map(
    Object.entries(json.resource.proxmox_virtual_environment_vm).map(([key, vm]) => [
      vm.name,
      { ...vm, key },
    ]),
  );
}

describe("VmsStack", () => {
  it("creates one full clone per node, named <cluster>-<pool>-<n> with IDs from vmIdStart", () => {
    const vms = vmsByName(synth(homelab()).json);
    expect([...vms.keys()]).toEqual([
      "kspray-cp-1",
      "kspray-cp-2",
      "kspray-cp-3",
      "kspray-worker-1",
      "kspray-worker-2",
      "kspray-worker-3",
    ]);
    expect(vms.get("kspray-cp-1")).toMatchObject({
      vm_id: 4100,
      clone: { vm_id: 9000, full: true, datastore_id: "local-lvm", node_name: "pve01" },
      cpu: { cores: 4 },
      memory: { dedicated: 8192 },
      disk: [{ interface: "scsi0", size: 40, datastore_id: "local-lvm" }],
      network_device: [{ bridge: "vmbr0", vlan_id: 30, model: "virtio" }],
      agent: { enabled: true },
      on_boot: true,
      initialization: {
        user_account: { username: "debian", keys: [expect.stringMatching(/^ssh-ed25519 /)] },
        ip_config: [{ ipv4: { address: "10.10.30.21/24", gateway: "10.10.30.1" } }],
        dns: { servers: ["10.10.30.1"], domain: "home.lan" },
      },
    });
    expect(vms.get("kspray-worker-1")?.vm_id).toBe(4200);
    expect(vms.get("kspray-worker-3")?.vm_id).toBe(4202);
  });

  it("clones a shared-storage template straight to other hosts without a non-shared target storage", () => {
    const vms = vmsByName(synth(homelab()).json);
    // cp-1 is on pve01, the template's node: cloned directly onto the datastore.
    expect(vms.get("kspray-cp-1")?.node_name).toBe("pve01");
    expect(vms.get("kspray-cp-1")?.clone).toMatchObject({ datastore_id: "local-lvm" });
    // cp-2 is on pve02: Proxmox refuses "can't clone to non-shared storage 'local-lvm'", so
    // the clone lands on the template's shared storage and the disk block moves it.
    const cp2 = vms.get("kspray-cp-2");
    expect(cp2?.node_name).toBe("pve02");
    expect(cp2?.clone).toEqual({ vm_id: 9000, full: true, node_name: "pve01" });
    expect(cp2?.disk).toMatchObject([{ interface: "scsi0", datastore_id: "local-lvm" }]);
  });

  it("clones a local-storage template on its node onto the datastore, to be migrated", () => {
    const def = homelab();
    def.proxmox = { ...def.proxmox, template: { ...def.proxmox.template, storage: "local" } };
    const vms = vmsByName(synth(def).json);
    for (const vm of vms.values()) {
      expect(vm.clone).toMatchObject({ node_name: "pve01", datastore_id: "local-lvm" });
    }
    expect(new Set([...vms.values()].map((v) => v.node_name))).toEqual(
      new Set(["pve01", "pve02", "pve03"]),
    );
  });

  it("gives a pool's boot disks its diskCache, the other pools' Proxmox's default", () => {
    const d = homelab();
    (d.nodePools[1] as Record<string, unknown>).diskCache = "writeback";
    const vms = vmsByName(synth(d).json);
    const cache = (name: string) => (vms.get(name)?.disk as { cache?: string }[])[0].cache;
    expect(cache("kspray-worker-1")).toBe("writeback");
    expect(cache("kspray-worker-3")).toBe("writeback");
    expect(cache("kspray-cp-1")).toBeUndefined();
    expect(vms.get("kspray-cp-1")?.disk).toEqual([
      { interface: "scsi0", datastore_id: "local-lvm", size: 40, discard: "on", iothread: true },
    ]);
  });

  it("tags each VM with the cluster, pool, role and the user's tags", () => {
    const vm = vmsByName(synth(homelab()).json).get("kspray-worker-2");
    expect(vm?.tags).toEqual(["homelab", "kspray", "kubespray", "worker"]);
    expect(vm?.description).toMatch(/cluster kspray/);
  });

  it("never puts two control-plane nodes on one host while there are enough hosts", () => {
    const vms = [...vmsByName(synth(homelab()).json).values()];
    const cpHosts = vms.filter((v) => v.tags.includes("control-plane")).map((v) => v.node_name);
    expect(new Set(cpHosts).size).toBe(3);
    const workerHosts = vms.filter((v) => v.tags.includes("worker")).map((v) => v.node_name);
    expect(new Set(workerHosts).size).toBe(3);
  });

  it("uses DHCP and waits for the agent's IPv4 address when a pool has no firstIp", () => {
    const vm = vmsByName(synth(cloud()).json).get("cloud-cpu-worker-1");
    expect(vm?.initialization).toMatchObject({ ip_config: [{ ipv4: { address: "dhcp" } }] });
    expect(vm?.agent).toMatchObject({ enabled: true, wait_for_ip: { ipv4: true } });
  });

  it("fails a DHCP node whose agent reports no address, naming the node and the timeout", () => {
    const definition = cloud();
    definition.proxmox.agentTimeout = "90s";
    const vms = vmsByName(synth(definition).json);
    expect(vms.get("cloud-cpu-worker-1")?.lifecycle).toEqual({
      ignore_changes: ["clone"],
      prevent_destroy: true,
      postcondition: [
        {
          condition: expect.stringMatching(
            /^\$\{try\(length\(.*self\.ipv4_addresses.*\) > 0, false\)\}$/,
          ),
          error_message: expect.stringMatching(
            /^cloud-cpu-worker-1: the QEMU guest agent reported no IPv4 address within 90s \(proxmox\.agentTimeout\)/,
          ),
        },
      ],
    });
    expect(vms.get("cloud-cpu-worker-1")?.agent).toMatchObject({ timeout: "90s" });
    // Static nodes do not wait for the agent, so they carry no such condition.
    expect(vmsByName(synth(homelab()).json).get("kspray-cp-1")?.lifecycle).not.toHaveProperty(
      "postcondition",
    );
  });

  it("gives only the node being replaced a replacement trigger", () => {
    const app = Testing.app();
    const stack = new VmsStack(app, "vms", {
      config: config(homelab()),
      stateDir: "/state/x",
      destroyableNodes: ["kspray-worker-2"],
      replacing: { node: "kspray-worker-2", trigger: "replaced 2026-12-05T21:00:00.000Z" },
    });
    const json = JSON.parse(Testing.synth(stack)) as Synthesized & {
      resource: { terraform_data: Record<string, { input: unknown }> };
    };
    const triggers = Object.entries(json.resource.terraform_data);
    expect(triggers).toEqual([
      [
        expect.stringMatching(/^worker-2_Replacement_/),
        { input: { trigger: "replaced 2026-12-05T21:00:00.000Z" } },
      ],
    ]);
    const triggered = [...vmsByName(json)]
      .filter(
        ([, vm]) => (vm.lifecycle as { replace_triggered_by?: string[] }).replace_triggered_by,
      )
      .map(([name, vm]) => [
        name,
        (vm.lifecycle as { replace_triggered_by: string[] }).replace_triggered_by,
      ]);
    expect(triggered).toEqual([["kspray-worker-2", [`terraform_data.${triggers[0][0]}`]]]);
  });

  it("lets OpenTofu destroy no node's VM while it is defined, but for a teardown or the nodes named", () => {
    const guarded = (destroyableNodes?: "all" | string[]) => {
      const app = Testing.app();
      const stack = new VmsStack(app, "vms", {
        config: config(homelab()),
        stateDir: "/state/x",
        destroyableNodes,
      });
      const json = JSON.parse(Testing.synth(stack)) as Synthesized;
      return [...vmsByName(json)]
        .filter(([, vm]) => (vm.lifecycle as { prevent_destroy?: boolean }).prevent_destroy)
        .map(([name]) => name);
    };
    const all = ["cp-1", "cp-2", "cp-3", "worker-1", "worker-2", "worker-3"].map(
      (n) => `kspray-${n}`,
    );
    expect(guarded()).toEqual(all);
    expect(guarded("all")).toEqual([]);
    expect(guarded(["kspray-worker-2"])).toEqual(all.filter((n) => n !== "kspray-worker-2"));
  });

  it("passes the GPU mapping through as PCIe on a q35/OVMF machine with an EFI disk", () => {
    const vms = vmsByName(synth(cloud()).json);
    expect(vms.get("cloud-gpu-worker-1")).toMatchObject({
      machine: "q35",
      bios: "ovmf",
      efi_disk: { datastore_id: "local-zfs", type: "4m" },
      cpu: { type: "host" },
      hostpci: [{ device: "hostpci0", mapping: "rtx-a6000", pcie: true }],
    });
    expect(vms.get("cloud-cpu-worker-1")).not.toHaveProperty("hostpci");
    expect(vms.get("cloud-cpu-worker-1")).not.toHaveProperty("machine");
  });

  it("adding a worker or appending a pool keeps every existing VM's ID, name and construct ID", () => {
    const before = vmsByName(synth(homelab()).json);
    const grown = homelab();
    grown.nodePools[1].count = 4;
    grown.nodePools.push({ ...grown.nodePools[1], name: "big", count: 1, firstIp: "10.10.30.41" });
    const after = vmsByName(synth(grown).json);
    expect(after.size).toBe(before.size + 2);
    for (const [name, vm] of before) {
      expect(after.get(name)).toEqual(vm);
    }
    expect(after.get("kspray-worker-4")).toMatchObject({ vm_id: 4203 });
    expect(after.get("kspray-big-1")).toMatchObject({ vm_id: 4300 });
  });

  it("configures the provider from the definition and takes no credential from it", () => {
    const previous = process.env.PROXMOX_VE_API_TOKEN;
    process.env.PROXMOX_VE_API_TOKEN = "root@pam!leak=11111111-2222-3333-4444-555555555555";
    try {
      const { json, text } = synth(homelab());
      expect(json.provider.proxmox).toEqual([
        { endpoint: "https://pve01.home.lan:8006/", insecure: true },
      ]);
      expect(text).not.toContain("11111111-2222-3333-4444-555555555555");
    } finally {
      if (previous === undefined) delete process.env.PROXMOX_VE_API_TOKEN;
      else process.env.PROXMOX_VE_API_TOKEN = previous;
    }
  });

  it("outputs every node with its pool, role, VM ID, host and address", () => {
    const { json, stack } = synth(homelab());
    const nodes = json.output.nodes.value as Record<string, Record<string, unknown>>;
    expect(nodes["kspray-worker-1"]).toEqual({
      name: "kspray-worker-1",
      pool: "worker",
      role: "worker",
      vm_id: 4200,
      host: "pve02",
      ipv4: "10.10.30.31",
    });
    expect(stack.nodes.map((n) => n.ipv4)).toEqual([
      "10.10.30.21",
      "10.10.30.22",
      "10.10.30.23",
      "10.10.30.31",
      "10.10.30.32",
      "10.10.30.33",
    ]);
  });

  it("reads a DHCP node's address from the guest agent, skipping the loopback interface", () => {
    const { json } = synth(cloud());
    const nodes = json.output.nodes.value as Record<string, Record<string, string>>;
    expect(nodes["cloud-controller-1"].ipv4).toMatch(
      /^\$\{element\(flatten\(slice\(proxmox_virtual_environment_vm\.controller-1_\w+\.ipv4_addresses, 1, length\(proxmox_virtual_environment_vm\.controller-1_\w+\.ipv4_addresses\)\)\), 0\)\}$/,
    );
  });

  describe("with proxmox.template.image", () => {
    type Resources = Record<string, Record<string, Record<string, unknown>>>;
    const image = () => {
      const { json } = synth(withImage(homelab()));
      const resources = (json as unknown as { resource: Resources }).resource;
      return { json, files: resources.proxmox_virtual_environment_download_file ?? {} };
    };

    it("downloads the image to each host that runs a node and makes a template there", () => {
      const { json, files } = image();
      const templates = Object.values(json.resource.proxmox_virtual_environment_vm).filter(
        (v) => v.template === true,
      );
      expect(templates.map((t) => [t.node_name, t.vm_id, t.name])).toEqual([
        ["pve01", 9000, "kspray-template-pve01"],
        ["pve02", 9001, "kspray-template-pve02"],
        ["pve03", 9002, "kspray-template-pve03"],
      ]);
      expect(Object.values(files).map((f) => [f.node_name, f.url, f.file_name])).toEqual(
        templates.map((t) => [
          t.node_name,
          DEBIAN_IMAGE.url,
          `debian-13-genericcloud-amd64-${DEBIAN_IMAGE.checksum.slice(0, 12)}.qcow2`,
        ]),
      );
    });

    it("clones every node from the template on its own host, onto the datastore", () => {
      const vms = [...vmsByName(image().json).values()].filter((v) => v.template !== true);
      expect(vms).toHaveLength(6);
      for (const vm of vms) {
        const template = 9000 + ["pve01", "pve02", "pve03"].indexOf(vm.node_name);
        expect(vm.clone).toEqual({
          vm_id: template,
          node_name: vm.node_name,
          full: true,
          datastore_id: "local-lvm",
        });
        expect(vm.depends_on).toEqual([
          expect.stringMatching(
            new RegExp(`^proxmox_virtual_environment_vm\\.template-${vm.node_name}_`),
          ),
        ]);
      }
    });

    it("makes templates only on hosts that run a node", () => {
      const def = withImage(homelab());
      def.proxmox.hosts = ["pve01", "pve02", "pve03", "pve04"];
      def.nodePools[0].hosts = ["pve01", "pve02", "pve03"];
      def.nodePools[1].hosts = ["pve02"];
      const vms = Object.values(synth(def).json.resource.proxmox_virtual_environment_vm);
      expect(vms.filter((v) => v.template === true).map((t) => [t.node_name, t.vm_id])).toEqual([
        ["pve01", 9000],
        ["pve02", 9001],
        ["pve03", 9002],
      ]);
    });
  });
});
