import { Release } from "@cdktf/provider-helm/lib/release";
import type { ITerraformDependable } from "cdktf";
import { TerraformAsset } from "cdktf";
import { Construct } from "constructs";
import { stringify } from "yaml";

import type { ChartSource } from "../lib/charts";

/** A value set from a secret: a sensitive Terraform variable's value, never a literal. */
export interface SensitiveValue {
  /** Helm value path, e.g. `grafana.adminPassword`. */
  readonly path: string;
  /** The value: `TerraformVariable.stringValue` of a sensitive variable. */
  readonly value: string;
}

export interface AddonReleaseProps {
  /** Helm release name. */
  readonly name: string;
  readonly namespace: string;
  readonly chart: ChartSource;
  /** Chart values, encoded as YAML. Never secrets: use `sensitiveValues`. @default {} */
  readonly values?: Readonly<Record<string, unknown>>;
  /** Secrets, passed through `set_sensitive` so that none is written to cdk.tf.json. @default none */
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
  /** @default true */
  readonly createNamespace?: boolean;
}

/**
 * One Helm release of an add-on, from a pinned chart, a mirror or a local chart directory
 * (copied into the synthesized stack so that the plan does not depend on this checkout).
 */
export class AddonRelease extends Construct {
  public readonly release: Release;

  constructor(scope: Construct, id: string, props: AddonReleaseProps) {
    super(scope, id);
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
      createNamespace: props.createNamespace ?? true,
      ...chart,
      values: [stringify(props.values ?? {}, { lineWidth: 0, aliasDuplicateObjects: false })],
      // "literal": the value is taken as is (API keys and PEM keys may hold ',' '=' or '\n').
      setSensitive:
        props.sensitiveValues && props.sensitiveValues.length > 0
          ? props.sensitiveValues.map((s) => ({ name: s.path, value: s.value, type: "literal" }))
          : undefined,
      wait: props.wait ?? true,
      atomic: props.atomic ?? true,
      cleanupOnFail: true,
      timeout: props.timeoutSeconds ?? 300,
      dependsOn: props.dependsOn ? [...props.dependsOn] : undefined,
    });
  }
}
