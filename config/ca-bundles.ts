/** Files the definition names besides itself: the PEM CA bundles of Vault issuers. */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";

import { UserError } from "../errors/user-error";

import type { ClusterConfig } from "./schema";

/**
 * The PEM CA bundles of Vault issuers with `caBundleFile` (public data), by issuer name; a
 * relative path starts at `baseDir`. A file that cannot be read is a UserError on its field.
 */
export function readVaultCaBundles(config: ClusterConfig, baseDir: string): Record<string, string> {
  const out: Record<string, string> = {};
  config.addons.certManager?.clusterIssuers.forEach((issuer, i) => {
    const file = issuer.vault?.caBundleFile;
    if (file === undefined) return;
    try {
      out[issuer.name] = readFileSync(resolve(baseDir, file), "utf8");
    } catch (e) {
      throw UserError.at(
        `addons.certManager.clusterIssuers[${i}].vault.caBundleFile`,
        `cannot read ${JSON.stringify(file)} (${(e as NodeJS.ErrnoException).code ?? String(e)})`,
        "give the path of a PEM file",
      );
    }
  });
  return out;
}
