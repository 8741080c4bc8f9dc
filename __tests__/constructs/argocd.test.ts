import { Testing } from "cdktf";

import type { ArgoCdProps } from "../../constructs/argocd";
import { ArgoCd } from "../../constructs/argocd";
import { CHARTS, resolveChart } from "../../lib/charts";
import { address, release, releases } from "../support/releases";

function synth(props: Partial<ArgoCdProps>) {
  return Testing.synthScope((scope) => {
    new ArgoCd(scope, "ArgoCd", {
      chart: resolveChart("argo-cd", undefined),
      appsChart: resolveChart("argocd-apps", undefined),
      ...props,
    });
  });
}

const bootstrap = {
  repoUrl: "https://git.home.lan/homelab/gitops.git",
  path: "clusters/kspray",
  revision: "main",
};

describe("ArgoCd", () => {
  it("exposes the UI on the domain through the ingress, with a certificate from the issuer", () => {
    const v = release(
      synth({
        domain: "argocd.kspray.home.lan",
        ingressClassName: "traefik",
        clusterIssuer: "vault-pki",
      }),
      "argocd",
    ).parsedValues;
    expect(v.global.domain).toBe("argocd.kspray.home.lan");
    expect(v.configs.params["server.insecure"]).toBe(true);
    expect(v.server.ingress).toEqual({
      enabled: true,
      ingressClassName: "traefik",
      tls: true,
      annotations: { "cert-manager.io/cluster-issuer": "vault-pki" },
    });
  });

  it("has no ingress without a domain", () => {
    expect(release(synth({}), "argocd").parsedValues).toEqual({});
  });

  it("creates the root Application from the bootstrap repository, after ArgoCD", () => {
    const s = synth({ bootstrap });
    const root = release(s, "argocd-bootstrap");
    expect(root).toMatchObject({
      chart: "argocd-apps",
      version: CHARTS["argocd-apps"].version,
      namespace: "argocd",
    });
    expect(root.depends_on).toEqual([address(release(s, "argocd"))]);
    const app = root.parsedValues.applications.root;
    expect(app.source).toEqual({
      repoURL: bootstrap.repoUrl,
      path: "clusters/kspray",
      targetRevision: "main",
    });
    expect(app.destination).toEqual({
      server: "https://kubernetes.default.svc",
      namespace: "argocd",
    });
    expect(app.finalizers).toBeUndefined();
  });

  it("creates no root Application without bootstrap", () => {
    expect([...releases(synth({})).keys()]).toEqual(["argocd", "argocd-namespace"]);
  });
});
