/**
 * Preflight: everything a deploy needs, checked before anything changes, every problem at
 * once: this machine's (local-checks.ts), then Proxmox VE's (proxmox-checks.ts).
 */
import type { ClusterConfig } from "../config/schema";
import type { Issue } from "../errors/user-error";

import { kubesprayProblems, secretProblems } from "./local-checks";
import type { ProxmoxApi } from "./proxmox-api";
import { proxmoxProblems } from "./proxmox-checks";

export interface PreflightOptions {
  /** Check the add-ons' secrets (the addons stack is to be deployed). @default true */
  readonly addons?: boolean;
  /** Check Kubespray and Ansible (the cluster stack is to be deployed). @default true */
  readonly cluster?: boolean;
  /** Where relative paths of the definition start (where cdktf runs). @default process.cwd() */
  readonly baseDir?: string;
}

/** Every problem a deploy of `config` would meet, at once. */
export async function preflight(
  config: ClusterConfig,
  api: ProxmoxApi,
  env: NodeJS.ProcessEnv,
  opts: PreflightOptions = {},
): Promise<Issue[]> {
  return [
    ...(opts.addons === false ? [] : secretProblems(config, env)),
    ...(opts.cluster === false ? [] : kubesprayProblems(config, opts.baseDir ?? process.cwd())),
    ...(await proxmoxProblems(config, api, env)),
  ];
}
