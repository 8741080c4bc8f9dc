import type { Release } from "@cdktf/provider-helm/lib/release";
import type { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";

import { taintProblem } from "../config/kubernetes-names";
import { UserError } from "../errors/user-error";
import type { ChartSource } from "../lib/charts";
import type { NodeGroup } from "../lib/scheduling";
import { poolAffinity, tolerationsForPools } from "../lib/scheduling";

import { AddonNamespace } from "./addon-namespace";
import { AddonRelease } from "./addon-release";

export interface GpuOperatorProps {
  /** The gpu-operator chart (`resolveChart("gpu-operator", ...)`). */
  readonly chart: ChartSource;
  /** The nodes with a GPU passed through, one group per pool; the operands run there only. */
  readonly gpuNodeGroups: readonly NodeGroup[];
  /**
   * Let the operator build and load the NVIDIA driver in a container. NVIDIA publishes driver
   * containers for Ubuntu and RHEL only, not for the Debian nodes of this project.
   * @default false - the driver is installed on the node (in the VM template)
   */
  readonly driverEnabled?: boolean;
  /** @default nothing */
  readonly dependsOn?: readonly ITerraformDependable[];
  /**
   * Where it runs.
   * @default - a namespace of its own, `gpu-operator`, where pods may run privileged: Node
   *   Feature Discovery reads the host's files, the operands load the NVIDIA stack
   */
  readonly namespace?: AddonNamespace;
}

/**
 * The NVIDIA GPU Operator. Node Feature Discovery runs only on the GPU pools (node affinity),
 * so only their nodes get the NVIDIA labels the operator schedules its operands by; both
 * tolerate exactly the taints of the GPU pools.
 */
export class GpuOperator extends Construct {
  public readonly release: Release;
  public readonly namespace: AddonNamespace;

  constructor(scope: Construct, id: string, props: GpuOperatorProps) {
    super(scope, id);
    if (props.gpuNodeGroups.length === 0)
      throw UserError.prop(
        this,
        "gpuNodeGroups",
        "empty, but the GPU Operator needs at least one group of GPU nodes; give the pools with a GPU",
      );
    props.gpuNodeGroups.forEach((group, i) =>
      group.taints.forEach((taint, j) => {
        const problem = taintProblem(taint);
        if (problem !== undefined)
          throw UserError.prop(
            this,
            `gpuNodeGroups[${i}].taints[${j}]`,
            `taint ${JSON.stringify(taint)} ${problem}; e.g. nvidia.com/gpu=present:NoSchedule`,
          );
      }),
    );
    const tolerations = tolerationsForPools(props.gpuNodeGroups);
    const affinity = poolAffinity(props.gpuNodeGroups);
    this.namespace =
      props.namespace ??
      new AddonNamespace(this, "Namespace", {
        name: "gpu-operator",
        podSecurityEnforce: "privileged",
      });
    this.release = new AddonRelease(this, "Resource", {
      name: "gpu-operator",
      namespace: this.namespace.name,
      chart: props.chart,
      values: {
        driver: { enabled: props.driverEnabled ?? false },
        toolkit: { enabled: true },
        daemonsets: { tolerations },
        nfd: { enabled: true },
        "node-feature-discovery": { worker: { tolerations, affinity } },
      },
      // Helm waits for the operator only; the operands come later, from its ClusterPolicy.
      wait: true,
      timeoutSeconds: 900,
      dependsOn: [this.namespace.release, ...(props.dependsOn ?? [])],
    }).release;
  }
}
