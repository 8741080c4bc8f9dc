/**
 * `npm run schema`: writes the JSON Schema of the cluster definition (for editors) and the
 * field reference in docs/configuration.md from the one zod schema. `--check` exits 1 when
 * a committed file is out of date.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

import { z } from "zod";

import { ClusterConfigSchema } from "../config/schema";

import type { JsonSchema } from "./write-docs";
import { DOCS_FILE, renderDocs } from "./write-docs";

export const SCHEMA_FILE = join(__dirname, "..", "schema", "cluster.schema.json");

export function renderJsonSchema(): string {
  const schema = z.toJSONSchema(ClusterConfigSchema, { io: "input", unrepresentable: "any" });
  return `${JSON.stringify({ ...schema, $id: "https://example.invalid/proxmox-kubespray/cluster.schema.json", title: "Cluster definition" }, null, 2)}\n`;
}

async function main(): Promise<void> {
  const schema = renderJsonSchema();
  // prettier 3 is ESM inside: load it only here, so that tests can import this module.
  const prettier = await import("prettier");
  const docs = await prettier.format(
    renderDocs(readFileSync(DOCS_FILE, "utf8"), JSON.parse(schema) as JsonSchema),
    { ...(await prettier.resolveConfig(DOCS_FILE)), filepath: DOCS_FILE },
  );
  const outputs: [string, string][] = [
    [SCHEMA_FILE, schema],
    [DOCS_FILE, docs],
  ];
  if (process.argv.includes("--check")) {
    const stale = outputs.filter(([file, text]) => readFileSync(file, "utf8") !== text);
    for (const [file] of stale)
      process.stderr.write(`${file} is out of date; run npm run schema\n`);
    if (stale.length > 0) process.exit(1);
  } else {
    for (const [file, text] of outputs) {
      writeFileSync(file, text);
      process.stdout.write(`wrote ${file}\n`);
    }
  }
}

if (require.main === module) {
  main().catch((e: unknown) => {
    process.stderr.write(`${String(e)}\n`);
    process.exit(1);
  });
}
