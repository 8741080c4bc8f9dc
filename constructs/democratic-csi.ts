import type { Release } from "@cdktf/provider-helm/lib/release";
import type { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";

import type { DemocraticCsiBackend } from "../config/schema";
import { usesSsh } from "../config/secrets";
import { storageDriver } from "../config/storage-drivers";
import type { ChartSource } from "../lib/charts";

import { AddonRelease } from "./addon-release";

export interface DemocraticCsiProps {
  /** The TrueNAS backend: driver, datasets, portal or share host. */
  readonly backend: DemocraticCsiBackend;
  /** Cluster name: suffixes iSCSI targets and names the instance, so clusters sharing a TrueNAS do not collide. */
  readonly clusterName: string;
  /** The democratic-csi chart (`resolveChart("democratic-csi", ...)`). */
  readonly chart: ChartSource;
  /** TrueNAS API key: the value of a sensitive variable, never a literal. */
  readonly apiKey: string;
  /** SSH private key (PEM) for the `freenas-iscsi`/`freenas-nfs` drivers: a sensitive variable's value. @default none (API drivers) */
  readonly sshPrivateKey?: string;
  /** Installed first: the snapshot controller. @default nothing */
  readonly dependsOn?: readonly ITerraformDependable[];
  /** @default "democratic-csi" */
  readonly namespace?: string;
}

/** One democratic-csi release for one TrueNAS backend, with its StorageClass and VolumeSnapshotClass. */
export class DemocraticCsi extends Construct {
  public readonly release: Release;
  /** The StorageClass (and VolumeSnapshotClass) name: the backend's name. */
  public readonly storageClassName: string;

  constructor(scope: Construct, id: string, props: DemocraticCsiProps) {
    super(scope, id);
    const b = props.backend;
    if (usesSsh(b) && props.sshPrivateKey === undefined) {
      throw new Error(`storage backend ${b.name}: the ${b.driver} driver needs an SSH private key`);
    }
    this.storageClassName = b.name;
    this.release = new AddonRelease(this, "Resource", {
      name: b.name,
      namespace: props.namespace ?? "democratic-csi",
      chart: props.chart,
      values: democraticCsiValues(b, props.clusterName),
      sensitiveValues: [
        { path: "driver.config.httpConnection.apiKey", value: props.apiKey },
        ...(usesSsh(b) && props.sshPrivateKey !== undefined
          ? [{ path: "driver.config.sshConnection.privateKey", value: props.sshPrivateKey }]
          : []),
      ],
      // The node DaemonSet must run on every node before a volume can be attached.
      wait: true,
      timeoutSeconds: 600,
      dependsOn: props.dependsOn,
    }).release;
  }
}

/** The chart values of one backend (without its secrets). */
export function democraticCsiValues(
  b: DemocraticCsiBackend,
  clusterName: string,
): Record<string, unknown> {
  const nfs = storageDriver(b.driver).protocol === "nfs";
  const config: Record<string, unknown> = {
    driver: b.driver,
    instance_id: `${clusterName}-${b.name}`,
    httpConnection: {
      protocol: b.protocol,
      host: b.host,
      port: b.port,
      allowInsecure: b.allowInsecure,
    },
    zfs: {
      datasetParentName: b.datasetParent,
      detachedSnapshotsDatasetParentName: b.snapshotsDatasetParent,
      ...(usesSsh(b) ? { cli: { sudoEnabled: b.sshUser !== "root" } } : {}),
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
  if (usesSsh(b)) config.sshConnection = { host: b.host, port: 22, username: b.sshUser };
  if (nfs) {
    config.nfs = {
      shareHost: b.shareHost,
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
      targetPortal: b.targetPortal,
      targetPortals: [],
      interface: "",
      namePrefix: "csi-",
      nameSuffix: `-${clusterName}`,
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
    // The CSI driver name must be unique in the cluster: one per backend.
    csiDriver: { name: `org.democratic-csi.${b.name}` },
    storageClasses: [
      {
        name: b.name,
        defaultClass: b.default,
        reclaimPolicy: b.reclaimPolicy,
        volumeBindingMode: "Immediate",
        allowVolumeExpansion: true,
        parameters: { fsType: nfs ? "nfs" : "ext4" },
        mountOptions: nfs ? ["noatime", "nfsvers=4"] : [],
      },
    ],
    volumeSnapshotClasses: [{ name: b.name, parameters: { detachedSnapshots: "false" } }],
    driver: { config },
  };
}
