/**
 * What hashicorp/helm 3.1.1 does with a write-only `set_wo` value, on a real Kubernetes API
 * (the test cluster), with the real OpenTofu and the real provider from the offline mirror,
 * installing a fixture chart that puts `password` into a Secret (as an add-on's chart puts
 * its secret where its software reads it). Each step asserts what the provider was seen to
 * do, so that this file fails the day the provider changes:
 *
 * - `set_wo` with `set_wo_revision = 1` installs the value and keeps it out of the state;
 * - an update of another value that does not raise the revision drops it: Helm is handed
 *   the values without it, the release's values lose it and the Secret is emptied
 *   (terraform-provider-helm#1753);
 * - a revision the stack derives (a `terraform_data` replaced whenever a hash of the
 *   release's inputs or a rotation counter changes, its creation time the revision) keeps
 *   it across value and chart version changes, and a bump of the counter rotates it (as
 *   long as two applies do not fall in the same second, the revision's resolution);
 * - but not across an update the stack did not cause: after a `helm rollback` by hand, the
 *   next apply upgrades the release back to the chart it names without raising the
 *   revision, and the value is dropped;
 * - `reuse_values` keeps it on such an update, but also keeps every value the configuration
 *   stops setting, so that no option could ever be taken back;
 * - whereas `set_sensitive` (what the addons stack uses) hands Helm the value on every
 *   upgrade, so the same rollback leaves it in place; the price is that the state holds it.
 *
 * That last difference is why the add-ons' secrets stay in `set_sensitive` (docs/addons.md,
 * "Secrets"): a write-only value survives only the updates the stack foresees.
 */
import { createHash } from "node:crypto";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { CoreV1Api } from "@kubernetes/client-node";
import { stringify } from "yaml";

import { capture } from "../../scripts/processes";
import type { TestCluster } from "../../test-cluster/cluster";
import { startTestCluster } from "../../test-cluster/cluster";
import { FIXTURES } from "../fixtures/definitions";
import { describeWithControlPlane, eventually } from "../support/test-cluster";
import { describeWithToolchain, toolchainEnv, toolPath } from "../support/toolchain";

// It talks to the test cluster's API server: a budget for a loaded two-core machine.
jest.setTimeout(120_000);

const CHART = join(FIXTURES, "..", "charts", "secret-echo");
const APPLY_MS = 180_000;

/** Made up; found nowhere but where a step puts it. */
const SECRET = "wo-Secret-7Hq2-only-in-the-cluster";
const ROTATED = "wo-Rotated-K9x4-only-in-the-cluster";

/** How a workspace hands the secret to the provider. */
type Via =
  | { readonly kind: "set_wo"; readonly revision: number }
  | { readonly kind: "set_wo"; readonly revision: "derived"; readonly rotation: number }
  | { readonly kind: "set_sensitive" };

interface Inputs {
  /** The one other value; none at all when undefined. */
  readonly color?: string;
  /** The fixture chart, at this version. */
  readonly chartVersion: string;
  readonly secret: string;
  readonly via: Via;
  /** helm_release's `reuse_values`. @default false, as the addons stack has it */
  readonly reuseValues?: boolean;
}

describeWithControlPlane("hashicorp/helm 3.1.1's write-only set_wo on a test cluster", () => {
  describeWithToolchain(["tofu", "helm"])("installs, updates, rollbacks", () => {
    let cluster: TestCluster;
    let core: CoreV1Api;
    let work: string;

    beforeAll(async () => {
      work = mkdtempSync(join(tmpdir(), "helm-wo-"));
      cluster = await startTestCluster({ dir: join(work, "cluster") });
      core = cluster.client(CoreV1Api);
    }, 180_000);

    afterAll(async () => {
      await cluster?.stop();
      if (work) rmSync(work, { recursive: true, force: true });
    });

    /** The fixture chart with `version` in its Chart.yaml, in a folder of its own. */
    const chartAt = (version: string): string => {
      const dir = join(work, "charts", version, "secret-echo");
      cpSync(CHART, dir, { recursive: true });
      const meta = readFileSync(join(dir, "Chart.yaml"), "utf8");
      writeFileSync(join(dir, "Chart.yaml"), meta.replace(/^version: .*$/m, `version: ${version}`));
      return dir;
    };

    /** A Terraform configuration of one helm_release, in its own folder with its own state. */
    class Workspace {
      readonly dir: string;
      constructor(
        readonly release: string,
        readonly namespace: string,
      ) {
        this.dir = join(work, release);
        mkdirSync(this.dir, { recursive: true });
      }

      private env(secret: string): NodeJS.ProcessEnv {
        const base = Object.fromEntries(
          Object.entries(process.env).filter(
            ([k]) => !/^(TF_VAR_|HELM_|KUBE_CONFIG_PATH$|KUBECONFIG$)/.test(k),
          ),
        );
        return {
          ...toolchainEnv(base),
          TF_IN_AUTOMATION: "1",
          HELM_CACHE_HOME: join(this.dir, "helm"),
          HELM_CONFIG_HOME: join(this.dir, "helm"),
          HELM_DATA_HOME: join(this.dir, "helm"),
          TF_VAR_secret: secret,
        };
      }

      private write(inputs: Inputs): void {
        const { via } = inputs;
        const entry = { name: "password", value: "${var.secret}", type: "string" };
        const secretArgs =
          via.kind === "set_sensitive"
            ? { set_sensitive: [entry] }
            : {
                set_wo: [entry],
                set_wo_revision:
                  via.revision === "derived"
                    ? '${parseint(formatdate("YYYYMMDDhhmmss", terraform_data.wo_revision.output), 10)}'
                    : via.revision,
              };
        // What the stack would hash at synth time: every input of the release but the secret.
        const inputsHash = createHash("sha256")
          .update(JSON.stringify({ color: inputs.color, chart: inputs.chartVersion }))
          .digest("hex");
        const derived = via.kind === "set_wo" && via.revision === "derived";
        const config = {
          terraform: {
            required_providers: { helm: { source: "hashicorp/helm", version: "3.1.1" } },
          },
          provider: { helm: { kubernetes: { config_path: cluster.kubeconfigPath } } },
          variable: {
            secret: {
              type: "string",
              sensitive: true,
              // A write-only argument takes an ephemeral value: then neither the state nor a
              // saved plan holds it. set_sensitive cannot take one.
              ephemeral: via.kind === "set_wo",
            },
          },
          resource: {
            ...(derived
              ? {
                  terraform_data: {
                    wo_revision: {
                      triggers_replace: [inputsHash, via.rotation],
                      // Its creation time: later for every replacement, fixed otherwise.
                      input: "${timestamp()}",
                      lifecycle: { ignore_changes: ["input"] },
                    },
                  },
                }
              : {}),
            helm_release: {
              echo: {
                name: this.release,
                namespace: this.namespace,
                create_namespace: true,
                chart: chartAt(inputs.chartVersion),
                values: [stringify(inputs.color === undefined ? {} : { color: inputs.color })],
                atomic: true,
                cleanup_on_fail: true,
                reuse_values: inputs.reuseValues ?? false,
                timeout: 120,
                ...secretArgs,
              },
            },
          },
        };
        writeFileSync(join(this.dir, "main.tf.json"), JSON.stringify(config, null, 2));
      }

      private async tofu(secret: string, ...args: string[]) {
        const r = await capture(
          toolPath("tofu"),
          [...args, "-no-color"],
          this.dir,
          this.env(secret),
        );
        return { status: r.status, output: `${r.stdout}\n${r.stderr}` };
      }

      /** When the last apply ended (ms). */
      private applied = 0;

      /** init (once) and apply `inputs`; fails the test with tofu's output otherwise. */
      async apply(inputs: Inputs): Promise<void> {
        // The derived revision counts seconds: two applies in one second would share it.
        const second = Math.floor(this.applied / 1000);
        await eventually(
          "the clock in a later second than the last apply",
          async () => ({ done: Math.floor(Date.now() / 1000) > second, value: undefined }),
          5_000,
          50,
        );
        this.write(inputs);
        const init = await this.tofu(inputs.secret, "init", "-input=false");
        if (init.status !== 0) throw new Error(`tofu init:\n${init.output}`);
        const apply = await this.tofu(inputs.secret, "apply", "-auto-approve", "-input=false");
        this.applied = Date.now();
        if (apply.status !== 0) throw new Error(`tofu apply:\n${apply.output}`);
      }

      /** `tofu plan -detailed-exitcode` of `inputs`: 0 no changes, 2 changes. */
      async plan(inputs: Inputs): Promise<{ status: number; output: string }> {
        this.write(inputs);
        return this.tofu(inputs.secret, "plan", "-detailed-exitcode", "-input=false");
      }

      /** What Helm keeps as the release's values (`helm get values -o json`). */
      async helmValues(): Promise<Record<string, unknown>> {
        const r = await this.helm("get", "values", this.release, "-o", "json");
        return (JSON.parse(r) ?? {}) as Record<string, unknown>;
      }

      async helm(...args: string[]): Promise<string> {
        const r = await capture(
          toolPath("helm"),
          [...args, "--namespace", this.namespace, "--kubeconfig", cluster.kubeconfigPath],
          this.dir,
          this.env(""),
        );
        if (r.status !== 0) throw new Error(`helm ${args.join(" ")}: ${r.stderr}`);
        return r.stdout;
      }

      /** The password as the chart's Secret holds it in the cluster. */
      async secretInCluster(): Promise<string> {
        const s = await core.readNamespacedSecret({
          name: `${this.release}-password`,
          namespace: this.namespace,
        });
        return Buffer.from(s.data?.password ?? "", "base64").toString("utf8");
      }

      /** The colour as the chart's ConfigMap holds it: proof that an update happened. */
      async colorInCluster(): Promise<string> {
        const c = await core.readNamespacedConfigMap({
          name: `${this.release}-color`,
          namespace: this.namespace,
        });
        return c.data?.color ?? "";
      }

      stateHolds(text: string): boolean {
        return readFileSync(join(this.dir, "terraform.tfstate"), "utf8").includes(text);
      }
    }

    describe("set_wo with a revision the configuration names", () => {
      let w: Workspace;
      const base: Inputs = {
        color: "blue",
        chartVersion: "0.1.0",
        secret: SECRET,
        via: { kind: "set_wo", revision: 1 },
      };

      it(
        "installs the value into the release and its Secret, and keeps it out of the state",
        async () => {
          w = new Workspace("fixed", "wo-fixed");
          await w.apply(base);
          expect(await w.helmValues()).toEqual({ color: "blue", password: SECRET });
          expect(await w.secretInCluster()).toBe(SECRET);
          expect(w.stateHolds(SECRET)).toBe(false);
        },
        APPLY_MS,
      );

      it(
        "drops it on an update of another value that does not raise set_wo_revision (terraform-provider-helm#1753)",
        async () => {
          await w.apply({ ...base, color: "green" });
          expect(await w.colorInCluster()).toBe("green");
          // Observed with hashicorp/helm 3.1.1: Helm was handed the values without it.
          expect(await w.helmValues()).toEqual({ color: "green" });
          expect(await w.secretInCluster()).toBe("");
        },
        APPLY_MS,
      );
    });

    describe("set_wo with a revision the stack derives from the release's inputs and a rotation counter", () => {
      let w: Workspace;
      const base: Inputs = {
        color: "blue",
        chartVersion: "0.1.0",
        secret: SECRET,
        via: { kind: "set_wo", revision: "derived", rotation: 1 },
      };

      it(
        "keeps the value across a value change and a chart version change, and out of the state",
        async () => {
          w = new Workspace("derived", "wo-derived");
          await w.apply(base);
          expect(await w.secretInCluster()).toBe(SECRET);

          await w.apply({ ...base, color: "green" });
          expect(await w.colorInCluster()).toBe("green");
          expect(await w.helmValues()).toEqual({ color: "green", password: SECRET });

          await w.apply({ ...base, color: "green", chartVersion: "0.2.0" });
          expect(await w.helm("list", "-o", "json")).toContain('"chart":"secret-echo-0.2.0"');
          expect(await w.helmValues()).toEqual({ color: "green", password: SECRET });
          expect(await w.secretInCluster()).toBe(SECRET);
          expect(w.stateHolds(SECRET)).toBe(false);
        },
        3 * APPLY_MS,
      );

      it(
        "plans no change once applied, and a bumped rotation counter installs a new secret",
        async () => {
          const applied: Inputs = { ...base, color: "green", chartVersion: "0.2.0" };
          const again = await w.plan(applied);
          expect({ status: again.status, output: again.output }).toMatchObject({ status: 0 });

          await w.apply({
            ...applied,
            secret: ROTATED,
            via: { kind: "set_wo", revision: "derived", rotation: 2 },
          });
          expect(await w.secretInCluster()).toBe(ROTATED);
          expect(w.stateHolds(ROTATED)).toBe(false);
        },
        2 * APPLY_MS,
      );

      it(
        "drops it on the update that follows a rollback by hand: the stack's inputs did not change, so neither did the revision",
        async () => {
          const applied: Inputs = {
            color: "green",
            chartVersion: "0.2.0",
            secret: ROTATED,
            via: { kind: "set_wo", revision: "derived", rotation: 2 },
          };
          await w.helm("rollback", "derived", "1", "--wait");
          expect(await w.helm("list", "-o", "json")).toContain('"chart":"secret-echo-0.1.0"');
          const drift = await w.plan(applied);
          expect({ status: drift.status, output: drift.output }).toMatchObject({ status: 2 });

          await w.apply(applied);
          expect(await w.helm("list", "-o", "json")).toContain('"chart":"secret-echo-0.2.0"');
          // Observed with hashicorp/helm 3.1.1: upgraded without the write-only value.
          expect(await w.helmValues()).toEqual({ color: "green" });
          expect(await w.secretInCluster()).toBe("");
        },
        2 * APPLY_MS,
      );
    });

    describe("set_wo with reuse_values", () => {
      it(
        "keeps the value on an update without a new revision, and also every value the configuration no longer sets",
        async () => {
          const w = new Workspace("reuse", "wo-reuse");
          const base: Inputs = {
            color: "blue",
            chartVersion: "0.1.0",
            secret: SECRET,
            via: { kind: "set_wo", revision: 1 },
            reuseValues: true,
          };
          await w.apply(base);
          await w.apply({ ...base, chartVersion: "0.2.0" });
          expect(await w.secretInCluster()).toBe(SECRET);
          // Helm merged the last release's values in: a value taken out stays set.
          await w.apply({ ...base, chartVersion: "0.2.0", color: undefined });
          expect(await w.helmValues()).toEqual({ color: "blue", password: SECRET });
          expect(await w.colorInCluster()).toBe("blue");
        },
        3 * APPLY_MS,
      );
    });

    describe("set_sensitive, as the addons stack passes secrets", () => {
      it(
        "keeps the value across the same rollback by hand, and the state holds it",
        async () => {
          const w = new Workspace("sensitive", "wo-sensitive");
          const base: Inputs = {
            color: "blue",
            chartVersion: "0.1.0",
            secret: SECRET,
            via: { kind: "set_sensitive" },
          };
          await w.apply(base);
          await w.apply({ ...base, chartVersion: "0.2.0" });
          await w.helm("rollback", "sensitive", "1", "--wait");
          await w.apply({ ...base, chartVersion: "0.2.0", color: "green" });
          expect(await w.colorInCluster()).toBe("green");
          expect(await w.helmValues()).toEqual({ color: "green", password: SECRET });
          expect(await w.secretInCluster()).toBe(SECRET);
          // Hence docs/operations.md: the addons state is a secret (0600, or encrypted in pg).
          expect(w.stateHolds(SECRET)).toBe(true);
        },
        4 * APPLY_MS,
      );
    });
  });
});
