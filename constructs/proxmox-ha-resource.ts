import type { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";

import { Haresource } from "../.gen/providers/proxmox/haresource";
import { UserError } from "../errors/user-error";

export interface ProxmoxHaResourceProps {
  /** VM ID of the VM Proxmox's HA manager is to keep running. */
  readonly vmId: number;
  /** The VM itself: the HA resource is made after it and removed before it. */
  readonly vm: ITerraformDependable;
  /** Text shown in Datacenter > HA, saying what manages the resource. */
  readonly comment: string;
}

/**
 * A VM as a Proxmox HA resource (`vm:<vmid>`) in state `started`: Proxmox's HA manager
 * starts it again when it stops, and on another host when its host fails. The bpg
 * provider's `proxmox_haresource` (its current name for `..._virtual_environment_haresource`).
 *
 * While the VM is HA-managed, Proxmox routes its start and stop through the HA manager, and
 * a VM rolled back to a snapshot is started again by it.
 */
export class ProxmoxHaResource extends Construct {
  public readonly resource: Haresource;
  /** `vm:<vmid>`, as an attribute of the resource (a rule naming it waits for it). */
  public readonly resourceId: string;

  constructor(scope: Construct, id: string, props: ProxmoxHaResourceProps) {
    super(scope, id);
    if (!Number.isInteger(props.vmId) || props.vmId < 100 || props.vmId > 999_999_999)
      throw UserError.prop(
        this,
        "vmId",
        `${props.vmId} is not a Proxmox VM ID; use a whole number from 100 to 999999999`,
      );
    if (props.comment !== props.comment.trim() || props.comment === "")
      throw UserError.prop(
        this,
        "comment",
        `${JSON.stringify(props.comment)} is empty or starts or ends with a space; the provider refuses it`,
      );
    this.resource = new Haresource(this, "Resource", {
      resourceId: `vm:${props.vmId}`,
      state: "started",
      comment: props.comment,
      dependsOn: [props.vm],
    });
    this.resourceId = this.resource.resourceId;
  }
}
