import type { Release } from "@cdktf/provider-helm/lib/release";
import { Construct } from "constructs";

import type { ChartSource } from "../lib/charts";

import { AddonRelease } from "./addon-release";

export interface SnapshotControllerProps {
  /** The chart (`resolveChart("snapshot-controller", ...)`). */
  readonly chart: ChartSource;
  /** @default "kube-system" */
  readonly namespace?: string;
}

/**
 * The CSI snapshot CRDs and controller, which turn VolumeSnapshots into driver calls; CSI
 * drivers with snapshot classes (democratic-csi) need them installed first.
 */
export class SnapshotController extends Construct {
  public readonly release: Release;

  constructor(scope: Construct, id: string, props: SnapshotControllerProps) {
    super(scope, id);
    this.release = new AddonRelease(this, "Resource", {
      name: "snapshot-controller",
      namespace: props.namespace ?? "kube-system",
      chart: props.chart,
      values: {},
      // VolumeSnapshotClasses of the CSI releases need the CRDs and the webhook.
      wait: true,
      timeoutSeconds: 300,
    }).release;
  }
}
