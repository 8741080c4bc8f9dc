/**
 * Rendering through the hashicorp/helm provider's own code, not the helm CLI: OpenTofu, with
 * the real provider from the offline mirror, reads `helm_template` data sources that carry a
 * synthesized release's `values` and `set_sensitive` entries verbatim (Terraform expressions
 * included, with the stack's own variable declarations, and the secrets given as
 * `TF_VAR_<name>` the way a user gives them), so that what a test reads back is what the
 * provider hands to Helm.
 *
 * The data source reads `set_sensitive` with a function of its own (`applySetSensitiveValue`
 * in helm/data_helm_template.go at v3.1.1): for type "string" it makes the same call as the
 * helm_release resource's `getValue`, but it refuses "literal". Its `set` goes through
 * `applySetValue`, a copy of the resource's `getValue` for every type: `via: "set"` hands the
 * same entries to that code, to see what an install would make of them.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import type { SynthRelease } from "./releases";
import { toolchainEnv, toolPath } from "./toolchain";

/** The parts of a synthesized stack (cdk.tf.json) that a render takes over. */
export interface StackJson {
  readonly terraform: { readonly required_providers: Readonly<Record<string, unknown>> };
  readonly variable?: Readonly<Record<string, unknown>>;
}

export interface ProviderRender {
  /** Data source name, unique in the run. */
  readonly key: string;
  readonly release: SynthRelease;
  /** The chart to render the release's values with (an unpacked chart directory). */
  readonly chartDir: string;
  /** The attribute that carries the release's set_sensitive entries. @default "set_sensitive" */
  readonly via?: "set_sensitive" | "set";
}

export interface ProviderRenderRequest {
  readonly stack: StackJson;
  readonly renders: readonly ProviderRender[];
  /** `1.35.4`: what `.Capabilities.KubeVersion` says, as on the cluster. */
  readonly kubeVersion: string;
  /** `TF_VAR_<name>` of each variable by name; a variable left out is not set at all. */
  readonly secrets: Readonly<Record<string, string>>;
}

export interface ProviderRun {
  readonly ok: boolean;
  /** What tofu printed (its errors when it failed). */
  readonly output: string;
  /** The manifest each data source rendered, by key. */
  readonly manifests: ReadonlyMap<string, string>;
}

/** `tofu init` and `tofu apply` of the data sources, in a directory of their own. */
export async function providerRender(req: ProviderRenderRequest): Promise<ProviderRun> {
  const dir = mkdtempSync(join(tmpdir(), "provider-render-"));
  try {
    writeFileSync(join(dir, "main.tf.json"), JSON.stringify(configuration(req), null, 2));
    const env = renderEnv(dir, req.secrets);
    const init = await tofu(dir, env, "init", "-input=false");
    if (init.code !== 0) return { ok: false, output: init.output, manifests: new Map() };
    const apply = await tofu(dir, env, "apply", "-auto-approve", "-input=false");
    if (apply.code !== 0) return { ok: false, output: apply.output, manifests: new Map() };
    const out = await tofu(dir, env, "output", "-json");
    if (out.code !== 0) return { ok: false, output: out.output, manifests: new Map() };
    const outputs = JSON.parse(out.stdout) as Record<string, { value: string }>;
    const manifests = new Map(Object.entries(outputs).map(([k, v]) => [k, v.value]));
    return { ok: true, output: apply.output, manifests };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function configuration(req: ProviderRenderRequest): object {
  const templates = Object.fromEntries(
    req.renders.map((r) => {
      const entries = r.release.set_sensitive ?? [];
      return [
        r.key,
        {
          name: r.release.name,
          namespace: r.release.namespace,
          chart: r.chartDir,
          kube_version: req.kubeVersion,
          values: r.release.values ?? [],
          ...(entries.length > 0 ? { [r.via ?? "set_sensitive"]: entries } : {}),
        },
      ];
    }),
  );
  return {
    terraform: { required_providers: { helm: req.stack.terraform.required_providers.helm } },
    // No cluster: helm_template renders client-only unless `validate` is set.
    provider: { helm: {} },
    ...(req.stack.variable ? { variable: req.stack.variable } : {}),
    data: { helm_template: templates },
    output: Object.fromEntries(
      req.renders.map((r) => [
        r.key,
        { value: `\${data.helm_template.${r.key}.manifest}`, sensitive: true },
      ]),
    ),
  };
}

/**
 * The toolchain's environment with the request's TF_VAR_* only, and no kubeconfig or Helm
 * home of the caller's.
 */
function renderEnv(dir: string, secrets: Readonly<Record<string, string>>): NodeJS.ProcessEnv {
  const base = Object.fromEntries(
    Object.entries(process.env).filter(
      ([k]) => !/^(TF_VAR_|HELM_|KUBE_CONFIG_PATH$|KUBECONFIG$)/.test(k),
    ),
  );
  return {
    ...toolchainEnv(base),
    TF_IN_AUTOMATION: "1",
    HELM_CACHE_HOME: join(dir, "helm"),
    HELM_CONFIG_HOME: join(dir, "helm"),
    HELM_DATA_HOME: join(dir, "helm"),
    ...Object.fromEntries(Object.entries(secrets).map(([k, v]) => [`TF_VAR_${k}`, v])),
  };
}

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly output: string;
}

function tofu(cwd: string, env: NodeJS.ProcessEnv, ...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      toolPath("tofu"),
      [...args, "-no-color"],
      { cwd, env, timeout: 300_000, maxBuffer: 256 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
        resolve({ code, stdout, output: `${stdout}\n${stderr}` });
      },
    );
  });
}
