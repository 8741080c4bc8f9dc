/**
 * What each democratic-csi driver the definition accepts is: the protocol its volumes use
 * (the nodes need open-iscsi or nfs-common) and whether it also logs in to TrueNAS over SSH.
 * Derived here once; nothing else reads meaning into a driver's name.
 */
export const DEMOCRATIC_CSI_DRIVERS = {
  "freenas-iscsi": { protocol: "iscsi", ssh: true },
  "freenas-nfs": { protocol: "nfs", ssh: true },
  "freenas-api-iscsi": { protocol: "iscsi", ssh: false },
  "freenas-api-nfs": { protocol: "nfs", ssh: false },
} as const satisfies Record<string, StorageDriver>;

export interface StorageDriver {
  readonly protocol: StorageProtocol;
  /** Also connects to TrueNAS over SSH (needs a private key). */
  readonly ssh: boolean;
}

export type StorageProtocol = "iscsi" | "nfs";
export type DemocraticCsiDriver = keyof typeof DEMOCRATIC_CSI_DRIVERS;
export const DEMOCRATIC_CSI_DRIVER_NAMES = Object.keys(DEMOCRATIC_CSI_DRIVERS) as [
  DemocraticCsiDriver,
  ...DemocraticCsiDriver[],
];

/** The facts of one driver. */
export function storageDriver(driver: DemocraticCsiDriver): StorageDriver {
  return DEMOCRATIC_CSI_DRIVERS[driver];
}

/** A storage backend's settings that its driver needs. */
export interface StorageBackendSettings {
  readonly driver: DemocraticCsiDriver;
  readonly targetPortal?: string;
  readonly shareHost?: string;
}

/** What the backend's driver needs and lacks: the field, and `problem; fix`. */
export function storageBackendProblems(
  backend: StorageBackendSettings,
): { readonly field: "targetPortal" | "shareHost"; readonly message: string }[] {
  const { protocol } = storageDriver(backend.driver);
  if (protocol === "iscsi" && backend.targetPortal === undefined)
    return [
      {
        field: "targetPortal",
        message: `the ${backend.driver} driver needs the iSCSI portal; add targetPortal: HOST:3260`,
      },
    ];
  if (protocol === "nfs" && backend.shareHost === undefined)
    return [
      {
        field: "shareHost",
        message: `the ${backend.driver} driver needs the NFS server; add shareHost: ADDRESS`,
      },
    ];
  return [];
}
