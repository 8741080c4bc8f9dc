import type { Release } from "@cdktf/provider-helm/lib/release";
import type { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";

import type { ChartSource } from "../lib/charts";
import type { Toleration } from "../lib/scheduling";

import { AddonNamespace } from "./addon-namespace";
import { AddonRelease } from "./addon-release";

export interface KubePrometheusStackProps {
  /** The chart (`resolveChart("kube-prometheus-stack", ...)`). */
  readonly chart: ChartSource;
  /** Grafana admin password: the value of a sensitive variable, never a literal. */
  readonly grafanaAdminPassword: string;
  /**
   * Taints the node exporter tolerates: every node's, so that it runs on each
   * (`tolerationsForPools(allNodeGroups(config))`).
   * @default - the chart's: every NoSchedule taint, no NoExecute one
   */
  readonly nodeExporterTolerations?: readonly Toleration[];
  /** @default nothing */
  readonly dependsOn?: readonly ITerraformDependable[];
  /**
   * Where it runs.
   * @default - a namespace of its own, `monitoring`, where pods may run privileged: the
   *   node exporter reads the host's network, processes and filesystems
   */
  readonly namespace?: AddonNamespace;
}

/** Prometheus, Alertmanager, Grafana and the cluster's dashboards and alerts. */
export class KubePrometheusStack extends Construct {
  public readonly release: Release;
  public readonly namespace: AddonNamespace;

  constructor(scope: Construct, id: string, props: KubePrometheusStackProps) {
    super(scope, id);
    this.namespace =
      props.namespace ??
      new AddonNamespace(this, "Namespace", {
        name: "monitoring",
        podSecurityEnforce: "privileged",
      });
    this.release = new AddonRelease(this, "Resource", {
      name: "kube-prometheus-stack",
      namespace: this.namespace.name,
      chart: props.chart,
      values: {
        grafana: { adminUser: "admin" },
        ...(props.nodeExporterTolerations
          ? { "prometheus-node-exporter": { tolerations: [...props.nodeExporterTolerations] } }
          : {}),
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
      dependsOn: [this.namespace.release, ...(props.dependsOn ?? [])],
    }).release;
  }
}
