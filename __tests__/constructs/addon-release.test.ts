import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { Testing, TerraformVariable } from "cdktf";

import { AddonRelease } from "../../constructs/addon-release";
import { UserError } from "../../errors/user-error";
import { localChart, resolveChart } from "../../lib/charts";
import { release } from "../support/releases";
import { tofu } from "../support/synth-app";
import { describeWithToolchain } from "../support/toolchain";

// It synthesizes in a child process: a budget for a loaded two-core machine.
jest.setTimeout(120_000);

describe("AddonRelease", () => {
  it("installs a pinned chart with its values as YAML, atomically, waiting by default", () => {
    const synth = Testing.synthScope((scope) => {
      new AddonRelease(scope, "X", {
        name: "x",
        namespace: "ns",
        chart: resolveChart("traefik", undefined),
        values: { a: { b: [1, 2] }, shared: [{ k: 1 }] },
      });
    });
    const r = release(synth, "x");
    expect(r).toMatchObject({
      repository: "https://traefik.github.io/charts",
      chart: "traefik",
      wait: true,
      atomic: true,
      timeout: 300,
    });
    expect(r.parsedValues).toEqual({ a: { b: [1, 2] }, shared: [{ k: 1 }] });
  });

  it("writes repeated objects out instead of YAML aliases", () => {
    const shared = [{ key: "k", operator: "Exists" }];
    const synth = Testing.synthScope((scope) => {
      new AddonRelease(scope, "X", {
        name: "x",
        namespace: "ns",
        chart: resolveChart("traefik", undefined),
        values: { one: shared, two: shared },
      });
    });
    const raw = JSON.parse(synth).resource.helm_release;
    const values = (Object.values(raw)[0] as { values: string[] }).values[0];
    expect(values).not.toMatch(/[&*]a\d/);
  });

  it("passes secrets through set_sensitive as strings, not in values", () => {
    const synth = Testing.synthScope((scope) => {
      new AddonRelease(scope, "X", {
        name: "x",
        namespace: "ns",
        chart: resolveChart("traefik", undefined),
        sensitiveValues: [{ path: "a.password", value: "TOKEN" }],
      });
    });
    const r = release(synth, "x");
    expect(r.set_sensitive).toEqual([
      {
        name: "a.password",
        value: expect.stringMatching(/^\$\{replace\("TOKEN", /),
        type: "string",
      },
    ]);
    expect(r.parsedValues).toEqual({});
  });

  it.each(["a[0].b", "a\\.b", "a,b", "a=b", ".a", "a..b", ""])(
    "rejects the secret path %j, which the provider would not read as map keys",
    (path) => {
      expect(() =>
        Testing.synthScope((scope) => {
          new AddonRelease(scope, "X", {
            name: "x",
            namespace: "ns",
            chart: resolveChart("traefik", undefined),
            sensitiveValues: [
              { path: "ok.path", value: "A" },
              { path, value: "B" },
            ],
          });
        }),
      ).toThrow(
        UserError.at(
          "sensitiveValues[1].path",
          `${JSON.stringify(path)} is not a values path`,
          "use map keys of letters, digits, '_' or '-', joined by '.'",
        ),
      );
    },
  );

  it("copies a local chart into the stack and points at the copy", () => {
    const synth = Testing.synthScope((scope) => {
      new AddonRelease(scope, "X", {
        name: "x",
        namespace: "ns",
        chart: localChart("metallb-pools"),
      });
    });
    const r = release(synth, "x");
    expect(r.chart).toMatch(/^\.\/assets\/X_Chart_[0-9A-F]+\/[0-9A-F]+$/);
    expect(r.repository).toBeUndefined();
    expect(r.version).toBeUndefined();
  });
});

describeWithToolchain(["tofu"])("AddonRelease, evaluated by OpenTofu", () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  // What Helm's strvals parser then makes of it: __tests__/charts/provider-values.test.ts.
  it("escapes each \\ , and { of a secret with a backslash, in Terraform, and nothing else", () => {
    const synth = JSON.parse(
      Testing.synthScope((scope) => {
        const secret = new TerraformVariable(scope, "secret", { type: "string", sensitive: true });
        new AddonRelease(scope, "X", {
          name: "x",
          namespace: "ns",
          chart: resolveChart("traefik", undefined),
          sensitiveValues: [{ path: "a.password", value: secret.stringValue }],
        });
      }),
    );
    const dir = mkdtempSync(join(tmpdir(), "addon-release-"));
    dirs.push(dir);
    writeFileSync(
      join(dir, "main.tf.json"),
      JSON.stringify({
        variable: synth.variable,
        output: {
          escaped: { value: release(synth, "x").set_sensitive![0].value, sensitive: true },
        },
      }),
    );
    const env = { TF_VAR_secret: '{a\\b,c{d}=e.f[0]:g"h ${i} %{j}\n-----\n\\' };
    for (const args of [["init"], ["apply", "-auto-approve"]]) {
      const run = tofu(dir, [...args, "-input=false", "-no-color"], env);
      if (run.status !== 0) throw new Error(`tofu ${args[0]}: ${run.stderr}${run.stdout}`);
    }
    const out = JSON.parse(tofu(dir, ["output", "-json"]).stdout);
    expect(out.escaped.value).toBe('\\{a\\\\b\\,c\\{d}=e.f[0]:g"h $\\{i} %\\{j}\n-----\n\\\\');
  }, 120_000);
});
