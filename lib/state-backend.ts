/**
 * Where each stack keeps its Terraform state (`state.backend` of the definition), its
 * encryption, and what they need from the environment (stacks/state-backend.ts wires them
 * into each stack):
 *
 * - `local`: `<stateDir>/<stack>.tfstate`, as always.
 * - `pg`: one PostgreSQL schema per cluster and stack (`<cluster>_<stack>`), so stacks keep
 *   separate states and locks. The connection string comes only from `PG_CONN_STR`, which
 *   OpenTofu's pg backend (and our runner) read themselves: it never reaches cdk.tf.json.
 *
 * Encryption is OpenTofu's state and plan encryption: pbkdf2 key from the passphrase in
 * `TF_VAR_state_passphrase` (a sensitive variable, so the passphrase never reaches
 * cdk.tf.json either), aes_gcm, `enforced` (an unencrypted state is never written).
 */
import { chmodSync, existsSync, readdirSync } from "node:fs";
import { join } from "node:path";

import type { ClusterConfig } from "../config/schema";
import type { Issue } from "../errors/user-error";
import { issue, UserError } from "../errors/user-error";

/** Read by OpenTofu's pg backend and by the runner. */
export const PG_CONN_STR = "PG_CONN_STR";
/** The variable holding the state passphrase, and its environment variable. */
export const PASSPHRASE_VARIABLE = "state_passphrase";
export const PASSPHRASE_ENV = `TF_VAR_${PASSPHRASE_VARIABLE}`;
/** OpenTofu's pbkdf2 key provider refuses shorter passphrases. */
export const MIN_PASSPHRASE_LENGTH = 16;

/** The PostgreSQL schema of one stack of a cluster (cluster names are DNS labels). */
export function pgSchemaName(clusterName: string, stack: string): string {
  return `${clusterName}_${stack}`.replace(/-/g, "_");
}

/** Whether the stacks' state is encrypted: `state.encryption.enabled`, else on with pg. */
export function stateEncrypted(config: ClusterConfig): boolean {
  return config.state.encryption.enabled ?? config.state.backend === "pg";
}

/**
 * What the state needs from the environment and lacks, as one error naming each variable;
 * called before OpenTofu reads any state (scripts/cdktf.sh through scripts/restore-files.ts,
 * scripts/review.ts). `passphrase: false` leaves out the passphrase: the synth under the
 * cdktf CLI never sees it (the CLI drops every `TF_VAR_*` from the synth's environment), and
 * only OpenTofu needs it.
 */
export function checkStateEnvironment(
  config: ClusterConfig,
  env: NodeJS.ProcessEnv = process.env,
  { passphrase: checkPassphrase = true }: { readonly passphrase?: boolean } = {},
): void {
  const problems: Issue[] = [];
  if (config.state.backend === "pg" && !env[PG_CONN_STR])
    problems.push(
      issue(
        PG_CONN_STR,
        "not set, and state.backend: pg keeps the state in PostgreSQL",
        "set it in the environment: postgres://user@host/db?sslmode=... (the password in ~/.pgpass or PGPASSWORD)",
      ),
    );
  if (checkPassphrase && stateEncrypted(config)) {
    const passphrase = env[PASSPHRASE_ENV];
    if (!passphrase)
      problems.push(
        issue(
          PASSPHRASE_ENV,
          "not set, and the state is encrypted (state.encryption)",
          `set it in the environment: the state passphrase, at least ${MIN_PASSPHRASE_LENGTH} characters`,
        ),
      );
    else if (passphrase.length < MIN_PASSPHRASE_LENGTH)
      problems.push(
        issue(
          PASSPHRASE_ENV,
          `${passphrase.length} characters, fewer than OpenTofu takes`,
          `use at least ${MIN_PASSPHRASE_LENGTH}`,
        ),
      );
  }
  if (problems.length > 0) throw new UserError(problems);
}

/** Where the local backend keeps a stack's state. */
export function localStateFile(stateDir: string, stack: string): string {
  return join(stateDir, `${stack}.tfstate`);
}

/**
 * Makes the state directory its owner's alone: the folder 0700 and the local backend's files
 * in it (`<stack>.tfstate`, its `.backup`, the `.<stack>.tfstate.lock.info` record) 0600;
 * the addons state holds the add-ons' secrets. OpenTofu writes those files with the umask of
 * the process (scripts/cdktf.sh sets 077); this tightens what an earlier deploy left
 * readable, before OpenTofu rewrites them in place (which keeps a file's mode).
 */
export function protectStateDir(stateDir: string): void {
  if (!existsSync(stateDir)) return;
  chmodSync(stateDir, 0o700);
  for (const name of readdirSync(stateDir))
    if (/\.tfstate(\.backup|\.lock\.info)?$/.test(name)) chmodSync(join(stateDir, name), 0o600);
}
