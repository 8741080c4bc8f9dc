import type { Release } from "@cdktf/provider-helm/lib/release";
import { Construct } from "constructs";

import type { ChartSource } from "../lib/charts";
import { LOCAL_CHARTS, localChart } from "../lib/charts";

import { AddonRelease } from "./addon-release";

export interface MetalLbAddressPool {
  readonly name: string;
  /** Ranges `A-B`, single addresses or CIDRs. */
  readonly addresses: readonly string[];
  readonly autoAssign: boolean;
}

export interface MetalLbProps {
  /** Pools announced over L2, one IPAddressPool + L2Advertisement each. */
  readonly addressPools: readonly MetalLbAddressPool[];
  /** The MetalLB chart (`resolveChart("metallb", ...)`). */
  readonly chart: ChartSource;
  /** The chart that creates the pools. @default our charts/metallb-pools */
  readonly poolsChart?: ChartSource;
  /** @default "metallb-system" */
  readonly namespace?: string;
}

/** MetalLB in L2 mode, then its address pools (the pools need MetalLB's CRDs and webhook). */
export class MetalLb extends Construct {
  /** The MetalLB release. */
  public readonly release: Release;
  /** The pools release; a LoadBalancer Service gets an address once it is installed. */
  public readonly pools: Release;
  public readonly namespace: string;

  constructor(scope: Construct, id: string, props: MetalLbProps) {
    super(scope, id);
    this.namespace = props.namespace ?? "metallb-system";
    this.release = new AddonRelease(this, "Resource", {
      name: "metallb",
      namespace: this.namespace,
      chart: props.chart,
      // L2 announcements only: no BGP backend. Since 0.15 the chart's BGP backend is the
      // FRR-K8s sub-chart (a DaemonSet of its own), switched by frrk8s.enabled; the older
      // speaker.frr sidecar mode is already off by default.
      values: { frrk8s: { enabled: false } },
      // Wait for the controller: its webhook must answer before pools can be created.
      wait: true,
      timeoutSeconds: 300,
    }).release;
    this.pools = new AddonRelease(this, "Pools", {
      name: "metallb-pools",
      namespace: this.namespace,
      createNamespace: false,
      chart: props.poolsChart ?? localChart(LOCAL_CHARTS.metallbPools),
      values: {
        pools: props.addressPools.map((p) => ({
          name: p.name,
          addresses: [...p.addresses],
          autoAssign: p.autoAssign,
        })),
      },
      // Only custom resources: nothing to wait for.
      wait: false,
      timeoutSeconds: 120,
      dependsOn: [this.release],
    }).release;
  }
}
