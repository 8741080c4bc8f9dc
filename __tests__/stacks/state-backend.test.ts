import { chmodSync, existsSync, mkdtempSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { App, TerraformStack, Testing } from "cdktf";

import { loadClusterConfig } from "../../config/load";
import type { ClusterConfig } from "../../config/schema";
import { UserError } from "../../errors/user-error";
import {
  checkStateEnvironment,
  PASSPHRASE_ENV,
  pgSchemaName,
  protectStateDir,
} from "../../lib/state-backend";
import { stateBackend } from "../../stacks/state-backend";

const homelab = loadClusterConfig(join(__dirname, "..", "..", "examples", "homelab.yaml")).config;
const PASSPHRASE = "a-passphrase-of-some-length";
const CONN = "postgres://deploy:hunter2-in-url@127.0.0.1:5432/tf";

function withState(state: Partial<ClusterConfig["state"]>): ClusterConfig {
  return {
    ...homelab,
    state: {
      ...homelab.state,
      ...state,
      encryption: { ...homelab.state.encryption, ...state.encryption },
    },
  };
}

interface Synthesized {
  terraform: { backend: Record<string, Record<string, unknown>>; encryption?: unknown };
  variable?: Record<string, { sensitive?: boolean }>;
}

function synth(config: ClusterConfig, env: NodeJS.ProcessEnv): { json: Synthesized; text: string } {
  const app = new App({ outdir: mkdtempSync(join(tmpdir(), "cdktf-")) });
  const stack = new TerraformStack(app, "vms");
  stateBackend(stack, "vms", config, "/state/kspray", env);
  const text = Testing.synth(stack);
  return { json: JSON.parse(text) as Synthesized, text };
}

describe("stateBackend", () => {
  it("keeps the local state file by default, unencrypted", () => {
    expect(homelab.state).toEqual({
      backend: "local",
      encryption: { unencryptedFallback: false },
    });
    const { json } = synth(homelab, {});
    expect(json.terraform.backend).toEqual({ local: { path: "/state/kspray/vms.tfstate" } });
    expect(json.terraform.encryption).toBeUndefined();
    expect(json.variable).toBeUndefined();
  });

  it("gives pg one schema per cluster and stack, without the connection string", () => {
    const config = withState({ backend: "pg" });
    const { json, text } = synth(config, { PG_CONN_STR: CONN, [PASSPHRASE_ENV]: PASSPHRASE });
    expect(json.terraform.backend).toEqual({ pg: { schema_name: "kspray_vms" } });
    expect(text).not.toContain("hunter2");
    expect(text).not.toContain("postgres://");
    expect(pgSchemaName("my-cluster", "addons")).toBe("my_cluster_addons");
  });

  it("encrypts pg state and plans by default, the passphrase only as a sensitive variable", () => {
    const { json, text } = synth(withState({ backend: "pg" }), {
      PG_CONN_STR: CONN,
      [PASSPHRASE_ENV]: PASSPHRASE,
    });
    expect(text).not.toContain(PASSPHRASE);
    expect(json.variable?.state_passphrase.sensitive).toBe(true);
    const target = { method: "method.aes_gcm.state", enforced: true };
    expect(json.terraform.encryption).toEqual({
      key_provider: { pbkdf2: { state: { passphrase: "${var.state_passphrase}" } } },
      method: { aes_gcm: { state: { keys: "key_provider.pbkdf2.state" } } },
      state: target,
      plan: target,
    });
  });

  it("reads an unencrypted state during a migration (fallback)", () => {
    const config = withState({ encryption: { enabled: true, unencryptedFallback: true } });
    const { json } = synth(config, { [PASSPHRASE_ENV]: PASSPHRASE });
    expect(json.terraform.encryption).toMatchObject({
      method: { unencrypted: { migrate: {} } },
      state: { enforced: false, fallback: { method: "method.unencrypted.migrate" } },
    });
  });

  it("rejects a pg backend without PG_CONN_STR and an encrypted state without a passphrase", () => {
    const config = withState({ backend: "pg" });
    const check = () => checkStateEnvironment(config, {});
    expect(check).toThrow(UserError);
    expect(check).toThrow(
      /^PG_CONN_STR: not set, and state.backend: pg keeps the state in PostgreSQL; set it in the environment/,
    );
    expect(check).toThrow(/^TF_VAR_state_passphrase: not set, and the state is encrypted/m);
    // The synth needs the connection string (it reads the Kubespray record) ...
    expect(() => synth(config, {})).toThrow(/^PG_CONN_STR: not set/);
    // ... but not the passphrase, which the cdktf CLI keeps from it (no TF_VAR_* in a synth).
    expect(() => synth(config, { PG_CONN_STR: CONN })).not.toThrow();
  });

  it("rejects a passphrase shorter than OpenTofu's pbkdf2 minimum", () => {
    const config = withState({ encryption: { enabled: true, unencryptedFallback: false } });
    expect(() => checkStateEnvironment(config, { [PASSPHRASE_ENV]: "short" })).toThrow(
      "TF_VAR_state_passphrase: 5 characters, fewer than OpenTofu takes; use at least 16",
    );
  });
});

describe("protectStateDir", () => {
  const mode = (path: string) => statSync(path).mode & 0o777;

  it("makes the folder 0700 and the local backend's files 0600, nothing else", () => {
    const dir = mkdtempSync(join(tmpdir(), "state-modes-"));
    chmodSync(dir, 0o755);
    const files = ["addons.tfstate", "addons.tfstate.backup", ".vms.tfstate.lock.info"];
    for (const f of [...files, "runner.json"]) writeFileSync(join(dir, f), "{}", { mode: 0o644 });
    protectStateDir(dir);
    expect(mode(dir)).toBe(0o700);
    expect(files.map((f) => [f, mode(join(dir, f))])).toEqual(files.map((f) => [f, 0o600]));
    // The runner's own files keep the modes it gives them.
    expect(mode(join(dir, "runner.json"))).toBe(0o644);
  });

  it("leaves a state directory that does not exist yet to whoever makes it", () => {
    const missing = join(mkdtempSync(join(tmpdir(), "state-modes-")), "never-deployed");
    protectStateDir(missing);
    expect(existsSync(missing)).toBe(false);
  });
});
