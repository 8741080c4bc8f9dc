import type { Release } from "@cdktf/provider-helm/lib/release";
import type { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";

import type { ChartSource } from "../lib/charts";

import { AddonRelease } from "./addon-release";

export interface KubePrometheusStackProps {
  /** The chart (`resolveChart("kube-prometheus-stack", ...)`). */
  readonly chart: ChartSource;
  /** Grafana admin password: the value of a sensitive variable, never a literal. */
  readonly grafanaAdminPassword: string;
  /** @default nothing */
  readonly dependsOn?: readonly ITerraformDependable[];
  /** @default "monitoring" */
  readonly namespace?: string;
}

/** Prometheus, Alertmanager, Grafana and the cluster's dashboards and alerts. */
export class KubePrometheusStack extends Construct {
  public readonly release: Release;

  constructor(scope: Construct, id: string, props: KubePrometheusStackProps) {
    super(scope, id);
    this.release = new AddonRelease(this, "Resource", {
      name: "kube-prometheus-stack",
      namespace: props.namespace ?? "monitoring",
      chart: props.chart,
      values: {
        grafana: { adminUser: "admin" },
        prometheus: {
          prometheusSpec: {
            // Pick up every ServiceMonitor/PodMonitor/rule, not only this release's.
            serviceMonitorSelectorNilUsesHelmValues: false,
            podMonitorSelectorNilUsesHelmValues: false,
            ruleSelectorNilUsesHelmValues: false,
          },
        },
      },
      sensitiveValues: [{ path: "grafana.adminPassword", value: props.grafanaAdminPassword }],
      // Large chart (CRDs, operator, Prometheus, Grafana): give it time.
      wait: true,
      timeoutSeconds: 900,
      dependsOn: props.dependsOn,
    }).release;
  }
}
