export * from "./admission";
export * from "./binaries";
export * from "./cluster";
export * from "./pki";
