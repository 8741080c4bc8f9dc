/**
 * Proxmox VE 9's HA on the double: resources, node and resource affinity rules, the HA
 * manager's status, and qemu-server's HA paths (start/stop through the HA manager, destroy
 * with `purge`), each refusal with pve-ha-manager's or qemu-server's message, over HTTP.
 */
import { ProxmoxDouble } from "../../proxmox-double";
import { ALL_PRIVILEGES } from "../../proxmox-double/acl";
import type { SeedInput } from "../../proxmox-double/seed";

import { api, data, until, waitTask } from "./api";

// It talks to the Proxmox VE double over loopback: a budget for a loaded two-core machine.
jest.setTimeout(60_000);

const FAST = { cloneDurationMs: 60, taskDurationMs: 20, agentDelayMs: 20, haRoundMs: 100 } as const;

const vm = (vmid: number, node: string, status: "running" | "stopped" = "running") => ({
  vmid,
  node,
  status,
  config: { name: `vm${vmid}`, memory: "2048", scsi0: `local-lvm:vm-${vmid}-disk-0,size=8G` },
});

/** Three hosts, a cluster where HA was never used; VMs 100-104. */
const SEED: SeedInput = {
  nodes: [{ name: "pve01" }, { name: "pve02" }, { name: "pve03" }],
  storages: [{ id: "local-lvm", type: "lvmthin", sizeGiB: 500 }],
  vms: [
    vm(100, "pve01"),
    vm(101, "pve02"),
    vm(102, "pve03"),
    vm(103, "pve01"),
    vm(104, "pve02", "stopped"),
  ],
};

describe("proxmox double: HA resources and rules", () => {
  let double: ProxmoxDouble;
  beforeAll(async () => {
    double = await ProxmoxDouble.start({ ...FAST, seed: SEED });
  });
  afterAll(() => double.stop());
  afterEach(() => double.setAcl(undefined));

  const refusal = async (method: string, path: string, params = {}) => {
    const res = await api(double, method, path, params);
    return [res.status, res.statusMessage];
  };
  const addResource = (sid: string, extra = {}) =>
    data(double, "POST", "cluster/ha/resources", { sid, type: "vm", state: "started", ...extra });
  const negative = (rule: string, resources: string) => ({
    rule,
    type: "resource-affinity",
    affinity: "negative",
    resources,
    disable: 0,
  });

  describe("resources", () => {
    it("starts with none, and an idle HA manager that lists no node", async () => {
      expect(await data(double, "GET", "cluster/ha/resources")).toEqual([]);
      expect(await data(double, "GET", "cluster/ha/status/manager_status")).toEqual({
        manager_status: {},
        quorum: { node: "pve01", quorate: 1 },
      });
    });

    it("makes a VM an HA resource, read by its SID or its bare VM ID", async () => {
      expect(await addResource("vm:100", { comment: "control plane" })).toBeNull();
      const read = await data(double, "GET", "cluster/ha/resources/vm%3A100");
      expect(read).toEqual({
        sid: "vm:100",
        type: "vm",
        state: "started",
        comment: "control plane",
        digest: expect.stringMatching(/^[0-9a-f]{40}$/),
      });
      expect(await data(double, "GET", "cluster/ha/resources/100")).toEqual(read);
      expect(await data(double, "GET", "cluster/ha/resources")).toEqual([read]);
    });

    it.each([
      [{ sid: "vm:999" }, "resource 'vm:999' does not exist in cluster"],
      [{ sid: "999" }, "unable to detect SID from VMID - VM/CT 999 does not exist"],
      [{ sid: "vm:100" }, "create resource failed: resource ID 'vm:100' already defined"],
      [
        { sid: "vm:101", group: "prefer-pve01" },
        "invalid parameter 'group': ha groups have been migrated to rules",
      ],
      [{ sid: "vm:101", type: "ct" }, "types does not match"],
      [{ sid: "vm:abc" }, "invalid VMID"],
    ])("refuses %j", async (params, message) => {
      expect(await refusal("POST", "cluster/ha/resources", params)).toEqual([500, message]);
    });

    it("refuses a SID that is not one before anything runs", async () => {
      const res = await api(double, "POST", "cluster/ha/resources", { sid: "vm-101" });
      expect(res.status).toBe(400);
      expect(res.body.errors).toEqual({
        sid: "invalid format - value does not look like a valid ha resource id",
      });
    });

    it("updates, checks the digest, and deletes options", async () => {
      const { digest } = await data(double, "GET", "cluster/ha/resources/vm%3A100");
      await data(double, "PUT", "cluster/ha/resources/vm%3A100", { max_restart: 2, digest });
      expect(
        await refusal("PUT", "cluster/ha/resources/vm%3A100", { comment: "x", digest }),
      ).toEqual([
        500,
        "update resources config failed: detected modified configuration - file changed by other user? Try again.",
      ]);
      await data(double, "PUT", "cluster/ha/resources/vm%3A100", { delete: "comment" });
      expect(await data(double, "GET", "cluster/ha/resources/vm%3A100")).toMatchObject({
        max_restart: 2,
        state: "started",
      });
      expect((await data(double, "GET", "cluster/ha/resources/vm%3A100")).comment).toBeUndefined();
      expect(await refusal("PUT", "cluster/ha/resources/vm%3A101", { comment: "x" })).toEqual([
        500,
        "update resources config failed: no such resource 'vm:101'",
      ]);
    });

    it("answers a resource it does not have the way the provider reads as gone", async () => {
      expect(await refusal("GET", "cluster/ha/resources/vm%3A101")).toEqual([
        500,
        "no such resource 'vm:101'",
      ]);
      expect(await refusal("DELETE", "cluster/ha/resources/vm%3A101")).toEqual([
        500,
        "cannot delete service 'vm:101', not HA managed!",
      ]);
    });

    it("needs Sys.Console to change and Sys.Audit to read, on /", async () => {
      double.setAcl({ "/": ALL_PRIVILEGES.filter((p) => p !== "Sys.Console") });
      expect(await refusal("POST", "cluster/ha/resources", { sid: "vm:101" })).toEqual([
        403,
        "Permission check failed (/, Sys.Console)",
      ]);
      expect(await refusal("POST", "cluster/ha/rules", negative("r1", "vm:100,vm:101"))).toEqual([
        403,
        "Permission check failed (/, Sys.Console)",
      ]);
      double.setAcl({ "/": ALL_PRIVILEGES.filter((p) => p !== "Sys.Audit") });
      expect(await refusal("GET", "cluster/ha/resources")).toEqual([
        403,
        "Permission check failed (/, Sys.Audit)",
      ]);
    });
  });

  describe("the HA manager", () => {
    it("becomes active a round after the first resource, and reports the VM managed", async () => {
      await until(async () => {
        const s = await data(double, "GET", "cluster/ha/status/manager_status");
        return s.manager_status.node_status !== undefined;
      });
      const status = await data(double, "GET", "cluster/ha/status/manager_status");
      expect(status.manager_status).toMatchObject({
        master_node: "pve01",
        node_status: { pve01: "online", pve02: "online", pve03: "online" },
        service_status: { "vm:100": { state: "started", node: "pve01" } },
      });
      expect((await data(double, "GET", "nodes/pve01/qemu/100/status/current")).ha).toEqual({
        managed: 1,
        state: "started",
      });
      expect((await data(double, "GET", "nodes/pve02/qemu/101/status/current")).ha).toEqual({
        managed: 0,
      });
      const resources = await data(double, "GET", "cluster/resources", { type: "vm" });
      expect(resources.find((r: { vmid: number }) => r.vmid === 100).hastate).toBe("started");
    });

    it("starts a stopped VM whose resource is started", async () => {
      await addResource("vm:104");
      await until(() => double.vm(104)?.status === "running");
    });

    it("turns a stop or start of a managed VM into an HA request (hastop, hastart)", async () => {
      const stop: string = await data(double, "POST", "nodes/pve02/qemu/104/status/shutdown");
      expect(stop.split(":")[5]).toBe("hastop");
      expect((await waitTask(double, stop)).exitstatus).toBe("OK");
      expect((await data(double, "GET", "cluster/ha/resources/vm%3A104")).state).toBe("stopped");
      await until(() => double.vm(104)?.status === "stopped");
      const start: string = await data(double, "POST", "nodes/pve02/qemu/104/status/start");
      expect(start.split(":")[5]).toBe("hastart");
      await waitTask(double, start);
      await until(() => double.vm(104)?.status === "running");
      expect((await data(double, "GET", "cluster/ha/resources/vm%3A104")).state).toBe("started");
    });

    it("starts a VM again that a rollback stopped", async () => {
      await waitTask(
        double,
        await data(double, "POST", "nodes/pve02/qemu/104/snapshot", { snapname: "base" }),
      );
      const upid: string = await data(
        double,
        "POST",
        "nodes/pve02/qemu/104/snapshot/base/rollback",
      );
      expect(double.vm(104)?.status).toBe("stopped");
      await waitTask(double, upid);
      await until(() => double.vm(104)?.status === "running");
    });
  });

  describe("rules", () => {
    it("refuses to keep resources apart on a cluster whose HA manager has not listed the nodes yet", async () => {
      const fresh = await ProxmoxDouble.start({ ...FAST, haRoundMs: 60_000, seed: SEED });
      try {
        for (const sid of ["vm:100", "vm:101"])
          await data(fresh, "POST", "cluster/ha/resources", { sid, state: "started" });
        const res = await api(
          fresh,
          "POST",
          "cluster/ha/rules",
          negative("apart", "vm:100,vm:101"),
        );
        expect([res.status, res.statusMessage]).toEqual([
          500,
          "create ha rule failed: 400 Rule 'apart' is invalid. resources: rule defines more resources than available nodes",
        ]);
        expect(await data(fresh, "GET", "cluster/ha/rules")).toEqual([]);
      } finally {
        await fresh.stop();
      }
    });

    it("keeps three managed VMs apart once the manager lists three nodes", async () => {
      await addResource("vm:101");
      await addResource("vm:102");
      expect(
        await data(
          double,
          "POST",
          "cluster/ha/rules",
          negative("cp-apart", "vm:102,vm:100,vm:101"),
        ),
      ).toBeNull();
      const rule = await data(double, "GET", "cluster/ha/rules/cp-apart");
      expect(rule).toEqual({
        rule: "cp-apart",
        type: "resource-affinity",
        affinity: "negative",
        resources: "vm:100,vm:101,vm:102",
        order: 1,
        digest: expect.stringMatching(/^[0-9a-f]{40}$/),
      });
      expect(await data(double, "GET", "cluster/ha/rules", { resource: "vm:101" })).toEqual([rule]);
      expect(await data(double, "GET", "cluster/ha/rules", { type: "node-affinity" })).toEqual([]);
    });

    it.each([
      [
        negative("cp-apart", "vm:100,vm:101"),
        "create ha rule failed: HA rule 'cp-apart' already defined",
      ],
      [
        negative("r2", "vm:100,vm:103"),
        "create ha rule failed: cannot use unmanaged resource(s) vm:103.",
      ],
      [
        negative("r3", "vm:100"),
        "create ha rule failed: 400 Rule 'r3' is invalid. resources: rule is ineffective as there are less than two resources",
      ],
      [
        negative("r4", "vm:100,vm:101,vm:102,vm:104"),
        "create ha rule failed: 400 Rule 'r4' is invalid. resources: rule defines more resources than available nodes",
      ],
      [
        { rule: "r5", type: "resource-affinity", affinity: "positive", resources: "vm:100,vm:101" },
        "create ha rule failed: 400 Rule 'r5' is invalid. resources: rule shares two or more resources with a negative resource affinity rule",
      ],
      [{ ...negative("r6", "vm:100,vm:101"), nodes: "pve01" }, "unexpected property 'nodes'"],
      [{ ...negative("r7", "vm:100,vm:101"), strict: 1 }, "unexpected property 'strict'"],
      [
        { rule: "r8", type: "resource-affinity", resources: "vm:100,vm:101" },
        "missing value for required option 'affinity'",
      ],
      [
        { rule: "r9", type: "node-affinity", resources: "vm:100", nodes: "pve01,pve09:2" },
        "create ha rule failed: cannot use non-existent node(s) pve09.",
      ],
      [
        { rule: "r10", type: "node-affinity", resources: "vm:100" },
        "missing value for required option 'nodes'",
      ],
    ])("refuses %j", async (params, message) => {
      expect(await refusal("POST", "cluster/ha/rules", params)).toEqual([500, message]);
    });

    it("refuses a rule type Proxmox VE 9 does not have", async () => {
      const res = await api(double, "POST", "cluster/ha/rules", {
        ...negative("r", "vm:100,vm:101"),
        type: "group",
      });
      expect(res.status).toBe(400);
      expect(res.body.errors.type).toMatch(/does not have a value in the enumeration/);
    });

    it("takes a node affinity rule, with priorities", async () => {
      await data(double, "POST", "cluster/ha/rules", {
        rule: "prefer-pve01",
        type: "node-affinity",
        resources: "vm:104",
        nodes: "pve02,pve01:2",
        strict: 1,
      });
      expect(await data(double, "GET", "cluster/ha/rules/prefer-pve01")).toMatchObject({
        nodes: "pve01:2,pve02",
        strict: 1,
        order: 2,
      });
    });

    it("updates a rule, refuses another type and a rule it does not have, deletes silently", async () => {
      await data(double, "PUT", "cluster/ha/rules/cp-apart", {
        type: "resource-affinity",
        comment: "control plane",
      });
      expect((await data(double, "GET", "cluster/ha/rules/cp-apart")).comment).toBe(
        "control plane",
      );
      expect(
        await refusal("PUT", "cluster/ha/rules/cp-apart", {
          type: "node-affinity",
          nodes: "pve01",
        }),
      ).toEqual([500, "update HA rules failed: unexpected property 'type'"]);
      expect(await refusal("PUT", "cluster/ha/rules/nope", { type: "node-affinity" })).toEqual([
        500,
        "update HA rules failed: HA rule 'nope' does not exist",
      ]);
      expect(await refusal("GET", "cluster/ha/rules/nope")).toEqual([
        500,
        "no such ha rule 'nope'",
      ]);
      expect(await data(double, "DELETE", "cluster/ha/rules/nope")).toBeNull();
    });
  });

  describe("what a managed VM's destroy and a resource's removal do", () => {
    it("refuses to destroy an HA resource's VM without purge", async () => {
      await waitTask(double, await data(double, "POST", "nodes/pve02/qemu/104/status/stop"));
      await until(() => double.vm(104)?.status === "stopped");
      expect(await refusal("DELETE", "nodes/pve02/qemu/104")).toEqual([
        500,
        "unable to remove VM 104 - used in HA resources and purge parameter not set.",
      ]);
      expect(double.vm(104)).toBeDefined();
    });

    it("with purge, destroys it and takes it out of HA (a rule left empty goes too)", async () => {
      const upid: string = await data(double, "DELETE", "nodes/pve02/qemu/104", { purge: 1 });
      expect((await waitTask(double, upid)).exitstatus).toBe("OK");
      const log = (
        await data(double, "GET", `nodes/pve02/tasks/${encodeURIComponent(upid)}/log`)
      ).map((l: { t: string }) => l.t);
      expect(log).toContain("NOTE: removed VM 104 from HA resource configuration.");
      expect(double.vm(104)).toBeUndefined();
      expect(
        (await data(double, "GET", "cluster/ha/resources")).map((r: { sid: string }) => r.sid),
      ).toEqual(["vm:100", "vm:101", "vm:102"]);
      expect(await refusal("GET", "cluster/ha/rules/prefer-pve01")).toEqual([
        500,
        "no such ha rule 'prefer-pve01'",
      ]);
    });

    it("removing a resource takes it out of the rules (purge, the default), or leaves them with purge=0", async () => {
      await data(double, "DELETE", "cluster/ha/resources/vm%3A102");
      expect((await data(double, "GET", "cluster/ha/rules/cp-apart")).resources).toBe(
        "vm:100,vm:101",
      );
      await data(double, "DELETE", "cluster/ha/resources/vm%3A101", { purge: 0 });
      const rule = await data(double, "GET", "cluster/ha/rules/cp-apart");
      expect(rule.resources).toBe("vm:100,vm:101");
      await data(double, "DELETE", "cluster/ha/resources/vm%3A100");
      expect(await data(double, "GET", "cluster/ha/rules")).toMatchObject([
        { resources: "vm:101" },
      ]);
    });
  });

  it("refuses HA changes without quorum", async () => {
    const inquorate = await ProxmoxDouble.start({ ...FAST, seed: { ...SEED, quorate: false } });
    try {
      const res = await api(inquorate, "POST", "cluster/ha/resources", { sid: "vm:100" });
      expect([res.status, res.statusMessage]).toEqual([500, "cluster not ready - no quorum?"]);
      const status = await data(inquorate, "GET", "cluster/status");
      expect(status[0]).toMatchObject({ type: "cluster", quorate: 0 });
    } finally {
      await inquorate.stop();
    }
  });
});
