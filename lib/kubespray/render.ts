/**
 * The inventory and group_vars files for a definition with static addresses, as the
 * cluster stack writes them (`npm run render`, tests).
 */
import { stringify } from "yaml";

import { ConfigError } from "../../config/errors";
import type { ClusterConfig } from "../../config/schema";
import { groupVars } from "../../kubespray-vars/vars";
import { expandNodes } from "../topology";

import type { KubesprayInventory } from "./inventory";
import { buildInventory } from "./inventory";
import { inventoryHosts } from "./state";

export interface RenderedFiles {
  readonly inventory: KubesprayInventory;
  readonly groupVars: Record<string, unknown>;
  /** Relative path under the output directory -> content. */
  readonly files: Readonly<Record<string, string>>;
}

export const HOSTS_FILE = "hosts.yaml";
export const GROUP_VARS_FILE = "group_vars/all/kubespray.yml";

/**
 * Renders the files; `addresses` supplies the addresses of DHCP nodes (tests), otherwise
 * a DHCP definition is refused because its addresses exist only once the VMs run.
 */
export function renderFiles(
  config: ClusterConfig,
  options: {
    readonly addresses?: Readonly<Record<string, string>>;
    readonly previousControlPlaneOrder?: readonly string[];
  } = {},
): RenderedFiles {
  const nodes = expandNodes(config);
  const missing = nodes.filter((n) => !n.staticIp && !options.addresses?.[n.name]);
  if (missing.length > 0) {
    const pools = [...new Set(missing.map((n) => n.poolIndex))];
    throw new ConfigError(
      pools.map((i) => ({
        path: `nodePools[${i}].firstIp`,
        message: `pool ${JSON.stringify(config.nodePools[i].name)} uses DHCP, so its addresses are known only once the VMs run; render needs static addresses (set firstIp), or deploy with cdktf and read ${HOSTS_FILE} from the state directory`,
      })),
    );
  }
  const inventory = buildInventory({
    hosts: inventoryHosts(
      nodes,
      (n) => nodes.find((x) => x.name === n.name)?.staticIp ?? options.addresses?.[n.name] ?? "",
    ),
    sshUser: config.ssh.user,
    sshPrivateKeyFile: config.ssh.privateKeyFile,
    previousControlPlaneOrder: options.previousControlPlaneOrder,
  });
  const vars = groupVars(config);
  return {
    inventory,
    groupVars: vars,
    files: { [HOSTS_FILE]: stringify(inventory), [GROUP_VARS_FILE]: stringify(vars) },
  };
}
