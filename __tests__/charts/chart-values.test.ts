/**
 * The checker behind upstream-charts.test.ts: it must catch a misspelt or misplaced values
 * key (Helm itself says nothing), and a value that changes nothing.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { stringify } from "yaml";

import { CHARTS } from "../../lib/charts";
import {
  changedValue,
  formatPath,
  readChart,
  unknownValuePaths,
  valueLeaves,
  withChangedValue,
} from "../support/chart-values";
import { helmTemplate, upstreamChart } from "../support/helm";
import { describeWithToolchain } from "../support/toolchain";

// It renders charts with the real helm: a render took 67 s on a loaded two-core machine.
jest.setTimeout(180_000);

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), "chart-values-"));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function chartDir(
  name: string,
  values: object,
  opts: { schema?: object; deps?: { name: string; alias?: string }[] } = {},
  parent = tmp,
): string {
  const dir = join(parent, name);
  mkdirSync(join(dir, "templates"), { recursive: true });
  writeFileSync(
    join(dir, "Chart.yaml"),
    stringify({ apiVersion: "v2", name, version: "1.0.0", dependencies: opts.deps }),
  );
  writeFileSync(join(dir, "values.yaml"), stringify(values));
  if (opts.schema) writeFileSync(join(dir, "values.schema.json"), JSON.stringify(opts.schema));
  return dir;
}

describe("unknownValuePaths", () => {
  let dir: string;
  beforeAll(() => {
    dir = chartDir(
      "app",
      { service: { spec: { type: "ClusterIP" }, annotations: {} }, replicas: 1, sub: { extra: 1 } },
      {
        schema: {
          type: "object",
          properties: {
            onlyInSchema: { type: "object", properties: { depth: { type: "integer" } } },
            $defs: {},
            viaRef: { $ref: "#/$defs/map" },
            free: { type: "object" },
          },
          $defs: { map: { type: "object", additionalProperties: { type: "string" } } },
        },
        deps: [{ name: "child", alias: "sub" }],
      },
    );
    chartDir("child", { worker: { tolerations: [] } }, {}, join(dir, "charts"));
  });

  it("finds a key the chart does not have, at its place", () => {
    const chart = readChart(dir);
    expect(unknownValuePaths(chart, { service: { type: "LoadBalancer" } })).toEqual([
      "service.type: not a value of chart app 1.0.0",
    ]);
    expect(unknownValuePaths(chart, { service: { spec: { type: "LoadBalancer" } } })).toEqual([]);
  });

  it("looks into maps the chart documents empty only when they are listed as free-form", () => {
    const chart = readChart(dir);
    const values = { service: { annotations: { "metallb.io/loadBalancerIPs": "10.0.0.1" } } };
    expect(unknownValuePaths(chart, values)).toEqual([
      'service.annotations["metallb.io/loadBalancerIPs"]: not a value of chart app 1.0.0',
    ]);
    expect(unknownValuePaths(chart, values, ["service.annotations"])).toEqual([]);
  });

  it("knows sub-chart values under the alias, and schema-only keys", () => {
    const chart = readChart(dir);
    expect(chart.defaults.sub).toEqual({ worker: { tolerations: [] }, extra: 1 });
    expect(
      unknownValuePaths(chart, {
        sub: { worker: { tolerations: [{ key: "k" }] } },
        onlyInSchema: { depth: 2 },
        viaRef: { anything: "x" },
        free: { a: { b: 1 } },
      }),
    ).toEqual([]);
    expect(
      unknownValuePaths(chart, { sub: { worker: { toleration: [] } }, onlyInSchema: { dept: 1 } }),
    ).toEqual([
      "sub.worker.toleration: not a value of chart app 1.0.0",
      "onlyInSchema.dept: not a value of chart app 1.0.0",
    ]);
  });

  it("refuses a map where the chart has a scalar", () => {
    expect(unknownValuePaths(readChart(dir), { replicas: { count: 2 } })).toEqual([
      "replicas: a map here, but chart app 1.0.0 has 1",
    ]);
  });
});

describe("value leaves", () => {
  it("lists scalars, lists and empty maps, and changes one at a time", () => {
    const values = { a: { b: true, c: [1, 2] }, d: {}, e: "", f: 3, g: [{ h: 1 }, { i: [] }] };
    expect(valueLeaves(values).map((l) => formatPath(l.path))).toEqual([
      "a.b",
      "a.c",
      "d",
      "e",
      "f",
      "g[0].h",
      "g[1].i",
    ]);
    expect(withChangedValue(values, ["g", "0", "h"]).g).toEqual([{ h: 2 }, { i: [] }]);
    expect(withChangedValue(values, ["d"])).not.toHaveProperty("d");
    expect(withChangedValue(values, ["a", "c"])).toEqual({ ...values, a: { b: true, c: [1] } });
    expect(values.a.c).toEqual([1, 2]);
    expect([true, 3, "", "x", [], {}].map(changedValue)).toEqual([
      false,
      4,
      "changed",
      "x-changed",
      ["changed"],
      { changed: "changed" },
    ]);
  });
});

describeWithToolchain(["helm"])("on the real Traefik chart", () => {
  const { chart, version, repository } = CHARTS.traefik;
  let dir: string;
  beforeAll(() => {
    dir = upstreamChart(chart, version, repository);
  });

  it("flags service.type, the misspelling that once shipped, and accepts service.spec.type", () => {
    const facts = readChart(dir);
    expect(unknownValuePaths(facts, { service: { type: "LoadBalancer" } })).toEqual([
      `service.type: not a value of chart traefik ${version}`,
    ]);
    expect(unknownValuePaths(facts, { service: { spec: { type: "LoadBalancer" } } })).toEqual([]);
  });

  it("shows that service.type changes nothing while service.spec.type does", async () => {
    const render = (values: Record<string, unknown>) =>
      helmTemplate({ chartDir: dir, release: "t", namespace: "t", kubeVersion: "1.35.4", values });
    const base = await render({});
    expect(base.ok).toBe(true);
    const misspelt = await render(
      withChangedValue({ service: { type: "LoadBalancer" } }, ["service", "type"]),
    );
    const right = await render({ service: { spec: { type: "NodePort" } } });
    expect(misspelt.stdout).toBe(base.stdout);
    expect(right.stdout).not.toBe(base.stdout);
  });
});
