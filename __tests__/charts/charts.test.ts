/**
 * Our own charts in charts/, linted and rendered by the real helm binary with the values the
 * addons stack gives them for the reference definitions.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { Testing } from "cdktf";
import { parseAllDocuments } from "yaml";

import { parseClusterConfig } from "../../config/load";
import { LOCAL_CHARTS, LOCAL_CHARTS_DIR } from "../../lib/charts";
import { AddonsStack } from "../../stacks/addons-stack";
import type { Definition } from "../fixtures/definitions";
import { homelab } from "../fixtures/definitions";
import { release } from "../support/releases";
import { describeWithToolchain, toolchainEnv, toolPath } from "../support/toolchain";

// It renders charts with the real helm: a render took 67 s on a loaded two-core machine.
jest.setTimeout(180_000);

function helm(args: string[]) {
  const r = spawnSync(toolPath("helm"), args, {
    encoding: "utf8",
    env: { ...toolchainEnv(), HELM_CACHE_HOME: tmp, HELM_CONFIG_HOME: tmp, HELM_DATA_HOME: tmp },
  });
  return { status: r.status, out: `${r.stdout}${r.stderr}`, stdout: r.stdout };
}

/** The values the stack gives a release, from a definition. */
function stackValues(def: Definition, releaseName: string): string {
  const { config } = parseClusterConfig(def);
  const stack = new AddonsStack(Testing.app(), "addons", {
    config,
    stateDir: "/s",
    kubeconfigPath: "/s/kubeconfig",
    baseDir: process.cwd(),
  });
  const json = JSON.parse(Testing.synth(stack));
  return (json.resource.helm_release[release(json, releaseName).id].values as string[])[0];
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Manifest = any;

/** `helm lint` then `helm template` of one of our charts with values; the rendered objects. */
function render(chart: string, values: string, namespace: string): Manifest[] {
  const file = join(tmp, `${chart}-values.yaml`);
  writeFileSync(file, values);
  const dir = join(LOCAL_CHARTS_DIR, chart);
  const lint = helm(["lint", "--strict", dir, "-f", file]);
  expect({ chart, lint: lint.status, out: lint.out }).toMatchObject({ chart, lint: 0 });
  const t = helm(["template", "r", dir, "-n", namespace, "-f", file]);
  expect({ chart, template: t.status, out: t.out }).toMatchObject({ chart, template: 0 });
  return parseAllDocuments(t.stdout)
    .map((d) => d.toJS())
    .filter((o) => o !== null);
}

let tmp: string;

describeWithToolchain(["helm"])("our charts, with the real helm", () => {
  beforeAll(() => {
    tmp = mkdtempSync(join(tmpdir(), "charts-"));
  });
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it("metallb-pools: an IPAddressPool and an L2Advertisement per pool", () => {
    const def = homelab();
    def.addons.metallb.addressPools.push({
      name: "fixed",
      addresses: ["10.10.30.240/29"],
      autoAssign: false,
    });
    const objects = render(
      LOCAL_CHARTS.metallbPools,
      stackValues(def, "metallb-pools"),
      "metallb-system",
    );
    const pools = objects.filter((o) => o.kind === "IPAddressPool");
    expect(pools.map((p) => [p.metadata.name, p.spec.addresses, p.spec.autoAssign])).toEqual([
      ["default", ["10.10.30.200-10.10.30.229"], true],
      ["fixed", ["10.10.30.240/29"], false],
    ]);
    const ads = objects.filter((o) => o.kind === "L2Advertisement");
    expect(ads.map((a) => a.spec.ipAddressPools)).toEqual([["default"], ["fixed"]]);
    expect(objects.every((o) => o.metadata.namespace === "metallb-system")).toBe(true);
  });

  it("cluster-issuers: a Vault issuer with Kubernetes auth and the RBAC to get its token", () => {
    const objects = render(
      LOCAL_CHARTS.clusterIssuers,
      stackValues(homelab(), "cluster-issuers"),
      "cert-manager",
    );
    const issuer = objects.find((o) => o.kind === "ClusterIssuer");
    expect(issuer.metadata.name).toBe("vault-pki");
    expect(issuer.spec.vault).toMatchObject({
      server: "https://vault.home.lan:8200",
      path: "pki_int/sign/kspray",
      auth: {
        kubernetes: {
          mountPath: "/v1/auth/kubernetes",
          role: "cert-manager",
          serviceAccountRef: { name: "vault-pki-vault-issuer" },
        },
      },
    });
    const role = objects.find((o) => o.kind === "Role");
    expect(role.rules[0]).toMatchObject({
      resources: ["serviceaccounts/token"],
      resourceNames: ["vault-pki-vault-issuer"],
      verbs: ["create"],
    });
    const binding = objects.find((o) => o.kind === "RoleBinding");
    expect(binding.subjects).toEqual([
      { kind: "ServiceAccount", name: "cert-manager", namespace: "cert-manager" },
    ]);
  });

  it("cluster-issuers: ACME and self-signed issuers", () => {
    const def = homelab();
    def.addons.certManager.clusterIssuers = [
      { name: "letsencrypt", acme: { email: "ops@example.com" } },
      { name: "self", selfSigned: {} },
    ];
    const objects = render(
      LOCAL_CHARTS.clusterIssuers,
      stackValues(def, "cluster-issuers"),
      "cert-manager",
    );
    const issuers = objects.filter((o) => o.kind === "ClusterIssuer");
    expect(issuers[0].spec.acme).toEqual({
      email: "ops@example.com",
      server: "https://acme-v02.api.letsencrypt.org/directory",
      privateKeySecretRef: { name: "letsencrypt-acme-account" },
      solvers: [{ http01: { ingress: { ingressClassName: "traefik" } } }],
    });
    expect(issuers[1].spec).toEqual({ selfSigned: {} });
    expect(objects.filter((o) => o.kind === "ServiceAccount")).toEqual([]);
  });

  it("cluster-issuers: refuses an issuer with two kinds", () => {
    writeFileSync(
      join(tmp, "bad.yaml"),
      "issuers:\n  - name: x\n    selfSigned: {}\n    acme: {email: a@b.c}\n",
    );
    const t = helm([
      "template",
      "r",
      join(LOCAL_CHARTS_DIR, LOCAL_CHARTS.clusterIssuers),
      "-f",
      join(tmp, "bad.yaml"),
    ]);
    expect(t.status).not.toBe(0);
    expect(t.out).toMatch(/issuer x: give exactly one of vault, acme or selfSigned/);
  });

  it("cluster-secret-store: a Vault KV v2 store with Kubernetes auth", () => {
    const objects = render(
      LOCAL_CHARTS.clusterSecretStore,
      stackValues(homelab(), "cluster-secret-store"),
      "external-secrets",
    );
    expect(objects).toHaveLength(1);
    expect(objects[0]).toMatchObject({
      apiVersion: "external-secrets.io/v1",
      kind: "ClusterSecretStore",
      metadata: { name: "vault" },
      spec: {
        provider: {
          vault: {
            server: "https://vault.home.lan:8200",
            path: "secret",
            version: "v2",
            auth: {
              kubernetes: {
                mountPath: "kubernetes-kspray",
                role: "external-secrets",
                serviceAccountRef: { name: "external-secrets", namespace: "external-secrets" },
              },
            },
          },
        },
      },
    });
  });
});
