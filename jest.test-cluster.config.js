/**
 * The test cluster's suite (`npm run test:cluster`): a real control plane on loopback
 * (test-cluster/, built by scripts/toolchain.sh), and the stand-in Kubespray registering
 * nodes in it. One file at a time: each starts its own cluster on few cores.
 */
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: "node",
  roots: ["<rootDir>/__tests__/test-cluster"],
  testMatch: ["**/*.test.ts"],
  ...require("./jest.transform"),
  setupFilesAfterEnv: ["<rootDir>/__tests__/setup.ts"],
  maxWorkers: 1,
  slowTestThreshold: 60,
};
