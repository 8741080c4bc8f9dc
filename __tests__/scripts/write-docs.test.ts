/**
 * The field reference in docs/configuration.md is generated from the schema: it is up to
 * date, documents every field with its default, and the hand-written part keeps the
 * sections users are sent to.
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";

import type { JsonSchema } from "../../scripts/write-docs";
import {
  BEGIN_MARKER,
  DOCS_FILE,
  END_MARKER,
  renderDocs,
  renderFieldReference,
} from "../../scripts/write-docs";
import { renderJsonSchema } from "../../scripts/write-schema";

// It starts processes (tsx, tofu, bash): a budget for a loaded two-core machine.
jest.setTimeout(120_000);

const ROOT = resolve(__dirname, "..", "..");
const TSX = join(ROOT, "node_modules", ".bin", "tsx");
const schema = JSON.parse(renderJsonSchema()) as JsonSchema;
const docs = readFileSync(DOCS_FILE, "utf8");

/** Every field path of the schema, e.g. `nodePools[].gpu.mapping`. */
function fieldPaths(s: JsonSchema, prefix = ""): string[] {
  const object = s.properties ? s : s.items?.properties ? s.items : undefined;
  if (!object?.properties) return [];
  const base = s.properties ? prefix : `${prefix}[]`;
  return Object.entries(object.properties).flatMap(([name, field]) => {
    const path = base === "" ? name : `${base}.${name}`;
    return [path, ...fieldPaths(field, path)];
  });
}

test("schema and docs are up to date: npm run schema -- --check", () => {
  const run = spawnSync(TSX, [join(ROOT, "scripts", "write-schema.ts"), "--check"], {
    cwd: ROOT,
    encoding: "utf8",
    timeout: 60_000,
  });
  expect(run.stderr).toBe("");
  expect(run.status).toBe(0);
});

test("the page holds the generated reference between its markers", () => {
  const normalize = (text: string) => text.replace(/ *\| */g, "|").replace(/\|-+/g, "|-");
  const generated = normalize(renderDocs(docs, schema));
  expect(normalize(docs)).toBe(generated.replace(/\n{3,}/g, "\n\n"));
});

test("documents every field of the schema in the table of its object", () => {
  const reference = docs.slice(docs.indexOf(BEGIN_MARKER), docs.indexOf(END_MARKER));
  const paths = fieldPaths(schema);
  expect(paths.length).toBeGreaterThan(80);
  for (const path of paths) {
    const dot = path.lastIndexOf(".");
    const [section, name] =
      dot < 0 ? ["(top level)", path] : [path.slice(0, dot), path.slice(dot + 1)];
    const start = reference.indexOf(`### \`${section}\`\n`);
    expect({ path, start }).toEqual({ path, start: expect.any(Number) });
    expect(start).toBeGreaterThanOrEqual(0);
    const table = reference.slice(start, reference.indexOf("\n### ", start + 1) >>> 0);
    expect(table).toMatch(new RegExp(`^\\| \`${name}\` +\\|`, "m"));
  }
});

test("shows written defaults and @default notes, and marks required fields", () => {
  const reference = renderFieldReference(schema);
  expect(reference).toMatch(/\| `vmIdStart` \| integer, 100 to 999999999 \| `1000` \|/);
  expect(reference).toMatch(
    /\| `firstIp` \| string \| DHCP, the address read back from the guest agent \| First static address/,
  );
  expect(reference).toMatch(/\| `endpoint` \| URL \| \*\*required\*\* \|/);
  expect(reference).toMatch(/\| `role` \| `"control-plane"` or `"worker"` \| \*\*required\*\* \|/);
  expect(reference).not.toContain("@default");
});

test("refuses a page without the markers", () => {
  expect(() => renderDocs("# no markers\n", schema)).toThrow(/lacks the markers/);
});

test.each([
  "## Secrets",
  "PROXMOX_VE_API_TOKEN",
  "PROXMOX_VE_USERNAME",
  "PROXMOX_VE_PASSWORD",
  "TF_VAR_truenas_api_key_<backend>",
  "TF_VAR_truenas_ssh_private_key_<backend>",
  "TF_VAR_grafana_admin_password",
  "# yaml-language-server: $schema=",
  "vmIdStart + poolIndex * vmIdsPerPool",
  "Append new pools at the end",
  "`A-B`",
  "`N-M`",
  "exit code is `0` when every file is valid and `2`",
])("the hand-written part covers %s", (text) => {
  expect(docs).toContain(text);
});
