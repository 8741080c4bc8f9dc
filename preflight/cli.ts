/**
 * `npm run preflight [-- STACK...]`: checks the definition (`CLUSTER_CONFIG`), the Proxmox
 * VE cluster it names (with `PROXMOX_VE_API_TOKEN`) and the environment (Kubespray and
 * Ansible for the cluster stack, the add-ons' secrets for the addons stack, when they are
 * among the stacks named or none is) before a deploy,
 * and prints every problem at once. Exit 0 when there is none, 2 otherwise.
 */
import { loadClusterConfig } from "../config/load";
import { EXIT_USER_ERROR, formatIssue, runMain } from "../errors/user-error";
import { definitionFile } from "../lib/environment";
import type { StackName } from "../lib/stacks";
import { checkStackNames } from "../lib/stacks";

import { capacityRenderOptions } from "./capacity";
import { preflight } from "./preflight";
import { proxmoxApiOf } from "./proxmox-api";

async function main(): Promise<number> {
  // A typo (`adons`) would otherwise skip the checks of the stack meant, and say ready.
  const stacks = checkStackNames(process.argv.slice(2));
  const file = definitionFile();
  const { config, warnings } = loadClusterConfig(file);
  for (const w of warnings) process.stdout.write(`${formatIssue(w)}\n`);
  const api = proxmoxApiOf(config, process.env);
  const deploys = (stack: StackName) => stacks.length === 0 || stacks.includes(stack);
  const found = await preflight(config, api, process.env, {
    addons: deploys("addons"),
    cluster: deploys("cluster"),
    capacity: deploys("addons") ? capacityRenderOptions(process.env, process.cwd()) : undefined,
  });
  for (const p of found) process.stdout.write(`${formatIssue(p)}\n`);
  const problems = found.filter((p) => !p.warning);
  process.stdout.write(
    problems.length === 0
      ? `preflight: ${file}: ready to deploy\n`
      : `preflight: ${problems.length} problem${problems.length === 1 ? "" : "s"}; nothing was changed\n`,
  );
  return problems.length === 0 ? 0 : EXIT_USER_ERROR;
}

void runMain(main);
