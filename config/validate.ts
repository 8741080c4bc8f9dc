/**
 * Rules that relate fields to each other: quorum, address allocation, overlaps with the
 * gateway, VIP, MetalLB pools and existing clusters, Kubespray facts, add-on prerequisites.
 * One module per section in `rules/`; each rule adds issues naming the field, the value and
 * the fix, and all are reported at once.
 */
import { ADDON_RULES } from "./rules/addons";
import { COEXISTENCE_RULES } from "./rules/coexistence";
import type { Rule, ValidationResult } from "./rules/context";
import { runRules } from "./rules/context";
import { HA_RULES } from "./rules/ha";
import { KUBERNETES_RULES } from "./rules/kubernetes";
import { ADDRESS_OVERLAP_RULES, NETWORK_RULES } from "./rules/network";
import { NODE_POOL_RULES } from "./rules/node-pools";
import { PROXMOX_RULES } from "./rules/proxmox";
import type { ClusterConfig } from "./schema";

export type { ValidationResult } from "./rules/context";

/**
 * In this order: each section claims its address ranges (the gateway first), then the
 * claims are checked against each other and against the existing clusters.
 */
const RULES: readonly Rule[] = [
  ...NETWORK_RULES,
  ...PROXMOX_RULES,
  ...NODE_POOL_RULES,
  ...HA_RULES,
  ...KUBERNETES_RULES,
  ...ADDON_RULES,
  ...ADDRESS_OVERLAP_RULES,
  ...COEXISTENCE_RULES,
];

/** Validates the relations between fields of a schema-valid definition. */
export function validateConfig(config: ClusterConfig): ValidationResult {
  return runRules(config, RULES);
}
