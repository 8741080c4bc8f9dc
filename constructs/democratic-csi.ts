import type { Release } from "@cdktf/provider-helm/lib/release";
import type { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";

import type { DemocraticCsiBackend } from "../config/schema";
import type { DemocraticCsiDriver } from "../config/storage-drivers";
import { storageBackendProblems, storageDriver } from "../config/storage-drivers";
import { UserError } from "../errors/user-error";
import type { ChartSource } from "../lib/charts";
import type { Toleration } from "../lib/scheduling";

import { AddonNamespace } from "./addon-namespace";
import { AddonRelease } from "./addon-release";

/** How democratic-csi logs in to TrueNAS over SSH (the `freenas-iscsi`/`freenas-nfs` drivers). */
export interface DemocraticCsiSsh {
  /** TrueNAS user; sudo is used unless it is `root`. */
  readonly user: string;
  /** SSH private key (PEM): a sensitive variable's value, never a literal. */
  readonly privateKey: string;
}

export interface DemocraticCsiProps {
  /** Release, StorageClass, VolumeSnapshotClass and CSI driver name. */
  readonly name: string;
  /**
   * democratic-csi driver, e.g. `freenas-api-iscsi`: it says what the volumes are (iSCSI
   * block devices with ext4, or NFS shares) and whether it also logs in over SSH.
   */
  readonly driver: DemocraticCsiDriver;
  /** TrueNAS address (API and SSH). */
  readonly host: string;
  /** @default 443 */
  readonly apiPort?: number;
  /** @default "https" */
  readonly apiScheme?: DemocraticCsiBackend["protocol"];
  /** Accept TrueNAS's self-signed certificate. @default false */
  readonly allowInsecure?: boolean;
  /** TrueNAS API key: the value of a sensitive variable, never a literal. */
  readonly apiKey: string;
  /** SSH login, for the drivers that use it. @default - none: API only */
  readonly ssh?: DemocraticCsiSsh;
  /** Parent dataset of the volumes. */
  readonly datasetParent: string;
  /** Parent dataset of detached snapshots. */
  readonly snapshotsDatasetParent: string;
  /** iSCSI portal `host:port`. @default - none (NFS) */
  readonly targetPortal?: string;
  /** NFS server address. @default - none (iSCSI) */
  readonly shareHost?: string;
  /** Make the StorageClass the cluster's default. @default false */
  readonly defaultClass?: boolean;
  /** @default "Delete" */
  readonly reclaimPolicy?: DemocraticCsiBackend["reclaimPolicy"];
  /** Cluster name: suffixes iSCSI targets and names the instance, so clusters sharing a TrueNAS do not collide. */
  readonly clusterName: string;
  /** The democratic-csi chart (`resolveChart("democratic-csi", ...)`). */
  readonly chart: ChartSource;
  /**
   * Taints its node plugin tolerates: those of every node that may mount a volume (the
   * worker pools'; `tolerationsForPools(workerNodeGroups(config))`).
   * @default none - the plugin runs on untainted nodes only
   */
  readonly nodeTolerations?: readonly Toleration[];
  /** Installed first: the snapshot controller. @default nothing */
  readonly dependsOn?: readonly ITerraformDependable[];
  /**
   * Where it runs (several backends share one: see `DemocraticCsi.namespace`).
   * @default - a namespace of its own, as `DemocraticCsi.namespace` makes it
   */
  readonly namespace?: AddonNamespace;
}

/** The CSI driver (and provisioner) name of a backend: unique in the cluster, one per backend. */
export function csiDriverName(backend: string): string {
  return `org.democratic-csi.${backend}`;
}

/** One democratic-csi release for one TrueNAS backend, with its StorageClass and VolumeSnapshotClass. */
export class DemocraticCsi extends Construct {
  /**
   * The namespace of democratic-csi's releases, `democratic-csi`, where pods may run
   * privileged: the node plugins mount volumes into the host (host network, host paths,
   * SYS_ADMIN).
   */
  static namespace(scope: Construct, id: string): AddonNamespace {
    return new AddonNamespace(scope, id, {
      name: "democratic-csi",
      podSecurityEnforce: "privileged",
    });
  }

  public readonly release: Release;
  public readonly namespace: AddonNamespace;
  /** The StorageClass (and VolumeSnapshotClass) name: the backend's name. */
  public readonly storageClassName: string;

  constructor(scope: Construct, id: string, props: DemocraticCsiProps) {
    super(scope, id);
    for (const p of storageBackendProblems(props)) throw UserError.prop(this, p.field, p.message);
    if (storageDriver(props.driver).ssh && props.ssh === undefined)
      throw UserError.prop(
        this,
        "ssh",
        `none, and the ${props.driver} driver logs in to TrueNAS over SSH; give its user and private key, or use a freenas-api-* driver`,
      );
    this.storageClassName = props.name;
    this.namespace = props.namespace ?? DemocraticCsi.namespace(this, "Namespace");
    this.release = new AddonRelease(this, "Resource", {
      name: props.name,
      namespace: this.namespace.name,
      chart: props.chart,
      values: democraticCsiValues(props),
      sensitiveValues: [
        { path: "driver.config.httpConnection.apiKey", value: props.apiKey },
        ...(props.ssh
          ? [{ path: "driver.config.sshConnection.privateKey", value: props.ssh.privateKey }]
          : []),
      ],
      // The node DaemonSet must run on every node before a volume can be attached.
      wait: true,
      timeoutSeconds: 600,
      dependsOn: [this.namespace.release, ...(props.dependsOn ?? [])],
    }).release;
  }
}

/** The chart values of one backend (without its secrets). */
function democraticCsiValues(p: DemocraticCsiProps): Record<string, unknown> {
  const nfs = storageDriver(p.driver).protocol === "nfs";
  const config: Record<string, unknown> = {
    driver: p.driver,
    instance_id: `${p.clusterName}-${p.name}`,
    httpConnection: {
      protocol: p.apiScheme ?? "https",
      host: p.host,
      port: p.apiPort ?? 443,
      allowInsecure: p.allowInsecure ?? false,
    },
    zfs: {
      datasetParentName: p.datasetParent,
      detachedSnapshotsDatasetParentName: p.snapshotsDatasetParent,
      ...(p.ssh ? { cli: { sudoEnabled: p.ssh.user !== "root" } } : {}),
      ...(nfs
        ? {
            datasetEnableQuotas: true,
            datasetEnableReservation: false,
            datasetPermissionsMode: "0777",
            datasetPermissionsUser: 0,
            datasetPermissionsGroup: 0,
          }
        : { zvolCompression: "", zvolDedup: "", zvolEnableReservation: false, zvolBlocksize: "" }),
    },
  };
  if (p.ssh) config.sshConnection = { host: p.host, port: 22, username: p.ssh.user };
  if (nfs) {
    config.nfs = {
      shareHost: p.shareHost,
      shareAlldirs: false,
      shareAllowedHosts: [],
      shareAllowedNetworks: [],
      shareMaprootUser: "root",
      shareMaprootGroup: "root",
      shareMapallUser: "",
      shareMapallGroup: "",
    };
  } else {
    config.iscsi = {
      targetPortal: p.targetPortal,
      targetPortals: [],
      interface: "",
      namePrefix: "csi-",
      nameSuffix: `-${p.clusterName}`,
      targetGroups: [
        { targetGroupPortalGroup: 1, targetGroupInitiatorGroup: 1, targetGroupAuthType: "None" },
      ],
      extentInsecureTpc: true,
      extentXenCompat: false,
      extentDisablePhysicalBlocksize: true,
      extentBlocksize: 512,
      extentRpm: "SSD",
      extentAvailThreshold: 0,
    };
  }
  return {
    csiDriver: { name: csiDriverName(p.name) },
    storageClasses: [
      {
        name: p.name,
        defaultClass: p.defaultClass ?? false,
        reclaimPolicy: p.reclaimPolicy ?? "Delete",
        volumeBindingMode: "Immediate",
        allowVolumeExpansion: true,
        parameters: { fsType: nfs ? "nfs" : "ext4" },
        mountOptions: nfs ? ["noatime", "nfsvers=4"] : [],
      },
    ],
    volumeSnapshotClasses: [{ name: p.name, parameters: { detachedSnapshots: "false" } }],
    ...(p.nodeTolerations && p.nodeTolerations.length > 0
      ? { node: { tolerations: [...p.nodeTolerations] } }
      : {}),
    driver: { config },
  };
}
