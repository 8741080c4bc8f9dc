/**
 * scripts/launch.js: the compiled app (dist/app, `npm run build:app`) synthesizes exactly
 * what the sources do, and it is used only while it is newer than every source it is made
 * of.
 */
import { spawnSync } from "node:child_process";
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, sep } from "node:path";

import { CLOUD_FILE, HOMELAB_FILE } from "../fixtures/definitions";
import { REPO_ROOT } from "../support/toolchain";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const launch = require("../../scripts/launch.js") as {
  SOURCES: string[];
  STAMP: string;
  isFresh(root: string, appDir: string): boolean;
};

const TSC = join(REPO_ROOT, "node_modules", "typescript", "bin", "tsc");

describe("scripts/launch.js", () => {
  jest.setTimeout(300_000);

  it("watches every project file the build compiles", () => {
    const list = spawnSync(process.execPath, [TSC, "-p", "tsconfig.app.json", "--listFilesOnly"], {
      cwd: REPO_ROOT,
      encoding: "utf8",
    });
    expect(list.status).toBe(0);
    const compiled = list.stdout
      .split("\n")
      .filter((f) => f.startsWith(REPO_ROOT) && !f.includes(`${sep}node_modules${sep}`))
      .map((f) => relative(REPO_ROOT, f));
    expect(compiled).toContain("main.ts");
    const unwatched = compiled.filter(
      (f) => !launch.SOURCES.some((s) => f === s || f.startsWith(`${s}/`)),
    );
    expect(unwatched).toEqual([]);
  });

  it("takes the build as fresh only while no source is newer than its stamp", () => {
    const root = mkdtempSync(join(tmpdir(), "launch-"));
    const app = join(root, "dist", "app");
    mkdirSync(join(root, "lib", "kubespray"), { recursive: true });
    mkdirSync(app, { recursive: true });
    const source = join(root, "lib", "kubespray", "planner.ts");
    const notes = join(root, "lib", "notes.md");
    writeFileSync(source, "export {};\n");
    writeFileSync(notes, "not compiled\n");
    const at = (file: string, seconds: number) => utimesSync(file, seconds, seconds);
    at(source, 1000);
    expect(launch.isFresh(root, app)).toBe(false); // never built
    writeFileSync(join(app, launch.STAMP), "built\n");
    at(join(app, launch.STAMP), 2000);
    expect(launch.isFresh(root, app)).toBe(true);
    at(notes, 3000); // not a source
    expect(launch.isFresh(root, app)).toBe(true);
    at(source, 3000); // edited after the build
    expect(launch.isFresh(root, app)).toBe(false);
    writeFileSync(join(root, "tsconfig.json"), "{}\n"); // the compiler options changed
    at(source, 1000);
    at(join(root, "tsconfig.json"), 3000);
    expect(launch.isFresh(root, app)).toBe(false);
  });

  describe("the compiled app", () => {
    beforeAll(() => {
      const build = spawnSync("npm", ["run", "--silent", "build:app"], {
        cwd: REPO_ROOT,
        encoding: "utf8",
      });
      if (build.status !== 0) throw new Error(build.stdout + build.stderr);
    });

    /** Every stack's cdk.tf.json, synthesized by `args` for `definition` into `out`. */
    const synth = (args: string[], definition: string, out: string): Record<string, string> => {
      rmSync(out, { recursive: true, force: true });
      const run = spawnSync(process.execPath, args, {
        cwd: REPO_ROOT,
        encoding: "utf8",
        env: {
          ...process.env,
          CHECKPOINT_DISABLE: "1",
          CLUSTER_CONFIG: definition,
          CDKTF_OUTDIR: out,
          STATE_DIR: join(out, "state"),
        },
      });
      if (run.status !== 0) throw new Error(`${args.join(" ")}: ${run.stdout}${run.stderr}`);
      expect(run.stderr).toBe(""); // compiled: no notice
      const stacks = join(out, "stacks");
      return Object.fromEntries(
        readdirSync(stacks).map((s) => [s, readFileSync(join(stacks, s, "cdk.tf.json"), "utf8")]),
      );
    };

    it.each([
      ["homelab", HOMELAB_FILE],
      ["cloud-cluster", CLOUD_FILE],
    ])("synthesizes %s exactly as the sources do", (_, definition) => {
      // The same output folder and state directory: they are written into the stacks.
      const out = join(mkdtempSync(join(tmpdir(), "launch-out-")), "out");
      const compiled = synth([join(REPO_ROOT, "scripts", "launch.js"), "main.ts"], definition, out);
      expect(Object.keys(compiled).sort()).toEqual(["addons", "cluster", "vms"]);
      const sources = synth(["--import", "tsx", join(REPO_ROOT, "main.ts")], definition, out);
      expect(compiled).toEqual(sources);
    });
  });
});
