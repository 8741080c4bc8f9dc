/**
 * What the helm provider itself hands to Helm for every helm_release of the addons stack:
 * the real OpenTofu with the real hashicorp/helm 3.1.1 evaluates `helm_template` data
 * sources with exactly the `values` and `set_sensitive` entries the stack synthesizes, the
 * secrets given as `TF_VAR_*` values holding every character that Helm's `--set` syntax
 * (strvals) treats specially and multi-line PEM keys. Read back path by path:
 * - every release, rendered with a fixture chart that echoes its values, holds every value
 *   the stack sets at its exact path, secrets as given, and nothing else;
 * - so it does when the entries go through the provider's `set`, whose code is the
 *   helm_release resource's own (the data source's set_sensitive has code of its own);
 * - the real charts put the exact strings where their software reads them: Grafana's admin
 *   Secret, democratic-csi's driver configuration;
 * - and what docs/addons.md ("Secrets") promises holds.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { parse, parseAllDocuments } from "yaml";

import type { Definition } from "../fixtures/definitions";
import { cloud, everyOption, FIXTURES, HOMELAB_FILE, homelab } from "../fixtures/definitions";
import type { SynthesizedAddons } from "../support/addons-synth";
import { chartDirOf, synthAddons } from "../support/addons-synth";
import type { ProviderRender } from "../support/provider-render";
import { providerRender } from "../support/provider-render";
import type { ExpectedValue } from "../support/release-values";
import { compareValues, expectedValues } from "../support/release-values";
import { synthApp } from "../support/synth-app";
import { describeWithToolchain } from "../support/toolchain";

// It renders charts with the real helm: a render took 67 s on a loaded two-core machine.
jest.setTimeout(180_000);

/** Renders the values Helm was given into one ConfigMap (see its Chart.yaml). */
const VALUES_ECHO = join(FIXTURES, "..", "charts", "values-echo");

/**
 * A private key as users paste it: several lines, a header with `:` `"` and `,`, base64
 * with `+` `/` `=`, a trailing newline. Made up, not a key. Names its variable, so that a
 * key landing in another backend's place shows.
 */
const pem = (variable: string) =>
  [
    "-----BEGIN OPENSSH PRIVATE KEY-----",
    `Comment: "${variable}, made up for tests"`,
    "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW",
    "QyNTUxOQAAACB+ZmFrZS9rZXktZm9yLXRlc3RzLW9ubHkrbm90LWEtcmVhbC1vbmUAAAA=",
    "-----END OPENSSH PRIVATE KEY-----",
    "",
  ].join("\n");

/**
 * The value of each secret variable: the characters strvals treats specially (`\`, `,`, a
 * leading `{`), the rest of its syntax (`=` `.` `[` `]` `}`), YAML's and HCL's (`:` `#` `"`
 * `'` `${` `%{`), whitespace, CR LF, non-ASCII; a value ending in `\`, one ending in `,`.
 */
function secretValue(variable: string): string {
  if (variable.startsWith("truenas_ssh_private_key_")) return pem(variable);
  if (variable.startsWith("truenas_api_key_")) return `1-${variable}:a=b\\c{d}[0].e"f'g #h,`;
  if (variable === "grafana_admin_password") {
    return `{${variable}}, p=a\\ss:w{o}[r].d "q" 'q' \${x} %{y} #z\ttab\r\nline ünï 😀 \\\\`;
  }
  throw new Error(`no test value for variable ${variable}`);
}

function secretsOf(stack: SynthesizedAddons): Record<string, string> {
  return Object.fromEntries(Object.keys(stack.json.variable ?? {}).map((v) => [v, secretValue(v)]));
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type K8sObject = any;

function objects(manifest: string): K8sObject[] {
  return parseAllDocuments(manifest)
    .map((d) => d.toJS() as K8sObject)
    .filter((o) => o !== null && typeof o === "object");
}

/** The values the echo chart was rendered with. */
function echoed(manifest: string): Record<string, unknown> {
  const [cm] = objects(manifest).filter((o) => o.kind === "ConfigMap");
  return JSON.parse(Buffer.from(cm.binaryData["values.json"], "base64").toString("utf8"));
}

/** The expected values under `prefix`, with paths from there. */
function under(expected: readonly ExpectedValue[], prefix: readonly string[]): ExpectedValue[] {
  return expected
    .filter((e) => prefix.every((k, i) => e.path[i] === k))
    .map((e) => ({ ...e, path: e.path.slice(prefix.length) }));
}

const out = mkdtempSync(join(tmpdir(), "provider-values-"));
afterAll(() => rmSync(out, { recursive: true, force: true }));

const DEFINITIONS: [string, () => Definition][] = [
  ["homelab", homelab],
  ["cloud-cluster", cloud],
  ["every-option", everyOption],
];

describeWithToolchain(["tofu"])("the add-on values, as the helm provider passes them", () => {
  const stacks = new Map<string, SynthesizedAddons>();
  const stack = (name: string) => stacks.get(name)!;

  beforeAll(() => {
    for (const [name, def] of DEFINITIONS) stacks.set(name, synthAddons(def(), join(out, name)));
  }, 300_000);

  /**
   * Every release of a definition through the echo chart, both ways a secret can travel
   * (set_sensitive; set, for the releases that have secrets): one tofu run per definition,
   * shared by the tests that read it.
   */
  const echoRuns = new Map<
    string,
    Promise<{ renders: ProviderRender[]; manifests: ReadonlyMap<string, string> }>
  >();
  function echoRun(name: string) {
    let run = echoRuns.get(name);
    if (!run) {
      run = (async () => {
        const s = stack(name);
        const renders = (["set_sensitive", "set"] as const).flatMap((via) =>
          (via === "set" ? s.releases.filter((r) => r.set_sensitive) : s.releases).map(
            (release, i) => ({ key: `${via}_${i}`, release, chartDir: VALUES_ECHO, via }),
          ),
        );
        const result = await providerRender({
          stack: s.json,
          renders,
          kubeVersion: s.kubeVersion,
          secrets: secretsOf(s),
        });
        if (!result.ok) throw new Error(`${name}: tofu failed:\n${result.output}`);
        return { renders, manifests: result.manifests };
      })();
      echoRuns.set(name, run);
    }
    return run;
  }

  /** The problems of a definition's releases through `via`, path by path. */
  async function echoProblems(name: string, via: ProviderRender["via"]) {
    const s = stack(name);
    const expected = expectedValues(s.text, secretsOf(s));
    const { renders: all, manifests } = await echoRun(name);
    const renders = all.filter((r) => r.via === via);
    const problems = renders.flatMap((r) =>
      compareValues(r.release.name, echoed(manifests.get(r.key)!), expected),
    );
    const secretPaths = expected.filter(
      (e) => e.source !== "values" && renders.some((r) => r.release.name === e.release),
    );
    return { problems, secretPaths };
  }

  describe.each(DEFINITIONS.map(([n]) => n))("%s", (name) => {
    it("every release holds each value at its path, each secret exactly as given", async () => {
      const { problems } = await echoProblems(name, "set_sensitive");
      expect(problems).toEqual([]);
    }, 300_000);
  });

  // cloud-cluster has no secret.
  it.each(["homelab", "every-option"])(
    "%s: so it does through the provider's set, the helm_release resource's code",
    async (name) => {
      const { problems, secretPaths } = await echoProblems(name, "set");
      expect(problems).toEqual([]);
      const variables = Object.keys(stack(name).json.variable ?? {});
      expect(variables.length).toBeGreaterThan(0);
      expect(new Set(secretPaths.map((e) => e.source))).toEqual(
        new Set(variables.map((v) => `var.${v}`)),
      );
    },
    300_000,
  );

  describe("the real charts", () => {
    /** The releases of a definition that carry secrets, rendered with their own charts. */
    async function renderReal(name: string, only: (release: string) => boolean = () => true) {
      const s = stack(name);
      const secrets = secretsOf(s);
      const chosen = s.releases.filter((r) => r.set_sensitive && only(r.name));
      const renders = chosen.map((r, i) => ({
        key: `r${i}`,
        release: r,
        chartDir: chartDirOf(s, r),
      }));
      const run = await providerRender({
        stack: s.json,
        renders,
        kubeVersion: s.kubeVersion,
        secrets,
      });
      if (!run.ok) throw new Error(`${name}: tofu failed:\n${run.output}`);
      const byRelease = new Map(
        renders.map((r) => [r.release.name, objects(run.manifests.get(r.key)!)]),
      );
      return { byRelease, secrets, expected: expectedValues(s.text, secrets) };
    }

    /** democratic-csi's configuration file, as the driver reads it from its Secret. */
    const driverConfig = (objs: K8sObject[]) => {
      const secret = objs.find(
        (o) => o.kind === "Secret" && String(o.metadata.name).endsWith("-driver-config"),
      );
      return parse(secret.stringData["driver-config-file.yaml"]) as Record<string, unknown>;
    };

    it("homelab: Grafana's admin Secret and each backend's driver configuration hold the exact strings", async () => {
      const { byRelease, secrets, expected } = await renderReal("homelab");
      expect([...byRelease.keys()].sort()).toEqual([
        "kube-prometheus-stack",
        "truenas-iscsi",
        "truenas-nfs",
      ]);

      const grafana = byRelease
        .get("kube-prometheus-stack")!
        .find((o) => o.kind === "Secret" && o.metadata.name === "kube-prometheus-stack-grafana");
      const data = (k: string) => Buffer.from(grafana.data[k], "base64").toString("utf8");
      expect(data("admin-password")).toBe(secrets.grafana_admin_password);
      expect(data("admin-user")).toBe("admin");

      // The whole file, path by path: the values' driver.config plus both keys.
      for (const backend of ["truenas-iscsi", "truenas-nfs"]) {
        const config = driverConfig(byRelease.get(backend)!);
        const wanted = under(
          expected.filter((e) => e.release === backend),
          ["driver", "config"],
        );
        expect(compareValues(backend, config, wanted)).toEqual([]);
        const suffix = backend.replace(/-/g, "_");
        expect(config).toMatchObject({
          httpConnection: { apiKey: secrets[`truenas_api_key_${suffix}`] },
          sshConnection: { privateKey: secrets[`truenas_ssh_private_key_${suffix}`] },
        });
      }
    }, 600_000);

    it("every-option: the API-only backends' configuration holds the exact API key, no SSH", async () => {
      const { byRelease, secrets, expected } = await renderReal("every-option", (n) =>
        n.startsWith("truenas-api-"),
      );
      expect([...byRelease.keys()].sort()).toEqual(["truenas-api-iscsi", "truenas-api-nfs"]);
      for (const [backend, objs] of byRelease) {
        const config = driverConfig(objs);
        const wanted = under(
          expected.filter((e) => e.release === backend),
          ["driver", "config"],
        );
        expect(compareValues(backend, config, wanted)).toEqual([]);
        expect(config).toMatchObject({
          httpConnection: { apiKey: secrets[`truenas_api_key_${backend.replace(/-/g, "_")}`] },
        });
        expect(config.sshConnection).toBeUndefined();
      }
    }, 600_000);
  });

  describe("what docs/addons.md promises (Secrets)", () => {
    const homelabVariables = [
      "truenas_api_key_truenas_iscsi",
      "truenas_ssh_private_key_truenas_iscsi",
      "truenas_api_key_truenas_nfs",
      "truenas_ssh_private_key_truenas_nfs",
      "grafana_admin_password",
    ];

    it("homelab.yaml takes exactly the five TF_VAR_ of the docs, each to its place", () => {
      const expected = expectedValues(stack("homelab").text, secretsOf(stack("homelab")));
      const places = expected
        .filter((e) => e.source !== "values")
        .map((e) => `TF_VAR_${e.source.slice(4)} -> ${e.release}: ${e.path.join(".")}`);
      expect(places.sort()).toEqual(
        [
          "TF_VAR_grafana_admin_password -> kube-prometheus-stack: grafana.adminPassword",
          "TF_VAR_truenas_api_key_truenas_iscsi -> truenas-iscsi: driver.config.httpConnection.apiKey",
          "TF_VAR_truenas_api_key_truenas_nfs -> truenas-nfs: driver.config.httpConnection.apiKey",
          "TF_VAR_truenas_ssh_private_key_truenas_iscsi -> truenas-iscsi: driver.config.sshConnection.privateKey",
          "TF_VAR_truenas_ssh_private_key_truenas_nfs -> truenas-nfs: driver.config.sshConnection.privateKey",
        ].sort(),
      );
      expect(Object.keys(stack("homelab").json.variable ?? {}).sort()).toEqual(
        [...homelabVariables].sort(),
      );
    });

    it("a missing secret stops before anything is read, naming its variable", async () => {
      const s = stack("homelab");
      const secrets = secretsOf(s);
      delete secrets.grafana_admin_password;
      const run = await providerRender({
        stack: s.json,
        renders: [{ key: "r0", release: s.releases[0], chartDir: VALUES_ECHO }],
        kubeVersion: s.kubeVersion,
        secrets,
      });
      expect(run.ok).toBe(false);
      expect(run.output).toMatch(/No value for required variable/);
      expect(run.output).toContain('"grafana_admin_password"');
    }, 300_000);

    it("an empty secret fails, naming the TF_VAR_ to set", async () => {
      const s = stack("homelab");
      const run = await providerRender({
        stack: s.json,
        renders: [{ key: "r0", release: s.releases[0], chartDir: VALUES_ECHO }],
        kubeVersion: s.kubeVersion,
        secrets: { ...secretsOf(s), truenas_api_key_truenas_nfs: "" },
      });
      expect(run.ok).toBe(false);
      expect(run.output).toContain(
        "truenas_api_key_truenas_nfs is empty; set TF_VAR_truenas_api_key_truenas_nfs",
      );
    }, 300_000);

    it("a secret in decomposed Unicode arrives composed (OpenTofu's strings are NFC)", async () => {
      const s = stack("homelab");
      const kps = s.releases.find((r) => r.name === "kube-prometheus-stack")!;
      const run = await providerRender({
        stack: s.json,
        renders: [{ key: "r0", release: kps, chartDir: VALUES_ECHO }],
        kubeVersion: s.kubeVersion,
        secrets: { ...secretsOf(s), grafana_admin_password: "caf\u0065\u0301" },
      });
      if (!run.ok) throw new Error(run.output);
      const grafana = echoed(run.manifests.get("r0")!).grafana as Record<string, unknown>;
      expect(grafana.adminPassword).toBe("caf\u00e9");
    }, 300_000);

    it("with the secrets in the environment, nothing synthesized holds one", () => {
      const dir = join(out, "app");
      const secrets = secretsOf(stack("homelab"));
      const env = Object.fromEntries(Object.entries(secrets).map(([k, v]) => [`TF_VAR_${k}`, v]));
      synthApp(HOMELAB_FILE, dir, env);
      const files = walk(dir);
      expect(files.some((f) => f.endsWith(join("addons", "cdk.tf.json")))).toBe(true);
      const leaks = files.flatMap((f) => {
        const text = readFileSync(f, "latin1");
        return Object.entries(secrets)
          .filter(([, v]) => text.includes(Buffer.from(v, "utf8").toString("latin1")))
          .map(([k]) => `${f}: ${k}`);
      });
      expect(leaks).toEqual([]);
    }, 300_000);
  });
});

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}
