/** Rules of `proxmox.ha`: the pools it names, and groups that can be kept on different hosts. */
import { expandNodes } from "../../config/nodes";
import { show } from "../../errors/user-error";
import { haAffinityGroups, sharedHosts } from "../../lib/proxmox/ha";

import type { Rule } from "./context";

const keepApartPools: Rule = (c) => {
  const { keepApart, enabled } = c.config.proxmox.ha;
  keepApart.forEach((name, i) => {
    const at = `proxmox.ha.keepApart[${i}]`;
    const pool = c.config.nodePools.find((p) => p.name === name);
    if (keepApart.indexOf(name) !== i)
      c.err(at, `${show(name)} is listed twice; list each pool once`);
    else if (!pool)
      c.err(
        at,
        `no node pool ${show(name)}; name one of ${c.config.nodePools.map((p) => p.name).join(", ")}`,
      );
    else if (pool.role === "control-plane")
      c.err(
        at,
        `${show(name)} is a control-plane pool, whose nodes are kept apart already; remove it`,
      );
  });
  if (keepApart.length > 0 && !enabled)
    c.warn(
      "proxmox.ha.keepApart",
      "has no effect while proxmox.ha.enabled is false; set enabled: true, or remove keepApart",
    );
};

/** Proxmox cannot keep two VMs of a group apart that the placement puts on one host. */
const groupsFitHosts: Rule = (c) => {
  for (const group of haAffinityGroups(c.config, expandNodes(c.config))) {
    for (const [host, names] of sharedHosts(group)) {
      c.err(
        group.path,
        `the ${group.what} ${names.join(" and ")} are all placed on ${host}, but HA keeps them on different hosts; spread them over more hosts (proxmox.hosts, nodePools[].hosts) or make the pool smaller`,
      );
    }
  }
};

const moreThanOneHost: Rule = (c) => {
  if (c.config.proxmox.ha.enabled && c.config.proxmox.hosts.length < 2)
    c.warn(
      "proxmox.ha.enabled",
      `with one host (${c.config.proxmox.hosts[0]}) Proxmox has nowhere to restart a VM when it fails; list the cluster's other hosts in proxmox.hosts`,
    );
};

export const HA_RULES: readonly Rule[] = [keepApartPools, groupsFitHosts, moreThanOneHost];
