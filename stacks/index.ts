export * from "./addons-stack";
export * from "./cluster-stack";
export * from "./vms-stack";
