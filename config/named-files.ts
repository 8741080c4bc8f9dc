/**
 * Files the definition names besides itself: the PEM CA bundles of Vault issuers (read into
 * the addons stack) and the local charts of `addons.chartOverrides` (copied into it). The
 * synth and `npm run validate` both go through `readNamedFiles`, so that a file the
 * definition names and this machine lacks is found by either, on its field.
 */
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";

import type { Issue } from "../errors/user-error";
import { issue, UserError } from "../errors/user-error";

import type { ChartName } from "./chart-names";
import type { ClusterConfig } from "./schema";

/** What the files the definition names hold. */
export interface NamedFiles {
  /** The PEM CA bundle of each Vault issuer with `caBundleFile`, by issuer name. */
  readonly vaultCaBundles: Record<string, string>;
}

/** What reading the Vault issuers' CA bundles found: the bundles, and each file it could not read. */
function vaultCaBundles(
  config: ClusterConfig,
  baseDir: string,
): { bundles: Record<string, string>; issues: Issue[] } {
  const bundles: Record<string, string> = {};
  const issues: Issue[] = [];
  config.addons.certManager?.clusterIssuers.forEach((issuer, i) => {
    const file = issuer.vault?.caBundleFile;
    if (file === undefined) return;
    try {
      bundles[issuer.name] = readFileSync(resolve(baseDir, file), "utf8");
    } catch (e) {
      issues.push(
        issue(
          `addons.certManager.clusterIssuers[${i}].vault.caBundleFile`,
          `cannot read ${JSON.stringify(file)} (${(e as NodeJS.ErrnoException).code ?? String(e)})`,
          "give the path of a PEM file",
        ),
      );
    }
  });
  return { bundles, issues };
}

/** Each chart override whose local `path` is not there. */
function chartPathIssues(config: ClusterConfig, baseDir: string): Issue[] {
  return Object.entries(config.addons.chartOverrides).flatMap(([name, override]) => {
    const path = override?.path;
    if (path === undefined || existsSync(resolve(baseDir, path))) return [];
    return [
      issue(
        `addons.chartOverrides.${name as ChartName}.path`,
        `${JSON.stringify(path)} does not exist (relative paths start in ${baseDir})`,
        "give a chart directory or .tgz on this machine, or leave path out for the repository",
      ),
    ];
  });
}

/**
 * Reads every file the definition names; a relative path starts at `baseDir` (where cdktf
 * runs). Throws one UserError with each file that is missing or cannot be read, on its field.
 */
export function readNamedFiles(config: ClusterConfig, baseDir: string): NamedFiles {
  const vault = vaultCaBundles(config, baseDir);
  const issues = [...vault.issues, ...chartPathIssues(config, baseDir)];
  if (issues.length > 0) throw new UserError(issues);
  return { vaultCaBundles: vault.bundles };
}
