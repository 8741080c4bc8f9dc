import { Testing } from "cdktf";

import type { DemocraticCsiProps } from "../../constructs/democratic-csi";
import { DemocraticCsi } from "../../constructs/democratic-csi";
import { resolveChart } from "../../lib/charts";
import { release } from "../support/releases";

const common = {
  host: "truenas.home.lan",
  apiKey: "API_TOKEN",
  clusterName: "kspray",
  chart: resolveChart("democratic-csi", undefined),
};
const iscsi: DemocraticCsiProps = {
  ...common,
  name: "truenas-iscsi",
  driver: "freenas-iscsi",
  ssh: { user: "root", privateKey: "SSH_TOKEN" },
  datasetParent: "tank/k8s/kspray/iscsi",
  snapshotsDatasetParent: "tank/k8s/kspray/iscsi-snapshots",
  targetPortal: "10.10.20.5:3260",
  defaultClass: true,
};
const nfs: DemocraticCsiProps = {
  ...common,
  name: "truenas-nfs",
  driver: "freenas-nfs",
  ssh: { user: "csi", privateKey: "SSH_TOKEN" },
  datasetParent: "tank/k8s/kspray/nfs",
  snapshotsDatasetParent: "tank/k8s/kspray/nfs-snapshots",
  shareHost: "10.10.20.5",
};

function synth(props: DemocraticCsiProps) {
  return Testing.synthScope((scope) => {
    new DemocraticCsi(scope, "Csi", props);
  });
}

describe("DemocraticCsi", () => {
  it("makes a default StorageClass and a snapshot class named after the backend", () => {
    const v = release(synth(iscsi), "truenas-iscsi").parsedValues;
    expect(v.storageClasses).toHaveLength(1);
    expect(v.storageClasses[0]).toMatchObject({
      name: "truenas-iscsi",
      defaultClass: true,
      reclaimPolicy: "Delete",
      parameters: { fsType: "ext4" },
    });
    expect(v.volumeSnapshotClasses[0].name).toBe("truenas-iscsi");
    expect(v.csiDriver.name).toBe("org.democratic-csi.truenas-iscsi");
  });

  it("configures the iSCSI driver with the portal, datasets and a per-cluster suffix", () => {
    const config = release(synth(iscsi), "truenas-iscsi").parsedValues.driver.config;
    expect(config).toMatchObject({
      driver: "freenas-iscsi",
      instance_id: "kspray-truenas-iscsi",
      httpConnection: { protocol: "https", host: "truenas.home.lan", port: 443 },
      sshConnection: { host: "truenas.home.lan", username: "root" },
      zfs: {
        datasetParentName: "tank/k8s/kspray/iscsi",
        detachedSnapshotsDatasetParentName: "tank/k8s/kspray/iscsi-snapshots",
        cli: { sudoEnabled: false },
      },
      iscsi: { targetPortal: "10.10.20.5:3260", nameSuffix: "-kspray" },
    });
    expect(config.nfs).toBeUndefined();
  });

  it("configures the NFS driver with the share host, as a non-default class, sudo for a non-root user", () => {
    const v = release(synth(nfs), "truenas-nfs").parsedValues;
    expect(v.storageClasses[0]).toMatchObject({
      defaultClass: false,
      parameters: { fsType: "nfs" },
    });
    expect(v.driver.config.nfs.shareHost).toBe("10.10.20.5");
    expect(v.driver.config.zfs.cli).toEqual({ sudoEnabled: true });
    expect(v.driver.config.iscsi).toBeUndefined();
  });

  it("passes the API and SSH keys only through set_sensitive", () => {
    const r = release(synth(iscsi), "truenas-iscsi");
    expect(r.set_sensitive).toEqual([
      {
        name: "driver.config.httpConnection.apiKey",
        value: expect.stringMatching(/^\$\{replace\("API_TOKEN", /),
        type: "string",
      },
      {
        name: "driver.config.sshConnection.privateKey",
        value: expect.stringMatching(/^\$\{replace\("SSH_TOKEN", /),
        type: "string",
      },
    ]);
    expect(JSON.stringify(r.parsedValues)).not.toMatch(/API_TOKEN|SSH_TOKEN/);
  });

  it("has no SSH connection without an SSH login (the API drivers)", () => {
    const api: DemocraticCsiProps = {
      ...nfs,
      name: "api-nfs",
      driver: "freenas-api-nfs",
      ssh: undefined,
    };
    const r = release(synth(api), "api-nfs");
    expect(r.parsedValues.driver.config.sshConnection).toBeUndefined();
    expect(r.parsedValues.driver.config.zfs.cli).toBeUndefined();
    expect(r.set_sensitive?.map((s) => s.name)).toEqual(["driver.config.httpConnection.apiKey"]);
  });

  it("rejects a driver without what it needs: the iSCSI portal, the NFS server, the SSH login", () => {
    expect(() => synth({ ...iscsi, targetPortal: undefined })).toThrow(
      "stack/Csi.targetPortal: the freenas-iscsi driver needs the iSCSI portal; add targetPortal: HOST:3260",
    );
    expect(() => synth({ ...nfs, shareHost: undefined })).toThrow(
      "stack/Csi.shareHost: the freenas-nfs driver needs the NFS server; add shareHost: ADDRESS",
    );
    expect(() => synth({ ...nfs, ssh: undefined })).toThrow(
      /^stack\/Csi\.ssh: none, and the freenas-nfs driver logs in to TrueNAS over SSH; /,
    );
  });
});
