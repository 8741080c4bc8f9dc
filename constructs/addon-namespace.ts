import type { Release } from "@cdktf/provider-helm/lib/release";
import { Construct } from "constructs";

import { UserError } from "../errors/user-error";
import type { ChartSource } from "../lib/charts";
import { LOCAL_CHARTS, localChart } from "../lib/charts";

import { AddonRelease } from "./addon-release";

/** A Pod Security Standard (`pod-security.kubernetes.io/enforce`). */
export type PodSecurityLevel = "privileged" | "baseline" | "restricted";

/** Where the namespaces' own releases are recorded: it exists in every cluster. */
export const NAMESPACE_RELEASES_NAMESPACE = "kube-system";

export interface AddonNamespaceProps {
  /** The namespace's name. */
  readonly name: string;
  /**
   * The Pod Security Standard enforced in it, for an add-on whose pods need more than the
   * cluster's default (Kubespray's `kube_pod_security_default_enforce`) allows.
   * @default - none: the cluster's default applies
   */
  readonly podSecurityEnforce?: PodSecurityLevel;
  /** The chart that creates it. @default our charts/addon-namespace */
  readonly chart?: ChartSource;
}

/**
 * A namespace of the add-ons, made by a Helm release of its own (recorded in kube-system):
 * Helm's `create_namespace` never deletes the namespace it makes nor labels it, so this one
 * is uninstalled, with everything left in it, when the add-on goes, and carries the
 * PodSecurity label its pods need. The add-on's releases depend on it.
 */
export class AddonNamespace extends Construct {
  public readonly name: string;
  public readonly release: Release;

  constructor(scope: Construct, id: string, props: AddonNamespaceProps) {
    super(scope, id);
    // A DNS label (RFC 1123), and short enough for the release name below (53 characters).
    if (!/^[a-z0-9]([-a-z0-9]{0,41}[a-z0-9])?$/.test(props.name)) {
      throw UserError.prop(
        this,
        "name",
        `${JSON.stringify(props.name)} is not a namespace name; use at most 43 lower-case letters, digits and '-', starting and ending with a letter or digit`,
      );
    }
    this.name = props.name;
    this.release = new AddonRelease(this, "Resource", {
      name: `${props.name}-namespace`,
      namespace: NAMESPACE_RELEASES_NAMESPACE,
      chart: props.chart ?? localChart(LOCAL_CHARTS.addonNamespace),
      values: {
        name: props.name,
        ...(props.podSecurityEnforce ? { podSecurityEnforce: props.podSecurityEnforce } : {}),
      },
      // A namespace is ready once created.
      wait: false,
      timeoutSeconds: 120,
    }).release;
  }
}
