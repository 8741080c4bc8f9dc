import { parseClusterConfig } from "../../config/load";
import {
  gpuNodeGroups,
  parseTaint,
  poolAffinity,
  tolerationFor,
  tolerationsForPools,
} from "../../lib/scheduling";
import { cloud } from "../fixtures/definitions";

describe("parseTaint", () => {
  it("reads key=value:Effect and key:Effect", () => {
    expect(parseTaint("nvidia.com/gpu=present:NoSchedule")).toEqual({
      key: "nvidia.com/gpu",
      value: "present",
      effect: "NoSchedule",
    });
    expect(parseTaint("dedicated:NoExecute")).toEqual({ key: "dedicated", effect: "NoExecute" });
  });

  it("rejects text that is not a taint", () => {
    expect(() => parseTaint("nvidia.com/gpu")).toThrow(/not key=value:Effect/);
  });
});

describe("tolerations", () => {
  it("tolerates a valued taint with Equal and a bare key with Exists", () => {
    expect(tolerationFor(parseTaint("a=b:NoSchedule"))).toEqual({
      key: "a",
      operator: "Equal",
      value: "b",
      effect: "NoSchedule",
    });
    expect(tolerationFor(parseTaint("a:PreferNoSchedule"))).toEqual({
      key: "a",
      operator: "Exists",
      effect: "PreferNoSchedule",
    });
  });

  it("lists each taint of the pools once, in pool order", () => {
    const pools = [
      { taints: ["a=1:NoSchedule", "b:NoExecute"] },
      { taints: ["a=1:NoSchedule", "c=3:NoSchedule"] },
    ];
    expect(tolerationsForPools(pools).map((t) => t.key)).toEqual(["a", "b", "c"]);
  });

  it("is empty for untainted pools", () => {
    expect(tolerationsForPools([{ taints: [] }])).toEqual([]);
  });
});

describe("poolAffinity", () => {
  it("matches a labelled pool by all its labels", () => {
    const { config } = parseClusterConfig(cloud());
    const terms = poolAffinity(gpuNodeGroups(config)).nodeAffinity
      .requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms;
    expect(terms).toEqual([
      {
        matchExpressions: [
          { key: "workload-type", operator: "In", values: ["inference"] },
          { key: "gpu-type", operator: "In", values: ["rtx-a6000"] },
        ],
      },
    ]);
  });

  it("matches a pool without labels by its node names", () => {
    const def = cloud();
    def.nodePools[2].labels = {};
    def.nodePools[2].count = 2;
    const { config } = parseClusterConfig(def);
    const terms = poolAffinity(gpuNodeGroups(config)).nodeAffinity
      .requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms;
    expect(terms).toEqual([
      {
        matchExpressions: [
          {
            key: "kubernetes.io/hostname",
            operator: "In",
            values: ["cloud-gpu-worker-1", "cloud-gpu-worker-2"],
          },
        ],
      },
    ]);
  });
});
