/**
 * Every helm_release the addons stack synthesizes, rendered with its real chart (the
 * upstream archives at the pinned versions, our own charts from charts/) by the Helm that
 * the helm provider embeds, with exactly the values it passes, for the cluster's
 * Kubernetes version. The secrets it passes through set_sensitive are left out: the helm
 * CLI has no way to read them as the provider does, so provider-values.test.ts renders
 * them through the provider's own code. For the two reference definitions and one that
 * switches every option on:
 * - the chart renders;
 * - every values key we set is one the chart has (values.yaml or values.schema.json);
 * - every value we set changes what is rendered;
 * - every custom resource rendered is valid against the CRD schema the charts ship;
 * - what docs/addons.md promises is in the rendered objects.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import Ajv from "ajv";
import { parseAllDocuments } from "yaml";

import { parseClusterConfig } from "../../config/load";
import { CHARTS } from "../../lib/charts";
import type { Definition } from "../fixtures/definitions";
import { cloud, everyOption, FIXTURES, homelab } from "../fixtures/definitions";
import { chartDirOf, synthAddons } from "../support/addons-synth";
import {
  formatPath,
  readChart,
  unknownValuePaths,
  valueLeaves,
  withChangedValue,
} from "../support/chart-values";
import type { RenderResult } from "../support/helm";
import { helmTemplate, upstreamChart } from "../support/helm";
import type { SynthRelease } from "../support/releases";
import { describeWithToolchain } from "../support/toolchain";

// It renders charts with the real helm: a render took 67 s on a loaded two-core machine.
jest.setTimeout(180_000);

/**
 * Values maps that a chart documents as free-form (its values.yaml has `{}` or a comment
 * saying any key goes), by chart name: their keys are not looked up in the chart.
 */
const FREE_FORM: Record<string, readonly string[]> = {
  // Annotations of the LoadBalancer Service: MetalLB reads metallb.io/loadBalancerIPs.
  traefik: ["service.annotations"],
  "ingress-nginx": ["controller.service.annotations"],
  // The Ingress's annotations (cert-manager's issuer), and argocd-cmd-params-cm entries,
  // which the chart documents as "add parameters here".
  "argo-cd": ["server.ingress.annotations", "configs.params"],
  // The driver's own configuration file, written verbatim into a Secret; its keys are
  // democratic-csi's, not the chart's.
  "democratic-csi": ["driver.config"],
  // One entry per Application, keyed by its name.
  "argocd-apps": ["applications.root"],
  // Scheduling terms of node-feature-discovery's worker: a Kubernetes affinity object.
  "gpu-operator": ["node-feature-discovery.worker.affinity"],
};

/**
 * Values keys that a chart's values.yaml documents only in a comment, by chart name; each
 * one is shown to reach the rendered objects by an assertion below.
 */
const COMMENTED: Record<string, readonly string[]> = {
  // grafana's values.yaml: "# adminPassword: strongpassword" (the admin Secret reads it).
  "kube-prometheus-stack": ["grafana.adminPassword"],
};

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type K8sObject = any;

interface Job {
  /** `homelab: traefik` */
  readonly label: string;
  readonly definitions: string[];
  readonly release: SynthRelease;
  readonly chartDir: string;
  readonly kubeVersion: string;
}

/** For a test that renders charts (the first render of each release included), on 2 busy cores. */
const RENDER_TIMEOUT = 600_000;

const out = mkdtempSync(join(tmpdir(), "upstream-charts-"));
afterAll(() => rmSync(out, { recursive: true, force: true }));

/** Synthesizes the addons stack of a definition; its releases, with their charts located. */
function jobsOf(name: string, def: Definition): Job[] {
  const stack = synthAddons(def, join(out, name));
  return stack.releases.map((r) => ({
    label: `${name}: ${r.name}`,
    definitions: [name],
    release: r,
    chartDir: chartDirOf(stack, r),
    kubeVersion: stack.kubeVersion,
  }));
}

function render(job: Job, values = job.release.parsedValues, includeCrds = false) {
  return helmTemplate({
    chartDir: job.chartDir,
    release: job.release.name,
    namespace: job.release.namespace,
    kubeVersion: job.kubeVersion,
    values,
    includeCrds,
  });
}

function objects(r: RenderResult): K8sObject[] {
  return parseAllDocuments(r.stdout)
    .map((d) => d.toJS() as K8sObject)
    .filter((o) => o !== null && typeof o === "object");
}

describeWithToolchain(["helm"])("the add-ons, rendered with their real charts", () => {
  let jobs: Job[] = [];
  const rendered = new Map<Job, Promise<RenderResult>>();
  const renderOnce = (job: Job) => {
    if (!rendered.has(job)) rendered.set(job, render(job));
    return rendered.get(job)!;
  };
  const job = (label: string) => {
    const j = jobs.find(
      (x) => x.label === label || x.definitions.some((d) => `${d}: ${x.release.name}` === label),
    );
    if (!j) throw new Error(`no release ${label}; have ${jobs.map((x) => x.label).join(", ")}`);
    return j;
  };
  const renderedObjects = async (label: string) => objects(await renderOnce(job(label)));

  beforeAll(() => {
    const metallbDir = upstreamChart("metallb", CHARTS.metallb.version, CHARTS.metallb.repository);
    const all = [
      ...jobsOf("homelab", homelab()),
      ...jobsOf("cloud-cluster", cloud()),
      ...jobsOf("every-option", everyOption({ metallb: metallbDir })),
    ];
    // The same chart with the same values renders the same: check it once.
    const seen = new Map<string, Job>();
    for (const j of all) {
      const key = JSON.stringify([
        j.release.chart.replace(/assets\/[^/]+\/[^/]+/, ""),
        j.release.version,
        j.release.namespace,
        j.release.parsedValues,
        j.kubeVersion,
      ]);
      const first = seen.get(key);
      if (first) first.definitions.push(...j.definitions);
      else seen.set(key, j);
    }
    jobs = [...seen.values()];
  }, 300_000);

  it(
    "renders every release, of every definition",
    async () => {
      const failed: string[] = [];
      for (const j of jobs) {
        const r = await renderOnce(j);
        if (!r.ok) failed.push(`${j.label}: ${r.stderr.trim()}`);
      }
      expect(failed).toEqual([]);
      expect(jobs.map((j) => j.release.name)).toEqual(
        expect.arrayContaining([
          "metallb",
          "traefik",
          "ingress-nginx",
          "kube-prometheus-stack",
          "gpu-operator",
        ]),
      );
    },
    RENDER_TIMEOUT,
  );

  it("sets only values keys that the charts have", () => {
    const unknown = jobs.flatMap((j) => {
      const chart = readChart(j.chartDir);
      const free = [...(FREE_FORM[chart.name] ?? []), ...(COMMENTED[chart.name] ?? [])];
      // A set_sensitive name is a values path too (the provider splits it at the dots).
      const secrets = (j.release.set_sensitive ?? []).map((s) => pathObject(s.name));
      const paths = [j.release.parsedValues, ...secrets];
      return paths.flatMap((v) => unknownValuePaths(chart, v, free).map((p) => `${j.label}: ${p}`));
    });
    expect(unknown).toEqual([]);
  });

  it("sets only values that change what the chart renders", async () => {
    const inert: string[] = [];
    await Promise.all(
      jobs.flatMap((j) =>
        valueLeaves(j.release.parsedValues).map(async (leaf) => {
          const [base, changed] = await Promise.all([
            renderOnce(j),
            render(j, withChangedValue(j.release.parsedValues, leaf.path)),
          ]);
          // A changed value the chart refuses is a value the chart reads, too.
          if (changed.ok && changed.stdout === base.stdout) {
            inert.push(`${j.label}: ${formatPath(leaf.path)}`);
          }
        }),
      ),
    );
    expect(inert.sort()).toEqual([]);
  }, 600_000);

  it(
    "renders custom resources that the CRDs shipped by the charts accept",
    async () => {
      const crdSources = [
        "homelab: metallb",
        "homelab: cert-manager",
        "homelab: external-secrets",
        "homelab: argocd",
      ];
      const crds = (
        await Promise.all(
          crdSources.map(async (l) => objects(await render(job(l), undefined, true))),
        )
      )
        .flat()
        .filter((o) => o.kind === "CustomResourceDefinition");
      const validators = crdValidators(crds);
      const checked: string[] = [];
      const invalid: string[] = [];
      for (const j of jobs) {
        for (const o of objects(await renderOnce(j))) {
          const group = String(o.apiVersion ?? "").split("/")[0];
          const validate = validators.get(`${o.apiVersion}/${o.kind}`);
          if (!validate) {
            // Every custom resource of a group whose CRDs we have must be known by them.
            if (validators.has(`group:${group}`))
              invalid.push(`${j.label}: ${o.kind} ${o.apiVersion}: no such CRD version`);
            continue;
          }
          checked.push(o.kind);
          if (!validate(o)) {
            invalid.push(
              `${j.label}: ${o.kind} ${o.metadata?.name}: ${JSON.stringify(validate.errors)}`,
            );
          }
        }
      }
      expect(invalid).toEqual([]);
      expect(new Set(checked)).toEqual(
        new Set([
          "IPAddressPool",
          "L2Advertisement",
          "ClusterIssuer",
          "ClusterSecretStore",
          "Application",
        ]),
      );
    },
    RENDER_TIMEOUT,
  );

  describe("what docs/addons.md promises", () => {
    it.each([
      ["homelab: traefik", "10.10.30.200"],
      ["every-option: ingress-nginx", "10.10.30.201"],
    ])(
      "%s: the LoadBalancer Service gets its address from MetalLB's annotation alone",
      async (label, ip) => {
        const services = (await renderedObjects(label)).filter(
          (o) => o.kind === "Service" && o.spec?.type === "LoadBalancer",
        );
        expect(services).toHaveLength(1);
        expect(services[0].metadata.annotations).toMatchObject({
          "metallb.io/loadBalancerIPs": ip,
        });
        // MetalLB refuses a Service that has both the annotation and spec.loadBalancerIP.
        expect(services[0].spec.loadBalancerIP).toBeUndefined();
      },
      RENDER_TIMEOUT,
    );

    it(
      "cloud-cluster: the ingress-nginx Service takes any pool address",
      async () => {
        const [svc] = (await renderedObjects("cloud-cluster: ingress-nginx")).filter(
          (o) => o.kind === "Service" && o.spec?.type === "LoadBalancer",
        );
        expect(svc.metadata.annotations?.["metallb.io/loadBalancerIPs"]).toBeUndefined();
        expect(svc.spec.loadBalancerIP).toBeUndefined();
      },
      RENDER_TIMEOUT,
    );

    it(
      "metallb: L2 only, no FRR-K8s DaemonSet",
      async () => {
        const kinds = (await renderedObjects("homelab: metallb")).map(
          (o) => `${o.kind}/${o.metadata.name}`,
        );
        expect(kinds).toEqual(
          expect.arrayContaining(["Deployment/metallb-controller", "DaemonSet/metallb-speaker"]),
        );
        expect(kinds.filter((k) => /frr/i.test(k))).toEqual([]);
      },
      RENDER_TIMEOUT,
    );

    it.each(["cloud-cluster", "every-option"])(
      "%s: the GPU Operator's operands and NFD's worker tolerate exactly the GPU pools' taints",
      async (def) => {
        const { config } = parseClusterConfig(def === "cloud-cluster" ? cloud() : everyOption());
        const taints = config.nodePools
          .filter((p) => p.gpu !== undefined)
          .flatMap((p) => p.taints)
          .map((t) => {
            const m = /^([^=:]+)(?:=([^:]*))?:(\w+)$/.exec(t)!;
            return {
              key: m[1],
              ...(m[2] !== undefined ? { operator: "Equal", value: m[2] } : { operator: "Exists" }),
              effect: m[3],
            };
          });
        const rendered = await renderedObjects(`${def}: gpu-operator`);
        const policy = rendered.find((o) => o.kind === "ClusterPolicy");
        expect(sortTolerations(policy.spec.daemonsets.tolerations)).toEqual(
          sortTolerations(taints),
        );
        const worker = rendered.find(
          (o) =>
            o.kind === "DaemonSet" &&
            /node-feature-discovery-worker|nfd-worker/.test(o.metadata.name),
        );
        expect(sortTolerations(worker.spec.template.spec.tolerations)).toEqual(
          sortTolerations(taints),
        );
      },
      RENDER_TIMEOUT,
    );

    it(
      "homelab: the ArgoCD Ingress serves its domain with a certificate from the first issuer",
      async () => {
        const ingress = (await renderedObjects("homelab: argocd")).find(
          (o) => o.kind === "Ingress",
        );
        expect(ingress.spec.rules.map((r: K8sObject) => r.host)).toEqual([
          "argocd.kspray.home.lan",
        ]);
        expect(ingress.spec.tls).toEqual([
          { hosts: ["argocd.kspray.home.lan"], secretName: "argocd-server-tls" },
        ]);
        expect(ingress.metadata.annotations["cert-manager.io/cluster-issuer"]).toBe("vault-pki");
        expect(ingress.spec.ingressClassName).toBe("traefik");
      },
      RENDER_TIMEOUT,
    );

    it(
      "homelab: the iSCSI backend's StorageClass is the default, the NFS one is not",
      async () => {
        const sc = async (name: string) =>
          (await renderedObjects(`homelab: ${name}`)).find((o) => o.kind === "StorageClass");
        const iscsi = await sc("truenas-iscsi");
        const nfs = await sc("truenas-nfs");
        expect(iscsi.metadata.annotations["storageclass.kubernetes.io/is-default-class"]).toBe(
          "true",
        );
        expect(
          nfs.metadata.annotations?.["storageclass.kubernetes.io/is-default-class"] ?? "false",
        ).toBe("false");
        expect(iscsi.provisioner).toBe("org.democratic-csi.truenas-iscsi");
      },
      RENDER_TIMEOUT,
    );

    it(
      "every-option: each kind of ClusterIssuer, the Vault one trusting caBundleFile's CA",
      async () => {
        const issuers = (await renderedObjects("every-option: cluster-issuers")).filter(
          (o) => o.kind === "ClusterIssuer",
        );
        expect(issuers.map((i) => [i.metadata.name, Object.keys(i.spec)])).toEqual([
          ["vault-pki", ["vault"]],
          ["letsencrypt", ["acme"]],
          ["self-signed", ["selfSigned"]],
        ]);
        const pem = readFileSync(join(FIXTURES, "vault-ca.pem"), "utf8");
        expect(Buffer.from(issuers[0].spec.vault.caBundle, "base64").toString()).toBe(pem);
        expect(issuers[1].spec.acme.solvers[0].http01.ingress.ingressClassName).toBe("nginx");
      },
      RENDER_TIMEOUT,
    );
  });
});

/** `a.b.c` as `{ a: { b: { c: "x" } } }`, to check a `set` path like a values path. */
function pathObject(path: string): Record<string, unknown> {
  return path
    .split(".")
    .reverse()
    .reduce<unknown>((inner, key) => ({ [key]: inner }), "x") as Record<string, unknown>;
}

function sortTolerations(list: K8sObject[] = []): K8sObject[] {
  return [...list]
    .map((t) => JSON.stringify(t, Object.keys(t).sort()))
    .sort()
    .map((s) => JSON.parse(s));
}

/**
 * A validator per `group/version/Kind` from the CRDs' openAPIV3Schema. Fields a schema does
 * not name are refused (the API server would prune them without a word), except where the
 * schema keeps unknown fields.
 */
function crdValidators(crds: K8sObject[]) {
  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
  const out = new Map<string, ReturnType<Ajv["compile"]> & { errors?: unknown }>();
  for (const crd of crds) {
    out.set(`group:${crd.spec.group}`, (() => true) as never);
    for (const v of crd.spec.versions) {
      const schema = closeObjects(structuredClone(v.schema.openAPIV3Schema));
      out.set(`${crd.spec.group}/${v.name}/${crd.spec.names.kind}`, ajv.compile(schema));
    }
  }
  return out;
}

function closeObjects(node: K8sObject): K8sObject {
  if (node === null || typeof node !== "object") return node;
  for (const v of Object.values(node)) closeObjects(v);
  if (
    node.properties &&
    node.additionalProperties === undefined &&
    !node["x-kubernetes-preserve-unknown-fields"]
  ) {
    node.additionalProperties = false;
  }
  return node;
}
