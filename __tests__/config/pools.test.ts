import { parseClusterConfig } from "../../config/load";
import { gpuPools, nodeName, poolVmIdBase } from "../../config/pools";
import { cloud, homelab } from "../fixtures/definitions";

describe("pools", () => {
  it("names nodes <cluster>-<pool>-<n>", () => {
    expect(nodeName("kspray", "cp", 2)).toBe("kspray-cp-2");
  });

  it("gives each pool a block of vmIdsPerPool IDs from vmIdStart", () => {
    const def = homelab();
    def.proxmox.vmIdsPerPool = 10;
    const { config } = parseClusterConfig(def);
    expect([0, 1, 2].map((i) => poolVmIdBase(config, i))).toEqual([4100, 4110, 4120]);
  });

  it("selects only pools with a GPU and nodes", () => {
    const def = cloud();
    def.nodePools.push({ ...def.nodePools[2], name: "gpu-empty", count: 0 });
    const { config } = parseClusterConfig(def);
    expect(gpuPools(config).map((p) => p.name)).toEqual(["gpu-worker"]);
  });
});
