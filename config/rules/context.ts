/**
 * What the rule modules share: the definition, where problems go, the node network, and the
 * address ranges claimed so far (each section claims its own; `network.ts` then checks that
 * no two overlap and `coexistence.ts` that none collides with an existing cluster).
 */
import type { Issue } from "../../errors/user-error";
import { show } from "../../errors/user-error";
import type { Ipv4Cidr, Ipv4Range } from "../net";
import { contains, formatIpRange, intToIp, isNetworkAddress, parseCidr } from "../net";
import type { ClusterConfig } from "../schema";

/** A thing that holds addresses, for overlap messages. */
export interface Claim {
  readonly path: string;
  readonly what: string;
  readonly range: Ipv4Range;
  /** MetalLB ranges and the ingress IP: the ingress IP lies inside a MetalLB range on purpose. */
  readonly kind?: "metallb" | "ingress";
}

export interface ValidationResult {
  readonly errors: Issue[];
  readonly warnings: Issue[];
}

export interface RuleContext {
  readonly config: ClusterConfig;
  /** The node network. */
  readonly net: Ipv4Cidr | undefined;
  /** Address ranges of this cluster, in the order the rules claimed them. */
  readonly claims: Claim[];
  err(path: string, message: string): void;
  warn(path: string, message: string): void;
  /**
   * Checks that one address range is a usable part of the node network; `what` names it
   * before its addresses (`gateway`, `pool workers's 3 addresses`), `plural` when it is
   * more than one thing.
   */
  inNodeNetwork(path: string, range: Ipv4Range, what: string, plural?: boolean): boolean;
  /** Checks that a CIDR is written with its network address. */
  noHostBits(path: string, text: string): void;
}

/** One rule: adds the problems it finds to the context. */
export type Rule = (c: RuleContext) => void;

/** Runs the rules in order over a schema-valid definition. */
export function runRules(config: ClusterConfig, rules: readonly Rule[]): ValidationResult {
  const errors: Issue[] = [];
  const warnings: Issue[] = [];
  const net = parseCidr(config.network.cidr);
  const c: RuleContext = {
    config,
    net,
    claims: [],
    err: (path, message) => errors.push({ path, message }),
    warn: (path, message) => warnings.push({ path, message }),
    inNodeNetwork(path, range, what, plural = false) {
      if (!net) return false;
      const [is, includes] = plural ? ["are", "include"] : ["is", "includes"];
      if (!contains(net, range)) {
        c.err(
          path,
          `${what} ${formatIpRange(range)} ${is} outside the node network ${config.network.cidr}; use addresses inside it`,
        );
        return false;
      }
      if (net.prefix < 31 && (range.first === net.first || range.last === net.last)) {
        const which = range.first === net.first ? "network" : "broadcast";
        c.err(
          path,
          `${what} ${formatIpRange(range)} ${includes} the ${which} address of ${config.network.cidr}; use host addresses`,
        );
        return false;
      }
      return true;
    },
    noHostBits(path, text) {
      const cidr = parseCidr(text);
      if (cidr && !isNetworkAddress(text))
        c.err(path, `${show(text)} has host bits set; write ${intToIp(cidr.first)}/${cidr.prefix}`);
    },
  };
  for (const rule of rules) rule(c);
  return { errors, warnings };
}
