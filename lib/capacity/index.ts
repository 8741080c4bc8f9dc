export * from "./check";
export * from "./nodes";
export * from "./placement";
export * from "./workloads";
