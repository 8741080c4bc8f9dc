import { isDeepStrictEqual } from "node:util";

import { File } from "@cdktf/provider-local/lib/file";
import { Fn } from "cdktf";
import { Construct } from "constructs";
import { stringify } from "yaml";

import type { InventoryDocument } from "../lib/kubespray/inventory";

export interface KubesprayInventoryProps {
  /** Path of the inventory file, e.g. `<stateDir>/inventory/hosts.yaml`. */
  readonly hostsFile: string;
  /** Path of the group_vars file, e.g. `<stateDir>/inventory/group_vars/all/kubespray.yml`. */
  readonly groupVarsFile: string;
  /**
   * The inventory; addresses may be tokens (DHCP nodes), resolved when the file is written.
   * Its `kube_control_plane` hosts are in the order Kubespray is to see them.
   */
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
      content: inventoryContent(props.inventory),
    });
    this.groupVarsFile = new File(this, "GroupVars", {
      ...common,
      filename: props.groupVarsFile,
      content: Fn.yamlencode(props.groupVars),
    });
  }
}

/**
 * The inventory's text. Ansible takes a group's hosts in the file's order, and Kubespray's
 * first `kube_control_plane` host is the one it initialises and cannot remove, so that order
 * must reach the file. OpenTofu's `yamlencode` writes a map's keys sorted: it is used while
 * the control plane is in name order (as every inventory written before has it, so that a
 * running cluster's file and its runner's trigger stay the same); any other order is written
 * here, each string double-quoted as `yamlencode` does (YAML 1.1, which Ansible's parser
 * reads, takes a bare `yes` or `on` for a boolean), token addresses included: they resolve
 * inside the text when OpenTofu writes the file.
 */
function inventoryContent(inventory: InventoryDocument): string {
  const order = Object.keys(inventory.all.children.kube_control_plane.hosts);
  if (isDeepStrictEqual(order, [...order].sort())) return Fn.yamlencode(inventory);
  return stringify(inventory, {
    version: "1.1",
    defaultStringType: "QUOTE_DOUBLE",
    defaultKeyType: "PLAIN",
    lineWidth: 0,
  });
}
