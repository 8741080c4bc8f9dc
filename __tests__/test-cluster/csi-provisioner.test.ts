/**
 * A CSI driver's external-provisioner as the test cluster plays it
 * (test-cluster/csi-provisioner.ts), on a test cluster whose kube-controller-manager runs the
 * PV controller: claims of its StorageClasses get a volume and are bound; nothing else does.
 */
import type { V1PersistentVolumeClaim } from "@kubernetes/client-node";
import { CoreV1Api, StorageV1Api } from "@kubernetes/client-node";

import type { TestCluster } from "../../test-cluster/cluster";
import { startTestCluster } from "../../test-cluster/cluster";
import { ANN_PROVISIONED_BY, playCsiProvisioner } from "../../test-cluster/csi-provisioner";
import type { ReconcileLoop } from "../../test-cluster/reconcile-loop";
import { describeWithControlPlane, eventually } from "../support/test-cluster";

const START_MS = 180_000;
const SETTLE_MS = 60_000;
const DRIVER = "org.democratic-csi.truenas-nfs";

describeWithControlPlane("a CSI external-provisioner played on a test cluster", () => {
  let cluster: TestCluster;
  let core: CoreV1Api;
  let storage: StorageV1Api;
  let play: ReconcileLoop;
  const lines: string[] = [];

  const claim = (name: string, storageClassName: string): V1PersistentVolumeClaim => ({
    metadata: { name, namespace: "default" },
    spec: {
      storageClassName,
      accessModes: ["ReadWriteMany"],
      resources: { requests: { storage: "5Gi" } },
    },
  });
  const readClaim = (name: string) =>
    core.readNamespacedPersistentVolumeClaim({ name, namespace: "default" });
  const bound = (name: string) =>
    eventually(
      `claim ${name} Bound`,
      async () => {
        const c = await readClaim(name);
        return { done: c.status?.phase === "Bound", value: c, state: { status: c.status, lines } };
      },
      SETTLE_MS,
    );
  const storageClass = (name: string, provisioner: string, reclaimPolicy: string) =>
    storage.createStorageClass({
      body: {
        metadata: { name },
        provisioner,
        reclaimPolicy,
        volumeBindingMode: "Immediate",
        parameters: { fsType: "nfs" },
        mountOptions: ["noatime", "nfsvers=4"],
      },
    });

  beforeAll(async () => {
    cluster = await startTestCluster();
    core = cluster.client(CoreV1Api);
    storage = cluster.client(StorageV1Api);
    await storageClass("truenas-nfs", DRIVER, "Delete");
    await storageClass("kept", DRIVER, "Retain");
    await storageClass("elsewhere", "other.csi.example.com", "Delete");
    play = playCsiProvisioner({
      kubeConfig: cluster.kubeConfig,
      provisioners: [DRIVER],
      log: (l) => lines.push(l),
    });
  }, START_MS);

  afterAll(async () => {
    await play?.stop();
    await cluster?.stop();
  }, START_MS);

  it(
    "provisions nothing until the driver is installed, then binds its claims as csi-provisioner does",
    async () => {
      await core.createNamespacedPersistentVolumeClaim({
        namespace: "default",
        body: claim("data", "truenas-nfs"),
      });
      // The PV controller hands the claim to the class's provisioner...
      await eventually(
        "the storage-provisioner annotation",
        async () => {
          const c = await readClaim("data");
          const asked = c.metadata?.annotations?.["volume.kubernetes.io/storage-provisioner"];
          return { done: asked === DRIVER, value: asked };
        },
        SETTLE_MS,
      );
      await play.settled();
      // ...which does not run before its CSIDriver is installed.
      expect((await readClaim("data")).status?.phase).toBe("Pending");
      expect((await core.listPersistentVolume()).items).toEqual([]);
      expect(lines).toContain(`${DRIVER}: no CSIDriver, not acting`);

      await storage.createCSIDriver({ body: { metadata: { name: DRIVER }, spec: {} } });
      const c = await bound("data");
      const pv = await core.readPersistentVolume({ name: `pvc-${c.metadata?.uid}` });
      expect(c.spec?.volumeName).toBe(pv.metadata?.name);
      expect(pv.metadata?.annotations?.[ANN_PROVISIONED_BY]).toBe(DRIVER);
      expect(pv.spec).toMatchObject({
        accessModes: ["ReadWriteMany"],
        capacity: { storage: "5Gi" },
        mountOptions: ["noatime", "nfsvers=4"],
        persistentVolumeReclaimPolicy: "Delete",
        storageClassName: "truenas-nfs",
        csi: { driver: DRIVER, volumeHandle: pv.metadata?.name, fsType: "nfs" },
        claimRef: { kind: "PersistentVolumeClaim", namespace: "default", name: "data" },
      });
      expect(pv.status?.phase).toBe("Bound");
      const events = await core.listNamespacedEvent({
        namespace: "default",
        fieldSelector: "involvedObject.name=data",
      });
      expect(events.items.map((e) => e.reason)).toEqual(
        expect.arrayContaining(["Provisioning", "ProvisioningSucceeded"]),
      );
    },
    3 * SETTLE_MS,
  );

  it(
    "leaves the claims of another provisioner's class alone",
    async () => {
      await core.createNamespacedPersistentVolumeClaim({
        namespace: "default",
        body: claim("foreign", "elsewhere"),
      });
      await eventually(
        "the PV controller's annotation on foreign",
        async () => {
          const c = await readClaim("foreign");
          const asked = c.metadata?.annotations?.["volume.kubernetes.io/storage-provisioner"];
          return { done: asked !== undefined, value: asked };
        },
        SETTLE_MS,
      );
      await play.settled();
      expect((await readClaim("foreign")).status?.phase).toBe("Pending");
      expect((await core.listPersistentVolume()).items).toHaveLength(1);
    },
    SETTLE_MS + 10_000,
  );

  it(
    "deletes a released volume of class Delete, and keeps one of class Retain",
    async () => {
      await core.createNamespacedPersistentVolumeClaim({
        namespace: "default",
        body: claim("archive", "kept"),
      });
      const archive = await bound("archive");
      const data = await readClaim("data");
      for (const name of ["data", "archive"])
        await core.deleteNamespacedPersistentVolumeClaim({ name, namespace: "default" });
      await eventually(
        "the volume of data deleted",
        async () => {
          const names = (await core.listPersistentVolume()).items.map((v) => v.metadata?.name);
          return { done: !names.includes(data.spec?.volumeName), value: names, state: lines };
        },
        SETTLE_MS,
      );
      const kept = await eventually(
        "the volume of archive Released",
        async () => {
          const v = await core.readPersistentVolume({ name: archive.spec!.volumeName! });
          return { done: v.status?.phase === "Released", value: v, state: v.status };
        },
        SETTLE_MS,
      );
      expect(kept.spec?.persistentVolumeReclaimPolicy).toBe("Retain");
    },
    3 * SETTLE_MS,
  );
});
