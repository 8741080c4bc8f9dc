import { Testing } from "cdktf";

import { ExternalSecrets } from "../../constructs/external-secrets";
import { resolveChart } from "../../lib/charts";
import { address, release } from "../support/releases";

function synth() {
  return Testing.synthScope((scope) => {
    new ExternalSecrets(scope, "Eso", {
      chart: resolveChart("external-secrets", undefined),
      vaultAddress: "https://vault.home.lan:8200",
      kubernetesAuthMount: "kubernetes-kspray",
      role: "external-secrets",
      kvPath: "secret",
    });
  });
}

describe("ExternalSecrets", () => {
  it("installs external-secrets with its CRDs", () => {
    const r = release(synth(), "external-secrets");
    expect(r).toMatchObject({ chart: "external-secrets", version: "2.9.0", wait: true });
    expect(r.parsedValues).toEqual({ installCRDs: true });
  });

  it("creates the Vault ClusterSecretStore after it, with Kubernetes auth at the mount and role", () => {
    const s = synth();
    const store = release(s, "cluster-secret-store");
    expect(store.depends_on).toEqual([address(release(s, "external-secrets"))]);
    expect(store.parsedValues).toEqual({
      name: "vault",
      vault: {
        server: "https://vault.home.lan:8200",
        path: "secret",
        authMount: "kubernetes-kspray",
        role: "external-secrets",
      },
      serviceAccount: { name: "external-secrets", namespace: "external-secrets" },
    });
  });
});
