import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { loadClusterConfig } from "../../../config/load";
import { expandNodes } from "../../../config/nodes";
import { UserError } from "../../../errors/user-error";
import type { KubeNodeState } from "../../../lib/maintenance/availability";
import { availabilityProblems } from "../../../lib/maintenance/availability";
import type {
  ProgressStore,
  ReplacementCluster,
  ReplacementProgress,
  ReplacementSteps,
} from "../../../lib/maintenance/replacement";
import {
  describeOrder,
  progressFile,
  replacementFile,
  replacementOrder,
  replacementUnderWay,
  replaceNodes,
  waitReady,
} from "../../../lib/maintenance/replacement";
import { ROOT } from "../../support/ansible";

const config = loadClusterConfig(join(ROOT, "examples", "homelab.yaml")).config;
const NODES = expandNodes(config);
const ALL = NODES.map((n) => n.name);
const CLUSTER: ReplacementCluster = {
  nodes: NODES,
  inCluster: new Set(ALL),
  controlPlaneOrder: ["kspray-cp-1", "kspray-cp-2", "kspray-cp-3"],
};

/** The message lines of a UserError thrown by `fn`. */
function linesOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    if (e instanceof UserError) return e.lines();
    throw e;
  }
  throw new Error("did not throw");
}

async function linesOfAsync(p: Promise<unknown>): Promise<string[]> {
  try {
    await p;
  } catch (e) {
    if (e instanceof UserError) return e.lines();
    throw e;
  }
  throw new Error("did not throw");
}

function memoryStore(initial?: ReplacementProgress): ProgressStore & {
  saved: (ReplacementProgress | undefined)[];
} {
  let now = initial;
  const saved: (ReplacementProgress | undefined)[] = [];
  return {
    saved,
    read: () => now,
    write: (p) => {
      now = p;
      saved.push(p);
    },
  };
}

/**
 * A cluster as Kubernetes and Kubespray's record see it, changed by the steps as the real
 * ones change it: drain cordons, remove takes the node out of Kubernetes and the record,
 * rebuild makes a new VM and joins the node NotReady, ready makes it Ready. Each step also
 * checks what the cluster must keep, so a run that takes two nodes away at once fails.
 */
function simulatedCluster() {
  const kube = new Map<string, KubeNodeState>(
    ALL.map((n) => [n, { ready: true, schedulable: true }]),
  );
  const record = new Set(ALL);
  const vmgenids = new Map(ALL.map((n) => [n, `gen-${n}-0`]));
  const events: string[] = [];
  /** The fewest Ready workers and control-plane nodes seen at any step. */
  const lowest = { workers: 3, controlPlane: 3 };
  const observe = () => {
    const up = (role: string) =>
      NODES.filter((n) => n.role === role && kube.get(n.name)?.ready === true).length;
    lowest.workers = Math.min(lowest.workers, up("worker"));
    lowest.controlPlane = Math.min(lowest.controlPlane, up("control-plane"));
  };
  const tick = () => new Promise((r) => setImmediate(r));
  const steps: ReplacementSteps = {
    inCluster: async (n) => {
      await tick();
      return record.has(n);
    },
    spare: async (n) => {
      await tick();
      events.push(`spare ${n}`);
      return availabilityProblems(
        config,
        NODES.map((s) => ({ ...s, state: kube.get(s.name) })),
        [n],
        `replacing ${n}`,
      );
    },
    drain: async (n) => {
      await tick();
      events.push(`drain ${n}`);
      kube.set(n, { ...kube.get(n)!, schedulable: false });
    },
    remove: async (n) => {
      await tick();
      events.push(`remove ${n}`);
      kube.delete(n);
      record.delete(n);
      observe();
    },
    vmgenid: async (n) => {
      await tick();
      return vmgenids.get(n);
    },
    rebuild: async (n) => {
      await tick();
      events.push(`rebuild ${n}`);
      vmgenids.set(n, `gen-${n}-${events.length}`);
      record.add(n);
      kube.set(n, { ready: false, schedulable: true });
      observe();
    },
    ready: async (n) => {
      await tick();
      events.push(`ready ${n}`);
      kube.set(n, { ready: true, schedulable: true });
    },
    cleanup: async () => {
      await tick();
      events.push("cleanup");
    },
    log: () => undefined,
  };
  return { steps, events, kube, record, vmgenids, lowest };
}

describe("replacementOrder", () => {
  it("puts workers first, then control-plane nodes, each in the definition's order", () => {
    expect(
      replacementOrder(
        ["kspray-cp-3", "kspray-worker-2", "kspray-cp-2", "kspray-worker-1", "kspray-worker-2"],
        CLUSTER,
      ),
    ).toEqual(["kspray-worker-1", "kspray-worker-2", "kspray-cp-2", "kspray-cp-3"]);
  });

  it("refuses, each on its node, a node the definition lacks, one not in the cluster, and the first control-plane node", () => {
    expect(
      linesOf(() =>
        replacementOrder(["kspray-worker-9", "kspray-worker-3", "kspray-cp-1"], {
          ...CLUSTER,
          inCluster: new Set(ALL.filter((n) => n !== "kspray-worker-3")),
        }),
      ),
    ).toEqual([
      `kspray-worker-9: is not a node of the definition; name nodes it has: ${ALL.join(", ")}`,
      "kspray-worker-3: is not part of the cluster Kubespray built, so there is nothing to drain or remove; let a deploy make its VM anew: DESTROYABLE_NODES=kspray-worker-3 npm run deploy -- vms cluster",
      'kspray-cp-1: kspray-cp-1 is the first control-plane node, which Kubespray cannot remove; follow "Replacing the first control-plane node" in docs/operations.md',
    ]);
    expect(linesOf(() => replacementOrder([], CLUSTER))).toEqual([
      "npm run replace: no node named; name the nodes whose VMs to make anew: npm run replace -- NODE... (--dry-run shows the order)",
    ]);
  });

  it("keeps the order of a replacement under way, and refuses another until it is finished", () => {
    const underWay: ReplacementProgress = {
      order: ["kspray-worker-2", "kspray-worker-1"],
      done: ["kspray-worker-2"],
      current: { node: "kspray-worker-1", trigger: "t" },
      startedAt: "2026-12-05T21:00:00.000Z",
    };
    // The node under way is out of the record by now: still accepted.
    const removed = { ...CLUSTER, inCluster: new Set(ALL.filter((n) => n !== "kspray-worker-1")) };
    expect(replacementOrder(["kspray-worker-1", "kspray-worker-2"], removed, underWay)).toEqual([
      "kspray-worker-2",
      "kspray-worker-1",
    ]);
    expect(linesOf(() => replacementOrder(["kspray-worker-3"], removed, underWay))).toEqual([
      "npm run replace: a replacement of kspray-worker-2, kspray-worker-1 is under way (replaced: kspray-worker-2; at kspray-worker-1); finish it first: npm run replace -- kspray-worker-2 kspray-worker-1",
    ]);
  });

  it("describes each step of each node, the join path by role", () => {
    expect(
      describeOrder(["kspray-worker-1", "kspray-cp-2"], NODES, {
        order: ["kspray-worker-1", "kspray-cp-2"],
        done: ["kspray-worker-1"],
        current: { node: "kspray-cp-2", trigger: "t" },
        startedAt: "x",
      }),
    ).toEqual([
      "1. kspray-worker-1 (worker): drain, remove-node.yml, its VM cloned anew from the current template, scale.yml --limit=kspray-worker-1, until Ready (replaced)",
      "2. kspray-cp-2 (control-plane): drain, remove-node.yml, its VM cloned anew from the current template, cluster.yml, until Ready (under way: goes on where it stopped)",
    ]);
  });
});

describe("replaceNodes", () => {
  const order = ["kspray-worker-1", "kspray-worker-2", "kspray-cp-2", "kspray-cp-3"];

  it("replaces one node at a time: the next is only drained once the last is Ready", async () => {
    const sim = simulatedCluster();
    const store = memoryStore();
    await replaceNodes(order, sim.steps, store);
    expect(sim.events).toEqual([
      ...order.flatMap((n) => [
        `spare ${n}`,
        `drain ${n}`,
        `remove ${n}`,
        `rebuild ${n}`,
        `ready ${n}`,
      ]),
      // The last node's trigger taken away, once every node is done.
      "cleanup",
    ]);
    // Never two nodes of a kind away: the workers' pool and etcd each lose at most one.
    expect(sim.lowest).toEqual({ workers: 2, controlPlane: 2 });
    for (const n of order) expect(sim.vmgenids.get(n)).not.toBe(`gen-${n}-0`);
    expect(sim.vmgenids.get("kspray-worker-3")).toBe("gen-kspray-worker-3-0");
    // Each node got a trigger of its own while it was under way; the file is gone at the end.
    const triggers = store.saved.flatMap((p) => (p?.current ? [p.current.node] : []));
    expect([...new Set(triggers)]).toEqual(order);
    expect(store.read()).toBeUndefined();
  });

  it("stops before a control-plane node while another is not back: etcd's quorum", async () => {
    const sim = simulatedCluster();
    sim.kube.set("kspray-cp-3", { ready: false, schedulable: true });
    const lines = await linesOfAsync(replaceNodes(["kspray-cp-2"], sim.steps, memoryStore()));
    expect(lines[0]).toBe(
      "replacing kspray-cp-2: would leave 2 of 3 control-plane nodes down (kspray-cp-2 taken away, kspray-cp-3 not Ready), and etcd keeps quorum with at most 1 down; bring the others back first (npm run host -- resume <host> after another host's maintenance), or move a control-plane VM to another Proxmox host",
    );
    expect(sim.events).toEqual(["spare kspray-cp-2"]);
  });

  it("a failure says which node is where; the same command goes on with it and redoes nothing", async () => {
    const sim = simulatedCluster();
    const store = memoryStore();
    const failing: ReplacementSteps = {
      ...sim.steps,
      ready: async (n) => {
        if (n === "kspray-worker-2")
          throw UserError.at(
            n,
            "not Ready in Kubernetes 1 s after it joined again (Ready is False)",
            "look",
          );
        await sim.steps.ready(n);
      },
    };
    const two = ["kspray-worker-1", "kspray-worker-2", "kspray-worker-3"];
    const lines = await linesOfAsync(replaceNodes(two, failing, store));
    expect(lines).toEqual([
      "kspray-worker-2: not Ready in Kubernetes 1 s after it joined again (Ready is False); look",
      'npm run replace: stopped at kspray-worker-2 while waiting until it is Ready: it is joined again with a new VM, not Ready yet; replaced so far: kspray-worker-1; fix what the line above says, then run the same command again (npm run replace -- kspray-worker-1 kspray-worker-2 kspray-worker-3): it goes on with kspray-worker-2 and does not redo the nodes replaced (docs/operations.md, "Replacing nodes")',
    ]);
    const kept = store.read()!;
    expect(kept).toMatchObject({
      order: two,
      done: ["kspray-worker-1"],
      current: { node: "kspray-worker-2" },
    });

    sim.events.length = 0;
    await replaceNodes(two, sim.steps, store);
    // kspray-worker-2 is out of the record and joined: no drain, no removal; the deploy again.
    expect(sim.events).toEqual([
      "rebuild kspray-worker-2",
      "ready kspray-worker-2",
      ...["spare", "drain", "remove", "rebuild", "ready"].map((s) => `${s} kspray-worker-3`),
      "cleanup",
    ]);
    // The same trigger as before: the deploy does not make the VM anew a second time.
    expect(store.saved.find((p) => p?.current?.node === "kspray-worker-2")?.current?.trigger).toBe(
      kept.current?.trigger,
    );
    expect(store.read()).toBeUndefined();
  });

  it("deploys again with a new trigger when the VM is still the old one, and stops if it stays", async () => {
    // A deploy that made the trigger but stopped before it replaced the VM.
    const sim = simulatedCluster();
    const store = memoryStore();
    let deploys = 0;
    const late: ReplacementSteps = {
      ...sim.steps,
      rebuild: async (n) => {
        if (++deploys > 1) await sim.steps.rebuild(n);
      },
    };
    await replaceNodes(["kspray-worker-1"], late, store);
    expect(deploys).toBe(2);
    const triggers = store.saved.flatMap((p) => (p?.current ? [p.current.trigger] : []));
    expect(new Set(triggers).size).toBe(2);
    expect(sim.vmgenids.get("kspray-worker-1")).not.toBe("gen-kspray-worker-1-0");

    const never = simulatedCluster();
    const lazy: ReplacementSteps = { ...never.steps, rebuild: async () => undefined };
    const lines = await linesOfAsync(replaceNodes(["kspray-worker-1"], lazy, memoryStore()));
    expect(lines[0]).toMatch(
      /^kspray-worker-1: the deploy left its VM as it was \(vmgenid gen-kspray-worker-1-0\), so it was not made anew; /,
    );
    expect(lines[1]).toContain("it is out of the cluster; the deploy left its VM as it was");
  });
});

describe("replaceNodes, a join that did not happen", () => {
  it("stops at once when the deploy left the node out of Kubespray's record", async () => {
    const sim = simulatedCluster();
    const unjoined: ReplacementSteps = {
      ...sim.steps,
      rebuild: async (n) => {
        await sim.steps.rebuild(n);
        sim.record.delete(n);
      },
    };
    const lines = await linesOfAsync(replaceNodes(["kspray-worker-1"], unjoined, memoryStore()));
    expect(lines[0]).toBe(
      "kspray-worker-1: the deploy made its VM anew but did not join it again: Kubespray's record does not hold it; npm run diff -- cluster shows what the cluster stack would run; this is a bug if it plans nothing",
    );
    expect(lines[1]).toMatch(
      /^npm run replace: stopped at kspray-worker-1 while checking it joined again: it is out of the cluster with a new VM, not joined again; /,
    );
    expect(sim.events).not.toContain("ready kspray-worker-1");
  });
});

describe("the progress file", () => {
  it("is written 0600 and removed at the end; a broken one is named", () => {
    const dir = mkdtempSync(join(tmpdir(), "replacement-"));
    const store = progressFile(dir);
    store.write({ order: ["a"], done: [], startedAt: "x" });
    expect(statSync(replacementFile(dir)).mode & 0o777).toBe(0o600);
    expect(replacementUnderWay(dir)).toEqual({ order: ["a"], done: [], startedAt: "x" });
    store.write(undefined);
    expect(replacementUnderWay(dir)).toBeUndefined();
    writeFileSync(replacementFile(dir), "{");
    expect(linesOf(() => replacementUnderWay(dir))[0]).toMatch(
      /replacement\.json: is not the record of a node replacement/,
    );
    expect(readFileSync(replacementFile(dir), "utf8")).toBe("{");
  });
});

describe("waitReady", () => {
  it("polls until the node is Ready, and says what it last saw at the deadline", async () => {
    const answers = [
      () => {
        throw Object.assign(new Error("not found"), { code: 404 });
      },
      () => ({
        status: { conditions: [{ type: "Ready", status: "False", reason: "KubeletNotReady" }] },
      }),
      () => ({ status: { conditions: [{ type: "Ready", status: "True" }] } }),
    ];
    let i = 0;
    const core = { readNode: async () => answers[Math.min(i++, 2)]() } as never;
    await waitReady(core, "kspray-worker-1", { timeoutMs: 5_000, intervalMs: 1 });
    expect(i).toBe(3);

    const never = {
      readNode: async () => ({
        status: { conditions: [{ type: "Ready", status: "False", reason: "KubeletNotReady" }] },
      }),
    } as never;
    await expect(
      waitReady(never, "kspray-worker-1", { timeoutMs: 20, intervalMs: 5 }),
    ).rejects.toThrow(
      "kspray-worker-1: not Ready in Kubernetes 0 s after it joined again (Ready is False (KubeletNotReady)); look at its kubelet",
    );
  });
});
