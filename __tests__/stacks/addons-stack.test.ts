import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { Testing } from "cdktf";

import { parseClusterConfig } from "../../config/load";
import { readNamedFiles } from "../../config/named-files";
import { secretVariables } from "../../config/secrets";
import { CHARTS } from "../../lib/charts";
import { AddonsStack } from "../../stacks/addons-stack";
import type { Definition } from "../fixtures/definitions";
import { CLOUD_FILE, cloud, HOMELAB_FILE, homelab } from "../fixtures/definitions";
import { address, release, releases } from "../support/releases";
import { stackDir, synthApp, tofu, tofuValidate } from "../support/synth-app";
import { describeWithToolchain } from "../support/toolchain";

// It synthesizes in a child process: a budget for a loaded two-core machine.
jest.setTimeout(120_000);

function synthStack(def: Definition) {
  const { config } = parseClusterConfig(def);
  const stack = new AddonsStack(Testing.app(), "addons", {
    config,
    stateDir: "/var/lib/state",
    kubeconfigPath: "/var/lib/state/kubeconfig",
    baseDir: process.cwd(),
    vaultCaBundles: readNamedFiles(config, process.cwd()).vaultCaBundles,
  });
  return { config, json: JSON.parse(Testing.synth(stack)) };
}

/** The add-ons' namespaces of each reference example. */
const NAMESPACES = {
  homelab: [
    "metallb-system",
    "traefik",
    "cert-manager",
    "democratic-csi",
    "argocd",
    "external-secrets",
    "monitoring",
  ],
  cloud: ["metallb-system", "ingress-nginx", "gpu-operator"],
};

describe("AddonsStack", () => {
  const homelabStack = synthStack(homelab());
  const h = homelabStack.json;

  it("configures the helm provider from the kubeconfig path, never its contents", () => {
    expect(h.provider.helm).toEqual([{ kubernetes: { config_path: "/var/lib/state/kubeconfig" } }]);
  });

  it("installs every add-on of homelab.yaml", () => {
    expect(new Set(releases(h).keys())).toEqual(
      new Set([
        "metallb",
        "metallb-pools",
        "traefik",
        "cert-manager",
        "cluster-issuers",
        "snapshot-controller",
        "truenas-iscsi",
        "truenas-nfs",
        "argocd",
        "argocd-bootstrap",
        "external-secrets",
        "cluster-secret-store",
        "kube-prometheus-stack",
        ...NAMESPACES.homelab.map((n) => `${n}-namespace`),
      ]),
    );
  });

  it("runs each add-on in a namespace of its own release, installed first and destroyed last", () => {
    for (const r of releases(h).values()) {
      if (r.name.endsWith("-namespace") || r.namespace === "kube-system") continue;
      const ns = release(h, `${r.namespace}-namespace`);
      // Directly, or through the release it waits for in the same namespace.
      const chain = (x: typeof r): string[] => [
        ...(x.depends_on ?? []),
        ...(x.depends_on ?? []).flatMap((d) => {
          const dep = [...releases(h).values()].find((y) => address(y) === d);
          return dep && dep.namespace === r.namespace ? chain(dep) : [];
        }),
      ];
      expect({ release: r.name, dependsOnNamespace: chain(r).includes(address(ns)) }).toEqual({
        release: r.name,
        dependsOnNamespace: true,
      });
    }
    expect(
      [...releases(h).values()]
        .filter((r) => r.name.endsWith("-namespace"))
        .map((r) => r.parsedValues.name)
        .sort(),
    ).toEqual([...NAMESPACES.homelab].sort());
  });

  it("labels privileged exactly the namespaces whose pods use the host: MetalLB, storage, monitoring, GPUs", () => {
    const levels = (json: unknown) =>
      Object.fromEntries(
        [...releases(json as object).values()]
          .filter((r) => r.name.endsWith("-namespace"))
          .map((r) => [r.parsedValues.name, r.parsedValues.podSecurityEnforce ?? "default"]),
      );
    expect(levels(h)).toEqual({
      "metallb-system": "privileged",
      traefik: "default",
      "cert-manager": "default",
      "democratic-csi": "privileged",
      argocd: "default",
      "external-secrets": "default",
      monitoring: "privileged",
    });
    expect(levels(synthStack(cloud()).json)).toEqual({
      "metallb-system": "privileged",
      "ingress-nginx": "default",
      "gpu-operator": "privileged",
    });
  });

  it("runs the CSI node plugins on every worker and the node exporter on every node, tainted or not", () => {
    const def = homelab();
    def.nodePools[1].taints = ["dedicated=batch:NoExecute"];
    const json = synthStack(def).json;
    const csi = { key: "dedicated", operator: "Equal", value: "batch", effect: "NoExecute" };
    for (const backend of ["truenas-iscsi", "truenas-nfs"])
      expect(release(json, backend).parsedValues.node).toEqual({ tolerations: [csi] });
    expect(release(json, "kube-prometheus-stack").parsedValues["prometheus-node-exporter"]).toEqual(
      {
        tolerations: [
          {
            key: "node-role.kubernetes.io/control-plane",
            operator: "Exists",
            effect: "NoSchedule",
          },
          csi,
        ],
      },
    );
    // Nothing to tolerate on homelab's workers: the chart's default stays.
    expect(release(h, "truenas-iscsi").parsedValues).not.toHaveProperty("node");
  });

  it("installs only what cloud-cluster.yaml asks for", () => {
    const c = synthStack(cloud()).json;
    expect(new Set(releases(c).keys())).toEqual(
      new Set([
        "metallb",
        "metallb-pools",
        "ingress-nginx",
        "gpu-operator",
        ...NAMESPACES.cloud.map((n) => `${n}-namespace`),
      ]),
    );
    expect(c.variable).toBeUndefined();
  });

  describe("ordering", () => {
    const after = (name: string, ...first: string[]) =>
      expect(release(h, name).depends_on ?? []).toEqual(
        expect.arrayContaining(first.map((f) => address(release(h, f)))),
      );

    it("MetalLB, then its pools, then the ingress controller", () => {
      after("metallb-pools", "metallb");
      after("traefik", "metallb-pools");
    });
    it("cert-manager, then the issuers", () => after("cluster-issuers", "cert-manager"));
    it("the snapshot controller, then each democratic-csi release", () => {
      after("truenas-iscsi", "snapshot-controller");
      after("truenas-nfs", "snapshot-controller");
    });
    it("ArgoCD after its ingress and issuer, then the root Application", () => {
      after("argocd", "traefik", "cluster-issuers");
      after("argocd-bootstrap", "argocd");
    });
    it("external-secrets, then its store", () => after("cluster-secret-store", "external-secrets"));
  });

  it("asks MetalLB for loadBalancerIp through the Service annotation alone", () => {
    const service = release(h, "traefik").parsedValues.service;
    expect(service.annotations).toEqual({ "metallb.io/loadBalancerIPs": "10.10.30.200" });
    expect(service.spec.loadBalancerIP).toBeUndefined();
  });

  it("makes exactly one default StorageClass", () => {
    const defaults = ["truenas-iscsi", "truenas-nfs"].flatMap((n) =>
      release(h, n).parsedValues.storageClasses.filter(
        (c: { defaultClass: boolean }) => c.defaultClass,
      ),
    );
    expect(defaults.map((c: { name: string }) => c.name)).toEqual(["truenas-iscsi"]);
  });

  it("points the root Application at the bootstrap repository", () => {
    expect(release(h, "argocd-bootstrap").parsedValues.applications.root.source).toEqual({
      repoURL: "https://git.home.lan/homelab/gitops.git",
      path: "clusters/kspray",
      targetRevision: "main",
    });
  });

  it("declares each secret as a required sensitive variable naming its TF_VAR_", () => {
    const names = secretVariables(homelabStack.config).map((s) => s.name);
    expect(Object.keys(h.variable).sort()).toEqual([...names].sort());
    for (const name of names) {
      const v = h.variable[name];
      expect(v).toMatchObject({ type: "string", sensitive: true, nullable: false });
      expect(v.default).toBeUndefined();
      expect(v.description).toContain(`TF_VAR_${name}`);
      expect(v.validation[0].error_message).toContain(`TF_VAR_${name}`);
    }
  });

  it("references the variables from set_sensitive", () => {
    // What the provider makes of them: __tests__/charts/provider-values.test.ts.
    expect(release(h, "truenas-iscsi").set_sensitive).toEqual([
      {
        name: "driver.config.httpConnection.apiKey",
        value: expect.stringMatching(/^\$\{replace\(var\.truenas_api_key_truenas_iscsi, /),
        type: "string",
      },
      {
        name: "driver.config.sshConnection.privateKey",
        value: expect.stringMatching(/^\$\{replace\(var\.truenas_ssh_private_key_truenas_iscsi, /),
        type: "string",
      },
    ]);
  });

  it("takes an add-on's chart from a mirror or a local directory when overridden", () => {
    const def = homelab();
    const local = mkdtempSync(join(tmpdir(), "chart-"));
    try {
      def.addons.chartOverrides = {
        traefik: { repository: "oci://mirror.lan/charts" },
        "cert-manager": { path: local },
      };
      const json = synthStack(def).json;
      expect(release(json, "traefik")).toMatchObject({
        repository: "oci://mirror.lan/charts",
        chart: "traefik",
        version: CHARTS.traefik.version,
      });
      const cm = release(json, "cert-manager");
      expect(cm.chart).toMatch(/^\.\/assets\/CertManager_Chart_/);
      expect(cm.repository).toBeUndefined();
    } finally {
      rmSync(local, { recursive: true, force: true });
    }
  });

  it("rejects an override for an add-on the catalog does not know", () => {
    const def = homelab();
    def.addons.chartOverrides = { traefk: { repository: "https://mirror.lan" } };
    expect(() => parseClusterConfig(def)).toThrow(/addons\.chartOverrides/);
  });
});

/** Every file under a directory, recursively. */
function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : [path];
  });
}

describe("the synthesized app", () => {
  const markers = {
    TF_VAR_truenas_api_key_truenas_iscsi: "MARKER-api-key-iscsi-7f3a",
    TF_VAR_truenas_api_key_truenas_nfs: "MARKER-api-key-nfs-91c2",
    TF_VAR_truenas_ssh_private_key_truenas_iscsi: "MARKER-ssh-iscsi-55d0",
    TF_VAR_truenas_ssh_private_key_truenas_nfs: "MARKER-ssh-nfs-0be4",
    TF_VAR_grafana_admin_password: "MARKER-grafana-c0ff",
  };
  let out: string;
  beforeAll(() => {
    out = mkdtempSync(join(tmpdir(), "addons-synth-"));
    synthApp(HOMELAB_FILE, join(out, "homelab"), markers);
    synthApp(CLOUD_FILE, join(out, "cloud"));
  }, 240_000);
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it("writes no secret value anywhere in the output", () => {
    const all = files(join(out, "homelab"));
    expect(all.some((f) => f.endsWith(join("addons", "cdk.tf.json")))).toBe(true);
    for (const file of all) {
      const text = readFileSync(file, "utf8");
      for (const value of Object.values(markers))
        expect({ file, leaked: text.includes(value) }).toEqual({ file, leaked: false });
    }
  });

  describeWithToolchain(["tofu"])("with OpenTofu and the real helm provider", () => {
    it.each(["homelab", "cloud"])(
      "validates the addons stack of %s",
      (example) => {
        const report = tofuValidate(stackDir(join(out, example), "addons"));
        expect(report.diagnostics.filter((d) => d.severity === "error")).toEqual([]);
        expect(report.valid).toBe(true);
      },
      300_000,
    );

    it("stops with the name of a missing secret variable", () => {
      const dir = stackDir(join(out, "homelab"), "addons");
      // plan needs the (local) backend initialized, unlike validate.
      const init = tofu(dir, ["init", "-input=false", "-no-color", "-reconfigure"]);
      expect(init.stderr).toBe("");
      expect(init.status).toBe(0);
      const env = Object.fromEntries(Object.keys(markers).map((k) => [k, ""]));
      delete env.TF_VAR_grafana_admin_password;
      const plan = tofu(dir, ["plan", "-input=false", "-no-color", "-refresh=false"], env);
      expect(plan.status).not.toBe(0);
      expect(plan.stderr).toMatch(/grafana_admin_password/);
    }, 300_000);
  });
});
