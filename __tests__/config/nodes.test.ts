/**
 * The node model (config/nodes.ts): names, VM IDs, hosts, templates and static addresses
 * depend only on a node's pool position and index, so growing a pool or appending one
 * moves nothing; the ranges the rules check are the ones the nodes get.
 */
import { parseClusterConfig } from "../../config/load";
import { formatIpRange } from "../../config/net";
import {
  clusterVmIdBlocks,
  expandNodes,
  gpuPools,
  hostsInUse,
  imageTemplateVmId,
  nodeName,
  placeNode,
  poolAddresses,
  poolSettings,
  poolVmIdBlock,
  poolVmIds,
  preparedTemplate,
  staticIp,
  templateFor,
  templateVmIds,
} from "../../config/nodes";
import type { ClusterConfig } from "../../config/schema";
import type { Definition } from "../fixtures/definitions";
import { accept, cloud, homelab, withImage } from "../fixtures/definitions";

function config(mutate: (d: Definition) => void = () => undefined): ClusterConfig {
  const d = homelab();
  mutate(d);
  return accept(d).config;
}

/** name -> [vmId, host, staticIp] */
function layout(c: ClusterConfig): Record<string, [number, string, string | undefined]> {
  return Object.fromEntries(expandNodes(c).map((n) => [n.name, [n.vmId, n.host, n.staticIp]]));
}

describe("expandNodes on the homelab", () => {
  test("names, VM IDs, hosts and addresses", () => {
    expect(layout(config())).toEqual({
      "kspray-cp-1": [4100, "pve01", "10.10.30.21"],
      "kspray-cp-2": [4101, "pve02", "10.10.30.22"],
      "kspray-cp-3": [4102, "pve03", "10.10.30.23"],
      "kspray-worker-1": [4200, "pve02", "10.10.30.31"],
      "kspray-worker-2": [4201, "pve03", "10.10.30.32"],
      "kspray-worker-3": [4202, "pve01", "10.10.30.33"],
    });
  });

  test("carries each pool's sizes, role, labels and taints", () => {
    const [cp, , , worker] = expandNodes(config());
    expect(cp).toMatchObject({
      pool: "cp",
      poolIndex: 0,
      index: 1,
      role: "control-plane",
      cores: 4,
      memoryMiB: 8192,
      diskGiB: 40,
      labels: {},
      taints: [],
    });
    expect(worker).toMatchObject({ pool: "worker", poolIndex: 1, role: "worker", cores: 8 });
    expect(cp.gpuMapping).toBeUndefined();
    expect(cp.cpuType).toBeUndefined();
    expect(expandNodes(config((d) => (d.nodePools[1].cpuType = "x86-64-v3")))[3].cpuType).toBe(
      "x86-64-v3",
    );
  });
});

describe("stability", () => {
  test("growing a pool adds nodes at the end and moves no other node", () => {
    const before = layout(config());
    const after = layout(config((d) => (d.nodePools[1].count = 4)));
    expect(after).toEqual({ ...before, "kspray-worker-4": [4203, "pve02", "10.10.30.34"] });
  });

  test("growing an earlier pool does not renumber a later pool", () => {
    const before = layout(config());
    const after = layout(
      config((d) => {
        d.nodePools[0].count = 5;
        d.nodePools[1].firstIp = "10.10.30.41";
      }),
    );
    for (const name of ["kspray-worker-1", "kspray-worker-2", "kspray-worker-3"]) {
      expect(after[name][0]).toBe(before[name][0]);
      expect(after[name][1]).toBe(before[name][1]);
    }
  });

  test("appending a pool keeps every existing node as it was", () => {
    const before = layout(config());
    const after = layout(
      config((d) =>
        d.nodePools.push({ name: "big", role: "worker", count: 2, firstIp: "10.10.30.41" }),
      ),
    );
    expect(after).toEqual({
      ...before,
      "kspray-big-1": [4300, "pve03", "10.10.30.41"],
      "kspray-big-2": [4301, "pve01", "10.10.30.42"],
    });
  });

  test("VM ID blocks are vmIdStart + poolIndex * vmIdsPerPool", () => {
    const c = config((d) => (d.proxmox.vmIdsPerPool = 10));
    expect([0, 1, 2].map((i) => poolVmIdBlock(c, i))).toEqual([
      { first: 4100, last: 4109 },
      { first: 4110, last: 4119 },
      { first: 4120, last: 4129 },
    ]);
    expect(expandNodes(c).map((n) => n.vmId)).toEqual([4100, 4101, 4102, 4110, 4111, 4112]);
  });

  test("the VM IDs a pool's nodes take are the ones its nodes get; none for an empty pool", () => {
    const c = config((d) => (d.nodePools[1].count = 4));
    const ids = (i: number) =>
      expandNodes(c)
        .filter((n) => n.poolIndex === i)
        .map((n) => n.vmId);
    expect(poolVmIds(c, 0)).toEqual({ first: ids(0)[0], last: ids(0)[2] });
    expect(poolVmIds(c, 1)).toEqual({ first: 4200, last: 4203 });
    expect(ids(1)).toEqual([4200, 4201, 4202, 4203]);
    expect(
      poolVmIds(
        config((d) => (d.nodePools[1].count = 0)),
        1,
      ),
    ).toBeUndefined();
    expect(clusterVmIdBlocks(c)).toEqual({ first: 4100, last: 4299 });
  });
});

describe("placement", () => {
  test("no two control-plane nodes share a host when there are at least three hosts", () => {
    for (const hosts of [3, 4, 5]) {
      const c = config((d) => {
        d.proxmox.hosts = Array.from({ length: hosts }, (_, i) => `pve0${i + 1}`);
      });
      const cps = expandNodes(c).filter((n) => n.role === "control-plane");
      expect(new Set(cps.map((n) => n.host)).size).toBe(cps.length);
    }
  });

  test("five control planes on five hosts use every host once", () => {
    const c = config((d) => {
      d.proxmox.hosts = ["a", "b", "c", "d", "e"];
      d.nodePools[0].count = 5;
      d.nodePools[1].firstIp = "10.10.30.41";
    });
    const hosts = expandNodes(c)
      .filter((n) => n.role === "control-plane")
      .map((n) => n.host);
    expect(hosts.sort()).toEqual(["a", "b", "c", "d", "e"]);
  });

  test("spreads a pool evenly over the hosts", () => {
    const c = config((d) => {
      d.nodePools[1].count = 7;
    });
    const perHost = new Map<string, number>();
    for (const n of expandNodes(c).filter((x) => x.pool === "worker"))
      perHost.set(n.host, (perHost.get(n.host) ?? 0) + 1);
    const counts = [...perHost.values()];
    expect(perHost.size).toBe(3);
    expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
  });

  test("respects a pool's hosts", () => {
    const c = config((d) => (d.nodePools[1].hosts = ["pve03"]));
    const workers = expandNodes(c).filter((n) => n.pool === "worker");
    expect(workers.map((n) => n.host)).toEqual(["pve03", "pve03", "pve03"]);
  });

  test("round-robins over a pool's hosts from the pool's offset", () => {
    expect([1, 2, 3, 4].map((i) => placeNode(["x", "y"], 1, i))).toEqual(["y", "x", "y", "x"]);
    expect([1, 2, 3].map((i) => placeNode(["only"], 4, i))).toEqual(["only", "only", "only"]);
  });
});

describe("addresses", () => {
  test("allocates static addresses upward from firstIp, across an octet boundary", () => {
    const c = config((d) => {
      d.network.cidr = "10.10.30.0/23";
      d.nodePools[1].firstIp = "10.10.30.254";
    });
    expect(
      expandNodes(c)
        .filter((n) => n.pool === "worker")
        .map((n) => n.staticIp),
    ).toEqual(["10.10.30.254", "10.10.30.255", "10.10.31.0"]);
  });

  test("leaves DHCP pools without a static address", () => {
    const nodes = expandNodes(accept(cloud()).config);
    expect(nodes.map((n) => n.staticIp)).toEqual([undefined, undefined, undefined]);
    expect(nodes.map((n) => [n.name, n.vmId, n.host, n.gpuMapping])).toEqual([
      ["cloud-controller-1", 5000, "hypervisor", undefined],
      ["cloud-cpu-worker-1", 5100, "hypervisor", undefined],
      ["cloud-gpu-worker-1", 5200, "hypervisor", "rtx-a6000"],
    ]);
    expect(nodes[2].taints).toEqual(["nvidia.com/gpu=present:NoSchedule"]);
  });

  test("staticIp", () => {
    const pool = config().nodePools[0];
    expect(staticIp(pool, 3)).toBe("10.10.30.23");
    expect(staticIp({ ...pool, firstIp: undefined }, 3)).toBeUndefined();
  });

  test("a pool's addresses, which the rules check, are the ones its nodes get", () => {
    const c = config((d) => (d.nodePools[1].count = 4));
    const given = expandNodes(c)
      .filter((n) => n.pool === "worker")
      .map((n) => n.staticIp);
    expect(given).toEqual(["10.10.30.31", "10.10.30.32", "10.10.30.33", "10.10.30.34"]);
    expect(formatIpRange(poolAddresses(c.nodePools[1])!)).toBe(`${given[0]}-${given[3]}`);
    expect(poolAddresses({ ...c.nodePools[1], firstIp: undefined })).toBeUndefined();
    expect(poolAddresses({ ...c.nodePools[1], count: 0 })).toBeUndefined();
  });

  test("an empty pool has no nodes", () => {
    expect(expandNodes(config((d) => (d.nodePools[1].count = 0)))).toHaveLength(3);
  });
});

describe("names and pools", () => {
  test("names nodes <cluster>-<pool>-<n>", () => {
    expect(nodeName("kspray", "cp", 2)).toBe("kspray-cp-2");
  });

  test("selects only pools with a GPU and nodes", () => {
    const def = cloud();
    def.nodePools.push({ ...def.nodePools[2], name: "gpu-empty", count: 0 });
    const { config: c } = parseClusterConfig(def);
    expect(gpuPools(c).map((p) => p.name)).toEqual(["gpu-worker"]);
  });

  test("every node has its pool's settings, every per-pool field included", () => {
    const c = config((d) => (d.nodePools[1].cpuType = "x86-64-v3"));
    const settings = poolSettings(c.nodePools[1]);
    expect(Object.keys(settings).sort()).toEqual(
      Object.keys(c.nodePools[1])
        .filter((k) => !["name", "count", "firstIp", "hosts", "gpu"].includes(k))
        .sort(),
    );
    for (const n of expandNodes(c).filter((x) => x.pool === "worker"))
      expect(n).toMatchObject(settings);
  });
});

describe("templates", () => {
  const imaged = (image = {}) => parseClusterConfig(withImage(homelab(), image)).config;

  test("is the one template, on its node, without an image", () => {
    const c = config();
    expect(preparedTemplate(c)).toEqual({ vmId: 9000, node: "pve01" });
    expect(["pve01", "pve02", "pve03"].map((h) => templateFor(c, h))).toEqual([
      { vmId: 9000, node: "pve01" },
      { vmId: 9000, node: "pve01" },
      { vmId: 9000, node: "pve01" },
    ]);
    expect(templateVmIds(c)).toEqual({ first: 9000, last: 9000 });
    expect(
      hostsInUse(
        config((d) => (d.proxmox.template.node = "pve04")),
        expandNodes(c),
      ),
    ).toEqual(["pve01", "pve02", "pve03", "pve04"]);
  });

  test("is the template on the node's own host with an image, by the host's position", () => {
    const c = imaged();
    expect(preparedTemplate(c)).toBeUndefined();
    expect(["pve01", "pve02", "pve03"].map((h) => templateFor(c, h))).toEqual([
      { vmId: 9000, node: "pve01" },
      { vmId: 9001, node: "pve02" },
      { vmId: 9002, node: "pve03" },
    ]);
    expect(imageTemplateVmId(c, "pve03")).toBe(9002);
    expect(templateVmIds(c)).toEqual({ first: 9000, last: 9002 });
    expect(expandNodes(c).map((n) => [n.host, n.templateVmId, n.templateNode])).toContainEqual([
      "pve02",
      9001,
      "pve02",
    ]);
  });
});
