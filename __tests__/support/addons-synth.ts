/**
 * The addons stack of a definition, synthesized the way `cdktf synth` writes it (local
 * charts copied into the stack's assets), for tests that hand its releases to Helm or to
 * the helm provider.
 */
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";

import { App } from "cdktf";

import { parseClusterConfig } from "../../config/load";
import { readNamedFiles } from "../../config/named-files";
import type { ClusterConfig } from "../../config/schema";
import { kubernetesVersion } from "../../kubespray-vars/vars";
import { AddonsStack } from "../../stacks/addons-stack";
import type { Definition } from "../fixtures/definitions";

import { upstreamChart } from "./helm";
import type { StackJson } from "./provider-render";
import type { SynthRelease } from "./releases";
import { releases } from "./releases";

export interface SynthesizedAddons {
  readonly config: ClusterConfig;
  /** The stack's directory (cdk.tf.json and its assets). */
  readonly dir: string;
  /** cdk.tf.json, as text. */
  readonly text: string;
  readonly json: StackJson;
  readonly releases: readonly SynthRelease[];
  /** The cluster's Kubernetes version, as the charts see it. */
  readonly kubeVersion: string;
}

/** Synthesizes the addons stack of `def` into `outDir` (created). */
export function synthAddons(def: Definition, outDir: string): SynthesizedAddons {
  const { config } = parseClusterConfig(def);
  const app = new App({ outdir: outDir });
  new AddonsStack(app, "addons", {
    config,
    stateDir: "/s",
    kubeconfigPath: "/s/kubeconfig",
    baseDir: process.cwd(),
    vaultCaBundles: readNamedFiles(config, process.cwd()).vaultCaBundles,
  });
  app.synth();
  const dir = join(outDir, "stacks", "addons");
  const text = readFileSync(join(dir, "cdk.tf.json"), "utf8");
  return {
    config,
    dir,
    text,
    json: JSON.parse(text) as StackJson,
    releases: [...releases(text).values()],
    kubeVersion: kubernetesVersion(config),
  };
}

/**
 * The unpacked chart a release installs: the upstream chart at its pinned version, or our
 * own chart as copied into the stack.
 */
export function chartDirOf(stack: SynthesizedAddons, r: SynthRelease): string {
  return r.repository !== undefined
    ? upstreamChart(r.chart, r.version!, r.repository)
    : resolve(stack.dir, r.chart);
}
