/**
 * End-to-end suites (`npm run test:e2e`): the real cdktf CLI and OpenTofu against the
 * Proxmox VE API double. One file at a time (each drives tofu and a double, on few cores),
 * with timeouts sized for real deploys.
 */
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: "node",
  roots: ["<rootDir>/__tests__/e2e"],
  testMatch: ["**/*.e2e.test.ts"],
  ...require("./jest.transform"),
  setupFilesAfterEnv: ["<rootDir>/__tests__/setup.ts"],
  globalSetup: "<rootDir>/__tests__/e2e/support/global-setup.ts",
  maxWorkers: 1,
  testTimeout: 600_000,
  slowTestThreshold: 120,
};
