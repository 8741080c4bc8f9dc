import { Testing } from "cdktf";

import { parseClusterConfig } from "../../config/load";
import type { DemocraticCsiBackend } from "../../config/schema";
import { DemocraticCsi } from "../../constructs/democratic-csi";
import { resolveChart } from "../../lib/charts";
import { homelab } from "../fixtures/definitions";
import { release } from "../support/releases";

const backends = parseClusterConfig(homelab()).config.addons.storage!.democraticCsi;
const [iscsi, nfs] = backends;

function synth(backend: DemocraticCsiBackend, ssh: string | null = "SSH_TOKEN") {
  return Testing.synthScope((scope) => {
    new DemocraticCsi(scope, "Csi", {
      backend,
      clusterName: "kspray",
      chart: resolveChart("democratic-csi", undefined),
      apiKey: "API_TOKEN",
      sshPrivateKey: ssh ?? undefined,
    });
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
      httpConnection: { protocol: "https", host: "truenas.home.lan", port: 443 },
      sshConnection: { host: "truenas.home.lan", username: "root" },
      zfs: {
        datasetParentName: "tank/k8s/kspray/iscsi",
        detachedSnapshotsDatasetParentName: "tank/k8s/kspray/iscsi-snapshots",
      },
      iscsi: { targetPortal: "10.10.20.5:3260", nameSuffix: "-kspray" },
    });
    expect(config.nfs).toBeUndefined();
  });

  it("configures the NFS driver with the share host, as a non-default class", () => {
    const v = release(synth(nfs), "truenas-nfs").parsedValues;
    expect(v.storageClasses[0]).toMatchObject({
      defaultClass: false,
      parameters: { fsType: "nfs" },
    });
    expect(v.driver.config.nfs.shareHost).toBe("10.10.20.5");
    expect(v.driver.config.iscsi).toBeUndefined();
  });

  it("passes the API and SSH keys only through set_sensitive", () => {
    const r = release(synth(iscsi), "truenas-iscsi");
    expect(r.set_sensitive).toEqual([
      { name: "driver.config.httpConnection.apiKey", value: "API_TOKEN", type: "literal" },
      { name: "driver.config.sshConnection.privateKey", value: "SSH_TOKEN", type: "literal" },
    ]);
    expect(JSON.stringify(r.parsedValues)).not.toMatch(/API_TOKEN|SSH_TOKEN/);
  });

  it("has no SSH connection for the API drivers", () => {
    const api: DemocraticCsiBackend = { ...nfs, name: "api-nfs", driver: "freenas-api-nfs" };
    const r = release(synth(api, null), "api-nfs");
    expect(r.parsedValues.driver.config.sshConnection).toBeUndefined();
    expect(r.set_sensitive?.map((s) => s.name)).toEqual(["driver.config.httpConnection.apiKey"]);
  });

  it("rejects an SSH driver without an SSH key", () => {
    expect(() => synth(iscsi, null)).toThrow(
      "storage backend truenas-iscsi: the freenas-iscsi driver needs an SSH private key",
    );
  });
});
