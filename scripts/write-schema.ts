/**
 * `npm run schema`: writes the JSON Schema of the cluster definition (for editors) from
 * the one zod schema. `--check` exits 1 when the committed file is out of date.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

import { z } from "zod";

import { ClusterConfigSchema } from "../config/schema";

export const SCHEMA_FILE = join(__dirname, "..", "schema", "cluster.schema.json");

export function renderJsonSchema(): string {
  const schema = z.toJSONSchema(ClusterConfigSchema, { io: "input", unrepresentable: "any" });
  return `${JSON.stringify({ ...schema, $id: "https://example.invalid/proxmox-kubespray/cluster.schema.json", title: "Cluster definition" }, null, 2)}\n`;
}

if (require.main === module) {
  const text = renderJsonSchema();
  if (process.argv.includes("--check")) {
    const current = readFileSync(SCHEMA_FILE, "utf8");
    if (current !== text) {
      process.stderr.write(`${SCHEMA_FILE} is out of date; run npm run schema\n`);
      process.exit(1);
    }
  } else {
    writeFileSync(SCHEMA_FILE, text);
    process.stdout.write(`wrote ${SCHEMA_FILE}\n`);
  }
}
