/**
 * A CSI driver's external-provisioner sidecar, played on the test cluster, where the
 * driver's controller pod does not run (democratic-csi's chart runs csi-provisioner v3.6.0,
 * with `sig-storage-lib-external-provisioner` v9's controller). As it does, and no more:
 *
 * - it provisions only for the provisioner names it plays, and only while that CSI driver is
 *   installed (its `CSIDriver` object exists);
 * - a claim is its own when the PV controller (kube-controller-manager, which runs here) has
 *   annotated it `volume.kubernetes.io/storage-provisioner: <name>`, it is not bound, its
 *   StorageClass names the same provisioner, and, for `WaitForFirstConsumer`, the scheduler
 *   has picked a node (`volume.kubernetes.io/selected-node`);
 * - the PersistentVolume it creates is the one csi-provisioner creates: named
 *   `pvc-<claim uid>`, `pv.kubernetes.io/provisioned-by`, the claim's size, access modes and
 *   volume mode, the class's reclaim policy and mount options, `spec.csi` with the driver,
 *   the volume handle (democratic-csi's volume id is the volume's name), the class's
 *   `fstype` and the provisioner's identity, and a `claimRef` to the claim. The PV
 *   controller then binds the two, as on a real cluster;
 * - a Released volume of its own with reclaim policy `Delete` is deleted.
 *
 * Claims from a snapshot or another claim (`dataSource`) and claims with a `selector` are
 * refused with csi-provisioner's events. Nothing is stored anywhere: no volume exists.
 */
import type {
  KubeConfig,
  V1PersistentVolume,
  V1PersistentVolumeClaim,
  V1StorageClass,
} from "@kubernetes/client-node";
import { CoreV1Api, StorageV1Api } from "@kubernetes/client-node";

import { recordEvent } from "./events";
import { ReconcileLoop } from "./reconcile-loop";

const ANN_STORAGE_PROVISIONER = "volume.kubernetes.io/storage-provisioner";
const ANN_BETA_STORAGE_PROVISIONER = "volume.beta.kubernetes.io/storage-provisioner";
const ANN_SELECTED_NODE = "volume.kubernetes.io/selected-node";
export const ANN_PROVISIONED_BY = "pv.kubernetes.io/provisioned-by";
const ANN_DELETION_SECRET_NAME = "volume.kubernetes.io/provisioner-deletion-secret-name";
const ANN_DELETION_SECRET_NAMESPACE = "volume.kubernetes.io/provisioner-deletion-secret-namespace";
const PROVISIONER_IDENTITY = "storage.kubernetes.io/csiProvisionerIdentity";
const PREFIXED_FSTYPE = "csi.storage.k8s.io/fstype";

/** What the provisioner decides for a claim. */
export type ClaimDecision =
  | { readonly action: "provision"; readonly volume: V1PersistentVolume }
  | { readonly action: "refuse"; readonly message: string }
  | { readonly action: "ignore"; readonly why: string };

/** Whether `provisioner` provisions `claim` of `storageClass`, and the volume it creates. */
export function decideClaim(
  claim: V1PersistentVolumeClaim,
  storageClass: V1StorageClass | undefined,
  provisioner: string,
  identity: string,
): ClaimDecision {
  const meta = claim.metadata ?? {};
  const annotations = meta.annotations ?? {};
  const asked = annotations[ANN_STORAGE_PROVISIONER] ?? annotations[ANN_BETA_STORAGE_PROVISIONER];
  if (asked !== provisioner) return { action: "ignore", why: "not this provisioner's claim" };
  if ((claim.spec?.volumeName ?? "") !== "") return { action: "ignore", why: "bound already" };
  if (storageClass === undefined)
    return { action: "ignore", why: `no StorageClass ${claim.spec?.storageClassName}` };
  if (storageClass.provisioner !== provisioner)
    return { action: "ignore", why: "its StorageClass names another provisioner" };
  if (storageClass.volumeBindingMode === "WaitForFirstConsumer" && !annotations[ANN_SELECTED_NODE])
    return { action: "ignore", why: "waiting for its first consumer to be scheduled" };
  if (claim.spec?.selector) return { action: "refuse", message: "claim Selector is not supported" };
  if (claim.spec?.dataSource || claim.spec?.dataSourceRef)
    return {
      action: "refuse",
      message: "volumes from a snapshot or another claim are not played on the test cluster",
    };
  const fsTypes = Object.entries(storageClass.parameters ?? {}).filter(
    ([k]) => k.toLowerCase() === "fstype" || k === PREFIXED_FSTYPE,
  );
  if (fsTypes.length > 1)
    return {
      action: "refuse",
      message: `fstype specified in parameters with both "fstype" and "${PREFIXED_FSTYPE}" keys`,
    };
  const name = `pvc-${meta.uid}`;
  const block = claim.spec?.volumeMode === "Block";
  return {
    action: "provision",
    volume: {
      apiVersion: "v1",
      kind: "PersistentVolume",
      metadata: {
        name,
        annotations: {
          [ANN_PROVISIONED_BY]: provisioner,
          [ANN_DELETION_SECRET_NAME]: "",
          [ANN_DELETION_SECRET_NAMESPACE]: "",
        },
      },
      spec: {
        accessModes: claim.spec?.accessModes,
        mountOptions: storageClass.mountOptions,
        capacity: { storage: claim.spec?.resources?.requests?.storage ?? "0" },
        csi: {
          driver: provisioner,
          volumeHandle: name,
          volumeAttributes: { [PROVISIONER_IDENTITY]: identity },
          ...(block || fsTypes.length === 0 ? {} : { fsType: fsTypes[0][1] }),
        },
        persistentVolumeReclaimPolicy: storageClass.reclaimPolicy ?? "Delete",
        storageClassName: storageClass.metadata?.name,
        volumeMode: claim.spec?.volumeMode,
        claimRef: {
          kind: "PersistentVolumeClaim",
          apiVersion: "v1",
          namespace: meta.namespace,
          name: meta.name,
          uid: meta.uid,
          resourceVersion: meta.resourceVersion,
        },
      },
    },
  };
}

/** Whether `provisioner` deletes `volume`: its own, Released, reclaim policy Delete. */
export function shouldDelete(volume: V1PersistentVolume, provisioner: string): boolean {
  return (
    volume.metadata?.annotations?.[ANN_PROVISIONED_BY] === provisioner &&
    volume.status?.phase === "Released" &&
    volume.spec?.persistentVolumeReclaimPolicy === "Delete"
  );
}

export interface CsiProvisionerPlayOptions {
  /** The test cluster's admin client configuration. */
  readonly kubeConfig: KubeConfig;
  /** The CSI driver names it provisions for, e.g. `org.democratic-csi.truenas-nfs`. */
  readonly provisioners: readonly string[];
  /** Where the play says what it does. @default - nowhere */
  readonly log?: (line: string) => void;
}

/** Starts playing the external-provisioner of `provisioners`; `stop()` ends it. */
export function playCsiProvisioner(options: CsiProvisionerPlayOptions): ReconcileLoop {
  const log = options.log ?? (() => undefined);
  const core = options.kubeConfig.makeApiClient(CoreV1Api);
  const storage = options.kubeConfig.makeApiClient(StorageV1Api);
  // csi-provisioner's identity: start time, a random number, the driver name.
  const started = Date.now();
  const identities = new Map(
    options.provisioners.map((p) => [p, `${started}-${Math.floor(Math.random() * 10000)}-${p}`]),
  );
  const said = new Map<string, string>();
  const sayOnce = (about: string, line: string) => {
    if (said.get(about) === line) return false;
    said.set(about, line);
    log(line);
    return true;
  };

  const reconcile = async () => {
    const drivers = new Set((await storage.listCSIDriver()).items.map((d) => d.metadata?.name));
    const playing = options.provisioners.filter((p) => drivers.has(p));
    for (const p of options.provisioners)
      sayOnce(
        p,
        `${p}: ${drivers.has(p) ? "installed, provisioning" : "no CSIDriver, not acting"}`,
      );
    if (playing.length === 0) return;
    const classes = new Map(
      (await storage.listStorageClass()).items.map((c) => [c.metadata?.name ?? "", c]),
    );
    const volumes = (await core.listPersistentVolume()).items;
    const existing = new Set(volumes.map((v) => v.metadata?.name));
    for (const claim of (await core.listPersistentVolumeClaimForAllNamespaces()).items) {
      const key = `${claim.metadata?.namespace}/${claim.metadata?.name}`;
      for (const provisioner of playing) {
        const sc = classes.get(claim.spec?.storageClassName ?? "");
        const decision = decideClaim(claim, sc, provisioner, identities.get(provisioner)!);
        if (decision.action === "ignore") continue;
        const claimRef = { ...claim, kind: "PersistentVolumeClaim" };
        const component = `${provisioner}_${identities.get(provisioner)}`;
        if (decision.action === "refuse") {
          if (sayOnce(key, `${key}: ProvisioningFailed: ${decision.message}`))
            await recordEvent(core, claimRef, {
              type: "Warning",
              reason: "ProvisioningFailed",
              message: decision.message,
              component,
            });
          continue;
        }
        const name = decision.volume.metadata!.name!;
        if (existing.has(name)) continue;
        await recordEvent(core, claimRef, {
          type: "Normal",
          reason: "Provisioning",
          message: `External provisioner is provisioning volume for claim ${JSON.stringify(key)}`,
          component,
        });
        await core.createPersistentVolume({ body: decision.volume });
        existing.add(name);
        log(`${key}: provisioned ${name}`);
        await recordEvent(core, claimRef, {
          type: "Normal",
          reason: "ProvisioningSucceeded",
          message: `Successfully provisioned volume ${name}`,
          component,
        });
      }
    }
    for (const volume of volumes) {
      const name = volume.metadata?.name ?? "";
      if (!playing.some((p) => shouldDelete(volume, p))) continue;
      await core.deletePersistentVolume({ name }).catch((e: { code?: number }) => {
        if (e.code !== 404) throw e;
      });
      log(`deleted ${name}, released with reclaim policy Delete`);
    }
  };

  return ReconcileLoop.start({
    kubeConfig: options.kubeConfig,
    watchPaths: [
      "/api/v1/persistentvolumeclaims",
      "/api/v1/persistentvolumes",
      "/apis/storage.k8s.io/v1/storageclasses",
      "/apis/storage.k8s.io/v1/csidrivers",
    ],
    reconcile,
    log,
  });
}
