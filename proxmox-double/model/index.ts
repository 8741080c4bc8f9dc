export { PveCluster } from "./cluster";
export { CREATE_CONTROL_PARAMS, UPDATE_CONTROL_PARAMS, parseAgent } from "./config-keys";
export { PveError } from "./errors";
export * as ha from "./ha";
export type { Faults, Params, PersistedCluster, Task, Timing, Vm, VmView, Volume } from "./types";
