import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

import { parse } from "yaml";

import { CHART_NAMES } from "../../config/chart-names";
import { CHARTS, localChart, resolveChart } from "../../lib/charts";
import { UPSTREAM_CHARTS } from "../support/helm";

describe("the chart catalog", () => {
  it("pins every chart to an exact version of the required release line", () => {
    const lines: Record<string, RegExp> = {
      metallb: /^0\.16\.\d+$/,
      traefik: /^41\.\d+\.\d+$/,
      "ingress-nginx": /^4\.15\.\d+$/,
      "cert-manager": /^v1\.21\.\d+$/,
      "democratic-csi": /^0\.15\.\d+$/,
      "argo-cd": /^10\.\d+\.\d+$/,
      "argocd-apps": /^2\.\d+\.\d+$/,
      "gpu-operator": /^v26\.7\.\d+$/,
      "external-secrets": /^2\.9\.\d+$/,
      "kube-prometheus-stack": /^88\.\d+\.\d+$/,
      "snapshot-controller": /^\d+\.\d+\.\d+$/,
    };
    expect(new Set(CHART_NAMES)).toEqual(new Set(Object.keys(lines)));
    for (const name of CHART_NAMES) expect(CHARTS[name].version).toMatch(lines[name]);
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
