/**
 * `npm run validate -- FILE...` end to end, as a user runs it: `FILE: ok` and exit 0 for
 * valid files, every problem one per line and exit 2 otherwise, never a stack trace.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

import { stringify } from "yaml";

import { CLOUD_FILE, FIXTURES, homelab, HOMELAB_FILE } from "../fixtures/definitions";

// It starts processes (tsx, tofu, bash): a budget for a loaded two-core machine.
jest.setTimeout(120_000);

const ROOT = resolve(__dirname, "..", "..");
const TSX = join(ROOT, "node_modules", ".bin", "tsx");

function validate(...files: string[]): { status: number | null; output: string } {
  return validateWith({}, ...files);
}

function validateWith(
  env: NodeJS.ProcessEnv,
  ...files: string[]
): { status: number | null; output: string } {
  const base = { ...process.env };
  delete base.CLUSTER_CONFIG;
  const run = spawnSync(TSX, [join(ROOT, "scripts", "validate.ts"), ...files], {
    cwd: ROOT,
    encoding: "utf8",
    timeout: 60_000,
    env: { ...base, ...env },
  });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

const STACK_FRAME = /^\s+at /m;

test("prints ok for both reference examples and the bundled one, exit 0", () => {
  const bundled = join(ROOT, "examples", "homelab.yaml");
  const { status, output } = validate(HOMELAB_FILE, CLOUD_FILE, bundled);
  expect(output.split("\n")).toEqual([
    `${HOMELAB_FILE}: ok`,
    `${CLOUD_FILE}: ok`,
    expect.stringMatching(
      new RegExp(
        `^warning: ${CLOUD_FILE.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:76: addons.ingress.controller: ingress-nginx was retired upstream`,
      ),
    ),
    `${bundled}: ok`,
    "",
  ]);
  expect(status).toBe(0);
});

test("prints every problem of a bad file, one per line, and exits 2 without a stack trace", () => {
  const bad = join(FIXTURES, "three-mistakes.yaml");
  const { status, output } = validate(HOMELAB_FILE, bad);
  expect(status).toBe(2);
  expect(output).not.toMatch(STACK_FRAME);
  const lines = output.trim().split("\n");
  expect(lines[0]).toBe(`${HOMELAB_FILE}: ok`);
  expect(lines.slice(1).sort()).toEqual(
    [
      `${bad}:11: network.vlanId: 5000 is above the maximum of 4094`,
      `${bad}:20: nodePools[0].count: 2 control-plane nodes cannot keep etcd quorum; use 1, 3 or 5`,
      `${bad}:21: nodePools[0].memoryMb: unknown key; did you mean "memoryMiB"?`,
    ].sort(),
  );
});

test("names the line of a YAML syntax error, and goes on with the next file", () => {
  const broken = join(FIXTURES, "bad-syntax.yaml");
  const { status, output } = validate(broken, CLOUD_FILE);
  expect(status).toBe(2);
  expect(output).not.toMatch(STACK_FRAME);
  expect(output).toMatch(new RegExp(`^.*bad-syntax\\.yaml:7: YAML syntax error: `, "m"));
  expect(output).toContain(`${CLOUD_FILE}: ok`);
});

test("reports a missing file without a stack trace", () => {
  const missing = join(FIXTURES, "nope.yaml");
  const { status, output } = validate(missing);
  expect(status).toBe(2);
  expect(output.trim()).toBe(
    `${missing}: cannot read the file (ENOENT); check the path, a relative one starts in the folder the command was run in`,
  );
});

test("prints its usage without arguments, exit 2", () => {
  const { status, output } = validate();
  expect(status).toBe(2);
  expect(output).toContain("usage: npm run validate -- FILE...");
});

test("without a file, validates CLUSTER_CONFIG like the other commands; with neither, says how", () => {
  const bad = join(FIXTURES, "three-mistakes.yaml");
  const fromEnv = validateWith({ CLUSTER_CONFIG: bad });
  expect(fromEnv.status).toBe(2);
  expect(fromEnv.output).toContain(`${bad}:`);
  expect(validateWith({ CLUSTER_CONFIG: CLOUD_FILE }).output).toContain(`${CLOUD_FILE}: ok`);
  const neither = validateWith({});
  expect(neither.status).toBe(2);
  expect(neither.output).toContain("usage: npm run validate -- FILE... (or set CLUSTER_CONFIG)");
});

test("reads relative paths from the folder npm was run in (INIT_CWD), naming them in full", () => {
  const bad = `${join(FIXTURES, "three-mistakes.yaml")}:`;
  const { status, output } = validateWith({ INIT_CWD: FIXTURES }, "three-mistakes.yaml");
  expect(status).toBe(2);
  expect(output.startsWith(bad)).toBe(true);
  const fromEnv = validateWith({ INIT_CWD: FIXTURES, CLUSTER_CONFIG: "three-mistakes.yaml" });
  expect(fromEnv.output.startsWith(bad)).toBe(true);
});

test("reads every file the definition names: a missing Vault CA bundle is named on its line", () => {
  const dir = mkdtempSync(join(tmpdir(), "validate-ca-"));
  const definition = homelab();
  const missing = join(dir, "missing.pem");
  definition.addons.certManager.clusterIssuers[0].vault.caBundleFile = missing;
  const file = join(dir, "cluster.yaml");
  writeFileSync(file, stringify(definition));
  const line =
    stringify(definition)
      .split("\n")
      .findIndex((l) => l.includes("caBundleFile")) + 1;
  const { status, output } = validate(file);
  expect(output.trim()).toBe(
    `${file}:${line}: addons.certManager.clusterIssuers[0].vault.caBundleFile: cannot read ${JSON.stringify(missing)} (ENOENT); give the path of a PEM file`,
  );
  expect(status).toBe(2);
});
