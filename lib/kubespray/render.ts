/**
 * The inventory and group_vars files for a definition with static addresses, as the
 * cluster stack writes them (`npm run render`, tests).
 */
import { stringify } from "yaml";

import { expandNodes } from "../../config/nodes";
import type { ClusterConfig } from "../../config/schema";
import { issue, UserError } from "../../errors/user-error";

import type { RunRecord } from "./playbooks";
import type { KubesprayFiles } from "./runner-inputs";
import { kubesprayFiles } from "./runner-inputs";

export interface RenderedFiles extends KubesprayFiles {
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
    /** The last successful run: its control-plane order is kept. @default - none */
    readonly record?: RunRecord;
  } = {},
): RenderedFiles {
  const nodes = expandNodes(config).map((n) => ({
    ...n,
    ipv4: n.staticIp ?? options.addresses?.[n.name] ?? "",
  }));
  const missing = nodes.filter((n) => n.ipv4 === "");
  if (missing.length > 0) {
    const pools = [...new Set(missing.map((n) => n.poolIndex))];
    throw new UserError(
      pools.map((i) =>
        issue(
          `nodePools[${i}].firstIp`,
          `pool ${JSON.stringify(config.nodePools[i].name)} uses DHCP, so its addresses are known only once the VMs run`,
          `render needs static addresses (set firstIp), or deploy with cdktf and read ${HOSTS_FILE} from the state directory`,
        ),
      ),
    );
  }
  const files = kubesprayFiles(config, nodes, options.record);
  return {
    ...files,
    files: {
      [HOSTS_FILE]: stringify(files.inventory),
      [GROUP_VARS_FILE]: stringify(files.groupVars),
    },
  };
}
