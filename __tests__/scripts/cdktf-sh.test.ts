/**
 * scripts/cdktf.sh (npm run deploy|destroy): the arguments it gives cdktf, and its refusal
 * to start a deploy that could not be confirmed. cdktf itself is replaced by a recorder on
 * PATH (`npx` printing its arguments); the real cdktf runs in the e2e suites.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";

import { parse, stringify } from "yaml";

import type { Definition } from "../fixtures/definitions";
import { HOMELAB_FILE } from "../fixtures/definitions";
import { REPO_ROOT } from "../support/toolchain";

// It starts processes (tsx, tofu, bash): a budget for a loaded two-core machine.
jest.setTimeout(120_000);

let bin: string;
beforeAll(() => {
  bin = mkdtempSync(join(tmpdir(), "cdktf-sh-"));
  // Prints its arguments (and OpenTofu's extra destroy arguments, when set), and whether the
  // Grafana secret reached it.
  writeFileSync(
    join(bin, "npx"),
    '#!/bin/sh\necho "npx $*${TF_CLI_ARGS_destroy:+ [TF_CLI_ARGS_destroy=$TF_CLI_ARGS_destroy]}"\necho "grafana: ${TF_VAR_grafana_admin_password:-unset}" >&2\n',
  );
  chmodSync(join(bin, "npx"), 0o755);
});
afterAll(() => rmSync(bin, { recursive: true, force: true }));

/** Runs the script with stdin not a terminal, as CI and pipes do. */
function cdktfSh(...args: string[]) {
  return cdktfShWith({}, ...args);
}

function cdktfShWith(env: NodeJS.ProcessEnv, ...args: string[]) {
  const base = { ...process.env };
  for (const k of Object.keys(base)) if (k.startsWith("TF_VAR_")) delete base[k];
  delete base.CLUSTER_CONFIG;
  const r = spawnSync("bash", [join(REPO_ROOT, "scripts", "cdktf.sh"), ...args], {
    cwd: REPO_ROOT,
    encoding: "utf8",
    input: "",
    env: { ...base, PATH: `${bin}${delimiter}${process.env.PATH ?? ""}`, ...env },
  });
  return { status: r.status, stdout: r.stdout.trim(), stderr: r.stderr.trim() };
}

describe("scripts/cdktf.sh", () => {
  it("deploys one stack alone, its dependencies left as they are", () => {
    expect(cdktfSh("deploy", "addons", "--auto-approve", "--skip-preflight").stdout).toBe(
      "npx cdktf deploy --skip-provider-lock addons --auto-approve --ignore-missing-stack-dependencies",
    );
  });

  it("starts a deploy with the preflight checks, and stops on their problems", () => {
    // Nothing listens on port 1 of loopback: preflight cannot reach Proxmox.
    const dir = mkdtempSync(join(tmpdir(), "cdktf-sh-def-"));
    const definition = parse(readFileSync(HOMELAB_FILE, "utf8")) as Definition;
    definition.proxmox.endpoint = "https://127.0.0.1:1/";
    const file = join(dir, "cluster.yaml");
    writeFileSync(file, stringify(definition));
    const r = cdktfShWith(
      { CLUSTER_CONFIG: file, PROXMOX_VE_API_TOKEN: "u@pve!t=x" },
      "deploy",
      "vms",
      "--auto-approve",
    );
    rmSync(dir, { recursive: true, force: true });
    expect(r.status).toBe(2);
    expect(r.stdout).toContain(
      "proxmox.endpoint: cannot reach the Proxmox VE API at https://127.0.0.1:1/",
    );
    expect(r.stdout).not.toContain("npx cdktf");
  });

  it("leaves several stacks to cdktf's own order, and keeps option values in place", () => {
    expect(cdktfSh("destroy", "cluster", "vms", "--auto-approve", "--output", "out").stdout).toBe(
      "npx cdktf destroy --skip-provider-lock cluster vms --auto-approve --output out",
    );
  });

  it.each([[["addons", "vms", "cluster"]], [[]]])(
    "destroys the add-ons first without OpenTofu's refresh (no chart needed), then %j with it",
    (stacks) => {
      const r = cdktfSh("destroy", ...stacks, "--auto-approve", "--output", "out");
      const rest = stacks.length > 0 ? stacks.join(" ") : "addons cluster vms";
      expect(r.stdout.split("\n")).toEqual([
        "npx cdktf destroy --skip-provider-lock addons --ignore-missing-stack-dependencies --auto-approve --output out [TF_CLI_ARGS_destroy=-refresh=false]",
        `npx cdktf destroy --skip-provider-lock ${rest} --auto-approve --output out --skip-synth`,
      ]);
    },
  );

  it("destroys the addons stack alone once, without OpenTofu's refresh", () => {
    expect(cdktfSh("destroy", "addons", "--auto-approve").stdout).toBe(
      "npx cdktf destroy --skip-provider-lock addons --ignore-missing-stack-dependencies --auto-approve [TF_CLI_ARGS_destroy=-refresh=false]",
    );
  });

  it.each([
    ["deploy", ["deploy", "vsm", "--auto-approve", "--skip-preflight"]],
    ["destroy", ["destroy", "addons", "vsm", "--auto-approve"]],
  ])("refuses a %s of a stack that does not exist before anything runs", (_, args) => {
    const r = cdktfShWith({ CLUSTER_CONFIG: HOMELAB_FILE }, ...args);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(
      'stack "vsm": no such stack; the stacks are vms, cluster, addons (name none for all of them)',
    );
    expect(r.stdout).not.toContain("npx cdktf");
  });

  it("refuses a deploy it cannot confirm, saying what to run instead", () => {
    const r = cdktfSh("deploy", "vms", "cluster");
    expect(r.status).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe(
      "cdktf.sh: deploy needs a terminal to confirm on; review the change with npm run diff, then run again with --auto-approve (npm run deploy -- vms cluster --auto-approve)",
    );
  });

  it("destroys without the add-ons' secrets, keeping any that is set", () => {
    const homelab = { CLUSTER_CONFIG: HOMELAB_FILE };
    const placeholder = cdktfShWith(homelab, "destroy", "addons", "--auto-approve");
    expect(placeholder.status).toBe(0);
    expect(placeholder.stderr).toBe("grafana: unused-by-destroy");
    const kept = cdktfShWith(
      { ...homelab, TF_VAR_grafana_admin_password: "s3cret" },
      "destroy",
      "addons",
      "--auto-approve",
    );
    expect(kept.stderr).toBe("grafana: s3cret");
    // A deploy gets no placeholder: there a missing secret must stop the plan.
    expect(
      cdktfShWith(homelab, "deploy", "addons", "--auto-approve", "--skip-preflight").stderr,
    ).toBe("grafana: unset");
  });

  it("lets a teardown destroy every node's VM, and a deploy of other stacks none", () => {
    // A recorder of what the app would get: DESTROYABLE_NODES lifts prevent_destroy.
    const seen = mkdtempSync(join(tmpdir(), "cdktf-sh-env-"));
    writeFileSync(join(seen, "npx"), '#!/bin/sh\necho "${DESTROYABLE_NODES-unset}"\n');
    chmodSync(join(seen, "npx"), 0o755);
    const destroyable = (...args: string[]) =>
      spawnSync("bash", [join(REPO_ROOT, "scripts", "cdktf.sh"), ...args], {
        cwd: REPO_ROOT,
        encoding: "utf8",
        input: "",
        env: {
          ...process.env,
          CLUSTER_CONFIG: HOMELAB_FILE,
          DESTROYABLE_NODES: "",
          PATH: `${seen}${delimiter}${process.env.PATH ?? ""}`,
        },
      }).stdout.trim();
    // The addons stack is destroyed on its own first, then the rest: both runs get "all".
    expect(
      destroyable("destroy", "addons", "cluster", "vms", "--auto-approve").split("\n"),
    ).toEqual(["all", "all"]);
    expect(destroyable("deploy", "addons", "--auto-approve", "--skip-preflight")).toBe("");
    rmSync(seen, { recursive: true, force: true });
  });

  it("passes other commands through", () => {
    expect(cdktfSh("synth").stdout).toBe("npx cdktf synth");
  });

  it("names a state an apply could not save (errored.tfstate), and runs nothing until it is pushed", () => {
    const out = mkdtempSync(join(tmpdir(), "cdktf-sh-errored-"));
    // cdktf as it ends when OpenTofu could not save the vms stack's state.
    const failing = mkdtempSync(join(tmpdir(), "cdktf-sh-failing-"));
    writeFileSync(
      join(failing, "npx"),
      `#!/bin/sh\nmkdir -p "${out}/stacks/vms" && echo '{}' > "${out}/stacks/vms/errored.tfstate"\necho "npx $*"\nexit 1\n`,
    );
    chmodSync(join(failing, "npx"), 0o755);
    // The addons stack's deploy: nothing OpenTofu runs before cdktf (the vms stack's adoption).
    const args = ["deploy", "addons", "--auto-approve", "--skip-preflight", "--output", out];
    const errored = join(out, "stacks", "vms", "errored.tfstate");
    try {
      const failed = cdktfShWith(
        { CLUSTER_CONFIG: HOMELAB_FILE, PATH: `${failing}${delimiter}${process.env.PATH ?? ""}` },
        ...args,
      );
      expect(failed.status).toBe(2);
      expect(failed.stderr).toMatch(
        new RegExp(
          `^${errored}: OpenTofu could not save the vms stack's state at the end of this apply, and wrote it to this file.*; once the database answers, push this file before anything else deploys the vms stack`,
          "m",
        ),
      );
      // The next deploy (or destroy) stops before cdktf runs.
      for (const command of ["deploy", "destroy"]) {
        const refused = cdktfShWith({ CLUSTER_CONFIG: HOMELAB_FILE }, command, ...args.slice(1));
        expect({ command, status: refused.status, stdout: refused.stdout }).toEqual({
          command,
          status: 2,
          stdout: "",
        });
        expect(refused.stderr).toContain(
          `${errored}: an earlier apply of the vms stack could not save its state in its backend and left it here`,
        );
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
      rmSync(failing, { recursive: true, force: true });
    }
  });
});

describe("scripts/cdktf.sh with the real cdktf", () => {
  it("synthesizes a relative CLUSTER_CONFIG from the folder npm was run in (INIT_CWD)", () => {
    const dir = mkdtempSync(join(tmpdir(), "cdktf-sh-relative-"));
    try {
      const definition = parse(readFileSync(HOMELAB_FILE, "utf8")) as Definition;
      definition.name = "elsewhere";
      writeFileSync(join(dir, "cluster.yaml"), stringify(definition));
      const base = { ...process.env };
      for (const k of Object.keys(base)) if (k.startsWith("TF_VAR_")) delete base[k];
      // As npm runs it: in the project's folder, the user's folder in INIT_CWD.
      const r = spawnSync(
        "bash",
        [join(REPO_ROOT, "scripts", "cdktf.sh"), "synth", "--output", join(dir, "out")],
        {
          cwd: REPO_ROOT,
          encoding: "utf8",
          env: {
            ...base,
            INIT_CWD: dir,
            CLUSTER_CONFIG: "cluster.yaml",
            STATE_DIR: join(dir, "state"),
            CI: "1",
          },
          timeout: 170_000,
        },
      );
      expect({ status: r.status, output: r.stdout + r.stderr }).toMatchObject({ status: 0 });
      const vms = readFileSync(join(dir, "out", "stacks", "vms", "cdk.tf.json"), "utf8");
      expect(vms).toContain('"name": "elsewhere-cp-1"');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);
});
