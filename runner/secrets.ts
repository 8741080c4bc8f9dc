/**
 * Keeping the deploy's secrets out of Ansible and out of the runs folder. The runner's
 * environment holds the add-on secrets (`TF_VAR_*`), the state passphrase, the Proxmox
 * token and PostgreSQL's connection string: Kubespray needs none of them, so Ansible's
 * environment goes without them, and whatever the runner writes or prints of a run has
 * their values replaced, should one reach Ansible's output another way.
 */
import { PROXMOX_ENV } from "../config/secrets";
import { PG_CONN_STR } from "../lib/state-backend";

/** Variables Ansible never gets: every Terraform variable, Proxmox's and PostgreSQL's. */
export function isSecretVariable(name: string): boolean {
  return (
    name.startsWith("TF_VAR_") ||
    name.startsWith("PROXMOX_VE_") ||
    name === PG_CONN_STR ||
    name === "PGPASSWORD"
  );
}

/** `env` without the secret variables: what Ansible runs with. */
export function ansibleEnvironment(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([name]) => !isSecretVariable(name)));
}

/** Shorter values would hide ordinary words; no secret of the project is this short. */
const MIN_SECRET_LENGTH = 6;

/** Replaces the values of the environment's secrets in text with `[hidden: NAME]`. */
export class Redactor {
  private readonly secrets: readonly (readonly [string, string])[];

  constructor(env: NodeJS.ProcessEnv) {
    const found: [string, string][] = [];
    const add = (name: string, value: string | undefined) => {
      if (value !== undefined && value.length >= MIN_SECRET_LENGTH) found.push([value, name]);
    };
    for (const [name, value] of Object.entries(env)) {
      if (name.startsWith("TF_VAR_") || name === "PGPASSWORD") add(name, value);
    }
    const token = env[PROXMOX_ENV.token];
    add(PROXMOX_ENV.token, token);
    // The token's secret part alone (`user@realm!id=SECRET`).
    add(PROXMOX_ENV.token, token?.split("=").slice(1).join("="));
    add(PROXMOX_ENV.password, env[PROXMOX_ENV.password]);
    const conn = env[PG_CONN_STR];
    add(PG_CONN_STR, conn);
    try {
      if (conn) add(PG_CONN_STR, decodeURIComponent(new URL(conn).password));
    } catch {
      // not a URL: its whole value is hidden
    }
    // Longer first, so that a secret containing another is hidden whole.
    this.secrets = found.sort((a, b) => b[0].length - a[0].length);
  }

  hide(text: string): string {
    let out = text;
    for (const [value, name] of this.secrets) out = out.split(value).join(`[hidden: ${name}]`);
    return out;
  }

  /** `value` with every string in it hidden so (a run's summary). */
  hideIn<T>(value: T): T {
    if (typeof value === "string") return this.hide(value) as T;
    if (Array.isArray(value)) return value.map((v: unknown) => this.hideIn(v)) as T;
    if (value !== null && typeof value === "object")
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, this.hideIn(v)])) as T;
    return value;
  }
}
