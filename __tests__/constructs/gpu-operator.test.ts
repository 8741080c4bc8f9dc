import { Testing } from "cdktf";

import { parseClusterConfig } from "../../config/load";
import { GpuOperator } from "../../constructs/gpu-operator";
import { CHARTS, resolveChart } from "../../lib/charts";
import { gpuNodeGroups } from "../../lib/scheduling";
import { cloud } from "../fixtures/definitions";
import type { Definition } from "../fixtures/definitions";
import { release } from "../support/releases";

function synth(def: Definition) {
  const { config } = parseClusterConfig(def);
  return Testing.synthScope((scope) => {
    new GpuOperator(scope, "Gpu", {
      chart: resolveChart("gpu-operator", undefined),
      gpuNodeGroups: gpuNodeGroups(config),
    });
  });
}

describe("GpuOperator", () => {
  it("tolerates exactly the taints of the GPU pool", () => {
    const v = release(synth(cloud()), "gpu-operator").parsedValues;
    const expected = [
      { key: "nvidia.com/gpu", operator: "Equal", value: "present", effect: "NoSchedule" },
    ];
    expect(v.daemonsets.tolerations).toEqual(expected);
    expect(v["node-feature-discovery"].worker.tolerations).toEqual(expected);
  });

  it("follows the pool's taints when they change", () => {
    const def = cloud();
    def.nodePools[2].taints = ["dedicated=gpu:NoExecute", "nvidia.com/gpu:NoSchedule"];
    const v = release(synth(def), "gpu-operator").parsedValues;
    expect(v.daemonsets.tolerations).toEqual([
      { key: "dedicated", operator: "Equal", value: "gpu", effect: "NoExecute" },
      { key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" },
    ]);
  });

  it("runs Node Feature Discovery on the GPU pool only, by its labels", () => {
    const v = release(synth(cloud()), "gpu-operator").parsedValues;
    expect(
      v["node-feature-discovery"].worker.affinity.nodeAffinity
        .requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms,
    ).toEqual([
      {
        matchExpressions: [
          { key: "workload-type", operator: "In", values: ["inference"] },
          { key: "gpu-type", operator: "In", values: ["rtx-a6000"] },
        ],
      },
    ]);
  });

  it("uses the pinned chart and the node's own driver", () => {
    const r = release(synth(cloud()), "gpu-operator");
    expect(r).toMatchObject({
      chart: "gpu-operator",
      version: CHARTS["gpu-operator"].version,
      namespace: "gpu-operator",
    });
    expect(r.parsedValues.driver).toEqual({ enabled: false });
  });

  it("refuses to install without a GPU pool", () => {
    expect(() =>
      Testing.synthScope((scope) => {
        new GpuOperator(scope, "Gpu", {
          chart: resolveChart("gpu-operator", undefined),
          gpuNodeGroups: [],
        });
      }),
    ).toThrow(
      "stack/Gpu.gpuNodeGroups: empty, but the GPU Operator needs at least one group of GPU nodes; give the pools with a GPU",
    );
  });

  it("rejects a taint it could not tolerate, naming it", () => {
    expect(() =>
      Testing.synthScope((scope) => {
        new GpuOperator(scope, "Gpu", {
          chart: resolveChart("gpu-operator", undefined),
          gpuNodeGroups: [{ labels: {}, taints: ["nvidia.com/gpu"], nodeNames: ["n-1"] }],
        });
      }),
    ).toThrow(
      'stack/Gpu.gpuNodeGroups[0].taints[0]: taint "nvidia.com/gpu" is not key=value:Effect or key:Effect; e.g. nvidia.com/gpu=present:NoSchedule',
    );
  });
});
