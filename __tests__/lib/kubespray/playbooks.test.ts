import { UserError } from "../../../errors/user-error";
import type { KubesprayHost } from "../../../kubespray-vars/host-fields";
import type { ClusterSpec, RunRecord } from "../../../lib/kubespray/playbooks";
import {
  checkUpgrade,
  NOTHING,
  playbooksFor,
  triggerAction,
} from "../../../lib/kubespray/playbooks";

const host = (
  name: string,
  role: KubesprayHost["role"],
  extra: Partial<KubesprayHost> = {},
): KubesprayHost => ({
  name,
  role,
  address: `10.0.0.${name.length}`,
  labels: {},
  taints: [],
  gpu: false,
  ...extra,
});

const base: ClusterSpec = {
  kubesprayVersion: "v2.31.0",
  hosts: [
    host("cp-1", "control-plane"),
    host("cp-2", "control-plane"),
    host("cp-3", "control-plane"),
    host("w-1", "worker"),
    host("w-2", "worker"),
  ],
  controlPlaneOrder: ["cp-1", "cp-2", "cp-3"],
  vars: { kube_version: "1.34.3", kube_network_plugin: "calico" },
};

const recorded = (state: ClusterSpec, action = "cluster.yml"): RunRecord => ({
  ...state,
  action,
  completedAt: "2026-01-01T00:00:00Z",
});

const withHosts = (hosts: KubesprayHost[], order?: string[]): ClusterSpec => ({
  ...base,
  hosts,
  controlPlaneOrder: order ?? hosts.filter((h) => h.role === "control-plane").map((h) => h.name),
});

describe("playbooksFor", () => {
  it("runs cluster.yml when there is no record", () => {
    const plan = playbooksFor(base, undefined);
    expect(plan.description).toBe("cluster.yml");
    expect(plan.added).toEqual(["cp-1", "cp-2", "cp-3", "w-1", "w-2"]);
  });

  it("runs nothing when nothing changed", () => {
    const plan = playbooksFor(base, recorded(base));
    expect(plan.steps).toEqual([]);
    expect(plan.description).toBe(NOTHING);
  });

  it("runs facts.yml then scale.yml limited to the new workers", () => {
    const desired = withHosts([...base.hosts, host("w-3", "worker"), host("w-4", "worker")]);
    const plan = playbooksFor(desired, recorded(base));
    expect(plan.steps).toEqual([
      { playbook: "playbooks/facts.yml" },
      { playbook: "scale.yml", limit: ["w-3", "w-4"] },
    ]);
    expect(plan.description).toBe("playbooks/facts.yml; scale.yml --limit=w-3,w-4");
  });

  it("runs cluster.yml for a new control-plane node", () => {
    const desired = withHosts([...base.hosts, host("cp-4", "control-plane")]);
    expect(playbooksFor(desired, recorded(base)).description).toBe("cluster.yml");
  });

  it("runs cluster.yml for new workers together with a variable change", () => {
    const desired = {
      ...withHosts([...base.hosts, host("w-3", "worker")]),
      vars: { ...base.vars, kube_network_plugin: "cilium" },
    };
    expect(playbooksFor(desired, recorded(base)).description).toBe("cluster.yml");
  });

  it("runs cluster.yml for another variable change", () => {
    const desired = { ...base, vars: { ...base.vars, enable_nodelocaldns: false } };
    expect(playbooksFor(desired, recorded(base)).description).toBe("cluster.yml");
  });

  it.each([
    ["labels", { labels: { a: "b" } }],
    ["taints", { taints: ["x=y:NoSchedule"] }],
    ["address", { address: "10.9.9.9" }],
    ["gpu", { gpu: true }],
  ])("runs cluster.yml when a kept node's %s change", (_, change) => {
    const desired = withHosts(base.hosts.map((h) => (h.name === "w-1" ? { ...h, ...change } : h)));
    expect(playbooksFor(desired, recorded(base)).description).toBe("cluster.yml");
  });

  it("does not compare addresses unknown at synth time", () => {
    const desired = withHosts(base.hosts.map((h) => ({ ...h, address: undefined })));
    expect(playbooksFor(desired, recorded(base)).steps).toEqual([]);
  });

  it("runs cluster.yml when the control-plane order changed", () => {
    const desired = { ...base, controlPlaneOrder: ["cp-2", "cp-3", "cp-1"] };
    expect(playbooksFor(desired, recorded(base)).description).toBe("cluster.yml");
  });

  it("removes a removed worker with remove-node.yml", () => {
    const desired = withHosts(base.hosts.filter((h) => h.name !== "w-2"));
    const plan = playbooksFor(desired, recorded(base));
    expect(plan.steps).toEqual([{ playbook: "remove-node.yml", extraVars: { node: "w-2" } }]);
    expect(plan.description).toBe("remove-node.yml -e node=w-2");
    expect(plan.removed).toEqual(["w-2"]);
  });

  it("removes a non-first control-plane node", () => {
    const desired = withHosts(base.hosts.filter((h) => h.name !== "cp-3"));
    expect(playbooksFor(desired, recorded(base)).description).toBe("remove-node.yml -e node=cp-3");
  });

  it("removes first, then scales, when a worker is replaced", () => {
    const desired = withHosts([
      ...base.hosts.filter((h) => h.name !== "w-1"),
      host("w-3", "worker"),
    ]);
    expect(playbooksFor(desired, recorded(base)).description).toBe(
      "remove-node.yml -e node=w-1; playbooks/facts.yml; scale.yml --limit=w-3",
    );
  });

  it("refuses to remove the first control-plane node, pointing to the runbook", () => {
    const desired = withHosts(base.hosts.filter((h) => h.name !== "cp-1"));
    expect(() => playbooksFor(desired, recorded(base))).toThrow(UserError);
    expect(() => playbooksFor(desired, recorded(base))).toThrow(
      /cp-1 is the first control-plane node.*docs\/operations\.md/,
    );
  });

  it("runs upgrade-cluster.yml for the next minor version", () => {
    const desired = { ...base, vars: { ...base.vars, kube_version: "1.35.4" } };
    expect(playbooksFor(desired, recorded(base)).description).toBe("upgrade-cluster.yml");
  });

  it("runs upgrade-cluster.yml for a patch version", () => {
    const desired = { ...base, vars: { ...base.vars, kube_version: "1.34.7" } };
    expect(playbooksFor(desired, recorded(base)).description).toBe("upgrade-cluster.yml");
  });

  it("refuses a downgrade", () => {
    const desired = { ...base, vars: { ...base.vars, kube_version: "1.33.9" } };
    expect(() => playbooksFor(desired, recorded(base))).toThrow(
      /1\.33\.9 is older than the running 1\.34\.3.*cannot downgrade/,
    );
  });

  it("refuses a skipped minor version", () => {
    const from = { ...base, vars: { ...base.vars, kube_version: "1.33.2" } };
    const desired = { ...base, vars: { ...base.vars, kube_version: "1.35.4" } };
    expect(() => playbooksFor(desired, recorded(from))).toThrow(
      /skips a minor version.*first to 1\.34\.x/,
    );
  });

  it("refuses an upgrade mixed with other changes", () => {
    const desired = {
      ...withHosts([...base.hosts, host("w-3", "worker")]),
      vars: { ...base.vars, kube_version: "1.35.0" },
    };
    expect(() => playbooksFor(desired, recorded(base))).toThrow(/must be the only change/);
    const err = (() => {
      try {
        playbooksFor(desired, recorded(base));
      } catch (e) {
        return e as UserError;
      }
      return undefined;
    })();
    expect(err?.issues.map((i) => i.path)).toEqual(["kubernetes.version"]);
  });

  it("runs upgrade-cluster.yml for a new Kubespray release", () => {
    const desired = { ...base, kubesprayVersion: "v2.32.0" };
    expect(playbooksFor(desired, recorded(base)).description).toBe("upgrade-cluster.yml");
  });
});

describe("checkUpgrade", () => {
  it("accepts the same and the next minor", () => {
    expect(() => checkUpgrade("1.34.3", "1.34.3")).not.toThrow();
    expect(() => checkUpgrade("1.34.3", "1.35.0")).not.toThrow();
  });
  it("refuses a major change", () => {
    expect(() => checkUpgrade("1.35.0", "2.0.0")).toThrow(/skips a minor/);
  });
});

describe("triggerAction", () => {
  it("shows the plan when there is one", () => {
    const desired = withHosts([...base.hosts, host("w-3", "worker")]);
    expect(triggerAction(playbooksFor(desired, recorded(base)), recorded(base))).toBe(
      "playbooks/facts.yml; scale.yml --limit=w-3",
    );
  });
  it("names a removal that left the inventory as it was, so the join after it runs (npm run replace)", () => {
    // w-2 removed (it left the record), still in the inventory: the same plan as when it
    // first joined, with the same inventory, would be the same trigger.
    const removed = {
      ...recorded(
        withHosts(base.hosts.filter((h) => h.name !== "w-2")),
        "remove-node.yml -e node=w-2",
      ),
      completedAt: "2026-12-05T22:00:00.000Z",
    };
    expect(triggerAction(playbooksFor(base, removed), removed)).toBe(
      "playbooks/facts.yml; scale.yml --limit=w-2 (after remove-node.yml -e node=w-2 at 2026-12-05T22:00:00.000Z)",
    );
    // Once it joined, a redeploy keeps that action.
    const joined = recorded(base, triggerAction(playbooksFor(base, removed), removed));
    expect(triggerAction(playbooksFor(base, joined), joined)).toBe(joined.action);
  });
  it("keeps the recorded action when nothing changed, so a redeploy plans nothing", () => {
    const record = recorded(base, "playbooks/facts.yml; scale.yml --limit=w-2");
    expect(triggerAction(playbooksFor(base, record), record)).toBe(
      "playbooks/facts.yml; scale.yml --limit=w-2",
    );
  });
});
