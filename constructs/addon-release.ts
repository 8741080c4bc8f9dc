import { Release } from "@cdktf/provider-helm/lib/release";
import type { ITerraformDependable } from "cdktf";
import { Fn, TerraformAsset } from "cdktf";
import { Construct } from "constructs";
import { stringify } from "yaml";

import { UserError } from "../errors/user-error";
import type { ChartSource } from "../lib/charts";

/** A value set from a secret: a sensitive Terraform variable's value, never a literal. */
export interface SensitiveValue {
  /** Helm value path: map keys joined by dots, e.g. `grafana.adminPassword`. */
  readonly path: string;
  /** The value: `TerraformVariable.stringValue` of a sensitive variable. */
  readonly value: string;
}

export interface AddonReleaseProps {
  /** Helm release name. */
  readonly name: string;
  /**
   * The namespace, which must exist: an `AddonNamespace` that the release depends on, or
   * kube-system. (Helm's `create_namespace` is not used: it never deletes what it makes.)
   */
  readonly namespace: string;
  readonly chart: ChartSource;
  /** Chart values, encoded as YAML. Never secrets: use `sensitiveValues`. @default {} */
  readonly values?: Readonly<Record<string, unknown>>;
  /**
   * Secrets, passed through `set_sensitive` so that none is written to cdk.tf.json; each
   * reaches its path as exactly the string given (see `strvalsEscaped`). @default none
   */
  readonly sensitiveValues?: readonly SensitiveValue[];
  /** What must be installed first. @default nothing */
  readonly dependsOn?: readonly ITerraformDependable[];
  /**
   * Wait until the release's Deployments, DaemonSets and LoadBalancer Services are ready.
   * @default true - the next release in the chain may rely on this one
   */
  readonly wait?: boolean;
  /**
   * Roll back a failed install or upgrade, so that a retry starts from a clean release.
   * @default true
   */
  readonly atomic?: boolean;
  /** How long Helm waits, seconds. @default 300 */
  readonly timeoutSeconds?: number;
}

/**
 * One Helm release of an add-on, from a pinned chart, a mirror or a local chart directory
 * (copied into the synthesized stack so that the plan does not depend on this checkout).
 */
export class AddonRelease extends Construct {
  public readonly release: Release;

  constructor(scope: Construct, id: string, props: AddonReleaseProps) {
    super(scope, id);
    props.sensitiveValues?.forEach((s, i) => {
      if (!VALUE_PATH.test(s.path)) {
        throw UserError.at(
          `sensitiveValues[${i}].path`,
          `${JSON.stringify(s.path)} is not a values path`,
          "use map keys of letters, digits, '_' or '-', joined by '.'",
        );
      }
    });
    const chart =
      props.chart.kind === "local"
        ? { chart: `./${new TerraformAsset(this, "Chart", { path: props.chart.path }).path}` }
        : {
            repository: props.chart.repository,
            chart: props.chart.chart,
            version: props.chart.version,
          };
    this.release = new Release(this, "Resource", {
      name: props.name,
      namespace: props.namespace,
      createNamespace: false,
      ...chart,
      values: [stringify(props.values ?? {}, { lineWidth: 0, aliasDuplicateObjects: false })],
      setSensitive:
        props.sensitiveValues && props.sensitiveValues.length > 0
          ? props.sensitiveValues.map((s) => ({
              name: s.path,
              value: strvalsEscaped(s.value),
              type: "string",
            }))
          : undefined,
      wait: props.wait ?? true,
      atomic: props.atomic ?? true,
      cleanupOnFail: true,
      timeout: props.timeoutSeconds ?? 300,
      dependsOn: props.dependsOn ? [...props.dependsOn] : undefined,
    });
  }
}

/**
 * A `set`/`set_sensitive` name the provider splits into map keys at each dot and nothing
 * else: no list index (`[0]`), no escaped dot, none of strvals' other syntax.
 */
const VALUE_PATH = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

/**
 * `value` escaped so that the helm provider's `type = "string"` yields exactly `value`.
 *
 * hashicorp/helm 3.1.1 hands `<name>=<value>` to Helm v2's strvals parser
 * (`k8s.io/helm` v2.17.0 `pkg/strvals`, `ParseIntoString`). After the `=` that parser treats
 * three characters specially: `\` escapes the next character (and a trailing one is dropped),
 * `,` ends the value (the rest is read as another `name=value`), and a `{` at the start
 * opens a list. Everything else (newlines, `=`, `:`, `.`, `[`, quotes, spaces) is taken as
 * it is. Putting `\` before each `\`, `,` and `{` (anywhere: the parser undoes an escape of
 * any character) gives back the exact string. (The provider's other types are no way round
 * it: "auto" has the same syntax and also turns `true` or `12` into a bool or a number, and
 * "literal" stores the value under one flat key named `<name>`, not at the path.)
 *
 * It is done by Terraform: the value is a sensitive variable, unknown at synth time. cdktf
 * 0.21 writes a function's string arguments into the HCL expression without escaping
 * backslashes, so the two arguments below are HCL source text: the pattern is the regular
 * expression `[\\,{]`, the replacement `\$0` (a backslash, then the match).
 */
function strvalsEscaped(value: string): string {
  return Fn.replace(value, String.raw`/[\\\\,{]/`, String.raw`\\$0`);
}
