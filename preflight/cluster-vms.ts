/**
 * What the Proxmox VE API says about VMs, as preflight and `npm run status` read it: every
 * VM of the Proxmox cluster (`/cluster/resources`), and the addresses a VM's guest agent
 * reports.
 */
import type { ProxmoxApi } from "./proxmox-api";

/** A VM as `/cluster/resources?type=vm` lists it. */
export interface ClusterVm {
  readonly vmid: number;
  /** The Proxmox node it is on. */
  readonly node: string;
  readonly name?: string;
  /** `running`, `stopped`... */
  readonly status?: string;
  readonly template?: number;
  readonly tags?: string;
}

/** Every VM and template of the Proxmox cluster. */
export function listVms(api: ProxmoxApi): Promise<ClusterVm[]> {
  return api.get<ClusterVm[]>("/cluster/resources", { type: "vm" });
}

interface AgentInterfaces {
  readonly result?: readonly {
    readonly name?: string;
    readonly "ip-addresses"?: readonly {
      readonly "ip-address": string;
      readonly "ip-address-type"?: string;
    }[];
  }[];
}

/**
 * Every address the VM's guest agent reports (loopback included); throws the API's error
 * when the agent does not answer (not installed, not started yet, VM stopped).
 */
export async function agentAddresses(api: ProxmoxApi, vm: ClusterVm): Promise<string[]> {
  const r = await api.get<AgentInterfaces>(
    `/nodes/${vm.node}/qemu/${vm.vmid}/agent/network-get-interfaces`,
  );
  return (r.result ?? []).flatMap((i) => (i["ip-addresses"] ?? []).map((a) => a["ip-address"]));
}

/** The VM's first IPv4 address the agent reports, leaving out loopback and link-local. */
export function reachableIpv4(addresses: readonly string[]): string | undefined {
  return addresses.find(
    (a) => /^\d+\.\d+\.\d+\.\d+$/.test(a) && !a.startsWith("127.") && !a.startsWith("169.254."),
  );
}
