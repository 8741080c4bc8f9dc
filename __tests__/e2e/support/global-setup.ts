/**
 * Runs once before the end-to-end suites: compiles the runner (`npm run build:runner`,
 * `dist/runner/cli.js`), which the stacks' local-exec provisioners call, so a suite never
 * runs a stale build, and the app (`npm run build:app`, dist/app), which cdktf.json's app
 * command (scripts/launch.js) runs compiled when it is fresh.
 */
import { spawnSync } from "node:child_process";
import { resolve } from "node:path";

export default function globalSetup(): void {
  const root = resolve(__dirname, "..", "..", "..");
  for (const script of ["build:runner", "build:app"]) {
    const build = spawnSync("npm", ["run", "--silent", script], {
      cwd: root,
      encoding: "utf8",
      timeout: 300_000,
    });
    if (build.status !== 0) {
      throw new Error(
        `npm run ${script} failed (exit ${build.status}):\n${build.stdout}${build.stderr}`,
      );
    }
  }
}
