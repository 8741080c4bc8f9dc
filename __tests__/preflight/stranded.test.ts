/** Which VMs an interrupted deploy left behind, to import rather than make again. */
import {
  pendingDiskMoves,
  pendingMigration,
  strandedVms,
  synthesizedVms,
  withAdoptedAsCreated,
} from "../../preflight/stranded";

const stack = {
  resource: {
    proxmox_virtual_environment_vm: {
      "cp-1_AAA": { name: "kspray-cp-1", vm_id: 4100 },
      "cp-2_BBB": { name: "kspray-cp-2", vm_id: 4101 },
      "cp-3_CCC": { name: "kspray-cp-3", vm_id: 4102 },
      "worker-1_DDD": {
        name: "kspray-worker-1",
        vm_id: 4200,
        node_name: "pve02",
        clone: { vm_id: 9000, node_name: "pve01", datastore_id: "local-lvm" },
        disk: [{ interface: "scsi0", datastore_id: "local-lvm" }],
      },
    },
  },
};

describe("stranded VMs", () => {
  const wanted = synthesizedVms(stack);

  it("reads the VMs of the synthesized vms stack", () => {
    expect(wanted[1]).toEqual({
      address: "proxmox_virtual_environment_vm.cp-2_BBB",
      name: "kspray-cp-2",
      vmId: 4101,
    });
  });

  it("imports ours that Proxmox has and the state lacks, on the node they are on", () => {
    const inState = new Set(["proxmox_virtual_environment_vm.cp-1_AAA"]);
    const existing = [
      { vmid: 4100, node: "pve01", name: "kspray-cp-1" }, // in state already
      { vmid: 4101, node: "pve02", name: "kspray-cp-2" }, // stranded
      { vmid: 4102, node: "pve03", name: "backup" }, // not ours: preflight's business
      { vmid: 9000, node: "pve01", name: "debian-13" },
    ];
    expect(strandedVms(wanted, inState, existing)).toEqual([
      {
        address: "proxmox_virtual_environment_vm.cp-2_BBB",
        importId: "pve02/4101",
        name: "kspray-cp-2",
      },
    ]);
  });

  it("imports nothing when nothing was left behind", () => {
    expect(strandedVms(wanted, new Set(), [{ vmid: 9000, node: "pve01", name: "t" }])).toEqual([]);
  });

  it("records an adopted VM as a deploy that made it would: its clone, and no block it does not configure", () => {
    const vmState = (name: string) => ({
      mode: "managed",
      type: "proxmox_virtual_environment_vm",
      name,
      instances: [
        {
          attributes: {
            id: "4200",
            clone: [],
            serial_device: [{ device: "socket" }],
            cpu: [{ cores: 2 }],
          },
        },
      ],
    });
    const state = {
      serial: 7,
      lineage: "l",
      resources: [vmState("worker-1_DDD"), vmState("cp-2_BBB")],
    };
    const clone = [{ vm_id: 9000, node_name: "pve01", full: true, retries: 1, datastore_id: "" }];
    const planned = new Map([
      [
        "proxmox_virtual_environment_vm.worker-1_DDD",
        { clone, serial_device: [], cpu: [{ cores: 8 }], vga: [] },
      ],
    ]);
    const recorded = withAdoptedAsCreated(state, planned);
    expect(recorded.serial).toBe(8);
    expect(recorded).toMatchObject({ lineage: "l" });
    expect(recorded.resources?.[0].instances[0].attributes).toEqual({
      id: "4200",
      clone,
      // What the VM got from its template stays on it: the next plan does not read it.
      serial_device: [],
      vga: [],
      // What the deploy sets is compared with what Proxmox has, and updated in place.
      cpu: [{ cores: 2 }],
    });
    // A VM not imported keeps its state as it is.
    expect(recorded.resources?.[1]).toEqual(vmState("cp-2_BBB"));
  });

  it("moves a stranded VM's disks that are not on their storage yet, as the deploy would have", () => {
    const vm = wanted[3];
    expect(vm.diskStorages).toEqual({ scsi0: "local-lvm" });
    expect(pendingDiskMoves({ scsi0: "templates:4200/vm-4200-disk-0.qcow2,size=3G" }, vm)).toEqual([
      { disk: "scsi0", storage: "local-lvm" },
    ]);
    expect(pendingDiskMoves({ scsi0: "local-lvm:vm-4200-disk-0,size=40G" }, vm)).toEqual([]);
  });

  it("migrates a stranded VM left on the template's node to its host, with its disks", () => {
    expect(pendingMigration("pve01", wanted[3])).toEqual({
      target: "pve02",
      params: { target: "pve02", "with-local-disks": "1", targetstorage: "local-lvm" },
    });
    expect(pendingMigration("pve02", wanted[3])).toBeUndefined();
  });
});
