/**
 * An upgrade with its safety net, end to end through the commands a user runs: the homelab
 * cluster deployed one Kubernetes minor below the example against the Proxmox VE double,
 * with the REAL ansible-playbook running the stand-in Kubespray (whose upgrade writes to
 * the disks of the VMs it upgrades, through the double); then `kubernetes.version` raised
 * and `npm run deploy -- cluster`: every VM the upgrade touches snapshotted, disk only,
 * before upgrade-cluster.yml wrote to it. Then `npm run rollback` lists the step and
 * `npm run rollback -- <snapshot>` puts each VM's disks back, running, the record back at
 * the old version, the VMs the same VMs, and the review plans the upgrade again.
 */
import { readRecord } from "../../lib/kubespray/record";
import { listSteps, savedRecord } from "../../lib/kubespray/saved-steps";
import { homelab } from "../fixtures/definitions";
import { describeWithAnsible } from "../support/ansible";
import { REPO_ROOT } from "../support/toolchain";

import { brief, ClusterRig } from "./support/cluster-rig";
import type { VmIdentity } from "./support/harness";
import { describeE2e, expectSuccess, run } from "./support/harness";

const OLD = "1.34.7";
const NEW = "1.35.4";
const ALL = ["cp-1", "cp-2", "cp-3", "worker-1", "worker-2", "worker-3"].map((n) => `kspray-${n}`);
const CHANGE = `upgrade-cluster.yml (Kubernetes ${OLD} to ${NEW})`;

describeE2e("upgrade and rollback end to end", () => {
  describeWithAnsible("with the stand-in Kubespray", () => {
    // Three deploys of real Ansible and a rollback, on a machine other suites share.
    jest.setTimeout(900_000);
    let rig: ClusterRig;
    let made: Record<string, VmIdentity>;
    /** Per guest write of the stand-in upgrade: each VM's snapshots at that moment. */
    const atGuestWrite: Record<string, string[]>[] = [];

    const vmOf = (name: string) => rig.env.clusterVms().find((v) => v.config.name === name)!;
    /** `npm run rollback -- <args>` as a user runs it, in the rig's environment. */
    const rollback = (args: readonly string[] = []) =>
      run("npm", ["--prefix", REPO_ROOT, "run", "--silent", "rollback", "--", ...args], {
        cwd: REPO_ROOT,
        env: rig.env.env({ CDKTF_OUTDIR: rig.env.outDir }),
        timeoutMs: 300_000,
      });

    beforeAll(async () => {
      const definition = homelab();
      definition.kubernetes.version = OLD;
      definition.proxmox.snapshots = { enabled: true, keep: 2 };
      rig = await ClusterRig.start(definition, "homelab");
      // The double runs in this process: note what each VM held when the upgrade wrote.
      const cluster = rig.env.double.cluster;
      const write = cluster.guestWrites.bind(cluster);
      jest.spyOn(cluster, "guestWrites").mockImplementation((vms) => {
        atGuestWrite.push(
          Object.fromEntries(
            rig.env.clusterVms().map((v) => [v.config.name, Object.keys(v.snapshots)]),
          ),
        );
        return write(vms);
      });
      expect(brief(await rig.deploy("vms", "cluster"))).toEqual(["node-prep.yml", "cluster.yml"]);
      made = rig.env.vmIdentities();
    });
    afterAll(async () => {
      await rig?.stop();
    });

    let snapshot = "";

    it("npm run deploy -- cluster after a version bump: every VM snapshotted, disk only, before upgrade-cluster.yml wrote to it", async () => {
      expect(Object.keys(made).sort()).toEqual(ALL);
      expect(rig.env.clusterVms().every((v) => Object.keys(v.snapshots).length === 0)).toBe(true);
      rig.define((d) => {
        d.kubernetes.version = NEW;
      });
      const from = rig.env.double.requests().length;
      const { result, calls } = await rig.callsOf(() => rig.env.npmRun("deploy", ["cluster"]));
      expectSuccess(result, "npm run deploy -- cluster");
      expect(brief(calls)).toEqual(["node-prep.yml", "upgrade-cluster.yml"]);
      const upgrade = calls[1];
      expect(upgrade.kube_version).toBe(NEW);
      const touched = [...upgrade.kube_control_plane, ...upgrade.kube_node].sort();
      expect(touched).toEqual(ALL);

      const steps = listSteps(rig.env.stateDir);
      expect(steps).toHaveLength(1);
      const [step] = steps;
      snapshot = step.snapshot;
      expect(step).toMatchObject({
        playbook: "upgrade-cluster.yml",
        change: CHANGE,
        before: { action: "cluster.yml", kubeVersion: OLD },
      });
      expect(snapshot).toMatch(/^upgrade-cluster-\d{8}-\d{6}$/);
      expect(step.vms.map((v) => v.name).sort()).toEqual(touched);
      expect(result.output).toContain(`undo ${CHANGE} with: npm run rollback -- ${snapshot}`);

      // The double: one disk-only snapshot per VM, asked for without RAM state.
      for (const name of touched) {
        const snap = vmOf(name).snapshots[snapshot];
        expect({ name, taken: snap !== undefined, vmstate: snap?.vmstate }).toEqual({
          name,
          taken: true,
          vmstate: undefined,
        });
        expect(snap.description).toContain(`before ${CHANGE}`);
      }
      const posts = rig.env.double
        .requests()
        .slice(from)
        .filter((q) => q.method === "POST" && /\/qemu\/\d+\/snapshot$/.test(q.path));
      expect(posts.map((q) => [q.params?.snapname, q.params?.vmstate])).toEqual(
        touched.map(() => [snapshot, "0"]),
      );

      // Taken before the upgrade wrote: every VM held it when the stand-in's guests wrote,
      // it holds the disk as deployed, and the disk itself holds the upgrade's writes.
      expect(atGuestWrite).toHaveLength(1);
      for (const name of touched) expect(atGuestWrite[0][name]).toContain(snapshot);
      const now = rig.env.vmIdentities();
      for (const name of touched) {
        const vm = vmOf(name);
        const volid = vm.config.scsi0.split(",")[0];
        const disk = rig.env.double.cluster.store.get(vm.node, volid)!;
        const saved = disk.snapshots?.find((s) => s.name === snapshot);
        expect({ name, saved: saved?.dataId }).toEqual({ name, saved: made[name].disks.scsi0 });
        expect(now[name].disks.scsi0).not.toBe(made[name].disks.scsi0);
      }

      // The record says the new version; the one from before is saved beside the snapshot.
      expect(readRecord(rig.env.stateDir)).toMatchObject({
        action: "upgrade-cluster.yml",
        vars: { kube_version: NEW },
      });
      expect(savedRecord(rig.env.stateDir, snapshot)?.vars.kube_version).toBe(OLD);
    });

    it("npm run rollback lists the step", async () => {
      const list = expectSuccess(await rollback(), "npm run rollback");
      expect(list.stdout).toContain(`${snapshot}  taken `);
      expect(list.stdout).toContain(` before ${CHANGE}\n    VMs: kspray-cp-1 (`);
      expect(list.stdout).toContain(`record before it: cluster.yml, Kubernetes ${OLD}`);
      expect(list.stdout).toContain("roll one back with: npm run rollback -- <snapshot>");
    });

    it("npm run rollback -- <snapshot>: the same VMs, running, their disks and the record as before the upgrade", async () => {
      const r = expectSuccess(await rollback([snapshot]), `npm run rollback -- ${snapshot}`);
      expect(r.output).toContain(`Kubernetes ${OLD} again`);
      expect(r.output).toContain("the next deploy of the cluster stack runs upgrade-cluster.yml");

      const now = rig.env.vmIdentities();
      for (const name of ALL) {
        // Proxmox gives a rolled-back VM a new vmgenid (qemu-server does, so that the guest
        // knows); everything else that makes it the same VM stays: ID, host, MACs, volumes.
        const { vmgenid, ...kept } = now[name];
        const { vmgenid: was, ...before } = made[name];
        expect({ name, ...kept }).toEqual({ name, ...before });
        expect(vmgenid).toBeDefined();
        expect(vmgenid).not.toBe(was);
        expect({ name, status: vmOf(name).status }).toEqual({ name, status: "running" });
      }
      expect(readRecord(rig.env.stateDir)).toMatchObject({
        action: "cluster.yml",
        vars: { kube_version: OLD },
        rolledBack: { snapshot },
      });
      // The snapshot stays, should the operator want to roll back to it again.
      for (const name of ALL) expect(Object.keys(vmOf(name).snapshots)).toContain(snapshot);
    });

    it("npm run diff: the VMs unchanged, the cluster stack plans upgrade-cluster.yml again", async () => {
      const review = await rig.env.npmRun("diff", ["vms", "cluster"]);
      expect({ status: review.status, out: review.stdout }).toMatchObject({ status: 2 });
      expect(review.stdout).toContain("vms: no changes\n");
      expect(review.stdout).toContain("cluster: changes\n");
      expect(review.stdout).toMatch(/^ {2}Kubespray will run: .*upgrade-cluster\.yml/m);
    });

    it("npm run deploy -- cluster after the rollback: upgrade-cluster.yml runs again, snapshotted again", async () => {
      const before = rig.env.vmIdentities();
      const { result, calls } = await rig.callsOf(() => rig.env.npmRun("deploy", ["cluster"]));
      expectSuccess(result, "npm run deploy -- cluster after the rollback");
      expect(brief(calls)).toEqual(["node-prep.yml", "upgrade-cluster.yml"]);
      expect(calls[1].kube_version).toBe(NEW);
      // The action names the rollback: a trigger the runner's resource has not held before.
      expect(readRecord(rig.env.stateDir)).toMatchObject({
        action: `upgrade-cluster.yml (after rollback to ${snapshot})`,
        vars: { kube_version: NEW },
      });
      expect(readRecord(rig.env.stateDir)?.rolledBack).toBeUndefined();
      expect(listSteps(rig.env.stateDir).map((s) => s.snapshot)).toContain(snapshot);
      expect(listSteps(rig.env.stateDir)).toHaveLength(2);
      // Every VM is the same VM it was after the rollback; only its disk holds the upgrade.
      const now = rig.env.vmIdentities();
      expect(Object.keys(now).sort()).toEqual(ALL);
      for (const name of ALL) {
        const { disks, ...kept } = now[name];
        const { disks: had, ...was } = before[name];
        expect({ name, ...kept }).toEqual({ name, ...was });
        expect(disks.scsi0).not.toBe(had.scsi0);
      }
      const review = await rig.env.npmRun("diff", ["vms", "cluster"]);
      expect({ status: review.status, out: review.stdout }).toMatchObject({ status: 0 });
    });
  });
});
