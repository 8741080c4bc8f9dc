/** Rules of the Proxmox section: its hosts and this cluster's VM ID blocks. */
import { show } from "../errors";
import { poolVmIdBase } from "../pools";
import { PROXMOX_MAX_VMID } from "../schema";

import type { Rule } from "./context";

const hostsOnce: Rule = ({ config, err }) =>
  config.proxmox.hosts.forEach((h, i) => {
    if (config.proxmox.hosts.indexOf(h) !== i)
      err(`proxmox.hosts[${i}]`, `${show(h)} is listed twice; list each node once`);
  });

/** The last VM ID of the last pool's block. */
const lastVmId = (c: Parameters<Rule>[0]) => poolVmIdBase(c.config, c.config.nodePools.length) - 1;

const vmIdsInRange: Rule = (c) => {
  const last = lastVmId(c);
  if (last > PROXMOX_MAX_VMID) {
    c.err(
      "proxmox.vmIdStart",
      `the VM ID blocks end at ${last}, above Proxmox's maximum ${PROXMOX_MAX_VMID}; lower vmIdStart or vmIdsPerPool`,
    );
  }
};

const templateOutsideCluster: Rule = (c) => {
  const { vmIdStart, template } = c.config.proxmox;
  const last = lastVmId(c);
  if (template.vmId >= vmIdStart && template.vmId <= last) {
    c.err(
      "proxmox.template.vmId",
      `template ${template.vmId} lies inside this cluster's VM IDs ${vmIdStart}-${last}; move vmIdStart`,
    );
  }
};

export const PROXMOX_RULES: readonly Rule[] = [hostsOnce, vmIdsInRange, templateOutsideCluster];
