import { File } from "@cdktf/provider-local/lib/file";
import { Fn } from "cdktf";
import { Construct } from "constructs";

import type { InventoryDocument } from "../lib/kubespray/inventory";

export interface KubesprayInventoryProps {
  /** Path of the inventory file, e.g. `<stateDir>/inventory/hosts.yaml`. */
  readonly hostsFile: string;
  /** Path of the group_vars file, e.g. `<stateDir>/inventory/group_vars/all/kubespray.yml`. */
  readonly groupVarsFile: string;
  /** The inventory; addresses may be tokens (DHCP nodes), hence `Fn.yamlencode`. */
  readonly inventory: InventoryDocument;
  /** The Kubespray variables. */
  readonly groupVars: Readonly<Record<string, unknown>>;
}

/** The Kubespray inventory and its group_vars as local files, mode 0600. */
export class KubesprayInventory extends Construct {
  /** The inventory file (main child). */
  public readonly hostsFile: File;
  public readonly groupVarsFile: File;

  constructor(scope: Construct, id: string, props: KubesprayInventoryProps) {
    super(scope, id);
    const common = { filePermission: "0600", directoryPermission: "0700" };
    this.hostsFile = new File(this, "Resource", {
      ...common,
      filename: props.hostsFile,
      content: Fn.yamlencode(props.inventory),
    });
    this.groupVarsFile = new File(this, "GroupVars", {
      ...common,
      filename: props.groupVarsFile,
      content: Fn.yamlencode(props.groupVars),
    });
  }
}
