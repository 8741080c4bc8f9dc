/**
 * The real upstream charts and the helm CLI, for tests that render what a user installs.
 *
 * Charts come from a folder of packaged charts (`UPSTREAM_CHARTS`, default the project's
 * `../shared/charts` beside the clone); where a chart is not there, `helm pull` fetches it
 * from its repository (an online machine). Neither: the test fails saying so, never a skip.
 * Unpacked charts are cached by name and version under `.toolchain/charts`.
 *
 * The helm CLI is the one `scripts/toolchain.sh` builds at the version of the Helm library
 * that the helm provider embeds, so that a render here is what a deploy renders.
 */
import { spawn, spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { stringify } from "yaml";

import { chartsDirFromEnvironment } from "../../lib/environment";

import { TOOLCHAIN_DIR, toolchainEnv, toolPath } from "./toolchain";

export const UPSTREAM_CHARTS = chartsDirFromEnvironment();
const CACHE = join(TOOLCHAIN_DIR, "charts");
let home: string | undefined;
/** A throwaway HELM_*_HOME, so that no user's repositories or cache take part. */
function helmHome(): string {
  if (home === undefined) {
    const dir = mkdtempSync(join(tmpdir(), "helm-home-"));
    process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
    home = dir;
  }
  return home;
}

function helmEnv(): NodeJS.ProcessEnv {
  return {
    ...toolchainEnv(),
    HELM_CACHE_HOME: helmHome(),
    HELM_CONFIG_HOME: helmHome(),
    HELM_DATA_HOME: helmHome(),
  };
}

function unpack(archive: string, into: string): void {
  mkdirSync(into, { recursive: true });
  const r = spawnSync("tar", ["-xzf", archive, "-C", into], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`cannot unpack ${archive}: ${r.stderr}`);
  // Sub-charts packaged as archives inside charts/: unpack them in place.
  const walk = (dir: string) => {
    const sub = join(dir, "charts");
    if (!existsSync(sub)) return;
    for (const f of readdirSync(sub)) {
      if (f.endsWith(".tgz")) {
        unpack(join(sub, f), sub);
        rmSync(join(sub, f));
      }
    }
    for (const f of readdirSync(sub)) walk(join(sub, f));
  };
  for (const f of readdirSync(into)) walk(join(into, f));
}

/**
 * The unpacked directory of an upstream chart at an exact version: from `UPSTREAM_CHARTS`,
 * else pulled from `repository`. Throws with both reasons when neither works.
 */
export function upstreamChart(chart: string, version: string, repository: string): string {
  const dir = join(CACHE, `${chart}-${version}`);
  if (existsSync(join(dir, chart, "Chart.yaml"))) return join(dir, chart);
  const staging = `${dir}.tmp-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  const archive = join(UPSTREAM_CHARTS, `${chart}-${version}.tgz`);
  if (existsSync(archive)) {
    unpack(archive, staging);
  } else {
    const ref = repository.startsWith("oci://")
      ? [`${repository}/${chart}`]
      : [chart, "--repo", repository];
    const pulled = spawnSync(
      toolPath("helm"),
      ["pull", ...ref, "--version", version, "--untar", "--untardir", staging],
      { encoding: "utf8", env: helmEnv(), timeout: 120_000 },
    );
    if (pulled.status !== 0) {
      throw new Error(
        `chart ${chart} ${version}: no ${archive} (set UPSTREAM_CHARTS to a folder of packaged charts), ` +
          `and helm pull from ${repository} failed: ${(pulled.stderr || String(pulled.error)).trim()}`,
      );
    }
  }
  // Another jest worker may have unpacked it meanwhile: keep the first, never remove a
  // chart another test may be reading.
  try {
    renameSync(staging, dir);
  } catch {
    if (existsSync(join(dir, chart, "Chart.yaml"))) {
      rmSync(staging, { recursive: true, force: true });
    } else {
      rmSync(dir, { recursive: true, force: true }); // a run that died while moving it
      renameSync(staging, dir);
    }
  }
  return join(dir, chart);
}

export interface RenderRequest {
  readonly chartDir: string;
  readonly release: string;
  readonly namespace: string;
  /** `1.35.4`: what `.Capabilities.KubeVersion` says, as on the cluster. */
  readonly kubeVersion: string;
  readonly values: Readonly<Record<string, unknown>>;
  /** Also print the chart's `crds/` files. @default false */
  readonly includeCrds?: boolean;
}

export interface RenderResult {
  readonly ok: boolean;
  readonly stdout: string;
  readonly stderr: string;
}

// At most two helm processes at once: the machines have two cores.
let running = 0;
const waiting: (() => void)[] = [];
async function slot<T>(job: () => Promise<T>): Promise<T> {
  if (running >= 2) await new Promise<void>((r) => waiting.push(r));
  running++;
  try {
    return await job();
  } finally {
    running--;
    waiting.shift()?.();
  }
}

/**
 * `helm template` with a release's values file. Not its set_sensitive entries: the CLI's
 * `--set*` flags read them otherwise than the provider does (provider-render.ts does that).
 */
export function helmTemplate(req: RenderRequest): Promise<RenderResult> {
  return slot(
    () =>
      new Promise<RenderResult>((done, fail) => {
        const dir = mkdtempSync(join(helmHome(), "render-"));
        const valuesFile = join(dir, "values.yaml");
        writeFileSync(valuesFile, stringify(req.values, { lineWidth: 0 }));
        const args = [
          "template",
          req.release,
          req.chartDir,
          "--namespace",
          req.namespace,
          "--kube-version",
          req.kubeVersion,
          "-f",
          valuesFile,
          ...(req.includeCrds ? ["--include-crds"] : []),
        ];
        const child = spawn(toolPath("helm"), args, { env: helmEnv() });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
        child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
        child.on("error", fail);
        child.on("close", (code) => {
          rmSync(dir, { recursive: true, force: true });
          done({ ok: code === 0, stdout, stderr });
        });
      }),
  );
}
