/**
 * Kubernetes syntax of node labels and taints, checked by the schema and parsed by the
 * scheduling helpers: the one definition of both.
 */

/** A node taint, `key[=value]:Effect`. */
export interface Taint {
  readonly key: string;
  readonly value?: string;
  readonly effect: string;
}

const TAINT = /^([^=:]+)(?:=([^:]*))?:([A-Za-z]+)$/;
const TAINT_EFFECTS = ["NoSchedule", "PreferNoSchedule", "NoExecute"];
const LABEL_NAME = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** Splits `key=value:Effect` or `key:Effect`; undefined when it has neither form. */
export function splitTaint(text: string): Taint | undefined {
  const match = TAINT.exec(text);
  if (!match) return undefined;
  return match[2] === undefined
    ? { key: match[1], effect: match[3] }
    : { key: match[1], value: match[2], effect: match[3] };
}

/** Checks a Kubernetes label key (`[prefix/]name`); returns what is wrong, or undefined. */
export function labelKeyProblem(key: string): string | undefined {
  const parts = key.split("/");
  if (parts.length > 2) return "has more than one '/'";
  const [prefix, name] = parts.length === 2 ? parts : [undefined, parts[0]];
  if (prefix !== undefined && (prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix))) {
    return "has a prefix that is not a DNS subdomain";
  }
  if (name.length > 63 || !LABEL_NAME.test(name)) {
    return "has a name that is not 1-63 letters, digits, '-', '_' or '.', starting and ending alphanumeric";
  }
  return undefined;
}

/** True for a valid label value: at most 63 characters, alphanumeric at both ends. */
export function isLabelValue(value: string): boolean {
  return value.length <= 63 && LABEL_VALUE.test(value);
}

/** Parses `key[=value]:Effect`; returns the problem, or undefined when valid. */
export function taintProblem(text: string): string | undefined {
  const taint = splitTaint(text);
  if (!taint) return "is not key=value:Effect or key:Effect";
  const keyProblem = labelKeyProblem(taint.key);
  if (keyProblem) return `key ${keyProblem}`;
  if (taint.value !== undefined && !isLabelValue(taint.value)) {
    return "value is not a valid label value";
  }
  if (!TAINT_EFFECTS.includes(taint.effect)) return `effect must be ${TAINT_EFFECTS.join(", ")}`;
  return undefined;
}
