/**
 * Every helm_release of a definition's addons stack rendered with `helm template`, once:
 * the stack is synthesized in a scratch folder (as `cdktf synth` writes it, our own charts
 * copied into it), and each release is rendered by the helm CLI from its pinned chart
 * archive in a folder of packaged charts (`<chart>-<version>.tgz`, as `helm package`
 * names them) or from its chart directory, with the values the stack passes, for the
 * cluster's Kubernetes version, without a cluster and without the network.
 *
 * The secrets of `set_sensitive` are not needed to know what a release runs: each path is
 * given a placeholder string. Test hooks are left out (no deploy runs `helm test`).
 */
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, isAbsolute, join, resolve } from "node:path";

import { App } from "cdktf";

import { readNamedFiles } from "../../config/named-files";
import type { ClusterConfig } from "../../config/schema";
import { UserError } from "../../errors/user-error";
import { kubernetesVersion } from "../../kubespray-vars/vars";
import { AddonsStack } from "../../stacks/addons-stack";

import type { RenderedRelease } from "./check";

interface StackRelease {
  readonly name: string;
  readonly namespace: string;
  readonly chart: string;
  readonly repository?: string;
  readonly version?: string;
  readonly values?: readonly string[];
  readonly set_sensitive?: readonly { readonly name: string }[];
}

export type RenderOutcome =
  | { readonly ok: true; readonly releases: readonly RenderedRelease[] }
  | {
      readonly ok: false;
      /** Why nothing was rendered: the helm CLI or the chart archive that is missing. */
      readonly reason: string;
    };

export interface RenderOptions {
  /** The helm CLI (`.toolchain/bin/helm`). */
  readonly helm: string;
  /** The folder of packaged charts (`<chart>-<version>.tgz`). */
  readonly chartsDir: string;
  /** Where the definition's relative paths start (local chart overrides, CA bundles). */
  readonly baseDir: string;
  /** The environment helm runs in (its HELM_*_HOME are set to a scratch folder). */
  readonly env: NodeJS.ProcessEnv;
  /** How long one release's render may take. @default 300_000 */
  readonly timeoutMs?: number;
}

/** What a placeholder secret says, should a chart print it somewhere. */
const PLACEHOLDER = "not-a-secret-capacity-check";

/** The addons stack's releases, synthesized into `outDir`, with the stack's folder. */
function synthReleases(config: ClusterConfig, baseDir: string, outDir: string) {
  const app = new App({ outdir: outDir });
  new AddonsStack(app, "addons", {
    config,
    stateDir: join(outDir, "state"),
    kubeconfigPath: join(outDir, "state", "kubeconfig"),
    baseDir,
    vaultCaBundles: readNamedFiles(config, baseDir).vaultCaBundles,
  });
  app.synth();
  const dir = join(outDir, "stacks", "addons");
  const json = JSON.parse(readFileSync(join(dir, "cdk.tf.json"), "utf8")) as {
    resource?: { helm_release?: Record<string, StackRelease> };
  };
  return { dir, releases: Object.values(json.resource?.helm_release ?? {}) };
}

function helmTemplate(helm: string, args: readonly string[], env: NodeJS.ProcessEnv, ms: number) {
  return new Promise<{ status: number; stdout: string; stderr: string }>((done) => {
    execFile(
      helm,
      args,
      { env, timeout: ms, maxBuffer: 256 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (!error) return done({ status: 0, stdout, stderr });
        const why = error.killed ? `took longer than ${ms} ms` : stderr.trim() || error.message;
        done({ status: 1, stdout, stderr: why });
      },
    );
  });
}

/** Renders every release of the definition's addons stack (see the module's comment). */
export async function renderAddonReleases(
  config: ClusterConfig,
  opts: RenderOptions,
): Promise<RenderOutcome> {
  if (!existsSync(opts.helm)) {
    return { ok: false, reason: `no helm CLI at ${opts.helm} (npm run toolchain builds it)` };
  }
  const work = mkdtempSync(join(tmpdir(), "addons-capacity-"));
  try {
    let stack: ReturnType<typeof synthReleases>;
    try {
      stack = synthReleases(config, opts.baseDir, join(work, "out"));
    } catch (e) {
      // A file the definition names (a CA bundle, a local chart) that is not there: the
      // deploy says so; here it only means nothing can be rendered.
      if (!(e instanceof UserError)) throw e;
      return { ok: false, reason: `the addons stack cannot be synthesized: ${e.message}` };
    }
    const charts = stack.releases.map((r) => {
      if (r.repository === undefined) {
        return isAbsolute(r.chart) ? r.chart : resolve(stack.dir, r.chart);
      }
      return join(opts.chartsDir, `${r.chart}-${r.version}.tgz`);
    });
    const missing = [...new Set(charts.filter((chart) => !existsSync(chart)))];
    if (missing.length > 0) {
      const names = missing.map((c) => basename(c)).join(", ");
      return { ok: false, reason: `${opts.chartsDir} does not hold ${names}` };
    }
    const home = join(work, "helm");
    const env = {
      ...opts.env,
      HELM_CACHE_HOME: home,
      HELM_CONFIG_HOME: home,
      HELM_DATA_HOME: home,
    };
    const kubeVersion = kubernetesVersion(config);
    const releases: RenderedRelease[] = [];
    // One at a time: a render is CPU-bound, and the machine may be small.
    for (const [i, r] of stack.releases.entries()) {
      const values = (r.values ?? []).flatMap((text, j) => {
        const file = join(work, `values-${i}-${j}.yaml`);
        writeFileSync(file, text);
        return ["--values", file];
      });
      const secrets = (r.set_sensitive ?? []).flatMap((s) => [
        "--set-string",
        `${s.name}=${PLACEHOLDER}`,
      ]);
      const out = await helmTemplate(
        opts.helm,
        [
          "template",
          r.name,
          charts[i],
          "--namespace",
          r.namespace,
          "--kube-version",
          kubeVersion,
          "--skip-tests",
          ...values,
          ...secrets,
        ],
        env,
        opts.timeoutMs ?? 300_000,
      );
      if (out.status !== 0) {
        return { ok: false, reason: `helm template of ${r.name} failed: ${out.stderr}` };
      }
      releases.push({ name: r.name, namespace: r.namespace, manifest: out.stdout });
    }
    return { ok: true, releases };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
