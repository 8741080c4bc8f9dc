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
