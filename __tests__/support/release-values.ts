/**
 * What each helm_release of a synthesized stack must hold once installed: every values path
 * it sets, with its exact value, whether it comes from `values` or is a secret passed by
 * `set_sensitive`. That is what `helm get values <release> -o json` must show on a cluster.
 * provider-values.test.ts compares it with what the helm provider's own code hands to Helm;
 * an install into a real cluster compares `helm get values` with the same list
 * (`compareValues`).
 */
import { isDeepStrictEqual } from "node:util";

import { formatPath, valueLeaves } from "./chart-values";
import type { SetEntry } from "./releases";
import { releases } from "./releases";

export interface ExpectedValue {
  readonly release: string;
  readonly namespace: string;
  /** Map keys (list indexes as strings) from the root of the values. */
  readonly path: readonly string[];
  readonly value: unknown;
  /** Where it comes from: `values`, or the variable of a set_sensitive entry (`var.<name>`). */
  readonly source: string;
}

/** A set_sensitive name: map keys joined by dots (AddonRelease refuses anything else). */
const DOTTED = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

/**
 * Every (release, path, value) of a synthesized stack (cdk.tf.json, as text or parsed).
 * `secrets` holds each sensitive variable's value by variable name, as the user sets it in
 * `TF_VAR_<name>`; each set_sensitive entry must carry exactly one variable, whose value is
 * expected at the entry's path unchanged.
 */
export function expectedValues(
  synth: string | object,
  secrets: Readonly<Record<string, string>>,
): ExpectedValue[] {
  return [...releases(synth).values()].flatMap((r) => {
    const at = { release: r.name, namespace: r.namespace };
    if ((r.set ?? []).length > 0) {
      throw new Error(
        `${r.name}: set ${r.set!.map((s) => s.name).join(", ")}: only values and set_sensitive are known here`,
      );
    }
    const fromValues = valueLeaves(r.parsedValues ?? {}).map((leaf) => ({
      ...at,
      path: leaf.path,
      value: leaf.value,
      source: "values",
    }));
    const fromSecrets = (r.set_sensitive ?? []).map((s) => {
      const variable = variableOf(r.name, s);
      if (!(variable in secrets)) throw new Error(`${r.name}: ${s.name}: no value for ${variable}`);
      return {
        ...at,
        path: s.name.split("."),
        value: secrets[variable],
        source: `var.${variable}`,
      };
    });
    return [...fromValues, ...fromSecrets];
  });
}

/** The one Terraform variable a set_sensitive entry's value refers to. */
function variableOf(release: string, s: SetEntry): string {
  if (!DOTTED.test(s.name)) throw new Error(`${release}: ${s.name}: not a dotted values path`);
  const refs = [...new Set([...s.value.matchAll(/\bvar\.([A-Za-z0-9_-]+)/g)].map((m) => m[1]))];
  if (refs.length !== 1) {
    throw new Error(
      `${release}: ${s.name}: expected one variable in ${s.value}, found ${refs.length}`,
    );
  }
  return refs[0];
}

/**
 * The differences between a release's values (`actual`: what Helm was given, e.g. the JSON
 * of `helm get values`) and what the stack sets there, one line per path: a value missing or
 * different, or a value the stack does not set (such as a flat key `"a.b"` instead of `a.b`).
 */
export function compareValues(
  release: string,
  actual: Readonly<Record<string, unknown>>,
  expected: readonly ExpectedValue[],
): string[] {
  const mine = expected.filter((e) => e.release === release);
  const show = (v: unknown) => JSON.stringify(v);
  const problems: string[] = [];
  for (const e of mine) {
    const where = `${release}: ${formatPath(e.path)}`;
    const got = valueAt(actual, e.path);
    if (!got.found) problems.push(`${where}: not set; expected ${show(e.value)} (${e.source})`);
    else if (!isDeepStrictEqual(got.value, e.value)) {
      problems.push(`${where}: ${show(got.value)}; expected ${show(e.value)} (${e.source})`);
    }
  }
  const known = new Set(mine.map((e) => JSON.stringify(e.path)));
  for (const leaf of valueLeaves(actual as Record<string, unknown>)) {
    if (!known.has(JSON.stringify(leaf.path))) {
      problems.push(
        `${release}: ${formatPath(leaf.path)}: ${show(leaf.value)}, not set by the stack`,
      );
    }
  }
  return problems;
}

function valueAt(root: unknown, path: readonly string[]): { found: boolean; value?: unknown } {
  let node = root;
  for (const k of path) {
    if (node === null || typeof node !== "object" || !Object.hasOwn(node, k)) {
      return { found: false };
    }
    node = (node as Record<string, unknown>)[k];
  }
  return { found: true, value: node };
}
