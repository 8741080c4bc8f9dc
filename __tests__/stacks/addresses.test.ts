/**
 * Construct IDs are the Terraform state's contract: a changed resource address destroys and
 * recreates infrastructure. This test synthesizes the whole app (main.ts, all three stacks)
 * for both reference definitions and compares every address (resources, data sources,
 * outputs, variables) with a committed golden file. A rename must go through cdktf's
 * `moveTo`; regenerate the golden file only for an intended change:
 *
 *   UPDATE_GOLDEN=1 npx jest __tests__/stacks/addresses.test.ts
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { CLOUD_FILE, HOMELAB_FILE } from "../fixtures/definitions";
import { stackDir, synthApp } from "../support/synth-app";

const STACKS = ["vms", "cluster", "addons"] as const;
const GOLDEN_DIR = join(__dirname, "__golden__");
const UPDATE = process.env.UPDATE_GOLDEN === "1";

type Block = Record<string, Record<string, unknown>>;
interface StackJson {
  resource?: Block;
  data?: Block;
  output?: Record<string, unknown>;
  variable?: Record<string, unknown>;
}

/** Every address of one synthesized stack, as `<stack>: <address>`, sorted. */
function addresses(outDir: string, stack: string): string[] {
  const json = JSON.parse(
    readFileSync(join(stackDir(outDir, stack), "cdk.tf.json"), "utf8"),
  ) as StackJson;
  const typed = (block: Block | undefined, prefix: string) =>
    Object.entries(block ?? {}).flatMap(([type, byName]) =>
      Object.keys(byName).map((name) => `${prefix}${type}.${name}`),
    );
  return [
    ...typed(json.resource, ""),
    ...typed(json.data, "data."),
    ...Object.keys(json.output ?? {}).map((name) => `output.${name}`),
    ...Object.keys(json.variable ?? {}).map((name) => `var.${name}`),
  ]
    .map((address) => `${stack}: ${address}`)
    .sort();
}

/** A readable diff of two sorted address lists, or "" when they are equal. */
function diff(golden: readonly string[], actual: readonly string[]): string {
  const was = new Set(golden);
  const now = new Set(actual);
  return [
    ...golden.filter((a) => !now.has(a)).map((a) => `- ${a}   (gone: destroyed on deploy)`),
    ...actual.filter((a) => !was.has(a)).map((a) => `+ ${a}   (new)`),
  ].join("\n");
}

describe("resource addresses (the state's contract)", () => {
  jest.setTimeout(120_000);

  it.each([
    ["homelab", HOMELAB_FILE],
    ["cloud-cluster", CLOUD_FILE],
  ])("are unchanged for %s", (example, file) => {
    const { outDir } = synthApp(file, mkdtempSync(join(tmpdir(), "golden-")));
    const actual = STACKS.flatMap((stack) => addresses(outDir, stack));
    const goldenFile = join(GOLDEN_DIR, `addresses-${example}.json`);
    if (UPDATE) writeFileSync(goldenFile, `${JSON.stringify(actual, null, 2)}\n`);
    if (!existsSync(goldenFile)) {
      throw new Error(
        `no golden file ${goldenFile}; create it with UPDATE_GOLDEN=1 npx jest __tests__/stacks/addresses.test.ts`,
      );
    }
    const golden = JSON.parse(readFileSync(goldenFile, "utf8")) as string[];
    const changes = diff(golden, actual);
    if (changes !== "") {
      throw new Error(
        `the resource addresses of ${example} changed; a changed address destroys and recreates ` +
          `infrastructure. Rename through cdktf's moveTo, or, if the change is intended, ` +
          `regenerate with UPDATE_GOLDEN=1 npx jest __tests__/stacks/addresses.test.ts\n${changes}`,
      );
    }
    expect(actual).toEqual(golden);
  });
});
