/**
 * The add-ons' third-party charts by the names `addons.chartOverrides` accepts; their pins
 * (repository, chart, version) are in lib/charts.ts, which must name each exactly once.
 */
export const CHART_NAMES = [
  "metallb",
  "traefik",
  "ingress-nginx",
  "cert-manager",
  "snapshot-controller",
  "democratic-csi",
  "argo-cd",
  "argocd-apps",
  "gpu-operator",
  "external-secrets",
  "kube-prometheus-stack",
] as const;

export type ChartName = (typeof CHART_NAMES)[number];
