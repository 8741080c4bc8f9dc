import type { Release } from "@cdktf/provider-helm/lib/release";
import { Construct } from "constructs";

import { isIpv4 } from "../config/net";
import type { ChartSource } from "../lib/charts";
import { LOCAL_CHARTS, localChart } from "../lib/charts";

import { AddonNamespace } from "./addon-namespace";
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
  /**
   * Where it runs.
   * @default - a namespace of its own, `metallb-system`, where pods may run privileged: the
   *   speakers use the host's network, host ports and NET_RAW
   */
  readonly namespace?: AddonNamespace;
}

/**
 * An address range as MetalLB takes it: `A-B` or a CIDR. A single address is written `A/32`:
 * MetalLB reads anything without a `-` as a CIDR, and refuses its whole configuration (every
 * pool) over a bare address.
 */
export function metallbAddresses(range: string): string {
  return isIpv4(range.trim()) ? `${range.trim()}/32` : range;
}

/** MetalLB in L2 mode, then its address pools (the pools need MetalLB's CRDs and webhook). */
export class MetalLb extends Construct {
  /** The MetalLB release. */
  public readonly release: Release;
  /** The pools release; a LoadBalancer Service gets an address once it is installed. */
  public readonly pools: Release;
  public readonly namespace: AddonNamespace;

  constructor(scope: Construct, id: string, props: MetalLbProps) {
    super(scope, id);
    this.namespace =
      props.namespace ??
      new AddonNamespace(this, "Namespace", {
        name: "metallb-system",
        podSecurityEnforce: "privileged",
      });
    this.release = new AddonRelease(this, "Resource", {
      name: "metallb",
      namespace: this.namespace.name,
      chart: props.chart,
      // L2 announcements only: no BGP backend. Since 0.15 the chart's BGP backend is the
      // FRR-K8s sub-chart (a DaemonSet of its own), switched by frrk8s.enabled; the older
      // speaker.frr sidecar mode is already off by default.
      values: { frrk8s: { enabled: false } },
      // Wait for the controller: its webhook must answer before pools can be created.
      wait: true,
      timeoutSeconds: 300,
      dependsOn: [this.namespace.release],
    }).release;
    this.pools = new AddonRelease(this, "Pools", {
      name: "metallb-pools",
      namespace: this.namespace.name,
      chart: props.poolsChart ?? localChart(LOCAL_CHARTS.metallbPools),
      values: {
        pools: props.addressPools.map((p) => ({
          name: p.name,
          addresses: p.addresses.map(metallbAddresses),
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
