/**
 * Secrets never come from the definition (config/secrets.ts and the loader): secret keys
 * and secret-looking values are rejected with where the secret belongs instead.
 */
import {
  findSecrets,
  GRAFANA_ADMIN_PASSWORD,
  PROXMOX_ENV,
  secretVariables,
  truenasApiKey,
  truenasSshKey,
  usesSsh,
} from "../../config/secrets";
import { accept, cloud, expectProblem, homelab, homelabProblems } from "../fixtures/definitions";

const PVE_TOKEN = "terraform@pve!cdktf=0d1a2b3c-4d5e-6f70-8192-a3b4c5d6e7f8";
const PEM =
  "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n";

describe("secrets in the definition", () => {
  test("rejects a Proxmox token key, naming the environment variables", () => {
    const lines = homelabProblems((d) => (d.proxmox.apiToken = PVE_TOKEN));
    expect(lines).toEqual([
      `proxmox.apiToken: "apiToken" is a secret: secrets are never read from the definition; set ${PROXMOX_ENV.token} (or ${PROXMOX_ENV.username}/${PROXMOX_ENV.password}) in the environment`,
    ]);
  });

  test("rejects a password key", () => {
    expectProblem(
      homelabProblems((d) => (d.proxmox.password = "hunter2")),
      "proxmox.password",
      '"password" is a secret',
      "PROXMOX_VE_PASSWORD",
    );
  });

  test("rejects a token: key anywhere, e.g. in the Vault add-on", () => {
    expectProblem(
      homelabProblems((d) => (d.addons.vault.token = "hvs.CAESIJ")),
      "addons.vault.token",
      '"token" is a secret',
      "Kubernetes auth",
    );
  });

  test("rejects a TrueNAS apiKey, naming the TF_VAR variable", () => {
    expectProblem(
      homelabProblems((d) => (d.addons.storage.democraticCsi[0].apiKey = "1-abcdef")),
      "addons.storage.democraticCsi[0].apiKey",
      '"apiKey" is a secret',
      "TF_VAR_truenas_api_key_<backend>",
    );
  });

  test("rejects a Grafana password, naming its TF_VAR variable", () => {
    expectProblem(
      homelabProblems((d) => (d.addons.monitoring.grafanaAdminPassword = "admin")),
      "addons.monitoring.grafanaAdminPassword",
      "TF_VAR_grafana_admin_password",
    );
  });

  test("rejects a Proxmox-token-looking value in an ordinary field", () => {
    expectProblem(
      homelabProblems((d) => (d.proxmox.datastore = PVE_TOKEN)),
      "proxmox.datastore",
      "looks like a Proxmox API token",
      "PROXMOX_VE_API_TOKEN",
    );
  });

  test("rejects a PEM private key in a value", () => {
    expectProblem(
      homelabProblems((d) => (d.ssh.privateKeyFile = PEM)),
      "ssh.privateKeyFile",
      "looks like a private key",
      "docs/configuration.md#secrets",
    );
  });

  test("rejects a secret in extraVars", () => {
    expectProblem(
      homelabProblems((d) => (d.kubernetes.extraVars = { kube_encrypt_token: "abc" })),
      "kubernetes.extraVars.kube_encrypt_token",
      "is a secret",
    );
  });

  test("says each secret once, not also as an unknown key", () => {
    expect(homelabProblems((d) => (d.proxmox.apiToken = "x"))).toHaveLength(1);
  });

  test("leaves the reference definitions alone", () => {
    expect(findSecrets(homelab())).toEqual([]);
    expect(findSecrets(cloud())).toEqual([]);
  });
});

describe("secret variables", () => {
  test("names the TrueNAS variables after the backend", () => {
    expect(truenasApiKey({ name: "truenas-iscsi" }).env).toBe(
      "TF_VAR_truenas_api_key_truenas_iscsi",
    );
    expect(truenasSshKey({ name: "truenas-nfs" }).env).toBe(
      "TF_VAR_truenas_ssh_private_key_truenas_nfs",
    );
    expect(GRAFANA_ADMIN_PASSWORD.env).toBe("TF_VAR_grafana_admin_password");
  });

  test("only the SSH drivers need the SSH key", () => {
    expect(usesSsh({ driver: "freenas-iscsi" })).toBe(true);
    expect(usesSsh({ driver: "freenas-nfs" })).toBe(true);
    expect(usesSsh({ driver: "freenas-api-iscsi" })).toBe(false);
    expect(usesSsh({ driver: "freenas-api-nfs" })).toBe(false);
  });

  test("lists every secret the homelab needs, in a stable order", () => {
    expect(secretVariables(accept(homelab()).config).map((v) => v.name)).toEqual([
      "truenas_api_key_truenas_iscsi",
      "truenas_ssh_private_key_truenas_iscsi",
      "truenas_api_key_truenas_nfs",
      "truenas_ssh_private_key_truenas_nfs",
      "grafana_admin_password",
    ]);
  });

  test("the cloud cluster needs none", () => {
    expect(secretVariables(accept(cloud()).config)).toEqual([]);
  });
});
