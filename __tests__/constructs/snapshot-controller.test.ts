import { Testing } from "cdktf";

import { SnapshotController } from "../../constructs/snapshot-controller";
import { resolveChart } from "../../lib/charts";
import { release } from "../support/releases";

describe("SnapshotController", () => {
  it("installs the snapshot CRDs and controller in kube-system and waits for them", () => {
    const synth = Testing.synthScope((scope) => {
      new SnapshotController(scope, "Snapshots", {
        chart: resolveChart("snapshot-controller", undefined),
      });
    });
    expect(release(synth, "snapshot-controller")).toMatchObject({
      chart: "snapshot-controller",
      namespace: "kube-system",
      wait: true,
    });
  });
});
