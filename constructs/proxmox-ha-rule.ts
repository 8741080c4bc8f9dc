import type { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";

import { Harule } from "../.gen/providers/proxmox/harule";
import { UserError } from "../errors/user-error";

/** Proxmox's rule IDs (`pve-configid`): a letter, then letters, digits, `-` or `_`. */
const RULE_ID = /^[a-z][a-z0-9_-]+$/i;

export interface ProxmoxHaRuleProps {
  /** The rule's ID in Proxmox, e.g. `k8s-control-plane-apart`. */
  readonly ruleId: string;
  /** HA resource IDs (`vm:<vmid>`), at least two: attributes of ProxmoxHaResource. */
  readonly resourceIds: readonly string[];
  /**
   * `negative`: Proxmox keeps the VMs on different hosts; `positive`: together.
   * @default "negative"
   */
  readonly affinity?: "negative" | "positive";
  /** Text shown in Datacenter > HA > Rules. */
  readonly comment: string;
  /**
   * What must be done before the rule is made (the wait for Proxmox's HA manager).
   * @default - only the resources it names
   */
  readonly dependsOn?: readonly ITerraformDependable[];
}

/**
 * A Proxmox VE 9 HA resource affinity rule (HA rules replaced HA groups), the bpg
 * provider's `proxmox_harule`. Proxmox refuses a rule over fewer than two resources, over
 * resources that are not HA-managed, or one keeping apart more VMs than its HA manager
 * lists nodes.
 */
export class ProxmoxHaRule extends Construct {
  public readonly resource: Harule;

  constructor(scope: Construct, id: string, props: ProxmoxHaRuleProps) {
    super(scope, id);
    if (!RULE_ID.test(props.ruleId))
      throw UserError.prop(
        this,
        "ruleId",
        `${JSON.stringify(props.ruleId)} is not a Proxmox rule ID; start with a letter and use letters, digits, '-' and '_'`,
      );
    if (props.resourceIds.length < 2)
      throw UserError.prop(
        this,
        "resourceIds",
        `${props.resourceIds.length} resource(s); Proxmox refuses an affinity rule over fewer than two`,
      );
    this.resource = new Harule(this, "Resource", {
      rule: props.ruleId,
      type: "resource-affinity",
      affinity: props.affinity ?? "negative",
      resources: [...props.resourceIds],
      comment: props.comment,
      ...(props.dependsOn ? { dependsOn: [...props.dependsOn] } : {}),
    });
  }
}
