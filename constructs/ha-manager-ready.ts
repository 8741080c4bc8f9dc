import { Resource } from "@cdktf/provider-null/lib/resource";
import type { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";

import { UserError } from "../errors/user-error";

export interface HaManagerReadyProps {
  /** The Proxmox VE API, `https://pve01:8006/`. */
  readonly endpoint: string;
  /** Accept a self-signed certificate. */
  readonly insecure: boolean;
  /** The hosts the HA manager must list before a rule keeps VMs apart on them. */
  readonly hosts: readonly string[];
  /** The HA resources: the first one makes the manager active. */
  readonly resources: readonly ITerraformDependable[];
  /** Absolute path of the compiled `dist/runner/ha-manager-ready.js`. */
  readonly entry: string;
  /**
   * The Node.js executable that runs it.
   * @default "node" - from PATH
   */
  readonly nodeBinary?: string;
  /**
   * How long to wait, seconds.
   * @default 300
   */
  readonly timeoutSeconds?: number;
}

/**
 * Waits, once, after the HA resources are made, until Proxmox's HA manager lists every
 * host: on a cluster where HA was never used it lists none until it has been active once,
 * and Proxmox refuses a rule keeping VMs apart until it does. A null_resource whose
 * local-exec runs `entry` with the deploy's token from the environment; the stack holding
 * it needs a `NullProvider`. Its trigger is the host list, so a new host waits again.
 */
export class HaManagerReady extends Construct {
  public readonly resource: Resource;

  constructor(scope: Construct, id: string, props: HaManagerReadyProps) {
    super(scope, id);
    if (props.hosts.length === 0)
      throw UserError.prop(
        this,
        "hosts",
        "none given; name the hosts the HA rules keep VMs apart on",
      );
    if (props.resources.length === 0)
      throw UserError.prop(
        this,
        "resources",
        "none given; the HA manager only starts for a resource",
      );
    const hosts = [...props.hosts].sort().join(",");
    this.resource = new Resource(this, "Resource", {
      dependsOn: [...props.resources],
      triggers: { hosts },
      provisioners: [
        {
          type: "local-exec",
          interpreter: [
            props.nodeBinary ?? "node",
            props.entry,
            props.endpoint,
            props.insecure ? "1" : "0",
            String(props.timeoutSeconds ?? 300),
          ],
          // local-exec appends the command as the last argument.
          command: hosts,
        },
      ],
    });
  }
}
