/**
 * The one place where the add-ons' Helm charts are pinned: repository, chart name and exact
 * version of every third-party chart, and the location of our own small charts in `charts/`.
 * Every version here is one whose real chart the test suite renders with the values we set
 * (`__tests__/charts/upstream-charts.test.ts`). To upgrade an add-on, bump its version here,
 * read the chart's upgrade notes, and run the tests with the new chart archive in the folder
 * of upstream charts (`UPSTREAM_CHARTS`, default `../shared/charts`), or online.
 */
import { isAbsolute, resolve } from "node:path";

import type { ChartName } from "../config/chart-names";
import { projectPath } from "../config/project-root";
import type { ChartOverride } from "../config/schema";

/** A chart fetched from a Helm repository (`https://...`) or an OCI registry (`oci://...`). */
export interface RemoteChart {
  readonly repository: string;
  readonly chart: string;
  /** Exact chart version; never a range, so that a plan is reproducible. */
  readonly version: string;
}

/** Third-party charts, by the name used in `addons.chartOverrides`. */
export const CHARTS = {
  metallb: { repository: "https://metallb.github.io/metallb", chart: "metallb", version: "0.16.1" },
  traefik: { repository: "https://traefik.github.io/charts", chart: "traefik", version: "41.3.0" },
  // Retired upstream in March 2026: 4.15 is its last chart line.
  "ingress-nginx": {
    repository: "https://kubernetes.github.io/ingress-nginx",
    chart: "ingress-nginx",
    version: "4.15.1",
  },
  "cert-manager": {
    repository: "https://charts.jetstack.io",
    chart: "cert-manager",
    version: "v1.21.1",
  },
  // The CSI snapshot CRDs and controller; Kubespray does not install them by default.
  "snapshot-controller": {
    repository: "https://piraeus.io/helm-charts/",
    chart: "snapshot-controller",
    version: "5.2.0",
  },
  "democratic-csi": {
    repository: "https://democratic-csi.github.io/charts/",
    chart: "democratic-csi",
    version: "0.15.1",
  },
  "argo-cd": {
    repository: "https://argoproj.github.io/argo-helm",
    chart: "argo-cd",
    version: "10.1.1",
  },
  "argocd-apps": {
    repository: "https://argoproj.github.io/argo-helm",
    chart: "argocd-apps",
    version: "2.0.5",
  },
  "gpu-operator": {
    repository: "https://helm.ngc.nvidia.com/nvidia",
    chart: "gpu-operator",
    version: "v26.7.0",
  },
  "external-secrets": {
    repository: "https://charts.external-secrets.io",
    chart: "external-secrets",
    version: "2.9.0",
  },
  "kube-prometheus-stack": {
    repository: "https://prometheus-community.github.io/helm-charts",
    chart: "kube-prometheus-stack",
    version: "88.5.3",
  },
} as const satisfies Record<ChartName, RemoteChart>;

/** Directory of our own charts (`<repo>/charts`). */
export const LOCAL_CHARTS_DIR = projectPath("charts");

/** Our own charts, shipped in `charts/`: they create what the upstream charts do not. */
export const LOCAL_CHARTS = {
  /** A namespace of the add-ons, with its PodSecurity label. */
  addonNamespace: "addon-namespace",
  /** IPAddressPool + L2Advertisement per MetalLB pool. */
  metallbPools: "metallb-pools",
  /** cert-manager ClusterIssuers (Vault PKI, ACME, self-signed). */
  clusterIssuers: "cluster-issuers",
  /** external-secrets ClusterSecretStore on Vault. */
  clusterSecretStore: "cluster-secret-store",
} as const;

/** Where an air-gapped install takes a chart from instead (`addons.chartOverrides`). */
export type { ChartOverride };

/** Where a release's chart comes from. */
export type ChartSource =
  | ({ readonly kind: "remote" } & RemoteChart)
  /** Absolute path of a chart directory or archive, copied into the synthesized stack. */
  | { readonly kind: "local"; readonly path: string };

/**
 * The chart of an add-on: the pinned one, or its override. A relative `path` is taken
 * from `baseDir` (the directory cdktf runs in).
 */
export function resolveChart(
  name: ChartName,
  override: ChartOverride | undefined,
  baseDir: string = process.cwd(),
): ChartSource {
  if (override?.path !== undefined) {
    return {
      kind: "local",
      path: isAbsolute(override.path) ? override.path : resolve(baseDir, override.path),
    };
  }
  const pinned = CHARTS[name];
  return {
    kind: "remote",
    repository: override?.repository ?? pinned.repository,
    chart: override?.chart ?? pinned.chart,
    version: override?.version ?? pinned.version,
  };
}

/** One of our own charts in `charts/`. */
export function localChart(name: (typeof LOCAL_CHARTS)[keyof typeof LOCAL_CHARTS]): ChartSource {
  return { kind: "local", path: resolve(LOCAL_CHARTS_DIR, name) };
}
