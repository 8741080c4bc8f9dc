/**
 * `npm run diff` (scripts/review.ts): one synth, a real `tofu plan` of each stack, a report
 * per stack and the exit code of `tofu plan -detailed-exitcode`. The stacks here are planned
 * with no state and no Proxmox: the cluster stack (local files and the runner) plans for
 * real, the others stop on what the environment lacks, named.
 */
import { spawn, spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

import { stringify } from "yaml";

import { judge, nodeVmLosses } from "../../lib/node-guard";
import { ProxmoxDouble } from "../../proxmox-double";
import { toolchainEnv } from "../../scripts/processes";
import {
  capacityReport,
  changesFromConfig,
  deployOrder,
  describePlan,
  exitCode,
  explainError,
  settle,
} from "../../scripts/review";
import type { StackReview } from "../../scripts/review";
import { FIXTURES, homelab, HOMELAB_FILE } from "../fixtures/definitions";
import { describeWithToolchain, REPO_ROOT } from "../support/toolchain";

// It starts processes (tsx, tofu, bash): a budget for a loaded two-core machine.
jest.setTimeout(120_000);

const MANIFEST = {
  stacks: {
    addons: { workingDirectory: "stacks/addons", dependencies: ["cluster"] },
    vms: { workingDirectory: "stacks/vms", dependencies: [] },
    cluster: { workingDirectory: "stacks/cluster", dependencies: ["vms"] },
  },
};

const review = (stack: string, outcome: StackReview["outcome"], missing?: string[]) => ({
  stack,
  outcome,
  lines: ["Error: Unsupported attribute"],
  missingEnvironment: missing,
});

describe("the review's logic", () => {
  it("leaves a plan that deletes or replaces to tofu show, which has the values before", () => {
    const change = (addr: string, action: string) => ({
      type: "planned_change",
      change: {
        resource: { addr, resource_type: "t", resource_name: addr.slice(2).replace(/\[.*/, "") },
        action,
      },
    });
    const config = {
      resource: { t: { vm: { name: "kspray-cp-1" }, each: { name: "${each.key}" } } },
    };
    expect(changesFromConfig([change("t.vm", "delete")], config)).toBeUndefined();
    expect(changesFromConfig([change("t.vm", "replace")], config)).toBeUndefined();
    expect(
      describePlan(
        changesFromConfig(
          [change("t.vm", "update"), change('t.each["a"]', "create"), change("t.vm", "noop")],
          config,
        ) ?? {},
      ),
    ).toEqual(['+ t.each["a"]', "~ t.vm (kspray-cp-1)"]);
  });

  it("orders stacks as they deploy", () => {
    expect(deployOrder(MANIFEST)).toEqual(["vms", "cluster", "addons"]);
  });

  it("shows a stack that fails on values an earlier stack will produce as pending, not failed", () => {
    const settled = settle(
      [review("vms", "changes"), review("cluster", "error"), review("addons", "error")],
      MANIFEST,
    );
    expect(settled.map((r) => r.outcome)).toEqual([
      "changes",
      "after-dependencies",
      "after-dependencies",
    ]);
    expect(settled[1].lines[0]).toBe(
      "reads values that vms will produce: planned when they are applied",
    );
    expect(exitCode(settled)).toBe(2);
  });

  it("keeps an error when nothing before it changes, or when it misses a variable", () => {
    expect(
      settle([review("vms", "no-changes"), review("cluster", "error")], MANIFEST)[1].outcome,
    ).toBe("error");
    const missing = review("addons", "error", ["TF_VAR_x"]);
    expect(settle([review("cluster", "changes"), missing], MANIFEST)[1].outcome).toBe("error");
    expect(exitCode([review("vms", "changes"), missing])).toBe(1);
  });

  it("exits 0 only when no stack changes", () => {
    expect(exitCode([review("vms", "no-changes"), review("cluster", "no-changes")])).toBe(0);
    expect(exitCode([review("vms", "no-changes"), review("cluster", "changes")])).toBe(2);
  });

  it("names under a node VM the plan would take away what causes it, and exits 1 for it", () => {
    const vm = (host: string) => ({ name: "kspray-worker-3", node_name: host, vm_id: 4202 });
    const plan = {
      resource_changes: [
        {
          address: "proxmox_virtual_environment_vm.worker-3_23007C26",
          change: {
            actions: ["delete", "create"],
            before: vm("pve01"),
            after: vm("pve02"),
            replace_paths: [["node_name"]],
          },
        },
      ],
    };
    const verdict = judge(nodeVmLosses(plan), [], new Set(["kspray-worker-3"]));
    expect(describePlan(plan, verdict)).toEqual([
      "-/+ proxmox_virtual_environment_vm.worker-3_23007C26 (kspray-worker-3)",
      '  refused: its VM would be deleted and cloned anew (node_name: "pve01" → "pve02")',
    ]);
    expect(exitCode([review("vms", "refused"), review("cluster", "changes")])).toBe(1);
  });

  it("names each missing secret once, even where tofu wraps the line", () => {
    const stderr = [
      '│ The root module input variable "grafana_admin_password" is not set, and has no',
      "│ default value.",
      "│ The root module input variable",
      '│ "truenas_api_key_nas" is not set, and has no default value.',
      '│ The root module input variable "grafana_admin_password" is not set',
    ].join("\n");
    expect(explainError(stderr).lines).toEqual([
      "set TF_VAR_grafana_admin_password in the environment",
      "set TF_VAR_truenas_api_key_nas in the environment",
    ]);
  });
});

interface Result {
  status: number | null;
  out: string;
}

function reviewCommand(args: string[], env: NodeJS.ProcessEnv): Promise<Result> {
  return new Promise((done) => {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", join(REPO_ROOT, "scripts", "review.ts"), ...args],
      { cwd: REPO_ROOT, env: { ...process.env, ...env } },
    );
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    child.on("close", (status) => done({ status, out }));
  });
}

describeWithToolchain()("npm run diff, with the real tofu", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "review-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const env = () => {
    const e: NodeJS.ProcessEnv = {
      CLUSTER_CONFIG: HOMELAB_FILE,
      STATE_DIR: join(dir, "state"),
      CDKTF_OUTDIR: join(dir, "out"),
    };
    for (const k of Object.keys(process.env)) {
      if (k.startsWith("TF_VAR_") || k.startsWith("PROXMOX_VE_")) e[k] = "";
    }
    return e;
  };

  it("refuses to plan the vms stack without a Proxmox token, before anything runs", async () => {
    const r = await reviewCommand([], env());
    expect(r.status).toBe(2);
    expect(r.out).toMatch(/^PROXMOX_VE_API_TOKEN: not set; export the deploy's API token/);
    expect(r.out.trim().split("\n")).toHaveLength(1);
  }, 120_000);

  it("plans the stacks at once, naming what each lacks, and exits 1", async () => {
    const r = await reviewCommand(["cluster", "addons"], env());
    expect(r.status).toBe(1);
    const lines = r.out.split("\n");
    expect(lines).toContain("cluster: changes");
    expect(lines).toContain("  Kubespray will run: cluster.yml");
    expect(lines).toContain("addons: ERROR");
    expect(lines).toContain("  set TF_VAR_grafana_admin_password in the environment");
  }, 120_000);

  it("reviews the stacks named, exiting 2 for changes", async () => {
    const r = await reviewCommand(["cluster"], env());
    expect(r.status).toBe(2);
    expect(r.out).toMatch(/^cluster: changes$/m);
    expect(r.out).not.toMatch(/^vms:/m);
    expect(r.out).toMatch(/^\s+\+ null_resource\.runner_/m);
  }, 120_000);

  it("runs tofu init only where tofu needs it: a folder set up for another backend", async () => {
    const backend = join(dir, "out", "stacks", "cluster", ".terraform", "terraform.tfstate");
    const path = () =>
      (JSON.parse(readFileSync(backend, "utf8")) as { backend: { config: { path: string } } })
        .backend.config.path;
    expect((await reviewCommand(["cluster"], env())).status).toBe(2);
    const initialized = statSync(backend).mtimeMs;
    expect((await reviewCommand(["cluster"], env())).status).toBe(2);
    expect(statSync(backend).mtimeMs).toBe(initialized);
    // Another state directory: a local backend elsewhere, which tofu refuses before an init.
    const moved = await reviewCommand(["cluster"], { ...env(), STATE_DIR: join(dir, "moved") });
    expect({ status: moved.status, out: moved.out }).toMatchObject({ status: 2 });
    expect(moved.out).toMatch(/^cluster: changes$/m);
    expect(path()).toBe(join(dir, "moved", "cluster.tfstate"));
  }, 180_000);

  it("lists a plan that only creates as tofu show -json of the same plan does", async () => {
    const r = await reviewCommand(["cluster"], env());
    expect(r.status).toBe(2);
    const listed = r.out.slice(r.out.indexOf("cluster: changes\n")).split("\n").slice(1);
    const cluster = join(dir, "out", "stacks", "cluster");
    const shown = spawnSync("tofu", ["show", "-json", "-no-color", "review.tfplan"], {
      cwd: cluster,
      encoding: "utf8",
      env: toolchainEnv(process.env),
    });
    expect(shown.status).toBe(0);
    const expected = describePlan(JSON.parse(shown.stdout) as Parameters<typeof describePlan>[0]);
    expect(expected).toContain("Kubespray will run: cluster.yml");
    expect(listed.slice(0, expected.length)).toEqual(expected.map((l) => `  ${l}`));
  }, 120_000);
});

describe("npm run diff of a stack that does not exist", () => {
  it("refuses it before anything is synthesized or planned, exit 2", async () => {
    const out = mkdtempSync(join(tmpdir(), "review-unknown-"));
    try {
      const r = await reviewCommand(["vm"], { CDKTF_OUTDIR: out, CLUSTER_CONFIG: HOMELAB_FILE });
      expect(r).toEqual({
        status: 2,
        out: 'stack "vm": no such stack; the stacks are vms, cluster, addons (name none for all of them)\n',
      });
      expect(existsSync(join(out, "manifest.json"))).toBe(false);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }, 60_000);
});

describe("npm run diff stops before anything is synthesized or planned", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "review-first-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const env = (file: string): NodeJS.ProcessEnv => ({
    CLUSTER_CONFIG: file,
    CDKTF_OUTDIR: join(dir, "out"),
    STATE_DIR: join(dir, "state"),
    TF_VAR_state_passphrase: "",
    PROXMOX_VE_API_TOKEN: "",
  });

  it("on a mistake in the definition: its lines and exit 2, as every command", async () => {
    const bad = join(FIXTURES, "three-mistakes.yaml");
    const r = await reviewCommand(["cluster"], env(bad));
    expect(r.out).toContain(`${bad}:11: network.vlanId: 5000 is above the maximum of 4094`);
    expect(r.out).not.toMatch(/^\s+at /m);
    expect(r.status).toBe(2);
    expect(existsSync(join(dir, "out", "manifest.json"))).toBe(false);
  }, 60_000);

  it("on an encrypted state without TF_VAR_state_passphrase: names it first, before the token", async () => {
    const definition = homelab();
    (definition as Record<string, unknown>).state = { encryption: { enabled: true } };
    const file = join(dir, "encrypted.yaml");
    writeFileSync(file, stringify(definition));
    const r = await reviewCommand([], env(file));
    expect(r.out.trim().split("\n")).toEqual([
      "TF_VAR_state_passphrase: not set, and the state is encrypted (state.encryption); set it in the environment: the state passphrase, at least 16 characters",
    ]);
    expect(r.status).toBe(2);
  }, 60_000);

  it("on a state an apply could not save (errored.tfstate): names it, plans nothing, exit 2", async () => {
    const errored = join(dir, "out", "stacks", "vms", "errored.tfstate");
    mkdirSync(dirname(errored), { recursive: true });
    writeFileSync(errored, "{}");
    try {
      const r = await reviewCommand(["cluster"], env(HOMELAB_FILE));
      expect(r.out.trim().split("\n")).toEqual([
        expect.stringMatching(
          new RegExp(
            `^${errored}: an earlier apply of the vms stack could not save its state in its backend and left it here.*; once the database answers, push this file`,
          ),
        ),
      ]);
      expect(r.status).toBe(2);
      expect(existsSync(join(dir, "out", "manifest.json"))).toBe(false);
    } finally {
      rmSync(errored);
    }
  }, 60_000);
});

describe("the review's capacity lines", () => {
  const problem = {
    path: "nodePools[1].memoryMiB",
    message: "the add-ons do not fit pool worker; give it more room",
  };
  const report = (workloads: number) =>
    ({ workloads: new Array(workloads).fill({}) }) as unknown as NonNullable<
      Parameters<typeof capacityReport>[0]["report"]
    >;

  it("refuses when a pod finds no node, says so when all fit, and is silent without add-on pods", () => {
    expect(capacityReport({ problems: [problem], report: report(3) })).toEqual({
      lines: [
        "capacity: the add-ons do not fit the nodes, so npm run deploy's preflight refuses this",
        "  nodePools[1].memoryMiB: the add-ons do not fit pool worker; give it more room",
      ],
      refuses: true,
    });
    expect(capacityReport({ problems: [], report: report(3) }).lines).toEqual([
      "capacity: every add-on pod finds a node (their requests, counted as npm run preflight counts them)",
    ]);
    expect(capacityReport({ problems: [], report: report(0) })).toEqual({
      lines: [],
      refuses: false,
    });
  });

  it("says what it did not check, without refusing, when the charts cannot be rendered", () => {
    const warning = { path: "addons", message: "not checked: no helm; build it", warning: true };
    expect(capacityReport({ problems: [warning] })).toEqual({
      lines: ["capacity: not checked", "  warning: addons: not checked: no helm; build it"],
      refuses: false,
    });
  });
});

describeWithToolchain(["tofu", "helm"])(
  "npm run diff counts the add-ons' requests against the nodes",
  () => {
    // Each review synthesizes, plans the vms stack against the double and renders every chart
    // (the file's jest.setTimeout is 120 s: each test and hook here has its own, 180 s).
    let dir: string;
    let double: ProxmoxDouble;
    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), "review-capacity-"));
      double = await ProxmoxDouble.start({
        seed: join(REPO_ROOT, "proxmox-double", "seed.homelab.yaml"),
      });
    }, 180_000);
    afterAll(async () => {
      await double?.stop();
      rmSync(dir, { recursive: true, force: true });
    }, 180_000);
    const review = (name: string, workerMemoryMiB?: number) => {
      const definition = homelab();
      definition.proxmox = { ...definition.proxmox, endpoint: double.endpoint, insecure: true };
      if (workerMemoryMiB !== undefined) definition.nodePools[1].memoryMiB = workerMemoryMiB;
      const file = join(dir, `${name}.yaml`);
      writeFileSync(file, stringify(definition));
      return reviewCommand(["vms"], {
        CLUSTER_CONFIG: file,
        CDKTF_OUTDIR: join(dir, name, "out"),
        STATE_DIR: join(dir, name, "state"),
        PROXMOX_VE_API_TOKEN: double.token,
      });
    };

    it("exits 1 when the new workers are too small for the add-ons, naming the pool's field", async () => {
      // 1 GiB: 156Mi left for pods after Kubespray's reservations; the Alertmanager asks 200Mi.
      const r = await review("small", 1024);
      expect(r.out).toMatch(/^vms: changes$/m);
      expect(r.out).toContain(
        "capacity: the add-ons do not fit the nodes, so npm run deploy's preflight refuses this\n" +
          "  nodePools[1].memoryMiB: the add-ons do not fit pool worker: 1 pod of kube-prometheus-stack's Alertmanager",
      );
      expect(r.status).toBe(1);
    }, 180_000);

    it("exits 2 for the change alone when they fit", async () => {
      const r = await review("fits");
      expect(r.out).toMatch(/^vms: changes$/m);
      expect(r.out).toContain(
        "capacity: every add-on pod finds a node (their requests, counted as npm run preflight counts them)\n",
      );
      expect(r.status).toBe(2);
    }, 180_000);
  },
);
