/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: "node",
  roots: ["<rootDir>/__tests__"],
  testMatch: ["**/*.test.ts"],
  ...require("./jest.transform"),
  setupFilesAfterEnv: ["<rootDir>/__tests__/setup.ts"],
  // Their own suites: `npm run test:e2e`, `npm run test:cluster`.
  testPathIgnorePatterns: [
    "/node_modules/",
    "<rootDir>/__tests__/e2e/",
    "<rootDir>/__tests__/test-cluster/",
  ],
};
