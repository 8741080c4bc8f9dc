/**
 * The JSON Schema shipped for editors (`schema/cluster.schema.json`): up to date with
 * config/schema.ts, and it accepts the reference definitions and rejects unknown keys
 * when checked by a real JSON Schema validator (draft 2020-12).
 */
import { readFileSync } from "node:fs";

import Ajv2020 from "ajv/dist/2020";
import addFormats from "ajv-formats";

import { renderJsonSchema, SCHEMA_FILE } from "../../scripts/write-schema";
import { cloud, homelab, minimal } from "../fixtures/definitions";

const schema = JSON.parse(readFileSync(SCHEMA_FILE, "utf8")) as Record<string, unknown>;
// The formats (uri, email) are checked too, as editors do.
const ajv = addFormats(new Ajv2020({ allErrors: true, strict: false }));
const check = ajv.compile(schema);

test("schema/cluster.schema.json is up to date (run npm run schema)", () => {
  expect(readFileSync(SCHEMA_FILE, "utf8")).toBe(renderJsonSchema());
});

test("is a draft 2020-12 schema", () => {
  expect(schema.$schema).toBe("https://json-schema.org/draft/2020-12/schema");
});

test.each([
  ["homelab", homelab],
  ["cloud-cluster", cloud],
  ["a minimal definition", minimal],
])("accepts %s", (_name, definition) => {
  const valid = check(definition());
  expect(check.errors ?? []).toEqual([]);
  expect(valid).toBe(true);
});

test("rejects an unknown key", () => {
  const d = homelab();
  d.nodePools[0].memoryMb = 8192;
  expect(check(d)).toBe(false);
  expect(check.errors).toContainEqual(
    expect.objectContaining({
      instancePath: "/nodePools/0",
      keyword: "additionalProperties",
      params: { additionalProperty: "memoryMb" },
    }),
  );
});

test("rejects a missing required field and a wrong type", () => {
  const d = homelab();
  delete d.proxmox.endpoint;
  d.nodePools[1].count = "three";
  expect(check(d)).toBe(false);
  expect(check.errors).toEqual(
    expect.arrayContaining([
      expect.objectContaining({ instancePath: "/proxmox", keyword: "required" }),
      expect.objectContaining({ instancePath: "/nodePools/1/count", keyword: "type" }),
    ]),
  );
});

test("rejects a cluster name that is not a DNS label", () => {
  expect(check({ ...homelab(), name: "my_cluster" })).toBe(false);
});

test("rejects an endpoint that is not a URL", () => {
  const d = homelab();
  d.proxmox.endpoint = "pve01 port 8006";
  expect(check(d)).toBe(false);
  expect(check.errors).toContainEqual(
    expect.objectContaining({ instancePath: "/proxmox/endpoint", keyword: "format" }),
  );
});
