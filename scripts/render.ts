/**
 * `npm run render -- FILE OUTDIR`: writes the Kubespray inventory (OUTDIR/hosts.yaml) and
 * group_vars (OUTDIR/group_vars/all/kubespray.yml) of a definition with static addresses,
 * exactly as the cluster stack writes them, for review or for running Kubespray by hand.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";

import { loadClusterConfig } from "../config/load";
import { runMain, UserError } from "../errors/user-error";
import { userPath } from "../lib/environment";
import { renderFiles } from "../lib/kubespray/render";

function main(): void {
  const [given, outGiven] = process.argv.slice(2);
  if (!given || !outGiven)
    throw UserError.at(
      "npm run render",
      "a FILE and an OUTDIR are needed",
      "usage: npm run render -- FILE OUTDIR",
    );
  // Relative paths start in the folder the command was run in.
  const [file, outDir] = [userPath(given), userPath(outGiven)];
  const { files } = renderFiles(loadClusterConfig(file).config);
  for (const [relative, content] of Object.entries(files)) {
    const target = join(outDir, relative);
    mkdirSync(dirname(target), { recursive: true, mode: 0o700 });
    writeFileSync(target, content, { mode: 0o600 });
    process.stdout.write(`${target}\n`);
  }
}

void runMain(main);
