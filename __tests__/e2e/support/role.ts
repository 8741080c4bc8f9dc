/**
 * The Proxmox VE role that docs/proxmox.md tells users to create, read from the
 * `pveum role add <name> -privs "..."` command there, so the e2e suite runs with exactly
 * the documented privileges and the docs cannot drift from what is tested.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";

import type { Acl } from "../../../proxmox-double/acl";

const DOCS = join(__dirname, "..", "..", "..", "docs", "proxmox.md");

export interface DocumentedRole {
  readonly name: string;
  readonly privileges: readonly string[];
}

export function documentedRole(file = DOCS): DocumentedRole {
  const text = readFileSync(file, "utf8");
  const m = /pveum role add (\S+) -privs "([^"]+)"/.exec(text);
  if (!m) throw new Error(`${file}: no 'pveum role add NAME -privs "..."' command`);
  const privileges = m[2]
    .replace(/\\\n/g, " ")
    .split(/\s+/)
    .filter((p) => p !== "");
  return { name: m[1], privileges };
}

/** The ACL of `pveum aclmod / -role <role>` (granted on `/`, propagating), minus `drop`. */
export function documentedAcl(drop: readonly string[] = []): Acl {
  return { "/": documentedRole().privileges.filter((p) => !drop.includes(p)) };
}
