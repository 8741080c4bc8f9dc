/** Rules of the node network: its CIDR, the gateway, and overlaps between claimed ranges. */
import { ipToInt, overlaps } from "../net";

import type { Rule } from "./context";

const cidr: Rule = (c) => c.noHostBits("network.cidr", c.config.network.cidr);

/** The gateway lies in the node network; it is the first claimed address. */
const gateway: Rule = (c) => {
  const ip = ipToInt(c.config.network.gateway);
  const range = { first: ip, last: ip };
  c.inNodeNetwork("network.gateway", range, "gateway");
  c.claims.push({ path: "network.gateway", what: "the gateway", range });
};

export const NETWORK_RULES: readonly Rule[] = [cidr, gateway];

/** Overlaps between every pair of claimed address ranges of this cluster (run last). */
const claimsOverlap: Rule = (c) => {
  const { claims } = c;
  for (let a = 0; a < claims.length; a++) {
    for (let b = a + 1; b < claims.length; b++) {
      const kinds = new Set([claims[a].kind, claims[b].kind]);
      if (kinds.has("metallb") && kinds.has("ingress")) continue;
      if (overlaps(claims[a].range, claims[b].range)) {
        c.err(
          claims[b].path,
          `${claims[b].what} overlaps ${claims[a].what} (${claims[a].path}); make them disjoint`,
        );
      }
    }
  }
};

export const ADDRESS_OVERLAP_RULES: readonly Rule[] = [claimsOverlap];
