/**
 * What a chart accepts as values, read from the chart itself: its `values.yaml` (with the
 * sub-charts' values under their alias) and its `values.schema.json` where it has one.
 * Helm ignores a values key that no template reads, without a word; this finds such keys
 * before a user's install does (`unknownValuePaths`), and lists the values we set so that
 * each can be changed and the chart rendered again (`valueLeaves`, `withChangedValue`).
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

import { parse } from "yaml";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;
type Values = Record<string, unknown>;
interface SchemaAt {
  readonly node: Json;
  readonly root: Json;
}

export interface ChartFacts {
  readonly name: string;
  readonly version: string;
  /** Default values: the chart's `values.yaml`, each sub-chart's under its alias or name. */
  readonly defaults: Values;
  /** JSON schemas of the chart and its sub-charts, each with the values path it applies at. */
  readonly schemas: readonly { readonly at: readonly string[]; readonly schema: Json }[];
}

const isMap = (v: unknown): v is Values => typeof v === "object" && v !== null && !Array.isArray(v);

function readYaml(file: string): Json {
  return existsSync(file) ? (parse(readFileSync(file, "utf8")) ?? {}) : {};
}

/** Reads an unpacked chart directory (sub-charts in `charts/` unpacked too). */
export function readChart(dir: string, at: readonly string[] = []): ChartFacts {
  const meta = readYaml(join(dir, "Chart.yaml")) as {
    name: string;
    version: string;
    dependencies?: { name: string; alias?: string }[];
  };
  const defaults = readYaml(join(dir, "values.yaml")) as Values;
  const schemaFile = join(dir, "values.schema.json");
  const schemas: { at: readonly string[]; schema: Json }[] = existsSync(schemaFile)
    ? [{ at, schema: JSON.parse(readFileSync(schemaFile, "utf8")) }]
    : [];
  const subDir = join(dir, "charts");
  const present = existsSync(subDir) ? readdirSync(subDir) : [];
  for (const dep of meta.dependencies ?? []) {
    const folder = present.find((f) => f === dep.name);
    if (folder === undefined) continue; // not vendored: nothing to read, Helm renders nothing
    const key = dep.alias ?? dep.name;
    const sub = readChart(join(subDir, folder), [...at, key]);
    // The parent's values for a sub-chart override the sub-chart's own defaults.
    defaults[key] = merge(sub.defaults, isMap(defaults[key]) ? defaults[key] : {});
    schemas.push(...sub.schemas);
  }
  return { name: meta.name, version: meta.version, defaults, schemas };
}

function merge(base: Values, over: Values): Values {
  const out: Values = { ...base };
  for (const [k, v] of Object.entries(over)) {
    out[k] = isMap(v) && isMap(out[k]) ? merge(out[k] as Values, v) : v;
  }
  return out;
}

/** A JSON-schema node's schema for one property, or undefined when it names none. */
function propertySchemas(node: Json, key: string, root: Json): Json[] {
  if (node === true) return [true];
  if (!isMap(node)) return [];
  const n = resolveRef(node, root);
  const out: Json[] = [];
  const props = n.properties as Values | undefined;
  if (props && key in props) out.push(props[key]);
  for (const [pattern, s] of Object.entries((n.patternProperties as Values | undefined) ?? {})) {
    if (new RegExp(pattern).test(key)) out.push(s);
  }
  if (n.additionalProperties === true || isMap(n.additionalProperties)) {
    out.push(n.additionalProperties);
  }
  for (const branch of ["allOf", "anyOf", "oneOf"] as const) {
    for (const b of (n[branch] as Json[] | undefined) ?? [])
      out.push(...propertySchemas(b, key, root));
  }
  // An object schema that names no property at all is a free-form map.
  const names = [
    "properties",
    "patternProperties",
    "additionalProperties",
    "allOf",
    "anyOf",
    "oneOf",
  ];
  if (out.length === 0 && !names.some((k) => k in n) && !("$ref" in node) && n.type !== "string") {
    out.push(true);
  }
  return out;
}

function resolveRef(node: Values, root: Json): Values {
  const ref = node.$ref;
  if (typeof ref !== "string" || !ref.startsWith("#/")) return node;
  let target: Json = root;
  for (const part of ref.slice(2).split("/")) target = target?.[part];
  return isMap(target) ? resolveRef(target, root) : node;
}

/** `a.b.c`, with keys that hold dots or slashes quoted: `service.annotations["metallb.io/x"]`. */
export function formatPath(path: readonly string[]): string {
  return path
    .map((k, i) =>
      /^[0-9]+$/.test(k)
        ? `[${k}]`
        : /^[A-Za-z0-9_-]+$/.test(k)
          ? `${i === 0 ? "" : "."}${k}`
          : `[${JSON.stringify(k)}]`,
    )
    .join("");
}

/**
 * The values paths we set that the chart does not know: neither `values.yaml` nor the
 * schema names them. Paths under a `freeForm` prefix (maps the chart documents as free-form,
 * e.g. annotations) are not looked into. Lists are values as a whole.
 */
export function unknownValuePaths(
  chart: ChartFacts,
  values: Values,
  freeForm: readonly string[] = [],
): string[] {
  const problems: string[] = [];
  const schemasAt = (p: readonly string[]) =>
    chart.schemas
      .filter((s) => formatPath(s.at) === formatPath(p))
      .map((s) => ({ node: s.schema as Json, root: s.schema as Json }));
  const walk = (ours: Values, defaults: unknown, schemaNodes: SchemaAt[], path: string[]) => {
    for (const [key, value] of Object.entries(ours)) {
      const p = [...path, key];
      const name = formatPath(p);
      if (freeForm.includes(name)) continue;
      const known = isMap(defaults) && key in defaults;
      const childSchemas = [
        ...schemaNodes.flatMap((s) =>
          propertySchemas(s.node, key, s.root).map((node) => ({ node, root: s.root })),
        ),
        ...schemasAt(p), // a sub-chart's own schema applies from its values down
      ];
      if (!known && childSchemas.length === 0) {
        problems.push(`${name}: not a value of chart ${chart.name} ${chart.version}`);
        continue;
      }
      if (!isMap(value) || Object.keys(value).length === 0) continue;
      const d = known ? (defaults as Values)[key] : undefined;
      if (d !== null && d !== undefined && !isMap(d)) {
        problems.push(
          `${name}: a map here, but chart ${chart.name} ${chart.version} has ${JSON.stringify(d)}`,
        );
        continue;
      }
      walk(value, d, childSchemas, p);
    }
  };
  walk(values, chart.defaults, schemasAt([]), []);
  return problems;
}

/** One value we set: a scalar, a list, or an empty map. */
export interface ValueLeaf {
  readonly path: readonly string[];
  readonly value: unknown;
}

export function valueLeaves(values: Values | unknown[], path: string[] = []): ValueLeaf[] {
  return Object.entries(values).flatMap(([k, v]) => {
    // Lists of maps (storage classes, tolerations, ...): each item's values one by one.
    const items =
      Array.isArray(v) && v.length > 0 && v.every((i) => isMap(i) && Object.keys(i).length > 0);
    return (isMap(v) && Object.keys(v).length > 0) || items
      ? valueLeaves(v as Values, [...path, k])
      : [{ path: [...path, k], value: v }];
  });
}

/** A different value of the same kind. */
export function changedValue(value: unknown): unknown {
  if (typeof value === "boolean") return !value;
  if (typeof value === "number") return value + 1;
  if (typeof value === "string") return value === "" ? "changed" : `${value}-changed`;
  if (Array.isArray(value)) return value.length > 0 ? value.slice(0, -1) : ["changed"];
  if (isMap(value)) return { changed: "changed" };
  return "changed";
}

/** A deep copy of `values` with the value at `path` changed (an empty map: removed). */
export function withChangedValue(values: Values, path: readonly string[]): Values {
  const copy = structuredClone(values);
  let node: Values = copy;
  for (const k of path.slice(0, -1)) node = node[k] as Values;
  const last = path[path.length - 1];
  // An empty map says something by being there (`selfSigned: {}`): leave it out instead.
  if (isMap(node[last]) && Object.keys(node[last] as Values).length === 0) delete node[last];
  else node[last] = changedValue(node[last]);
  return copy;
}
