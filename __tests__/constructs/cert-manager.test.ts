import { Testing } from "cdktf";

import type { ClusterIssuer } from "../../config/schema";
import { CertManager } from "../../constructs/cert-manager";
import { CHARTS, resolveChart } from "../../lib/charts";
import { address, release, releases } from "../support/releases";

const vault: ClusterIssuer = {
  name: "vault-pki",
  vault: {
    server: "https://vault.home.lan:8200",
    path: "pki_int/sign/kspray",
    role: "cert-manager",
    authMount: "kubernetes-kspray",
  },
};
const acme: ClusterIssuer = {
  name: "letsencrypt",
  acme: { email: "ops@example.com", server: "https://acme.example/directory" },
};
const selfSigned: ClusterIssuer = { name: "self", selfSigned: {} };

function synth(issuers: ClusterIssuer[], caBundles?: Record<string, string>) {
  return Testing.synthScope((scope) => {
    new CertManager(scope, "CertManager", {
      chart: resolveChart("cert-manager", undefined),
      clusterIssuers: issuers,
      vaultCaBundles: caBundles,
      acmeIngressClassName: "traefik",
    });
  });
}

describe("CertManager", () => {
  it("installs cert-manager with its CRDs and waits for the webhook", () => {
    const r = release(synth([]), "cert-manager");
    expect(r).toMatchObject({
      chart: "cert-manager",
      version: CHARTS["cert-manager"].version,
      wait: true,
    });
    expect(r.parsedValues.crds).toEqual({ enabled: true, keep: true });
  });

  it("creates no issuers release without issuers", () => {
    expect([...releases(synth([])).keys()]).toEqual(["cert-manager", "cert-manager-namespace"]);
  });

  it("creates each issuer kind after cert-manager", () => {
    const s = synth([vault, acme, selfSigned], { "vault-pki": "PEM" });
    const issuers = release(s, "cluster-issuers");
    expect(issuers.depends_on).toEqual([address(release(s, "cert-manager"))]);
    expect(issuers.parsedValues.issuers).toEqual([
      {
        name: "vault-pki",
        vault: {
          server: "https://vault.home.lan:8200",
          path: "pki_int/sign/kspray",
          role: "cert-manager",
          authMount: "kubernetes-kspray",
          caBundle: Buffer.from("PEM").toString("base64"),
        },
      },
      {
        name: "letsencrypt",
        acme: {
          email: "ops@example.com",
          server: "https://acme.example/directory",
          ingressClassName: "traefik",
        },
      },
      { name: "self", selfSigned: {} },
    ]);
  });
});
