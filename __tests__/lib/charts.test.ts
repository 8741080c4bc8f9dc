import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

import { parse } from "yaml";

import { CHART_NAMES } from "../../config/chart-names";
import { CHARTS, localChart, resolveChart } from "../../lib/charts";
import { UPSTREAM_CHARTS } from "../support/helm";

// It renders charts with the real helm: a render took 67 s on a loaded two-core machine.
jest.setTimeout(180_000);

describe("the chart catalog", () => {
  it("pins every chart to one exact version, never a range, so that a plan is reproducible", () => {
    // Helm's version field takes ranges too (`~0.16`, `>=41`): a range would let a chart
    // nobody rendered slip in.
    const notExact = CHART_NAMES.filter((n) => !/^v?\d+\.\d+\.\d+$/.test(CHARTS[n].version));
    expect(notExact).toEqual([]);
  });

  // The folder of real upstream charts that the tests render (upstream-charts.test.ts):
  // a pin that is not there is a pin nobody here has rendered.
  const index = join(UPSTREAM_CHARTS, "index.yaml");
  (existsSync(index) ? it : it.skip)(
    `pins exactly the versions in ${UPSTREAM_CHARTS}/index.yaml`,
    () => {
      const entries = (
        parse(readFileSync(index, "utf8")) as {
          entries: Record<string, { version: string }[]>;
        }
      ).entries;
      const pinned = CHART_NAMES.map((n) => [n, CHARTS[n].chart, CHARTS[n].version]);
      expect(pinned).toEqual(
        CHART_NAMES.map((n) => [n, CHARTS[n].chart, entries[CHARTS[n].chart]?.[0]?.version]),
      );
    },
  );

  it("uses HTTPS or OCI repositories only", () => {
    for (const name of CHART_NAMES) expect(CHARTS[name].repository).toMatch(/^(https|oci):\/\//);
  });
});

describe("resolveChart", () => {
  it("returns the pinned chart without an override", () => {
    expect(resolveChart("traefik", undefined)).toEqual({ kind: "remote", ...CHARTS.traefik });
  });

  it("takes a mirror repository and keeps the pinned chart and version", () => {
    expect(resolveChart("traefik", { repository: "oci://mirror.lan/charts" })).toEqual({
      kind: "remote",
      repository: "oci://mirror.lan/charts",
      chart: "traefik",
      version: CHARTS.traefik.version,
    });
  });

  it("takes a local chart directory relative to the base directory, ignoring the rest", () => {
    expect(
      resolveChart("metallb", { path: "vendor/metallb", version: "9.9.9" }, "/srv/work"),
    ).toEqual({ kind: "local", path: "/srv/work/vendor/metallb" });
    expect(resolveChart("metallb", { path: "/abs/metallb" }, "/srv/work")).toEqual({
      kind: "local",
      path: "/abs/metallb",
    });
  });

  it("finds our own charts in charts/", () => {
    expect(localChart("metallb-pools")).toEqual({
      kind: "local",
      path: join(__dirname, "..", "..", "charts", "metallb-pools"),
    });
  });
});
