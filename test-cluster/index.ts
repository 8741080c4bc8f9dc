export * from "./admission";
export * from "./binaries";
export * from "./cluster";
export * from "./csi-provisioner";
export * from "./metallb";
export * from "./pki";
export * from "./reconcile-loop";
