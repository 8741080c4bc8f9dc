/**
 * Adopts the VMs an interrupted deploy left behind (see preflight/stranded.ts): synthesizes
 * the app, lists the vms stack's state, asks Proxmox for the cluster's VMs, and imports each
 * of ours that the state lacks, with `tofu import`. `npm run deploy` runs it before cdktf;
 * on its own: `npx tsx scripts/adopt.ts`. Reads CLUSTER_CONFIG, STATE_DIR, CDKTF_OUTDIR and
 * PROXMOX_VE_API_TOKEN like the app; the offline toolchain's environment must be set
 * (`source scripts/toolchain-env.sh`).
 */
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

import { loadClusterConfig } from "../config/load";
import { runMain, UserError } from "../errors/user-error";
import { definitionFile } from "../lib/environment";
import type { ProxmoxApi } from "../preflight/proxmox-api";
import { proxmoxApiOf } from "../preflight/proxmox-api";
import type { ExistingVm, SynthesizedVm, TofuState } from "../preflight/stranded";
import {
  pendingDiskMoves,
  pendingMigration,
  strandedVms,
  synthesizedVms,
  withAdoptedAsCreated,
} from "../preflight/stranded";

import { capture, commandFailed, initStack, outdirFromEnvironment, synthesize } from "./processes";

async function must(cmd: string, args: readonly string[], cwd: string): Promise<string> {
  const r = await capture(cmd, args, cwd);
  if (r.status !== 0)
    throw commandFailed(cwd, `${cmd} ${args.join(" ")}`, `${r.stdout}${r.stderr}`);
  return r.stdout;
}

/** Proxmox goes on cloning after its client died: wait until the VM is no longer locked. */
async function untilUnlocked(api: ProxmoxApi, importId: string, name: string): Promise<void> {
  const deadline = Date.now() + 15 * 60_000;
  for (;;) {
    const status = await api.get<{ lock?: string }>(
      `/nodes/${importId.replace("/", "/qemu/")}/status/current`,
    );
    if (status.lock === undefined) return;
    if (Date.now() > deadline)
      throw UserError.at(
        `${name} (VM ${importId})`,
        `still locked (${status.lock}) after 15 minutes`,
        'see docs/operations.md, "An interrupted deploy"',
      );
    process.stdout.write(
      `adopt: waiting for Proxmox to finish with ${name} (lock: ${status.lock})\n`,
    );
    await new Promise((r) => setTimeout(r, 2000));
  }
}

/** The objects `tofu plan` would create at `addresses`, by address (`change.after`). */
async function plannedCreations(
  stack: string,
  addresses: readonly string[],
): Promise<Map<string, Record<string, unknown>>> {
  const planFile = "adopt.tfplan";
  try {
    await must(
      "tofu",
      [
        "plan",
        "-input=false",
        "-no-color",
        "-refresh=false",
        `-out=${planFile}`,
        ...addresses.map((a) => `-target=${a}`),
      ],
      stack,
    );
    const plan = JSON.parse(
      await must("tofu", ["show", "-json", "-no-color", planFile], stack),
    ) as {
      resource_changes?: { address: string; change: { after?: Record<string, unknown> | null } }[];
    };
    return new Map(
      (plan.resource_changes ?? []).flatMap((c) =>
        addresses.includes(c.address) && c.change.after ? [[c.address, c.change.after]] : [],
      ),
    );
  } finally {
    rmSync(join(stack, planFile), { force: true });
  }
}

/**
 * What a deploy does right after a clone, for a VM it was cut off from: the migration to
 * its host, then the moves of its disks to their storage. The VM's import ID afterwards.
 */
async function finishClone(
  api: ProxmoxApi,
  importId: string,
  vm: SynthesizedVm | undefined,
): Promise<string> {
  if (vm === undefined) return importId;
  const [from, vmid] = importId.split("/");
  const migration = pendingMigration(from, vm);
  if (migration) {
    process.stdout.write(`adopt: migrating ${vm.name} from ${from} to ${migration.target}\n`);
    const upid = await api.post<string>(`/nodes/${from}/qemu/${vmid}/migrate`, migration.params);
    await api.waitForTask(from, upid);
  }
  const node = migration?.target ?? from;
  const path = `/nodes/${node}/qemu/${vmid}`;
  const config = await api.get<Record<string, unknown>>(`${path}/config`);
  for (const move of pendingDiskMoves(config, vm)) {
    process.stdout.write(`adopt: moving ${vm.name}'s ${move.disk} to ${move.storage}\n`);
    const upid = await api.post<string>(`${path}/move_disk`, {
      disk: move.disk,
      storage: move.storage,
      delete: "1",
    });
    await api.waitForTask(node, upid);
  }
  return `${node}/${vmid}`;
}

async function main(): Promise<number> {
  const { config } = loadClusterConfig(definitionFile());
  const outdir = outdirFromEnvironment(process.env);
  const stack = join(outdir, "stacks", "vms");
  const synth = await synthesize(outdir);
  if (synth.status !== 0)
    throw commandFailed(outdir, "the synth", `${synth.stdout}${synth.stderr}`);
  const wanted = synthesizedVms(JSON.parse(readFileSync(join(stack, "cdk.tf.json"), "utf8")));

  const init = await initStack(stack);
  if (init.status !== 0) throw commandFailed(stack, "tofu init", `${init.stdout}${init.stderr}`);
  const listed = await capture("tofu", ["state", "list", "-no-color"], stack);
  // No state yet (a first deploy killed before it wrote any) lists nothing.
  const inState = new Set(
    listed.status === 0 ? listed.stdout.split("\n").filter((l) => l !== "") : [],
  );

  const api = proxmoxApiOf(config, process.env);
  const existing = await api.get<ExistingVm[]>("/cluster/resources", { type: "vm" });
  const adoptions = strandedVms(wanted, inState, existing);
  if (adoptions.length === 0) return 0;
  // What a deploy would create for each, before the import records what Proxmox has.
  const planned = await plannedCreations(
    stack,
    adoptions.map((a) => a.address),
  );
  const adopted: string[] = [];
  for (const a of adoptions) {
    await untilUnlocked(api, a.importId, a.name);
    const importId = await finishClone(
      api,
      a.importId,
      wanted.find((w) => w.address === a.address),
    );
    await must("tofu", ["import", "-input=false", "-no-color", a.address, importId], stack);
    adopted.push(
      `adopted ${a.name} (VM ${importId}): an interrupted deploy made it, its state did not record it\n`,
    );
  }
  const state = JSON.parse(await must("tofu", ["state", "pull"], stack)) as TofuState;
  const file = join(stack, "adopted.tfstate");
  writeFileSync(file, JSON.stringify(withAdoptedAsCreated(state, planned)), { mode: 0o600 });
  try {
    await must("tofu", ["state", "push", "-no-color", file], stack);
  } finally {
    rmSync(file, { force: true });
  }
  for (const line of adopted) process.stdout.write(line);
  return 0;
}

void runMain(main);
