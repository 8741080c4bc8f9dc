/** Which VMs an interrupted deploy left behind, to import rather than make again. */
import { strandedVms, synthesizedVms } from "../../preflight/stranded";

const stack = {
  resource: {
    proxmox_virtual_environment_vm: {
      "cp-1_AAA": { name: "kspray-cp-1", vm_id: 4100 },
      "cp-2_BBB": { name: "kspray-cp-2", vm_id: 4101 },
      "cp-3_CCC": { name: "kspray-cp-3", vm_id: 4102 },
      "worker-1_DDD": { name: "kspray-worker-1", vm_id: 4200 },
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
});
