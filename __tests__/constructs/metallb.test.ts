import { Testing } from "cdktf";

import { MetalLb } from "../../constructs/metallb";
import { CHARTS, resolveChart } from "../../lib/charts";
import { address, release } from "../support/releases";

function synth() {
  return Testing.synthScope((scope) => {
    new MetalLb(scope, "MetalLb", {
      chart: resolveChart("metallb", undefined),
      addressPools: [
        { name: "default", addresses: ["10.10.30.200-10.10.30.229"], autoAssign: true },
        { name: "reserved", addresses: ["10.10.30.240/29", "10.10.30.250"], autoAssign: false },
      ],
    });
  });
}

describe("MetalLb", () => {
  it("installs the pinned MetalLB chart in metallb-system, waiting for its webhook", () => {
    expect(release(synth(), "metallb")).toMatchObject({
      chart: "metallb",
      version: CHARTS.metallb.version,
      namespace: "metallb-system",
      wait: true,
    });
  });

  it("switches off the BGP backend (the FRR-K8s DaemonSet): L2 only", () => {
    expect(release(synth(), "metallb").parsedValues).toEqual({ frrk8s: { enabled: false } });
  });

  it("creates one pool entry per configured pool in our chart, a single address as a /32", () => {
    expect(release(synth(), "metallb-pools").parsedValues).toEqual({
      pools: [
        { name: "default", addresses: ["10.10.30.200-10.10.30.229"], autoAssign: true },
        {
          name: "reserved",
          addresses: ["10.10.30.240/29", "10.10.30.250/32"],
          autoAssign: false,
        },
      ],
    });
  });

  it("installs the pools after MetalLB", () => {
    const s = synth();
    expect(release(s, "metallb-pools").depends_on).toEqual([address(release(s, "metallb"))]);
  });
});
