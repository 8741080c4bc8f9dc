/**
 * Preflight: everything a deploy needs, checked before anything changes, every problem at
 * once: the state database, this machine's (local-checks.ts), the add-ons' room
 * (capacity.ts, when asked), then Proxmox VE's (proxmox-checks.ts).
 */
import type { ClusterConfig } from "../config/schema";
import type { Issue } from "../errors/user-error";
import { issue } from "../errors/user-error";
import type { RenderOptions } from "../lib/capacity/render";
import { checkPgConnection } from "../lib/pg-connection";
import { PG_CONN_STR } from "../lib/state-backend";

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
  /**
   * Check that the add-ons' pods fit the nodes, rendering their charts with these (slow:
   * every chart is rendered once). @default not checked
   */
  readonly capacity?: RenderOptions;
}

/**
 * The capacity check, loaded only when asked for: it synthesizes the addons stack, and
 * `npm run diff` must not load cdktf for nothing.
 */
async function capacityProblems(config: ClusterConfig, opts: RenderOptions): Promise<Issue[]> {
  const { checkCapacity } = await import("./capacity");
  return (await checkCapacity(config, opts)).problems;
}

/** With `state.backend: pg`: PostgreSQL accepts `PG_CONN_STR`'s connection. */
async function checkStateDatabase(config: ClusterConfig, env: NodeJS.ProcessEnv): Promise<Issue[]> {
  if (config.state.backend !== "pg") return [];
  if (!env[PG_CONN_STR])
    return [
      issue(
        PG_CONN_STR,
        "not set (state.backend: pg)",
        "export postgres://user@host:port/database?sslmode=... (the password in ~/.pgpass or PGPASSWORD)",
      ),
    ];
  const fault = await checkPgConnection(env);
  return fault ? [issue(PG_CONN_STR, fault.problem, fault.fix)] : [];
}

/** Every problem a deploy of `config` would meet, at once. */
export async function preflight(
  config: ClusterConfig,
  api: ProxmoxApi,
  env: NodeJS.ProcessEnv,
  opts: PreflightOptions = {},
): Promise<Issue[]> {
  return [
    // First: every stack's state, and the synth's Kubespray record, live there.
    ...(await checkStateDatabase(config, env)),
    ...(opts.addons === false ? [] : secretProblems(config, env)),
    ...(opts.cluster === false ? [] : kubesprayProblems(config, opts.baseDir ?? process.cwd())),
    ...(opts.capacity === undefined ? [] : await capacityProblems(config, opts.capacity)),
    ...(await proxmoxProblems(config, api, env)),
  ];
}
