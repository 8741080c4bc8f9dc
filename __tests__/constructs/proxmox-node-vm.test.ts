import { TerraformLocal, Testing, Token } from "cdktf";

import type { ProxmoxNodeVmProps } from "../../constructs/proxmox-node-vm";
import { ProxmoxNodeVm } from "../../constructs/proxmox-node-vm";

type Vm = Record<string, unknown> & {
  cpu: { cores: number; type: string };
  disk: Record<string, unknown>[];
  agent: { timeout: string; wait_for_ip: Record<string, boolean> };
  clone: Record<string, unknown>;
  initialization: { ip_config: { ipv4: Record<string, string> }[] };
  lifecycle: {
    ignore_changes: string[];
    prevent_destroy: boolean;
    postcondition?: { error_message: string }[];
  };
  network_device: Record<string, unknown>[];
  tags: string[];
};

const BASE: ProxmoxNodeVmProps = {
  name: "kspray-worker-2",
  vmId: 4201,
  host: "pve02",
  pool: "worker",
  role: "worker",
  cores: 4,
  memoryMiB: 8192,
  diskGiB: 40,
  staticIp: "10.10.30.32",
  clusterName: "kspray",
  templateVmId: 9000,
  templateNode: "pve01",
  datastore: "local-lvm",
  bridge: "vmbr0",
  vlanId: 30,
  prefixLength: 24,
  gateway: "10.10.30.1",
  dnsServers: ["10.10.30.1"],
  sshUser: "debian",
  authorizedKeys: ["ssh-ed25519 AAAA test"],
  tags: ["k8s", "worker"],
  description: "a node",
};

function synth(over: Partial<ProxmoxNodeVmProps> = {}): { vm: Vm; ipv4: string } {
  let ipv4 = "";
  const json = Testing.synthScope((scope) => {
    ipv4 = new ProxmoxNodeVm(scope, "worker-2", { ...BASE, ...over }).ipv4Address;
  });
  const vms = (
    JSON.parse(json) as { resource: { proxmox_virtual_environment_vm: Record<string, Vm> } }
  ).resource.proxmox_virtual_environment_vm;
  return { vm: Object.values(vms)[0], ipv4 };
}

describe("ProxmoxNodeVm", () => {
  it("is a full clone of the template with the node's name, ID, host and sizes", () => {
    const { vm } = synth();
    expect(vm).toMatchObject({
      name: "kspray-worker-2",
      vm_id: 4201,
      node_name: "pve02",
      clone: { vm_id: 9000, node_name: "pve01", full: true },
      cpu: { cores: 4, type: "x86-64-v2-AES" },
      memory: { dedicated: 8192 },
      disk: [{ interface: "scsi0", datastore_id: "local-lvm", size: 40 }],
      on_boot: true,
      started: true,
      stop_on_destroy: true,
    });
    expect(vm.tags).toEqual(["k8s", "kspray", "worker"]);
  });

  it("clones onto the datastore only where the clone is made on the template's node", () => {
    expect(synth().vm.clone.datastore_id).toBeUndefined();
    expect(synth({ host: "pve01" }).vm.clone.datastore_id).toBe("local-lvm");
    expect(synth({ templateStorage: "local" }).vm.clone.datastore_id).toBe("local-lvm");
  });

  it("gives a static node its address and does not wait for the agent", () => {
    const { vm, ipv4 } = synth();
    expect(vm.initialization.ip_config).toEqual([
      { ipv4: { address: "10.10.30.32/24", gateway: "10.10.30.1" } },
    ]);
    expect(vm.agent).toMatchObject({ timeout: "15m", wait_for_ip: { disabled: true } });
    expect(vm.lifecycle).not.toHaveProperty("postcondition");
    expect(ipv4).toBe("10.10.30.32");
  });

  it("waits for a DHCP node's address and fails, naming the timeout, without one", () => {
    const { vm, ipv4 } = synth({ staticIp: undefined, agentTimeout: "90s" });
    expect(vm.initialization.ip_config).toEqual([{ ipv4: { address: "dhcp" } }]);
    expect(vm.agent).toMatchObject({ timeout: "90s", wait_for_ip: { ipv4: true } });
    expect(vm.lifecycle.postcondition?.[0].error_message).toContain(
      "reported no IPv4 address within 90s (proxmox.agentTimeout)",
    );
    expect(Token.isUnresolved(ipv4)).toBe(true);
  });

  it("passes a GPU through as PCIe on a q35/OVMF machine with the host CPU", () => {
    const { vm } = synth({ gpuMapping: "rtx-a6000" });
    expect(vm).toMatchObject({
      machine: "q35",
      bios: "ovmf",
      cpu: { type: "host" },
      hostpci: [{ device: "hostpci0", mapping: "rtx-a6000", pcie: true, rombar: true }],
    });
    expect(synth().vm.hostpci).toBeUndefined();
  });

  it("uses the given CPU type, with or without a GPU", () => {
    expect(synth({ cpuType: "x86-64-v3" }).vm.cpu.type).toBe("x86-64-v3");
    expect(synth({ cpuType: "x86-64-v3", gpuMapping: "rtx-a6000" }).vm.cpu.type).toBe("x86-64-v3");
  });

  it("sets the boot disk's cache mode only when given, leaving Proxmox's default otherwise", () => {
    expect(synth({ diskCache: "writeback" }).vm.disk[0].cache).toBe("writeback");
    expect(synth().vm.disk[0]).not.toHaveProperty("cache");
  });

  it("writes every key of the network device, untagged when there is no VLAN", () => {
    expect(synth().vm.network_device[0]).toMatchObject({ bridge: "vmbr0", vlan_id: 30 });
    expect(synth({ vlanId: undefined }).vm.network_device[0]).toMatchObject({ vlan_id: null });
  });

  it("waits for a template made in the same stack, by order only", () => {
    const json = JSON.parse(
      Testing.synthScope((scope) => {
        const template = new TerraformLocal(scope, "template", 1);
        new ProxmoxNodeVm(scope, "worker-2", { ...BASE, templateResource: template });
      }),
    ) as { resource: { proxmox_virtual_environment_vm: Record<string, Vm> } };
    const [waiting] = Object.values(json.resource.proxmox_virtual_environment_vm);
    expect(waiting.depends_on).toEqual([expect.stringMatching(/^local\.template/)]);
    expect(waiting.clone.vm_id).toBe(9000);
    // The clone source stays a literal ID: it is read only when the VM is made.
    const { vm } = synth();
    expect(vm.clone.vm_id).toBe(9000);
    expect(vm).not.toHaveProperty("depends_on");
  });

  it("reads the clone source only when the VM is made: a new template leaves it as it is", () => {
    expect(synth().vm.lifecycle.ignore_changes).toEqual(["clone"]);
    expect(synth({ staticIp: undefined }).vm.lifecycle.ignore_changes).toEqual(["clone"]);
  });

  it("refuses its own replacement unless it is destroyable", () => {
    expect(synth().vm.lifecycle.prevent_destroy).toBe(true);
    expect(synth({ staticIp: undefined }).vm.lifecycle.prevent_destroy).toBe(true);
    expect(synth({ destroyable: true }).vm.lifecycle.prevent_destroy).toBe(false);
  });

  it("is replaced by a trigger made only while a replacement names it", () => {
    const synthAll = (over: Partial<ProxmoxNodeVmProps> = {}) =>
      JSON.parse(
        Testing.synthScope((scope) => {
          new ProxmoxNodeVm(scope, "worker-2", { ...BASE, ...over });
        }),
      ) as {
        resource: {
          terraform_data?: Record<string, unknown>;
          proxmox_virtual_environment_vm: Record<
            string,
            Vm & { lifecycle: { replace_triggered_by?: string[] } }
          >;
        };
      };
    // No trigger, no reference: a VM made before this existed plans no change.
    const quiet = synthAll();
    expect(quiet.resource.terraform_data).toBeUndefined();
    const vm = Object.values(quiet.resource.proxmox_virtual_environment_vm)[0];
    expect(vm.lifecycle).not.toHaveProperty("replace_triggered_by");

    const replacing = synthAll({
      replacementTrigger: "replaced 2026-12-05T21:00:00.000Z",
      destroyable: true,
    });
    const [[name, trigger]] = Object.entries(replacing.resource.terraform_data ?? {});
    expect(trigger).toEqual({ input: { trigger: "replaced 2026-12-05T21:00:00.000Z" } });
    const replaced = Object.values(replacing.resource.proxmox_virtual_environment_vm)[0];
    expect(replaced.lifecycle).toMatchObject({
      prevent_destroy: false,
      // A plain reference: OpenTofu's JSON syntax refuses `${...}` here.
      replace_triggered_by: [`terraform_data.${name}`],
    });
  });

  it("rejects props Proxmox cannot take, naming the prop; a token is left to apply time", () => {
    expect(() => synth({ vmId: 99 })).toThrow(
      "stack/worker-2.vmId: 99 is not a Proxmox VM ID; use a whole number from 100 to 999999999",
    );
    expect(() => synth({ templateVmId: 1.5 })).toThrow(
      /^stack\/worker-2\.templateVmId: 1\.5 is not/,
    );
    expect(() => synth({ cores: 0 })).toThrow(
      "stack/worker-2.cores: 0 is no size a VM can have; use a whole number above 0",
    );
    expect(() => synth({ diskGiB: 2.5 })).toThrow(/^stack\/worker-2\.diskGiB: 2\.5 is no size/);
    expect(() => synth({ staticIp: "10.10.30" })).toThrow(
      'stack/worker-2.staticIp: "10.10.30" is not an IPv4 address; write it as a.b.c.d, or leave it out for DHCP',
    );
    expect(() => synth({ prefixLength: 33 })).toThrow(
      /^stack\/worker-2\.prefixLength: 33 is not an IPv4/,
    );
    expect(() => synth({ memoryMiB: Token.asNumber("${var.memory}") })).not.toThrow();
  });
});
