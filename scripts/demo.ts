/**
 * `npm run demo [-- --pause]`: the whole job on the embedded default, with nothing outside
 * this machine. Starts the Proxmox VE API double with the homelab seed, runs preflight,
 * deploys the vms and cluster stacks of the bundled example (Kubespray in `print` mode: the
 * commands are written to a script, not run), installs the example's add-ons onto a test
 * cluster and shows what runs where (when the test cluster's control plane is built and the
 * pinned charts are at hand; otherwise one line says how), adds a worker and shows the
 * review of that change, then tears everything down and says where the files are. Work
 * files go to `.demo/`. `--pause` waits for Enter before the teardown, to look around.
 *
 * The offline toolchain is built first if needed (`scripts/toolchain.sh`, minutes the
 * first time); every long step says what it does.
 */
import { spawn } from "node:child_process";
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";

import { parse, stringify } from "yaml";

import { BUNDLED_EXAMPLE, loadClusterConfig } from "../config/load";
import { secretVariables } from "../config/secrets";
import { formatIssue, runMain, UserError } from "../errors/user-error";
import { chartsDirFromEnvironment, controlPlaneDirFromEnvironment } from "../lib/environment";
import { statePaths } from "../lib/kubespray/record";
import { preflight } from "../preflight/preflight";
import { ProxmoxHttpsClient } from "../preflight/proxmox-api";
import { ProxmoxDouble } from "../proxmox-double";
import { hasControlPlane } from "../test-cluster/binaries";

import type { DemoAddons } from "./demo-addons";
import { toolchainEnv } from "./processes";

const ROOT = resolve(__dirname, "..");
const WORK = resolve(process.env.DEMO_DIR ?? join(ROOT, ".demo"));
const STEPS = 8;

const say = (line: string) => process.stdout.write(`${line}\n`);

/** The demo's step headings, numbered `[n/8]` in the order they are said. */
function stepHeadings(): (what: string) => void {
  let step = 0;
  return (what) => say(`\n[${++step}/${STEPS}] ${what}`);
}

/**
 * cdktf's lines worth showing while it works: each resource done, the totals, errors. The
 * whole output goes to `.demo/<what>.log`.
 */
const PROGRESS =
  /(Creation|Destruction|Modifications) complete|Apply complete|Destroy complete|Error|error:/;

/** Runs a command, its output (or, `brief`, its progress lines) indented under the step. */
function run(
  what: string,
  cmd: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  brief: boolean,
): Promise<number> {
  return new Promise((done, fail) => {
    const child = spawn(cmd, [...args], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
    const log = join(WORK, `${what}.log`);
    let pending = "";
    const show = (d: Buffer) => {
      appendFileSync(log, d);
      const lines = (pending + d.toString()).split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) if (!brief || PROGRESS.test(line)) say(`    ${line.trim()}`);
    };
    child.stdout.on("data", show);
    child.stderr.on("data", show);
    child.on("error", fail);
    child.on("close", (code) => {
      if (pending !== "" && (!brief || PROGRESS.test(pending))) say(`    ${pending.trim()}`);
      done(code ?? 1);
    });
  });
}

async function must(
  what: string,
  cmd: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  brief = false,
) {
  const code = await run(what, cmd, args, env, brief);
  // `npm run diff` exits 2 for "changes": that is what the demo shows.
  if (code !== 0 && !(code === 2 && what === "review")) {
    throw UserError.at(what, `failed (exit ${code})`, `see ${join(WORK, `${what}.log`)}`);
  }
}

/**
 * Where the test cluster's control plane and the charts are, when both are there; else the
 * one line saying what the demo would show with them and how to get them.
 */
function addonsSetting(
  env: NodeJS.ProcessEnv,
): { controlPlaneDir: string; chartsDir: string } | { skipped: string } {
  const controlPlaneDir = controlPlaneDirFromEnvironment(env);
  const chartsDir = chartsDirFromEnvironment(env);
  const would =
    "skipped: the add-ons would be installed onto a test cluster (a real Kubernetes API on loopback) and each node's add-on pods shown";
  if (!hasControlPlane(controlPlaneDir))
    return {
      skipped: `${would}; its control plane is not built (${controlPlaneDir}): build it with bash scripts/toolchain.sh --no-helm (about 9 minutes the first time), then run npm run demo again`,
    };
  if (!existsSync(join(chartsDir, "index.yaml")))
    return {
      skipped: `${would}; the pinned charts are not in ${chartsDir}: set UPSTREAM_CHARTS to a folder of the chart archives and their index.yaml (docs/addons.md), then run npm run demo again`,
    };
  return { controlPlaneDir, chartsDir };
}

/** Waits for a line on stdin (Enter), or for its end. */
function enter(): Promise<void> {
  return new Promise((done) => {
    const lines = createInterface({ input: process.stdin });
    const finish = () => {
      lines.close();
      done();
    };
    lines.once("line", finish);
    lines.once("close", done);
  });
}

/** Whether `--pause` was given; a `UserError` for any other argument. */
function pauseRequested(): boolean {
  try {
    return parseArgs({ options: { pause: { type: "boolean" } } }).values.pause ?? false;
  } catch (e) {
    throw UserError.at("npm run demo", (e as Error).message, "usage: npm run demo [-- --pause]");
  }
}

async function main(): Promise<void> {
  const pause = pauseRequested();
  const heading = stepHeadings();
  rmSync(WORK, { recursive: true, force: true });
  mkdirSync(WORK, { recursive: true });

  heading("the offline toolchain: OpenTofu and the providers (built once, then cached)");
  await must(
    "toolchain",
    "bash",
    // The test cluster's control plane is not needed here (and takes minutes to build).
    [join(ROOT, "scripts", "toolchain.sh"), "--no-helm", "--no-control-plane"],
    process.env,
  );

  heading("a Proxmox VE API double on loopback, seeded like the homelab example");
  const setting = addonsSetting(process.env);
  const double = await ProxmoxDouble.start({
    seed: join(ROOT, "proxmox-double", "seed.homelab.yaml"),
    stateFile: join(WORK, "proxmox-double.json"),
  });
  let addons: DemoAddons | undefined;
  try {
    // Loaded only when used: the Kubernetes client takes a while to load.
    if (!("skipped" in setting))
      addons = await (await import("./demo-addons")).DemoAddons.start(setting);
    const definition = parse(readFileSync(BUNDLED_EXAMPLE, "utf8")) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    definition.proxmox = { ...definition.proxmox, endpoint: double.endpoint, insecure: true };
    // Kubespray writes its commands to a script instead of reaching the nodes. The add-ons
    // need a running Kubernetes: the test cluster's, when there is one.
    definition.kubespray = { ...definition.kubespray, mode: "print" };
    definition.addons = addons?.addons(definition) ?? {};
    const file = join(WORK, "cluster.yaml");
    writeFileSync(file, stringify(definition));
    const stateDir = join(WORK, "state");
    const env = toolchainEnv({
      ...process.env,
      CLUSTER_CONFIG: file,
      STATE_DIR: stateDir,
      CDKTF_OUTDIR: join(WORK, "cdktf.out"),
      PROXMOX_VE_API_TOKEN: double.token,
      CI: "true",
      TMPDIR: WORK,
    });
    say(`    ${double.endpoint} (token in PROXMOX_VE_API_TOKEN), definition ${file}`);

    heading("preflight: what the deploy needs from Proxmox, checked before anything changes");
    const { config } = loadClusterConfig(file);
    const api = new ProxmoxHttpsClient({
      endpoint: double.endpoint,
      token: double.token,
      insecure: true,
    });
    const problems = await preflight(config, api, env, { addons: false });
    for (const p of problems) say(`    ${formatIssue(p)}`);
    if (problems.some((p) => !p.warning))
      throw UserError.at("preflight", "it found the problems above", "see what each says");
    say("    ready to deploy");
    // The add-ons' secrets: made-up values, nothing here checks them.
    for (const secret of secretVariables(config)) env[secret.env] ??= `demo-${secret.name}`;
    addons?.startCluster(config);

    const cdktf = join(ROOT, "node_modules", ".bin", "cdktf");
    const out = [
      "--output",
      join(WORK, "cdktf.out"),
      "--skip-provider-lock",
      "--auto-approve",
      "--no-color",
    ];
    heading(
      "deploy vms and cluster: 6 VMs cloned from the template, the Kubespray inventory written",
    );
    await must("deploy", cdktf, ["deploy", "vms", "cluster", ...out], env, true);
    // In print mode the operator runs the script where Kubespray runs; its last line
    // records the run. The demo records it without running Kubespray.
    const script = statePaths(stateDir).printScript;
    const record = readFileSync(script, "utf8").trim().split("\n").pop() ?? "";
    const kubeconfig = statePaths(stateDir).kubeconfig;
    if (addons) {
      const ran = await addons.kubesprayRan(config, stateDir);
      say(
        `    Kubespray's commands are in ${script}; not run here: in their place, a test cluster`,
      );
      say(
        `    (Kubernetes ${ran.version} at ${ran.server}) got what their run leaves: ` +
          `${ran.nodes.length} Nodes (${ran.nodes.join(", ")}) and artifacts/admin.conf`,
      );
      // The runner names the test cluster's server in place of the VIP, which is not here.
      env.KSPRAY_VIP_SERVER = ran.server;
      say(`    recording them as run (the script's last line), which exports the kubeconfig`);
    } else {
      say(`    Kubespray's commands are in ${script}; recording them as run (its last line)`);
    }
    await must("record", "sh", ["-c", record], env);
    if (addons)
      say(`    the cluster stack exported ${kubeconfig}, server ${env.KSPRAY_VIP_SERVER}`);

    const enabled = Object.keys(definition.addons).filter((k) => k !== "chartOverrides");
    heading(`the add-ons on a test cluster${addons ? `: ${enabled.join(", ")}` : ""}`);
    if (addons) {
      const t0 = Date.now();
      say(
        `    deploy addons, every chart from ${addons.repository.url} (serving ${addons.chartsDir})`,
      );
      await must(
        "deploy-addons",
        cdktf,
        ["deploy", "addons", "--ignore-missing-stack-dependencies", "--skip-synth", ...out],
        env,
        true,
      );
      await addons.show(kubeconfig, say);
      say(`    (the add-ons took ${((Date.now() - t0) / 1000).toFixed(0)} s)`);
    } else {
      say(`    ${"skipped" in setting ? setting.skipped : ""}`);
    }

    heading("add a worker, and review the change with npm run diff");
    definition.nodePools[1].count += 1;
    writeFileSync(file, stringify(definition));
    await must(
      "review",
      process.execPath,
      ["--import", "tsx", join(ROOT, "scripts", "review.ts"), "vms", "cluster"],
      env,
    );

    if (pause) {
      say(
        `\nPaused before the teardown: the double at ${double.endpoint}` +
          (addons ? `, the cluster with KUBECONFIG=${kubeconfig}` : "") +
          ". Press Enter to tear everything down.",
      );
      await enter();
    }

    heading("tear everything down (npm run destroy -- addons cluster vms)");
    // As npm run destroy does: a teardown may destroy every node's VM (lib/node-guard.ts).
    await must(
      "destroy",
      cdktf,
      ["destroy", "addons", "cluster", "vms", ...out],
      { ...env, DESTROYABLE_NODES: "all" },
      true,
    );
    const left = double.vms().filter((v) => (v.config.name ?? "").startsWith(`${config.name}-`));
    say(`    VMs of ${config.name} left in the double: ${left.length}`);
    if (addons) {
      say(`    Helm releases left in the test cluster: ${await addons.releasesLeft(kubeconfig)}`);
      await addons.stop();
      say("    test cluster stopped");
    }

    heading("where the files are");
    say(`    definition          ${file}`);
    say(`    Terraform state     ${join(WORK, "state")}/{vms,cluster,addons}.tfstate`);
    say(`    Kubespray's script  ${join(WORK, "state", "kubespray-commands.sh")} (print mode)`);
    say(`    synthesized stacks  ${join(WORK, "cdktf.out", "stacks")}`);
    say(`    the double's state  ${join(WORK, "proxmox-double.json")}`);
    say(`    every command's log ${WORK}/*.log`);
    say("\nNext: docs/proxmox.md prepares a real Proxmox VE; docs/operations.md has the runbooks.");
  } finally {
    await addons?.stop();
    await double.stop();
  }
}

void runMain(main, "demo: ");
