/**
 * The backend of every stack and, when on, its state encryption (lib/state-backend.ts says
 * what the definition's `state` section means). Every stack calls `stateBackend` instead of
 * creating a backend itself.
 */
import type { TerraformStack } from "cdktf";
import { LocalBackend, PgBackend, TerraformVariable } from "cdktf";

import type { ClusterConfig } from "../config/schema";
import {
  checkStateEnvironment,
  localStateFile,
  PASSPHRASE_ENV,
  PASSPHRASE_VARIABLE,
  pgSchemaName,
  stateEncrypted,
} from "../lib/state-backend";

/** The stack's backend and, when on, its state encryption. */
export function stateBackend(
  stack: TerraformStack,
  id: string,
  config: ClusterConfig,
  stateDir: string,
  env: NodeJS.ProcessEnv = process.env,
): void {
  // The synth reads the Kubespray record from pg; the passphrase is OpenTofu's alone.
  checkStateEnvironment(config, env, { passphrase: false });
  if (config.state.backend === "pg")
    // No connStr: OpenTofu reads PG_CONN_STR itself, so the string stays out of cdk.tf.json.
    new PgBackend(stack, { schemaName: pgSchemaName(config.name, id) } as ConstructorParameters<
      typeof PgBackend
    >[1]);
  else new LocalBackend(stack, { path: localStateFile(stateDir, id) });
  if (stateEncrypted(config)) encryptState(stack, config.state.encryption.unencryptedFallback);
}

/**
 * OpenTofu's `terraform.encryption` block (cdktf has no typed one). In JSON, `method` and
 * `keys` are bare references; only the passphrase is an expression (a static variable).
 */
function encryptState(stack: TerraformStack, unencryptedFallback: boolean): void {
  new TerraformVariable(stack, PASSPHRASE_VARIABLE, {
    type: "string",
    sensitive: true,
    nullable: false,
    description: `Passphrase of the state encryption; set ${PASSPHRASE_ENV} in the environment`,
  });
  const target = {
    method: "method.aes_gcm.state",
    enforced: !unencryptedFallback,
    // Reads a state not yet encrypted; the next write encrypts it (migration).
    ...(unencryptedFallback ? { fallback: { method: "method.unencrypted.migrate" } } : {}),
  };
  stack.addOverride("terraform.encryption", {
    key_provider: { pbkdf2: { state: { passphrase: `\${var.${PASSPHRASE_VARIABLE}}` } } },
    method: {
      aes_gcm: { state: { keys: "key_provider.pbkdf2.state" } },
      ...(unencryptedFallback ? { unencrypted: { migrate: {} } } : {}),
    },
    state: target,
    plan: target,
  });
}
