/** Rules of coexistence: no address or VM ID of this cluster is one an existing cluster uses. */

import type { IdRange } from "../net";
import { isOrdered, overlaps, parseIdRange, parseIpRange } from "../net";
import { poolVmIds, templateVmIds } from "../nodes";
import type { ExistingCluster } from "../schema";

import type { Claim, Rule, RuleContext } from "./context";

/** The address ranges an existing cluster uses. */
function theirAddresses(other: ExistingCluster, at: string): Claim[] {
  const claims: Claim[] = [];
  const add = (path: string, what: string, text: string) => {
    const range = parseIpRange(text);
    if (range && isOrdered(range)) claims.push({ path, what, range });
  };
  other.nodeAddresses.forEach((t, j) => add(`${at}.nodeAddresses[${j}]`, `node addresses ${t}`, t));
  other.loadBalancerAddresses.forEach((t, j) =>
    add(`${at}.loadBalancerAddresses[${j}]`, `load balancer range ${t}`, t),
  );
  if (other.apiServerAddress !== undefined)
    add(`${at}.apiServerAddress`, `API server ${other.apiServerAddress}`, other.apiServerAddress);
  return claims;
}

/** Every existing cluster, with its path. */
const eachExisting = (c: RuleContext, check: (other: ExistingCluster, at: string) => void) =>
  c.config.coexistence.existingClusters.forEach((other, i) =>
    check(other, `coexistence.existingClusters[${i}]`),
  );

const addresses: Rule = (c) =>
  eachExisting(c, (other, at) => {
    const theirs = theirAddresses(other, at);
    for (const mine of c.claims) {
      if (mine.path === "network.gateway") continue; // the router is shared on purpose
      for (const t of theirs) {
        if (overlaps(mine.range, t.range)) {
          c.err(
            mine.path,
            `${mine.what} collides with ${other.name}'s ${t.what} (${t.path}); pick addresses ${other.name} does not use`,
          );
        }
      }
    }
  });

const vmIds: Rule = (c) => {
  const { config } = c;
  const mine = config.nodePools.flatMap((_, i): { path: string; range: IdRange }[] => {
    const range = poolVmIds(config, i);
    return range ? [{ path: `nodePools[${i}].count`, range }] : [];
  });
  const templates = templateVmIds(config);
  eachExisting(c, (other, at) =>
    other.vmIds.forEach((text, j) => {
      const range = parseIdRange(text);
      if (!range || !isOrdered(range)) return;
      for (const pool of mine) {
        if (overlaps(pool.range, range)) {
          c.err(
            pool.path,
            `VM IDs ${pool.range.first}-${pool.range.last} collide with ${other.name}'s VM IDs ${text} (${at}.vmIds[${j}]); move proxmox.vmIdStart`,
          );
        }
      }
      if (config.proxmox.template.image !== undefined) {
        if (overlaps(templates, range))
          c.err(
            "proxmox.template.vmId",
            `the templates' VM IDs ${templates.first}-${templates.last} (one per host) collide with ${other.name}'s VM IDs ${text} (${at}.vmIds[${j}]); move template.vmId`,
          );
      } else if (overlaps(templates, range)) {
        c.warn(
          "proxmox.template.vmId",
          `template ${templates.first} is one of ${other.name}'s VM IDs; is it really the template?`,
        );
      }
    }),
  );
};

export const COEXISTENCE_RULES: readonly Rule[] = [addresses, vmIds];
