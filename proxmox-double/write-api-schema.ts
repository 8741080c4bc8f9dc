/**
 * Regenerates `api-schema.json`, the double's copy of the Proxmox VE API description for
 * the endpoints it serves, from the shared, fuller description:
 *
 *   npx tsx proxmox-double/write-api-schema.ts [../shared/proxmox/api-schema.json]
 *
 * Kept: every method's `parameters` and `permissions` for the paths the double routes
 * (version, nodes, query-url-metadata, qemu, storage, tasks, cluster status/resources/nextid,
 * PCI mappings, HA resources, rules and the manager status, pools). Dropped: `returns` and every other path, so the double (and a user
 * running it) never needs the shared file.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";

const KEEP: readonly RegExp[] = [
  /^\/version$/,
  /^\/nodes$/,
  /^\/nodes\/\{node\}$/,
  /^\/nodes\/\{node\}\/status$/,
  /^\/nodes\/\{node\}\/network$/,
  /^\/nodes\/\{node\}\/query-url-metadata$/,
  /^\/access\/permissions$/,
  /^\/nodes\/\{node\}\/qemu(\/|$)/,
  /^\/nodes\/\{node\}\/storage(\/|$)/,
  /^\/nodes\/\{node\}\/tasks(\/|$)/,
  /^\/cluster\/(status|resources|nextid)$/,
  /^\/cluster\/mapping\/pci(\/|$)/,
  /^\/cluster\/ha\/(resources|rules)(\/|$)/,
  /^\/cluster\/ha\/status\/manager_status$/,
  /^\/pools(\/|$)/,
];

interface Method {
  readonly parameters?: unknown;
  readonly permissions?: unknown;
}

export function trimApiSchema(full: {
  readonly source?: string;
  readonly paths: Record<string, Record<string, Method>>;
}): Record<string, unknown> {
  const paths: Record<string, Record<string, Method>> = {};
  for (const path of Object.keys(full.paths).sort()) {
    if (!KEEP.some((re) => re.test(path))) continue;
    paths[path] = {};
    for (const [method, def] of Object.entries(full.paths[path])) {
      paths[path][method] = { parameters: def.parameters, permissions: def.permissions };
    }
  }
  return { source: `${full.source ?? "api-schema.json"}; trimmed for proxmox-double`, paths };
}

async function main(): Promise<void> {
  const from = resolve(
    process.argv[2] ?? resolve(__dirname, "..", "..", "shared", "proxmox", "api-schema.json"),
  );
  const to = resolve(__dirname, "api-schema.json");
  const trimmed = trimApiSchema(JSON.parse(readFileSync(from, "utf8")));
  // Loaded here, not at the top: prettier's CommonJS entry starts a dynamic import, which
  // jest refuses in a test that only needs trimApiSchema.
  const { format, resolveConfig } = await import("prettier");
  writeFileSync(
    to,
    await format(JSON.stringify(trimmed), { ...(await resolveConfig(to)), filepath: to }),
  );
  console.log(`${to}: ${Object.keys(trimmed.paths as object).length} paths from ${from}`);
}

if (require.main === module) void main();
