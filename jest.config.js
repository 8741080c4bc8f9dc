/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: "node",
  roots: ["<rootDir>/__tests__"],
  testMatch: ["**/*.test.ts"],
  ...require("./jest.transform"),
  setupFilesAfterEnv: ["<rootDir>/__tests__/setup.ts"],
  // Two workers, also on two cores: jest's default there (cores - 1) runs every file in one
  // process, while most files wait on tofu, helm, Ansible or PostgreSQL, not on the CPU.
  // Each test has its own budget sized for a loaded machine (__tests__/test-budgets.test.ts).
  maxWorkers: 2,
  // Their own suites: `npm run test:e2e`, `npm run test:cluster`.
  testPathIgnorePatterns: [
    "/node_modules/",
    "<rootDir>/__tests__/e2e/",
    "<rootDir>/__tests__/test-cluster/",
  ],
};
