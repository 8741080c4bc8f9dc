/**
 * Secrets never live in the cluster definition. This module names where each one comes
 * from, so that the stacks, the loader's messages and the docs agree.
 */
import type { ClusterConfig, DemocraticCsiBackend } from "./schema";
import { storageDriver } from "./storage-drivers";

/** Environment variables the bpg/proxmox provider reads itself (nothing reaches cdktf.out). */
export const PROXMOX_ENV = {
  token: "PROXMOX_VE_API_TOKEN",
  username: "PROXMOX_VE_USERNAME",
  password: "PROXMOX_VE_PASSWORD",
} as const;

/** A secret the addons stack takes as a sensitive Terraform variable. */
export interface SecretVariable {
  /** Terraform variable name. */
  readonly name: string;
  /** Environment variable that carries it (`TF_VAR_<name>`). */
  readonly env: string;
  readonly description: string;
}

function variable(name: string, description: string): SecretVariable {
  return { name, env: `TF_VAR_${name}`, description };
}

const suffix = (name: string) => name.replace(/-/g, "_");

export function truenasApiKey(backend: Pick<DemocraticCsiBackend, "name">): SecretVariable {
  return variable(
    `truenas_api_key_${suffix(backend.name)}`,
    `TrueNAS API key for storage backend ${backend.name}`,
  );
}

export function truenasSshKey(backend: Pick<DemocraticCsiBackend, "name">): SecretVariable {
  return variable(
    `truenas_ssh_private_key_${suffix(backend.name)}`,
    `SSH private key (PEM) of TrueNAS user for storage backend ${backend.name}`,
  );
}

export const GRAFANA_ADMIN_PASSWORD = variable("grafana_admin_password", "Grafana admin password");

/** True for the democratic-csi drivers that also log in to TrueNAS over SSH. */
export function usesSsh(backend: Pick<DemocraticCsiBackend, "driver">): boolean {
  return storageDriver(backend.driver).ssh;
}

/** Every secret variable a definition needs, in a stable order. */
export function secretVariables(config: ClusterConfig): SecretVariable[] {
  const out: SecretVariable[] = [];
  for (const backend of config.addons.storage?.democraticCsi ?? []) {
    out.push(truenasApiKey(backend));
    if (usesSsh(backend)) out.push(truenasSshKey(backend));
  }
  if (config.addons.monitoring?.kubePrometheusStack) out.push(GRAFANA_ADMIN_PASSWORD);
  return out;
}

const SECRET_KEY = /(token|password|passwd|secret|api[-_]?key|private[-_]?key)$/i;
const SECRET_VALUE = [
  { pattern: /^[^\s@]+@[^\s!]+![^\s=]+=[0-9a-f-]{36}$/i, what: "a Proxmox API token" },
  { pattern: /-----BEGIN [A-Z ]*PRIVATE KEY-----/, what: "a private key" },
];

/** Where a secret found at `path` should come from instead. */
export function secretHint(path: string): string {
  if (path.startsWith("proxmox"))
    return `set ${PROXMOX_ENV.token} (or ${PROXMOX_ENV.username}/${PROXMOX_ENV.password}) in the environment`;
  if (path.startsWith("addons.storage"))
    return "set TF_VAR_truenas_api_key_<backend> (and TF_VAR_truenas_ssh_private_key_<backend>) in the environment";
  if (path.startsWith("addons.vault") || path.includes("vault"))
    return "Vault is reached with Kubernetes auth; no token belongs in the file";
  if (path.startsWith("addons.monitoring"))
    return `set ${GRAFANA_ADMIN_PASSWORD.env} in the environment`;
  return "pass it through the environment (see docs/configuration.md#secrets)";
}

/** Finds keys or values that look like secrets, as `[path, what]` pairs. */
export function findSecrets(value: unknown, path = ""): { path: string; what: string }[] {
  if (typeof value === "string") {
    const hit = SECRET_VALUE.find((s) => s.pattern.test(value));
    return hit ? [{ path, what: `looks like ${hit.what}` }] : [];
  }
  if (Array.isArray(value)) return value.flatMap((v, i) => findSecrets(v, `${path}[${i}]`));
  if (value !== null && typeof value === "object") {
    return Object.entries(value).flatMap(([k, v]) => {
      const at = path === "" ? k : `${path}.${k}`;
      if (SECRET_KEY.test(k)) return [{ path: at, what: `${JSON.stringify(k)} is a secret` }];
      return findSecrets(v, at);
    });
  }
  return [];
}
