/**
 * Runs once before the end-to-end suites: compiles the runner (`npm run build:runner`,
 * `dist/runner/cli.js`), which the stacks' local-exec provisioners call, so a suite never
 * runs a stale build.
 */
import { spawnSync } from "node:child_process";
import { resolve } from "node:path";

export default function globalSetup(): void {
  const root = resolve(__dirname, "..", "..", "..");
  const build = spawnSync("npm", ["run", "--silent", "build:runner"], {
    cwd: root,
    encoding: "utf8",
    timeout: 300_000,
  });
  if (build.status !== 0) {
    throw new Error(
      `npm run build:runner failed (exit ${build.status}):\n${build.stdout}${build.stderr}`,
    );
  }
}
