/**
 * Proxmox VE 9's HA stack as its API shows it (pve-ha-manager: `PVE/API2/HA/Resources.pm`,
 * `PVE/API2/HA/Rules.pm`, `PVE/HA/Config.pm`, `PVE/HA/Rules*.pm`; qemu-server's HA paths):
 *
 * - Resources (`vm:<vmid>`): created for a VM that exists, once; updated, deleted (`purge`,
 *   the default, takes the resource out of every rule and drops a rule left empty).
 * - Rules, which replaced HA groups in PVE 9: `node-affinity` (`nodes`, `strict`) and
 *   `resource-affinity` (`affinity` positive or negative), over managed resources only,
 *   each property checked against its rule type (SectionConfig's `check_config`), and the
 *   set checked for feasibility as pve-ha-manager does before writing it: fewer than two
 *   resources in a resource affinity rule, more resources kept apart than the HA manager
 *   has nodes, two resources both together and apart, a resource in two node affinity
 *   rules. A refusal found under the HA lock reads `create ha rule failed: ...`.
 * - The HA manager: idle on a cluster that never had an HA resource (its manager status
 *   lists no node, so Proxmox refuses any negative affinity rule until it has been active
 *   once), active one round (`Timing.haRoundMs`) after the first resource exists; each
 *   round it starts the VMs of resources in state `started` and stops those `stopped` or
 *   `disabled`, like the LRM (a VM rolled back, which qemu-server stops, is started again).
 * - qemu-server for HA-managed VMs: start and stop/shutdown become `hastart`/`hastop`
 *   tasks that change the resource's state; destroy refuses without `purge`, and with it
 *   removes the resource; status/current reports `ha.managed`.
 */
import { createHash } from "node:crypto";

import type { PveCluster } from "./cluster";
import { isTrue } from "./config-keys";
import { PveError, fail } from "./errors";
import { powerOff, powerOn } from "./power";
import type { Params, PersistedHa } from "./types";

type Options = Map<string, string>;

/** The options each resource type and rule type takes (`options()` of their plugins). */
const RESOURCE_OPTIONS = ["state", "group", "comment", "failback", "max_restart", "max_relocate"];
const RULE_OPTIONS: Readonly<Record<string, Readonly<Record<string, boolean>>>> = {
  // option → required
  "node-affinity": { resources: true, nodes: true, strict: false, disable: false, comment: false },
  "resource-affinity": { resources: true, affinity: true, disable: false, comment: false },
};
/** Options whose values are numbers in the API's JSON. */
const NUMERIC = new Set(["failback", "max_restart", "max_relocate", "strict", "disable", "order"]);

export class HaState {
  /** Resources by SID (`vm:100`), their options as written (`type` included). */
  readonly resources = new Map<string, Options>();
  /** Rules by ID, their options as written (`type`, `order` included). */
  readonly rules = new Map<string, Options>();
  /** The nodes the HA manager's status lists; empty until it has been active once. */
  managerNodes: string[] = [];
  /** The service state the CRM last gave each resource (`started`, `stopped`, `error`). */
  readonly serviceStatus = new Map<string, string>();
  masterNode?: string;
  private roundPending = false;

  constructor(
    /** The cluster had an active HA manager before (its manager status lists the nodes). */
    active: boolean,
    nodes: readonly string[],
  ) {
    if (active) this.managerNodes = [...nodes].sort();
  }

  persist(): PersistedHa {
    return {
      resources: [...this.resources].map(([k, v]) => [k, Object.fromEntries(v)]),
      rules: [...this.rules].map(([k, v]) => [k, Object.fromEntries(v)]),
      managerNodes: [...this.managerNodes],
    };
  }

  restore(saved: PersistedHa | undefined): void {
    if (!saved) return;
    this.resources.clear();
    for (const [k, v] of saved.resources) this.resources.set(k, new Map(Object.entries(v)));
    this.rules.clear();
    for (const [k, v] of saved.rules) this.rules.set(k, new Map(Object.entries(v)));
    this.managerNodes = [...saved.managerNodes];
  }

  /** Asks for a CRM round after `Timing.haRoundMs`, unless one is pending. */
  schedule(c: PveCluster): void {
    if (this.roundPending) return;
    this.roundPending = true;
    c.runner.schedule(c.timing.haRoundMs ?? 1000, () => {
      this.roundPending = false;
      crmRound(c);
    });
  }
}

/** `check_cfs_quorum`. */
function assertQuorum(c: PveCluster): void {
  if (!c.seed.quorate) throw fail("cluster not ready - no quorum?");
}

/** `PVE::HA::Config::parse_sid`: `vm:100`, `ct:100`, or a bare VM ID of an existing guest. */
export function parseSid(c: PveCluster, sid: string): { sid: string; type: string; name: string } {
  const bare = /^(\d+)$/.exec(sid);
  if (bare) {
    if (!c.vms.has(Number(bare[1])))
      throw fail(`unable to detect SID from VMID - VM/CT ${bare[1]} does not exist`);
    return { sid: `vm:${bare[1]}`, type: "vm", name: bare[1] };
  }
  const m = /^(\S+):(\S+)$/.exec(sid);
  if (!m) throw fail(`unable to parse service id '${sid}'`);
  return { sid, type: m[1], name: m[2] };
}

const digestOf = (entries: Map<string, Options>): string =>
  createHash("sha1")
    .update(
      [...entries]
        .map(([id, o]) => `${id}\n${[...o].map(([k, v]) => `\t${k} ${v}`).join("\n")}`)
        .join("\n\n"),
    )
    .digest("hex");

const assertDigest = (current: string, given: string | undefined): void => {
  if (given && given !== current)
    throw fail("detected modified configuration - file changed by other user? Try again.");
};

/** Runs `fn` under the HA domain lock: its errors read `<what>: <error>`. */
function locked<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof PveError) throw fail(`${what}: ${e.message}`);
    throw e;
  }
}

const toJson = (o: Options): Record<string, string | number> =>
  Object.fromEntries([...o].map(([k, v]) => [k, NUMERIC.has(k) ? Number(v) : v]));

/** A resource's options from request parameters (`check_config` of the VM plugin). */
function resourceOptions(params: Params): Options {
  const out: Options = new Map();
  for (const [k, v] of Object.entries(params)) {
    if (k === "sid" || k === "type" || k === "digest" || k === "delete") continue;
    if (!RESOURCE_OPTIONS.includes(k)) throw fail(`unexpected property '${k}'`);
    out.set(k, NUMERIC.has(k) ? String(Number(v)) : v);
  }
  return out;
}

/** The resource type's plugin: `exists` and `verify_name`. */
function assertGuest(c: PveCluster, type: string, name: string): void {
  if (type !== "vm" && type !== "ct") throw fail(`unknown section type '${type}'`);
  if (!/^[1-9][0-9]+$/.test(name)) throw fail("invalid VMID");
  const vm = c.vms.get(Number(name));
  if (!vm) throw fail(`resource '${type}:${name}' does not exist in cluster`);
  if (type === "ct") throw fail(`resource 'ct:${name}' - guest with ID ${name} is not a CT`);
}

export function listResources(c: PveCluster, params: Params): object[] {
  const digest = digestOf(c.ha.resources);
  return [...c.ha.resources]
    .filter(([, o]) => params.type === undefined || o.get("type") === params.type)
    .map(([sid, o]) => ({ ...toJson(o), sid, digest }));
}

export function getResource(c: PveCluster, sidParam: string): object {
  const { sid } = parseSid(c, sidParam);
  const o = c.ha.resources.get(sid);
  if (!o) throw fail(`no such resource '${sid}'`);
  return { ...toJson(o), sid, digest: digestOf(c.ha.resources) };
}

export function createResource(c: PveCluster, params: Params): null {
  assertQuorum(c);
  const { sid, type, name } = parseSid(c, params.sid);
  if (params.type !== undefined && params.type !== type) throw fail("types does not match");
  if (params.group !== undefined)
    throw fail("invalid parameter 'group': ha groups have been migrated to rules");
  assertGuest(c, type, name);
  const opts = resourceOptions(params);
  locked("create resource failed", () => {
    if (c.ha.resources.has(sid)) throw fail(`resource ID '${sid}' already defined`);
    c.ha.resources.set(sid, new Map([["type", type], ...opts]));
  });
  c.ha.schedule(c);
  return null;
}

export function updateResource(c: PveCluster, sidParam: string, params: Params): null {
  const { sid, type } = parseSid(c, sidParam);
  if (params.type !== undefined && params.type !== type) throw fail("types does not match");
  if (params.group !== undefined)
    throw fail("invalid parameter 'group': ha groups have been migrated to rules");
  if (c.ha.serviceStatus.get(sid) === "error" && params.state !== "disabled")
    throw fail(`service '${sid}' in error state, must be disabled and fixed first`);
  locked("update resources config failed", () => {
    assertDigest(digestOf(c.ha.resources), params.digest);
    const o = c.ha.resources.get(sid);
    if (!o) throw fail(`no such resource '${sid}'`);
    const opts = resourceOptions(params);
    for (const [k, v] of opts) o.set(k, v);
    for (const k of (params.delete ?? "").split(/[,;\s]+/).filter((x) => x !== "")) {
      if (!RESOURCE_OPTIONS.includes(k)) throw fail(`no such option '${k}'`);
      o.delete(k);
    }
  });
  if (params.state === "disabled") c.ha.serviceStatus.delete(sid);
  c.ha.schedule(c);
  return null;
}

/** `delete_service_from_config`: the resource, and with `purge` its place in every rule. */
function removeResource(c: PveCluster, sid: string, purge: boolean): void {
  c.ha.resources.delete(sid);
  c.ha.serviceStatus.delete(sid);
  if (!purge) return;
  for (const [id, rule] of c.ha.rules) {
    const rest = (rule.get("resources") ?? "").split(",").filter((r) => r !== "" && r !== sid);
    if (rest.length === 0) c.ha.rules.delete(id);
    else rule.set("resources", rest.join(","));
  }
}

export function deleteResource(c: PveCluster, sidParam: string, params: Params): null {
  const { sid } = parseSid(c, sidParam);
  if (!c.ha.resources.has(sid)) throw fail(`cannot delete service '${sid}', not HA managed!`);
  removeResource(c, sid, params.purge === undefined || isTrue(params.purge));
  return null;
}

/** A rule's options from request parameters, checked against its type (`check_config`). */
function ruleOptions(type: string, params: Params, create: boolean): Options {
  const allowed = RULE_OPTIONS[type];
  const out: Options = new Map();
  for (const [k, raw] of Object.entries(params)) {
    if (k === "rule" || k === "digest" || k === "delete") continue;
    if (k === "type") {
      if (raw === type) continue;
      throw fail(`unexpected property 'type'`);
    }
    if (!(k in allowed)) throw fail(`unexpected property '${k}'`);
    if (/[\n\r]/.test(raw)) throw fail("property contains a line feed");
    if (k === "disable" && !isTrue(raw)) continue; // the API drops `disable=0`
    if (k === "resources") {
      out.set(k, [...new Set(raw.split(/[;,\s]+/).filter((r) => r !== ""))].sort().join(","));
    } else if (k === "nodes") {
      const nodes = raw.split(/[;,\s]+/).filter((n) => n !== "");
      out.set(
        k,
        [...new Map(nodes.map((n) => [n.split(":")[0], n]))]
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([name, n]) => (Number(n.split(":")[1] ?? 0) ? n : name))
          .join(","),
      );
    } else {
      out.set(k, NUMERIC.has(k) ? String(isTrue(raw) ? 1 : 0) : raw);
    }
  }
  if (create) {
    for (const [k, required] of Object.entries(allowed)) {
      if (required && !out.has(k) && params[k] === undefined)
        throw fail(`missing value for required option '${k}'`);
    }
  }
  return out;
}

/** What `assert_valid_resources_param` and `assert_valid_nodes_param` refuse. */
function assertRuleTargets(c: PveCluster, opts: Options): void {
  if (opts.has("resources")) {
    const resources = (opts.get("resources") ?? "").split(",").filter((r) => r !== "");
    if (resources.length === 0) throw fail("no resources were specified");
    const unmanaged = resources.filter((r) => !c.ha.resources.has(r));
    if (unmanaged.length > 0)
      throw fail(`cannot use unmanaged resource(s) ${unmanaged.join(", ")}.`);
  }
  if (opts.has("nodes")) {
    const nodes = (opts.get("nodes") ?? "").split(",").filter((n) => n !== "");
    if (nodes.length === 0) throw fail("no nodes were specified");
    const missing = nodes.map((n) => n.split(":")[0]).filter((n) => !c.nodes.has(n));
    if (missing.length > 0) throw fail(`cannot use non-existent node(s) ${missing.join(", ")}.`);
  }
}

const resourcesOf = (rule: Options): Set<string> =>
  new Set((rule.get("resources") ?? "").split(",").filter((r) => r !== ""));

/**
 * `check_feasibility` over the enabled rules: errors by rule ID and property, with
 * pve-ha-manager's messages.
 */
export function ruleErrors(c: PveCluster): Map<string, Map<string, string[]>> {
  const errors = new Map<string, Map<string, string[]>>();
  const add = (id: string, msg: string): void => {
    const byProp = errors.get(id) ?? new Map<string, string[]>();
    byProp.set("resources", [...(byProp.get("resources") ?? []), msg]);
    errors.set(id, byProp);
  };
  const enabled = [...c.ha.rules].filter(([, r]) => r.get("disable") !== "1");
  const affinity = enabled.filter(([, r]) => r.get("type") === "resource-affinity");
  for (const [id, rule] of affinity) {
    if (resourcesOf(rule).size < 2)
      add(id, "rule is ineffective as there are less than two resources");
  }
  for (const [id, rule] of affinity) {
    if (rule.get("affinity") === "negative" && resourcesOf(rule).size > c.ha.managerNodes.length)
      add(id, "rule defines more resources than available nodes");
  }
  const positive = affinity.filter(([, r]) => r.get("affinity") === "positive");
  const negative = affinity.filter(([, r]) => r.get("affinity") === "negative");
  for (const [pid, p] of positive) {
    for (const [nid, n] of negative) {
      const common = [...resourcesOf(p)].filter((r) => resourcesOf(n).has(r));
      if (common.length < 2) continue;
      add(pid, "rule shares two or more resources with a negative resource affinity rule");
      add(nid, "rule shares two or more resources with a positive resource affinity rule");
    }
  }
  const seen = new Map<string, string>();
  for (const [id, rule] of enabled.filter(([, r]) => r.get("type") === "node-affinity")) {
    for (const sid of resourcesOf(rule)) {
      if (seen.has(sid)) add(id, `resource '${sid}' is already used in another node affinity rule`);
      else seen.set(sid, id);
    }
  }
  return errors;
}

/** `$assert_feasibility`: PVE::Exception's text (`400 Rule 'x' is invalid.` and the errors). */
function assertFeasible(c: PveCluster, id: string): void {
  const errs = ruleErrors(c).get(id);
  if (!errs) return;
  const lines = [...errs].map(([prop, msgs]) => `${prop}: ${msgs.join(", ")}`);
  throw fail(`400 Rule '${id}' is invalid.\n${lines.join("\n")}`);
}

function ruleJson(c: PveCluster, id: string, rule: Options): Record<string, unknown> {
  const errs = ruleErrors(c).get(id);
  return {
    ...toJson(rule),
    rule: id,
    digest: digestOf(c.ha.rules),
    ...(errs ? { errors: Object.fromEntries([...errs].map(([k, v]) => [k, v.join(", ")])) } : {}),
  };
}

export function listRules(c: PveCluster, params: Params): object[] {
  return [...c.ha.rules]
    .filter(([, r]) => params.type === undefined || r.get("type") === params.type)
    .filter(([, r]) => params.resource === undefined || resourcesOf(r).has(params.resource))
    .sort(([, a], [, b]) => Number(a.get("order")) - Number(b.get("order")))
    .map(([id, r]) => ruleJson(c, id, r));
}

export function getRule(c: PveCluster, id: string): object {
  const rule = c.ha.rules.get(id);
  if (!rule) throw fail(`no such ha rule '${id}'`);
  return ruleJson(c, id, rule);
}

export function createRule(c: PveCluster, params: Params): null {
  assertQuorum(c);
  const id = params.rule;
  const type = params.type;
  const opts = ruleOptions(type, params, true);
  locked("create ha rule failed", () => {
    if (c.ha.rules.has(id)) throw fail(`HA rule '${id}' already defined`);
    assertRuleTargets(c, opts);
    const order = Math.max(0, ...[...c.ha.rules.values()].map((r) => Number(r.get("order")))) + 1;
    c.ha.rules.set(id, new Map([["type", type], ...opts, ["order", String(order)]]));
    try {
      assertFeasible(c, id);
    } catch (e) {
      c.ha.rules.delete(id);
      throw e;
    }
  });
  return null;
}

export function updateRule(c: PveCluster, id: string, params: Params): null {
  locked("update HA rules failed", () => {
    assertDigest(digestOf(c.ha.rules), params.digest);
    const rule = c.ha.rules.get(id);
    if (!rule) throw fail(`HA rule '${id}' does not exist`);
    const type = rule.get("type") ?? "";
    const opts = ruleOptions(type, params, false);
    assertRuleTargets(c, opts);
    const before = new Map(rule);
    for (const k of (params.delete ?? "").split(/[,;\s]+/).filter((x) => x !== "")) {
      const required = RULE_OPTIONS[type][k];
      if (required === undefined) throw fail(`no such option '${k}'`);
      if (required) throw fail(`unable to delete required option '${k}'`);
      if (opts.has(k)) throw fail(`cannot set and delete property '${k}' at the same time!`);
      rule.delete(k);
    }
    for (const [k, v] of opts) rule.set(k, v);
    try {
      assertFeasible(c, id);
    } catch (e) {
      c.ha.rules.set(id, before);
      throw e;
    }
  });
  return null;
}

/** DELETE /cluster/ha/rules/{rule}: silent when there is no such rule, as in pve-ha-manager. */
export function deleteRule(c: PveCluster, id: string): null {
  c.ha.rules.delete(id);
  return null;
}

/** GET /cluster/ha/status/manager_status. */
export function managerStatus(c: PveCluster): object {
  const ha = c.ha;
  const status =
    ha.managerNodes.length === 0
      ? {}
      : {
          master_node: ha.masterNode ?? ha.managerNodes[0],
          timestamp: Math.floor(Date.now() / 1000),
          node_status: Object.fromEntries(ha.managerNodes.map((n) => [n, "online"])),
          service_status: Object.fromEntries(
            [...ha.serviceStatus].map(([sid, state]) => [
              sid,
              { state, node: c.vms.get(Number(sid.split(":")[1]))?.node },
            ]),
          ),
        };
  return {
    manager_status: status,
    quorum: { node: [...c.nodes.keys()][0], quorate: c.seed.quorate ? 1 : 0 },
  };
}

/** `service_is_configured("vm:<vmid>")`. */
export const isConfigured = (c: PveCluster, vmid: number): boolean =>
  c.ha.resources.has(`vm:${vmid}`);

/** `vm_is_ha_managed`: configured, and not `ignored`. */
export const isManaged = (c: PveCluster, vmid: number): boolean =>
  isConfigured(c, vmid) && c.ha.resources.get(`vm:${vmid}`)?.get("state") !== "ignored";

/** status/current's `ha`: managed or not, and the state the manager gave it. */
export function haStatus(c: PveCluster, vmid: number): Record<string, unknown> {
  if (!isManaged(c, vmid)) return { managed: 0 };
  const state = c.ha.serviceStatus.get(`vm:${vmid}`);
  return { managed: 1, ...(state !== undefined ? { state } : {}) };
}

/**
 * qemu-server's start/stop of an HA-managed VM: a `hastart`/`hastop` task that sets the
 * resource's state (`ha-manager set --state started`, `ha-manager crm-command stop`); the
 * VM follows in the HA manager's next round.
 */
export function requestHaState(c: PveCluster, node: string, vmid: number, start: boolean): string {
  return c.runner.start({
    node,
    type: start ? "hastart" : "hastop",
    id: vmid,
    work: () => {
      c.ha.resources.get(`vm:${vmid}`)?.set("state", start ? "started" : "stopped");
      c.ha.schedule(c);
      return [`Requesting HA ${start ? "start" : "stop"} for VM ${vmid}`];
    },
  });
}

/** destroy's early check: an HA resource needs `purge`. */
export function assertDestroyable(c: PveCluster, vmid: number, params: Params): void {
  if (isConfigured(c, vmid) && !isTrue(params.purge))
    throw fail(`unable to remove VM ${vmid} - used in HA resources and purge parameter not set.`);
}

/** destroy with `purge`: the VM leaves the HA configuration; the task log says so. */
export function purgeVm(c: PveCluster, vmid: number): string[] {
  if (!isConfigured(c, vmid)) return [];
  removeResource(c, `vm:${vmid}`, true);
  return [`NOTE: removed VM ${vmid} from HA resource configuration.`];
}

/** One round of the HA manager: active once resources exist; VMs brought to their state. */
function crmRound(c: PveCluster): void {
  const ha = c.ha;
  if (!c.seed.quorate || ha.resources.size === 0) return;
  ha.managerNodes = [...c.nodes.keys()].sort();
  ha.masterNode ??= ha.managerNodes[0];
  for (const [sid, o] of ha.resources) {
    const vm = c.vms.get(Number(sid.split(":")[1]));
    const state = o.get("state") ?? "started";
    if (!vm || state === "ignored" || ha.serviceStatus.get(sid) === "error") continue;
    if (vm.config.has("lock") || c.isTemplate(vm)) continue;
    if ((state === "started" || state === "enabled") && vm.status === "stopped") {
      try {
        powerOn(c, vm);
        ha.serviceStatus.set(sid, "started");
      } catch {
        ha.serviceStatus.set(sid, "error");
      }
    } else if ((state === "stopped" || state === "disabled") && vm.status === "running") {
      powerOff(vm);
      ha.serviceStatus.set(sid, "stopped");
    } else {
      ha.serviceStatus.set(sid, vm.status === "running" ? "started" : "stopped");
    }
  }
  ha.schedule(c);
}
