import { Testing } from "cdktf";

import { KubePrometheusStack } from "../../constructs/kube-prometheus-stack";
import { CHARTS, resolveChart } from "../../lib/charts";
import { release } from "../support/releases";

describe("KubePrometheusStack", () => {
  it("sets the Grafana password only through set_sensitive", () => {
    const synth = Testing.synthScope((scope) => {
      new KubePrometheusStack(scope, "Kps", {
        chart: resolveChart("kube-prometheus-stack", undefined),
        grafanaAdminPassword: "PASSWORD_TOKEN",
      });
    });
    const r = release(synth, "kube-prometheus-stack");
    expect(r).toMatchObject({
      version: CHARTS["kube-prometheus-stack"].version,
      namespace: "monitoring",
    });
    expect(r.set_sensitive).toEqual([
      {
        name: "grafana.adminPassword",
        value: expect.stringMatching(/^\$\{replace\("PASSWORD_TOKEN", /),
        type: "string",
      },
    ]);
    expect(r.parsedValues.grafana.adminPassword).toBeUndefined();
    expect(synth.match(/PASSWORD_TOKEN/g)).toHaveLength(1);
  });
});
