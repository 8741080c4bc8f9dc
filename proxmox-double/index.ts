export * from "./model";
export * from "./seed";
export * from "./server";
