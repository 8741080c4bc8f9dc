import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { stackDir, synthApp, tofuValidate } from "../support/synth-app";
import { describeWithToolchain } from "../support/toolchain";

const EXAMPLES = join(__dirname, "..", "..", "..", "shared", "examples");

describeWithToolchain(["tofu"])("cluster stack with the real providers", () => {
  jest.setTimeout(300_000);
  it.each(["homelab.yaml", "cloud-cluster.yaml"])("passes tofu validate for %s", (file) => {
    const { outDir } = synthApp(
      join(EXAMPLES, file),
      mkdtempSync(join(tmpdir(), "cluster-synth-")),
    );
    const report = tofuValidate(stackDir(outDir, "cluster"));
    expect(report.diagnostics.filter((d) => d.severity === "error")).toEqual([]);
    expect(report.valid).toBe(true);
  });
});
