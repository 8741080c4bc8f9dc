/**
 * Reading helm_release resources back from synthesized Terraform JSON, with their values
 * parsed from YAML, so that tests assert on what Helm will receive.
 */
import { parse } from "yaml";

/** One `set` or `set_sensitive` entry: its value is a Terraform expression. */
export interface SetEntry {
  readonly name: string;
  readonly value: string;
  readonly type?: string;
}

export interface SynthRelease {
  /** Logical ID (the key under resource.helm_release). */
  readonly id: string;
  readonly name: string;
  readonly namespace: string;
  readonly chart: string;
  readonly repository?: string;
  readonly version?: string;
  readonly wait?: boolean;
  readonly atomic?: boolean;
  readonly timeout?: number;
  readonly depends_on?: string[];
  /** The values documents, as synthesized (YAML text). */
  readonly values?: string[];
  readonly set?: SetEntry[];
  readonly set_sensitive?: SetEntry[];
  /** The first values document, parsed. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly parsedValues: any;
}

/** Every helm_release of a synthesized stack (JSON text or object), by release name. */
export function releases(synth: string | object): Map<string, SynthRelease> {
  const json = (typeof synth === "string" ? JSON.parse(synth) : synth) as {
    resource?: { helm_release?: Record<string, Omit<SynthRelease, "id" | "parsedValues">> };
  };
  const out = new Map<string, SynthRelease>();
  for (const [id, r] of Object.entries(json.resource?.helm_release ?? {})) {
    const values = (r as { values?: string[] }).values ?? [];
    out.set(r.name, { ...r, id, parsedValues: values.length > 0 ? parse(values[0]) : {} });
  }
  return out;
}

/** One release by name; throws listing the others when absent. */
export function release(synth: string | object, name: string): SynthRelease {
  const all = releases(synth);
  const r = all.get(name);
  if (!r) throw new Error(`no helm_release named ${name}; have ${[...all.keys()].join(", ")}`);
  return r;
}

/** The Terraform address (`helm_release.<id>`) of a release, as depends_on lists it. */
export function address(r: SynthRelease): string {
  return `helm_release.${r.id}`;
}
