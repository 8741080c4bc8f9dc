/**
 * `npm run validate [-- FILE...]`: prints `FILE: ok` (with any warnings) or every problem,
 * one per line. Without a file, the definition in `CLUSTER_CONFIG`, as the other commands
 * take it. Relative paths start in the folder the command was run in (`userPath`). Every
 * file the definition names (a Vault CA bundle, a local chart) is read as the synth reads
 * it, from the project's folder. Exit 0 when all files are valid, 2 otherwise.
 */
import { loadClusterConfig } from "../config/load";
import { readNamedFiles } from "../config/named-files";
import { EXIT_USER_ERROR, formatIssue, runMain, UserError } from "../errors/user-error";
import { definitionFile, userPath } from "../lib/environment";

function main(): number {
  const args = process.argv.slice(2).map((f) => userPath(f));
  const files = args.length > 0 ? args : process.env.CLUSTER_CONFIG ? [definitionFile()] : [];
  if (files.length === 0)
    throw UserError.at(
      "npm run validate",
      "no definition to validate",
      "usage: npm run validate -- FILE... (or set CLUSTER_CONFIG)",
    );
  let failed = false;
  for (const file of files) {
    try {
      const { config, warnings, locate } = loadClusterConfig(file);
      // The files it names, from where the synth reads them (the folder cdktf runs in).
      try {
        readNamedFiles(config, process.cwd());
      } catch (e) {
        throw e instanceof UserError && locate !== undefined ? e.locatedIn(file, locate) : e;
      }
      process.stdout.write(`${file}: ok\n`);
      for (const w of warnings) process.stdout.write(`${formatIssue(w)}\n`);
    } catch (e) {
      if (!(e instanceof UserError)) throw e;
      failed = true;
      for (const line of e.lines()) process.stdout.write(`${line}\n`);
    }
  }
  return failed ? EXIT_USER_ERROR : 0;
}

void runMain(main);
