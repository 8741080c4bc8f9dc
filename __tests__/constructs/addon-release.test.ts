import { Testing } from "cdktf";

import { AddonRelease } from "../../constructs/addon-release";
import { localChart, resolveChart } from "../../lib/charts";
import { release } from "../support/releases";

describe("AddonRelease", () => {
  it("installs a pinned chart with its values as YAML, atomically, waiting by default", () => {
    const synth = Testing.synthScope((scope) => {
      new AddonRelease(scope, "X", {
        name: "x",
        namespace: "ns",
        chart: resolveChart("traefik", undefined),
        values: { a: { b: [1, 2] }, shared: [{ k: 1 }] },
      });
    });
    const r = release(synth, "x");
    expect(r).toMatchObject({
      repository: "https://traefik.github.io/charts",
      chart: "traefik",
      wait: true,
      atomic: true,
      timeout: 300,
    });
    expect(r.parsedValues).toEqual({ a: { b: [1, 2] }, shared: [{ k: 1 }] });
  });

  it("writes repeated objects out instead of YAML aliases", () => {
    const shared = [{ key: "k", operator: "Exists" }];
    const synth = Testing.synthScope((scope) => {
      new AddonRelease(scope, "X", {
        name: "x",
        namespace: "ns",
        chart: resolveChart("traefik", undefined),
        values: { one: shared, two: shared },
      });
    });
    const raw = JSON.parse(synth).resource.helm_release;
    const values = (Object.values(raw)[0] as { values: string[] }).values[0];
    expect(values).not.toMatch(/[&*]a\d/);
  });

  it("passes secrets through set_sensitive as literals, not in values", () => {
    const synth = Testing.synthScope((scope) => {
      new AddonRelease(scope, "X", {
        name: "x",
        namespace: "ns",
        chart: resolveChart("traefik", undefined),
        sensitiveValues: [{ path: "a.password", value: "TOKEN" }],
      });
    });
    const r = release(synth, "x");
    expect(r.set_sensitive).toEqual([{ name: "a.password", value: "TOKEN", type: "literal" }]);
    expect(r.parsedValues).toEqual({});
  });

  it("copies a local chart into the stack and points at the copy", () => {
    const synth = Testing.synthScope((scope) => {
      new AddonRelease(scope, "X", {
        name: "x",
        namespace: "ns",
        chart: localChart("metallb-pools"),
      });
    });
    const r = release(synth, "x");
    expect(r.chart).toMatch(/^\.\/assets\/X_Chart_[0-9A-F]+\/[0-9A-F]+$/);
    expect(r.repository).toBeUndefined();
    expect(r.version).toBeUndefined();
  });
});
