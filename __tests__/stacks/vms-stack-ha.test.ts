/**
 * The vms stack with `proxmox.ha`: every node VM an HA resource, the control-plane VMs
 * (and each keepApart pool) kept on different hosts by one rule that names them all, the
 * rules made only after Proxmox's HA manager lists the hosts, and HA-managed VMs left on
 * the host Proxmox moved them to.
 */
import { Testing } from "cdktf";

import { parseClusterConfig } from "../../config/load";
import { VmsStack } from "../../stacks/vms-stack";
import { homelab } from "../fixtures/definitions";
import type { Definition } from "../fixtures/definitions";

type Block = Record<string, unknown>;
interface Synthesized {
  resource: {
    proxmox_virtual_environment_vm: Record<string, Block & { vm_id: number; name: string }>;
    proxmox_haresource?: Record<string, Block & { resource_id: string }>;
    proxmox_harule?: Record<string, Block & { rule: string; resources: string[] }>;
    null_resource: Record<string, Block>;
  };
}

function synth(definition: Definition): Synthesized {
  const stack = new VmsStack(Testing.app(), "vms", {
    config: parseClusterConfig(definition).config,
    stateDir: "/state/x",
  });
  return JSON.parse(Testing.synth(stack)) as Synthesized;
}

function withHa(ha: Definition): Definition {
  const d = homelab();
  d.proxmox.ha = ha;
  return d;
}

/** The VM IDs a rule names, through the HA resources its entries refer to. */
function ruleVmIds(json: Synthesized, rule: { resources: string[] }): number[] {
  const resources = json.resource.proxmox_haresource ?? {};
  return rule.resources.map((ref) => {
    const key = /^\$\{proxmox_haresource\.([^.]+)\.resource_id\}$/.exec(ref)?.[1] ?? "";
    return Number(resources[key].resource_id.replace("vm:", ""));
  });
}

describe("VmsStack with proxmox.ha", () => {
  it("makes no HA resource or rule while HA is off", () => {
    const json = synth(homelab());
    expect(json.resource.proxmox_haresource).toBeUndefined();
    expect(json.resource.proxmox_harule).toBeUndefined();
    for (const vm of Object.values(json.resource.proxmox_virtual_environment_vm))
      expect((vm.lifecycle as Block).ignore_changes).toEqual(["clone"]);
  });

  it("makes every node VM an HA resource, after its VM, keyed by pool and index", () => {
    const json = synth(withHa({ enabled: true }));
    const vms = json.resource.proxmox_virtual_environment_vm;
    const resources = Object.entries(json.resource.proxmox_haresource ?? {});
    expect(resources.map(([k, r]) => [k.replace(/_[0-9A-F]+$/, ""), r.resource_id])).toEqual(
      Object.values(vms).map((vm) => [
        expect.stringMatching(/^ha-(cp|worker)-\d/),
        `vm:${vm.vm_id}`,
      ]),
    );
    for (const [, r] of resources) {
      expect(r.state).toBe("started");
      const vmKey = Object.entries(vms).find(([, vm]) => `vm:${vm.vm_id}` === r.resource_id)?.[0];
      expect(r.depends_on).toEqual([`proxmox_virtual_environment_vm.${vmKey}`]);
    }
  });

  it("keeps every control-plane VM apart in one rule, made after the wait for the HA manager", () => {
    const json = synth(withHa({ enabled: true }));
    const rules = Object.values(json.resource.proxmox_harule ?? {});
    expect(rules.map((r) => r.rule)).toEqual(["kspray-control-plane-apart"]);
    expect(ruleVmIds(json, rules[0])).toEqual([4100, 4101, 4102]);
    expect(rules[0]).toMatchObject({ type: "resource-affinity", affinity: "negative" });
    const waitKey = Object.keys(json.resource.null_resource).find((k) =>
      k.startsWith("HaManagerReady"),
    );
    expect(rules[0].depends_on).toEqual([`null_resource.${waitKey}`]);
    const wait = json.resource.null_resource[waitKey ?? ""];
    expect(wait.triggers).toEqual({ hosts: "pve01,pve02,pve03" });
    expect(wait.depends_on).toHaveLength(6);
  });

  it("keeps a keepApart pool apart in a rule of its own", () => {
    const json = synth(withHa({ enabled: true, keepApart: ["worker"] }));
    const rules = Object.values(json.resource.proxmox_harule ?? {});
    expect(rules.map((r) => [r.rule, ruleVmIds(json, r)])).toEqual([
      ["kspray-control-plane-apart", [4100, 4101, 4102]],
      ["kspray-pool-worker-apart", [4200, 4201, 4202]],
    ]);
  });

  it("leaves an HA-managed VM on the host Proxmox moved it to", () => {
    const json = synth(withHa({ enabled: true }));
    for (const vm of Object.values(json.resource.proxmox_virtual_environment_vm))
      expect((vm.lifecycle as Block).ignore_changes).toEqual(["clone", "node_name"]);
  });
});
