/**
 * A test cluster shaped like a definition's: configured as Kubespray configures it (its
 * admission and PodSecurity, from the group_vars the cluster stack writes), with the
 * controllers that its add-ons wait for and that cannot run here played: MetalLB's, and the
 * CSI provisioners of its storage backends. `npm run test-cluster`, `npm run demo` and the
 * add-ons e2e start one.
 */
import type { ClusterConfig } from "../config/schema";
import { csiDriverName } from "../constructs/democratic-csi";
import { groupVars } from "../kubespray-vars/vars";

import type { TestCluster, TestClusterOptions } from "./cluster";
import { startTestCluster } from "./cluster";
import { playCsiProvisioner } from "./csi-provisioner";
import type { MetalLbPlay } from "./metallb";
import { METALLB_NAMESPACE, playMetalLb } from "./metallb";
import type { ReconcileLoop } from "./reconcile-loop";

export interface DefinitionClusterOptions extends Omit<TestClusterOptions, "kubesprayVariables"> {
  /** Where the played controllers say what they do, with who says it. @default - nowhere */
  readonly log?: (who: "metallb" | "csi-provisioner", line: string) => void;
}

/** A running test cluster shaped like a definition's, its controllers played. */
export class DefinitionCluster {
  private constructor(
    readonly cluster: TestCluster,
    /** MetalLB's controller, played in {@link METALLB_NAMESPACE}. */
    readonly metallb: MetalLbPlay,
    private readonly csi: ReconcileLoop,
    /** The CSI drivers whose external-provisioner is played (`csiDriverName` of each backend). */
    readonly provisioners: readonly string[],
  ) {}

  /** Starts the cluster, then the plays; see the module's comment. */
  static async start(
    config: ClusterConfig,
    options: DefinitionClusterOptions = {},
  ): Promise<DefinitionCluster> {
    const { log, ...clusterOptions } = options;
    const cluster = await startTestCluster({
      ...clusterOptions,
      kubesprayVariables: groupVars(config),
    });
    const say = (who: "metallb" | "csi-provisioner") => (line: string) => log?.(who, line);
    const provisioners = (config.addons.storage?.democraticCsi ?? []).map((b) =>
      csiDriverName(b.name),
    );
    const metallb = playMetalLb({
      kubeConfig: cluster.kubeConfig,
      namespace: METALLB_NAMESPACE,
      log: say("metallb"),
    });
    const csi = playCsiProvisioner({
      kubeConfig: cluster.kubeConfig,
      provisioners,
      log: say("csi-provisioner"),
    });
    return new DefinitionCluster(cluster, metallb, csi, provisioners);
  }

  /** Ends the plays, then the cluster (its directory removed unless kept). */
  async stop(): Promise<void> {
    await Promise.all([this.metallb.loop.stop(), this.csi.stop()]);
    await this.cluster.stop();
  }
}
