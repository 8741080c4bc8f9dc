// @ts-check
/**
 * Starts one of the project's TypeScript entry points (the cdktf app `main.ts`,
 * `scripts/review.ts`, `scripts/status.ts`) compiled, from dist/app/ (`npm run build:app`,
 * also run by `npm install`), when that build is newer than every TypeScript source;
 * otherwise from the sources through tsx, saying so on stderr, so that an edited source
 * never runs stale. Compiled, a synth takes about half the time: through tsx every module,
 * node_modules included, passes its loader hooks, and the source maps it turns on make
 * each stack trace cdktf captures (one per attribute block of every resource) costly.
 *
 *   node scripts/launch.js main.ts [ARGS...]
 *   node scripts/launch.js --stamp          (the build's last step: marks it complete)
 *
 * Plain JavaScript: it must run before anything is compiled.
 */
"use strict";
const { spawnSync } = require("node:child_process");
const { existsSync, readdirSync, statSync, writeFileSync } = require("node:fs");
const Module = require("node:module");
const { join } = require("node:path");

const ROOT = join(__dirname, "..");
/** Where `npm run build:app` (tsconfig.app.json) compiles to. */
const APP_DIR = join(ROOT, "dist", "app");
/** Written once the build has compiled everything: its time is the build's. */
const STAMP = ".built";
/**
 * Everything the build compiles, and the configs it compiles with; a test holds this list
 * to the files tsc reads for tsconfig.app.json.
 */
const SOURCES = [
  "main.ts",
  "config",
  "errors",
  "constructs",
  "stacks",
  "lib",
  "kubespray-vars",
  ".gen",
  "scripts",
  "preflight",
  "runner",
  "bench/empty-app.ts",
  "tsconfig.json",
  "tsconfig.app.json",
];

/**
 * The newest modification time of the TypeScript files and JSON configs under `path`.
 * @param {string} path
 * @returns {number}
 */
function newest(path) {
  if (!existsSync(path)) return 0;
  const stat = statSync(path);
  if (!stat.isDirectory()) return /\.(ts|json)$/.test(path) ? stat.mtimeMs : 0;
  let time = 0;
  for (const entry of readdirSync(path)) time = Math.max(time, newest(join(path, entry)));
  return time;
}

/**
 * Whether the build in `appDir` is complete and newer than every source under `root`.
 * @param {string} root
 * @param {string} appDir
 * @returns {boolean}
 */
function isFresh(root, appDir) {
  const stamp = join(appDir, STAMP);
  if (!existsSync(stamp)) return false;
  const built = statSync(stamp).mtimeMs;
  return SOURCES.every((source) => newest(join(root, source)) <= built);
}

/**
 * Runs `entry` (a path relative to the project, e.g. `main.ts`) with `args`.
 * @param {string} entry
 * @param {string[]} args
 */
function launch(entry, args) {
  const compiled = join(APP_DIR, entry.replace(/\.ts$/, ".js"));
  if (isFresh(ROOT, APP_DIR) && existsSync(compiled)) {
    // As `node compiled.js ARGS...`: the module is the main one (`require.main === module`).
    process.argv = [process.argv[0], compiled, ...args];
    Module.runMain();
    return;
  }
  process.stderr.write(
    `${entry}: dist/app is missing or older than the sources; running from source ` +
      "(npm run build:app makes it start faster)\n",
  );
  const run = spawnSync(process.execPath, ["--import", "tsx", join(ROOT, entry), ...args], {
    stdio: "inherit",
  });
  if (run.signal) process.kill(process.pid, run.signal);
  process.exit(run.status ?? 1);
}

if (require.main === module) {
  const [entry, ...args] = process.argv.slice(2);
  if (entry === "--stamp") writeFileSync(join(APP_DIR, STAMP), `${new Date().toISOString()}\n`);
  else if (entry) launch(entry, args);
  else {
    process.stderr.write("usage: node scripts/launch.js ENTRY.ts [ARGS...]\n");
    process.exit(2);
  }
}

module.exports = { SOURCES, STAMP, isFresh, newest };
