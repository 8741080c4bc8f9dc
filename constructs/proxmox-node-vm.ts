import type { ITerraformDependable } from "cdktf";
import { DataResource, Fn, Token } from "cdktf";
import { Construct } from "constructs";

import { VirtualEnvironmentVm } from "../.gen/providers/proxmox/virtual-environment-vm";
import { isIpv4 } from "../config/net";
import type { DiskCache, NodeRole, TemplateStorage } from "../config/schema";
import { PROXMOX_MAX_VMID, PROXMOX_MIN_VMID } from "../config/schema";
import { UserError } from "../errors/user-error";

/**
 * True once the agent reported an IPv4 address beyond loopback. Lifecycle conditions can
 * only see their own resource as `self`, which cdktf has no typed reference for. When the
 * agent never answers, the provider leaves the list empty and `slice(..., 1, 0)` is an
 * error (which would hide the message below): `try` turns that into false.
 */
const HAS_AGENT_IPV4 =
  "${try(length(flatten(slice(self.ipv4_addresses, 1, length(self.ipv4_addresses)))) > 0, false)}";

/** Go duration the provider waits for the guest agent by default. */
const DEFAULT_AGENT_TIMEOUT = "15m";

export interface ProxmoxNodeVmProps {
  /** VM name, also the Kubernetes node name. */
  readonly name: string;
  readonly vmId: number;
  /** Proxmox node the VM runs on. */
  readonly host: string;
  /** Node pool, tagged. */
  readonly pool: string;
  /** Kubernetes role, tagged. */
  readonly role: NodeRole;
  readonly cores: number;
  readonly memoryMiB: number;
  readonly diskGiB: number;
  /** QEMU cache mode of the boot disk. @default Proxmox's (`none`) */
  readonly diskCache?: DiskCache;
  /**
   * QEMU CPU type.
   * @default "host" with a GPU (its driver wants the real CPU), else "x86-64-v2-AES"
   */
  readonly cpuType?: string;
  /** Static IPv4 address, with `prefixLength` and `gateway`. @default - DHCP */
  readonly staticIp?: string;
  /** Proxmox PCI resource mapping passed through as PCIe (q35, OVMF). @default - no GPU */
  readonly gpuMapping?: string;
  readonly clusterName: string;
  /** VM ID of the cloud-init template to clone. */
  readonly templateVmId: number;
  /** Proxmox node that holds the template. */
  readonly templateNode: string;
  /**
   * What makes the template in the same stack (a template from a cloud image): the clone
   * waits for it. Only an ordering: a template made anew under the same VM ID leaves the
   * VM as it is.
   * @default - the template exists already
   */
  readonly templateResource?: ITerraformDependable;
  /**
   * Where the template's disks are: `shared` storage every host sees, or the template
   * node's `local` storage. Proxmox refuses a full clone to another node onto non-shared
   * storage, so with `shared` a VM for another host is cloned straight there onto the
   * template's storage and its disk moved to `datastore` afterwards; with `local` the
   * provider clones on the template node onto `datastore` and migrates the VM.
   * @default "shared"
   */
  readonly templateStorage?: TemplateStorage;
  /** Storage for the boot disk, the cloud-init drive and the EFI disk. */
  readonly datastore: string;
  readonly bridge: string;
  /** @default - untagged */
  readonly vlanId?: number;
  /** Prefix length of the node network, for the static address. */
  readonly prefixLength: number;
  readonly gateway: string;
  readonly dnsServers: readonly string[];
  /** @default - none */
  readonly searchDomain?: string;
  readonly sshUser: string;
  readonly authorizedKeys: readonly string[];
  /** Extra Proxmox tags; the cluster, pool and role are always added. */
  readonly tags: readonly string[];
  /** Text shown in the Proxmox UI, saying what manages the VM. */
  readonly description: string;
  /**
   * How long to wait for the guest agent to report an address (DHCP nodes), as a Go
   * duration, e.g. `90s`.
   * @default "15m"
   */
  readonly agentTimeout?: string;
  /**
   * Whether OpenTofu may destroy the VM while the node is still defined: for a teardown,
   * and for a node that the deliberate replacement has drained and taken out of the
   * cluster. Otherwise a plan that would replace the VM (`-/+`) fails (`prevent_destroy`),
   * so that no change deletes a Kubernetes node behind the cluster's back. Removing the
   * node from the definition is not affected: its node removal runs first.
   * @default false
   */
  readonly destroyable?: boolean;
  /**
   * Set while the deliberate replacement of this node (`npm run replace`) has taken it out
   * of the cluster: a trigger resource is made with this value, and the VM is replaced
   * when it is made or its value changes (`replace_triggered_by`), which also needs
   * `destroyable`. Unset again, the trigger is destroyed and the VM stays.
   * @default - no replacement: the VM stays
   */
  readonly replacementTrigger?: string;
  /**
   * The VM is a Proxmox HA resource: after a failover it runs on the host Proxmox chose,
   * and the deploy leaves it there instead of planning to move or replace it.
   * @default false
   */
  readonly haManaged?: boolean;
}

/**
 * One Kubernetes node as a Proxmox VM: a full clone of the cloud-init template, resized,
 * on the cluster network, with the guest agent on, and for GPU pools a q35/OVMF machine
 * with the PCI resource mapping passed through as PCIe.
 *
 * The clone source (template, its node, the target storage) only matters when the VM is
 * made: later changes to it are ignored, so a new template applies to nodes added later
 * and existing ones stay as they are. Any other change that the provider can only make by
 * replacing the VM fails the plan unless `destroyable` is set. The deliberate replacement
 * of the node (`npm run replace`, after its drain and removal) sets `replacementTrigger`
 * and `destroyable`.
 */
export class ProxmoxNodeVm extends Construct {
  public readonly resource: VirtualEnvironmentVm;
  /** The VM's replacement trigger, while `replacementTrigger` is set. */
  public readonly replacement?: DataResource;
  /** The node's IPv4 address: the static one, or the first non-loopback one the agent reports. */
  public readonly ipv4Address: string;

  constructor(scope: Construct, id: string, props: ProxmoxNodeVmProps) {
    super(scope, id);
    checkProps(this, props);
    const gpu = props.gpuMapping !== undefined;
    const agentTimeout = props.agentTimeout ?? DEFAULT_AGENT_TIMEOUT;
    const tags = [...new Set([props.clusterName, props.pool, props.role, ...props.tags])].sort();
    // `clone.datastore_id` becomes the clone's target storage: only valid where the clone
    // is made on the template's node (same host, or clone-then-migrate from local storage).
    const cloneOntoDatastore =
      props.host === props.templateNode || (props.templateStorage ?? "shared") === "local";

    // OpenTofu's own replacement, asked for one node at a time: a trigger the VM is replaced
    // by, only while a replacement names the node. Its creation replaces the VM, as a new
    // value does; with the replacement over, it goes (destroyed alone, the VM left as it is).
    this.replacement =
      props.replacementTrigger === undefined
        ? undefined
        : new DataResource(this, "Replacement", { input: { trigger: props.replacementTrigger } });

    this.resource = new VirtualEnvironmentVm(this, "Resource", {
      name: props.name,
      nodeName: props.host,
      vmId: props.vmId,
      description: props.description,
      tags,
      onBoot: true,
      started: true,
      ...(props.templateResource ? { dependsOn: [props.templateResource] } : {}),
      // A node being deleted is already drained and removed from Kubernetes.
      stopOnDestroy: true,
      clone: {
        vmId: props.templateVmId,
        nodeName: props.templateNode,
        full: true,
        ...(cloneOntoDatastore ? { datastoreId: props.datastore } : {}),
      },
      cpu: { cores: props.cores, type: props.cpuType ?? (gpu ? "host" : "x86-64-v2-AES") },
      memory: { dedicated: props.memoryMiB },
      disk: [
        {
          interface: "scsi0",
          datastoreId: props.datastore,
          size: props.diskGiB,
          discard: "on",
          iothread: true,
          ...(props.diskCache === undefined ? {} : { cache: props.diskCache }),
        },
      ],
      scsiHardware: "virtio-scsi-single",
      operatingSystem: { type: "l26" },
      agent: {
        enabled: true,
        timeout: agentTimeout,
        // Static nodes need no address from the agent; DHCP nodes wait for an IPv4 one.
        waitForIp: props.staticIp === undefined ? { ipv4: true } : { disabled: true },
      },
      initialization: {
        datastoreId: props.datastore,
        userAccount: { username: props.sshUser, keys: [...props.authorizedKeys] },
        ipConfig: [
          {
            ipv4:
              props.staticIp === undefined
                ? { address: "dhcp" }
                : { address: `${props.staticIp}/${props.prefixLength}`, gateway: props.gateway },
          },
        ],
        dns: { servers: [...props.dnsServers], domain: props.searchDomain },
      },
      lifecycle: {
        // Every clone attribute forces a replacement in the provider, though they only
        // matter when the VM is made.
        ignoreChanges: props.haManaged ? ["clone", "node_name"] : ["clone"],
        preventDestroy: !(props.destroyable ?? false),
        // A reference, as `depends_on` holds them: cdktf renders a construct given here as
        // `${...}`, which OpenTofu's JSON syntax refuses in replace_triggered_by.
        ...(this.replacement
          ? {
              replaceTriggeredBy: [
                `${this.replacement.terraformResourceType}.${this.replacement.friendlyUniqueId}`,
              ],
            }
          : {}),
        // The provider does not fail when the agent reports no address within the timeout:
        // it returns an empty list. Fail here, with a message saying what to check.
        ...(props.staticIp === undefined
          ? {
              postcondition: [
                {
                  condition: HAS_AGENT_IPV4,
                  errorMessage: `${props.name}: the QEMU guest agent reported no IPv4 address within ${agentTimeout} (proxmox.agentTimeout). Check that qemu-guest-agent runs in the template and that DHCP answers on ${props.bridge}${props.vlanId === undefined ? "" : ` VLAN ${props.vlanId}`}.`,
                },
              ],
            }
          : {}),
      },
      ...(gpu
        ? {
            machine: "q35",
            bios: "ovmf",
            efiDisk: { datastoreId: props.datastore, type: "4m" },
            // rombar is sent as 0 unless set, which hides the GPU's option ROM from the guest.
            hostpci: [{ device: "hostpci0", mapping: props.gpuMapping, pcie: true, rombar: true }],
          }
        : {}),
    });

    // `network_device` is an attribute (not a block) in the provider schema, and OpenTofu's
    // JSON syntax wants every key of such an object: null leaves one unset, as HCL would.
    const nic: Record<string, string | number | boolean | null> = {
      bridge: props.bridge,
      model: "virtio",
      vlan_id: props.vlanId ?? null,
      enabled: null,
      firewall: false,
      disconnected: false,
      mac_address: null,
      mtu: null,
      queues: null,
      rate_limit: null,
      trunks: null,
    };
    this.resource.addOverride("network_device", [nic]);

    // The agent lists interfaces in kernel order: `lo` first, then the NIC cloud-init set up;
    // interfaces Kubernetes adds later (CNI, kube-ipvs0) come after it, so this stays stable.
    const addresses = this.resource.ipv4Addresses;
    this.ipv4Address =
      props.staticIp ?? Fn.element(Fn.flatten(Fn.slice(addresses, 1, Fn.lengthOf(addresses))), 0);
  }
}

/** Refuses props Proxmox or the VM's network cannot work with (a token is not checked). */
function checkProps(vm: ProxmoxNodeVm, props: ProxmoxNodeVmProps): void {
  const known = (value: unknown) => !Token.isUnresolved(value);
  for (const id of ["vmId", "templateVmId"] as const) {
    const value = props[id];
    if (
      known(value) &&
      (!Number.isInteger(value) || value < PROXMOX_MIN_VMID || value > PROXMOX_MAX_VMID)
    )
      throw UserError.prop(
        vm,
        id,
        `${value} is not a Proxmox VM ID; use a whole number from ${PROXMOX_MIN_VMID} to ${PROXMOX_MAX_VMID}`,
      );
  }
  for (const size of ["cores", "memoryMiB", "diskGiB"] as const) {
    const value = props[size];
    if (known(value) && (!Number.isInteger(value) || value < 1))
      throw UserError.prop(
        vm,
        size,
        `${value} is no size a VM can have; use a whole number above 0`,
      );
  }
  if (props.staticIp !== undefined && known(props.staticIp) && !isIpv4(props.staticIp))
    throw UserError.prop(
      vm,
      "staticIp",
      `${JSON.stringify(props.staticIp)} is not an IPv4 address; write it as a.b.c.d, or leave it out for DHCP`,
    );
  if (!Number.isInteger(props.prefixLength) || props.prefixLength < 1 || props.prefixLength > 32)
    throw UserError.prop(
      vm,
      "prefixLength",
      `${props.prefixLength} is not an IPv4 prefix length; use 1 to 32 (24 for a /24)`,
    );
}
