/**
 * End-to-end suites (`npm run test:e2e`): the real cdktf CLI and OpenTofu against the
 * Proxmox VE API double, with timeouts sized for real deploys. Two files at a time: a file
 * keeps one core busy less than 90% of its run (vms.e2e: 132 s of CPU in 153 s), mostly
 * waiting on tofu, the double's task windows and the stand-in Kubespray, and every file
 * has its own double, ports (0 = any free one), state, output and TMPDIR.
 */
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: "node",
  roots: ["<rootDir>/__tests__/e2e"],
  testMatch: ["**/*.e2e.test.ts"],
  ...require("./jest.transform"),
  setupFilesAfterEnv: ["<rootDir>/__tests__/setup.ts"],
  globalSetup: "<rootDir>/__tests__/e2e/support/global-setup.ts",
  maxWorkers: 2,
  testTimeout: 600_000,
  slowTestThreshold: 120,
};
