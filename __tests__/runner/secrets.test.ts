import { ansibleEnvironment, Redactor } from "../../runner/secrets";

const env = {
  PATH: "/usr/bin",
  HOME: "/home/me",
  KSPRAY_SSH_PORT: "22",
  TF_VAR_grafana_admin_password: "grafana-secret",
  TF_VAR_state_passphrase: "a long state passphrase",
  PROXMOX_VE_API_TOKEN: "cdktf@pve!deploy=0b9c4d8e-1f2a-4b3c-9d8e-7f6a5b4c3d2e",
  PROXMOX_VE_INSECURE: "true",
  PG_CONN_STR: "postgres://kspray:p%40ss-word@db.lan/kspray_state",
  PGPASSWORD: "pgpass-secret",
};

describe("ansibleEnvironment", () => {
  it("drops every Terraform variable, Proxmox's and PostgreSQL's; keeps the rest", () => {
    expect(ansibleEnvironment(env)).toEqual({
      PATH: "/usr/bin",
      HOME: "/home/me",
      KSPRAY_SSH_PORT: "22",
    });
  });
});

describe("Redactor", () => {
  const hide = (text: string) => new Redactor(env).hide(text);

  it("hides each secret's value, and the parts of one printed alone", () => {
    expect(hide("password=grafana-secret, again grafana-secret")).toBe(
      "password=[hidden: TF_VAR_grafana_admin_password], again [hidden: TF_VAR_grafana_admin_password]",
    );
    expect(hide("token 0b9c4d8e-1f2a-4b3c-9d8e-7f6a5b4c3d2e")).toBe(
      "token [hidden: PROXMOX_VE_API_TOKEN]",
    );
    expect(hide(`url ${env.PG_CONN_STR} and p@ss-word`)).toBe(
      "url [hidden: PG_CONN_STR] and [hidden: PG_CONN_STR]",
    );
    expect(hide("a long state passphrase")).toBe("[hidden: TF_VAR_state_passphrase]");
  });

  it("hides them in every string of a summary, keys and other values kept", () => {
    expect(
      new Redactor(env).hideIn({
        tasks: 3,
        failures: [
          { task: "grafana-secret", message: "token 0b9c4d8e-1f2a-4b3c-9d8e-7f6a5b4c3d2e" },
        ],
        hosts: { "kspray-cp-1": { ok: 1, result: "ok" } },
      }),
    ).toEqual({
      tasks: 3,
      failures: [
        {
          task: "[hidden: TF_VAR_grafana_admin_password]",
          message: "token [hidden: PROXMOX_VE_API_TOKEN]",
        },
      ],
      hosts: { "kspray-cp-1": { ok: 1, result: "ok" } },
    });
  });

  it("leaves what is not a secret's value, however the variable is named", () => {
    expect(hide("insecure: true, port 22")).toBe("insecure: true, port 22");
    expect(new Redactor({ TF_VAR_x: "abc" }).hide("abc")).toBe("abc");
  });
});
