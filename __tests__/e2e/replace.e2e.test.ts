/**
 * `npm run replace` end to end (lib/maintenance/replacement.ts): the homelab cluster
 * deployed against the Proxmox VE double, with the REAL ansible-playbook running the
 * stand-in Kubespray, which registers each node in a test cluster (the real
 * kube-apiserver, kwok for the kubelets) and deletes it on remove-node.yml. Then a new
 * template image (templates made on each host, every node's VM left as it is), and two
 * workers moved to it, one at a time: the order printed first, each worker drained,
 * removed (remove-node.yml), its VM deleted and cloned anew from its host's new template,
 * joined again (scale.yml) and Ready before the next; every other VM the same VM, never
 * more than one worker out of Kubernetes, and a clean review afterwards. Then a
 * replacement that fails half-way and goes on when run again, redoing nothing, a
 * control-plane node joined again by cluster.yml while the two others keep etcd's quorum,
 * and the first control-plane node replaced after docs/operations.md's step 1 moved it last.
 */
import { existsSync, writeFileSync } from "node:fs";

import { CoreV1Api, KubeConfig } from "@kubernetes/client-node";

import { parseClusterConfig } from "../../config/load";
import { groupVars } from "../../kubespray-vars/vars";
import { readRecord } from "../../lib/kubespray/record";
import { replacementFile } from "../../lib/maintenance/replacement";
import type { TestCluster } from "../../test-cluster/cluster";
import { startTestCluster } from "../../test-cluster/cluster";
import { homelab } from "../fixtures/definitions";
import { describeWithAnsible } from "../support/ansible";
import { describeWithControlPlane } from "../support/test-cluster";
import { REPO_ROOT } from "../support/toolchain";

import type { Call } from "./support/cluster-rig";
import { brief, ClusterRig } from "./support/cluster-rig";
import type { CommandResult, VmIdentity } from "./support/harness";
import { describeE2e, expectSuccess, run } from "./support/harness";
import { imageServer, qcow2, sha256 } from "./support/images";

const TEMPLATE_VMID = 9500;
const ALL = ["cp-1", "cp-2", "cp-3", "worker-1", "worker-2", "worker-3"].map((n) => `kspray-${n}`);
const WORKERS = ["kspray-worker-1", "kspray-worker-2", "kspray-worker-3"];

describeE2e("npm run replace end to end", () => {
  describeWithAnsible("with the stand-in Kubespray", () => {
    describeWithControlPlane("and a test cluster", () => {
      jest.setTimeout(900_000);
      const image = qcow2("debian-13 build 4");
      let images: Awaited<ReturnType<typeof imageServer>>;
      let cluster: TestCluster;
      let rig: ClusterRig;
      let core: CoreV1Api;

      /** `npm run replace -- <args>` as a user runs it, in the rig's environment. */
      const replace = (args: readonly string[], env: Record<string, string> = {}) =>
        run("npm", ["--prefix", REPO_ROOT, "run", "--silent", "replace", "--", ...args], {
          cwd: REPO_ROOT,
          env: rig.env.env({ CDKTF_OUTDIR: rig.env.outDir, ...env }),
          timeoutMs: 900_000,
        });

      /**
       * Runs `fn` while watching the cluster's Nodes every 100 ms: the fewest workers and
       * the fewest nodes Kubernetes had at once.
       */
      async function watching<T>(fn: () => Promise<T>): Promise<{
        result: T;
        fewest: { workers: number; controlPlane: number; nodes: number };
      }> {
        const fewest = { workers: Infinity, controlPlane: Infinity, nodes: Infinity };
        let running = true;
        const deadline = Date.now() + 900_000;
        const watcher = (async () => {
          while (running && Date.now() < deadline) {
            const names = (await core.listNode()).items.map((n) => n.metadata?.name ?? "");
            fewest.nodes = Math.min(fewest.nodes, names.length);
            fewest.workers = Math.min(
              fewest.workers,
              names.filter((n) => WORKERS.includes(n)).length,
            );
            fewest.controlPlane = Math.min(
              fewest.controlPlane,
              names.filter((n) => n.startsWith("kspray-cp-")).length,
            );
            await new Promise((r) => setTimeout(r, 100));
          }
        })();
        try {
          return { result: await fn(), fewest };
        } finally {
          running = false;
          await watcher;
        }
      }

      const readyNodes = async () =>
        (await core.listNode()).items
          .filter((n) =>
            (n.status?.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True"),
          )
          .map((n) => n.metadata?.name)
          .sort();

      beforeAll(async () => {
        images = await imageServer({ "/build4/debian.qcow2": image });
        const definition = homelab();
        cluster = await startTestCluster({
          kubesprayVariables: groupVars(parseClusterConfig(definition).config),
        });
        rig = await ClusterRig.start(definition, "homelab", {
          KSPRAY_STANDIN_KUBECONFIG: cluster.kubeconfigPath,
          KSPRAY_VIP_SERVER: cluster.server,
        });
        expect(brief(await rig.deploy("vms", "cluster"))).toEqual(["node-prep.yml", "cluster.yml"]);
        const kc = new KubeConfig();
        kc.loadFromFile(rig.paths.kubeconfig);
        core = kc.makeApiClient(CoreV1Api);
      });

      afterAll(async () => {
        await rig?.stop();
        await cluster?.stop();
        await new Promise((r) => images?.server.close(r));
      });

      let made: Record<string, VmIdentity>;

      it("a new template image: templates made, every node's VM as it was", async () => {
        const before = rig.env.vmIdentities();
        rig.define((d) => {
          d.proxmox.template = {
            vmId: TEMPLATE_VMID,
            image: {
              url: `${images.base}/build4/debian.qcow2`,
              checksum: sha256(image),
              checksumAlgorithm: "sha256",
            },
          };
        });
        expect(await rig.deploy("vms", "cluster")).toEqual([]);
        made = rig.env.vmIdentities();
        expect(made).toEqual(before);
        expect(await readyNodes()).toEqual(ALL);
      });

      it("--dry-run prints the order, workers first, and changes nothing", async () => {
        const from = rig.env.double.requests().length;
        const dry = expectSuccess(
          await replace(["kspray-worker-2", "kspray-cp-2", "kspray-worker-1", "--dry-run"]),
          "npm run replace --dry-run",
        );
        expect(dry.stdout.split("\n").filter((l) => /^ {2}\d\. /.test(l))).toEqual([
          "  1. kspray-worker-1 (worker): drain, remove-node.yml, its VM cloned anew from the current template, scale.yml --limit=kspray-worker-1, until Ready",
          "  2. kspray-worker-2 (worker): drain, remove-node.yml, its VM cloned anew from the current template, scale.yml --limit=kspray-worker-2, until Ready",
          "  3. kspray-cp-2 (control-plane): drain, remove-node.yml, its VM cloned anew from the current template, cluster.yml, until Ready",
        ]);
        expect(dry.stdout).toContain(
          "the cluster can spare kspray-worker-1 now; nothing was changed (dry run)",
        );
        expect(
          rig.env.double
            .requests()
            .slice(from)
            .filter((r) => r.method !== "GET"),
        ).toEqual([]);
        expect(rig.env.vmIdentities()).toEqual(made);
      });

      it("replaces two workers one at a time: new VMs from the new template, everything else kept", async () => {
        const from = rig.env.double.requests().length;
        const { result, fewest } = await watching(() =>
          rig.callsOf(() => replace(["kspray-worker-2", "kspray-worker-1", "--auto-approve"])),
        );
        const replaced: CommandResult = expectSuccess(result.result, "npm run replace");
        const calls: Call[] = result.calls;

        // The order, printed before anything changes.
        expect(replaced.stdout).toContain(
          "replacing 2 nodes, one at a time, in this order:\n  1. kspray-worker-1 (worker)",
        );
        expect(replaced.stdout).toContain("\n  2. kspray-worker-2 (worker)");

        // Kubespray: each worker removed, then joined again, before the next one starts.
        expect(brief(calls).filter((c) => /^(remove-node|scale)\.yml/.test(c))).toEqual([
          "remove-node.yml -e node=kspray-worker-1",
          "scale.yml --limit=kspray-worker-1",
          "remove-node.yml -e node=kspray-worker-2",
          "scale.yml --limit=kspray-worker-2",
        ]);
        // remove-node.yml ran while the old VM still existed; scale.yml once the new one did.
        expect(calls.find((c) => c.playbook === "remove-node.yml")?.pve_vms).toContain(
          "kspray-worker-1",
        );

        // Proxmox: exactly the two VMs deleted, in that order, and cloned from their hosts'
        // new templates.
        const vmOf = (n: string) => made[n].vm;
        expect(rig.env.deletedVms(from)).toEqual([
          vmOf("kspray-worker-1"),
          vmOf("kspray-worker-2"),
        ]);
        const clones = rig.env.double
          .requests()
          .slice(from)
          .filter((r) => r.template === "/nodes/{node}/qemu/{vmid}/clone");
        expect(clones.map((r) => Number(/\/qemu\/(\d+)\/clone$/.exec(r.path)?.[1]))).toEqual([
          expect.any(Number),
          expect.any(Number),
        ]);
        for (const c of clones)
          expect(Number(/\/qemu\/(\d+)\/clone$/.exec(c.path)?.[1])).toBeGreaterThanOrEqual(
            TEMPLATE_VMID,
          );

        const now = rig.env.vmIdentities();
        for (const n of ["kspray-worker-1", "kspray-worker-2"]) {
          expect(now[n].vm).toBe(made[n].vm);
          expect(now[n].vmgenid).not.toBe(made[n].vmgenid);
          expect(now[n].macs.net0).not.toBe(made[n].macs.net0);
          expect(now[n].disks.scsi0).not.toBe(made[n].disks.scsi0);
        }
        for (const n of ALL.filter((x) => !["kspray-worker-1", "kspray-worker-2"].includes(x)))
          expect(now[n]).toEqual(made[n]);

        // Kubernetes: never more than one worker away, and every node Ready at the end.
        expect(fewest).toEqual({
          workers: WORKERS.length - 1,
          controlPlane: 3,
          nodes: ALL.length - 1,
        });
        expect(await readyNodes()).toEqual(ALL);
        expect(
          readRecord(rig.env.stateDir)
            ?.hosts.map((h) => h.name)
            .sort(),
        ).toEqual(ALL);
        expect(existsSync(replacementFile(rig.env.stateDir))).toBe(false);

        // Nothing left to change.
        const review = await rig.review("vms", "cluster");
        expect({ status: review.status, out: review.stdout }).toEqual({
          status: 0,
          out: expect.stringContaining("vms: no changes\ncluster: no changes\n"),
        });
        made = now;
      });

      it("a failure stops the run, says where the node is, and the same command goes on", async () => {
        const first = await rig.callsOf(() =>
          replace(["kspray-worker-3", "--auto-approve"], { KSPRAY_STANDIN_FAIL_ONCE: "scale.yml" }),
        );
        expect(first.result.status).toBe(2);
        expect(first.result.stderr).toMatch(
          /^npm run replace: stopped at kspray-worker-3 while making its VM anew and joining it \(deploy of vms and cluster\): it is out of the cluster \(removed\); its VM not yet made anew or not yet joined; replaced so far: none; fix what the line above says, then run the same command again \(npm run replace -- kspray-worker-3\): it goes on with kspray-worker-3/m,
        );
        expect(brief(first.calls).filter((c) => /^(remove-node|scale)\.yml/.test(c))).toEqual([
          "remove-node.yml -e node=kspray-worker-3",
          "scale.yml --limit=kspray-worker-3",
        ]);
        // The review says so too.
        const review = await rig.review("vms", "cluster");
        expect(review.stdout).toContain(
          "a node replacement is under way; run npm run replace -- kspray-worker-3 to go on:\n  1. kspray-worker-3 (worker): drain, remove-node.yml, its VM cloned anew from the current template, scale.yml --limit=kspray-worker-3, until Ready (under way: goes on where it stopped)\n",
        );

        const again = await rig.callsOf(() =>
          replace(["kspray-worker-3", "--auto-approve"], { KSPRAY_STANDIN_FAIL_ONCE: "scale.yml" }),
        );
        expectSuccess(again.result, "npm run replace (again)");
        // Not drained or removed again: only the join.
        expect(brief(again.calls).filter((c) => /^(remove-node|scale)\.yml/.test(c))).toEqual([
          "scale.yml --limit=kspray-worker-3",
        ]);
        const now = rig.env.vmIdentities();
        expect(now["kspray-worker-3"].vmgenid).not.toBe(made["kspray-worker-3"].vmgenid);
        for (const n of ALL.filter((x) => x !== "kspray-worker-3")) expect(now[n]).toEqual(made[n]);
        expect(await readyNodes()).toEqual(ALL);
        const clean = await rig.review("vms", "cluster");
        expect({ status: clean.status, out: clean.stdout }).toEqual({
          status: 0,
          out: expect.stringContaining("vms: no changes\ncluster: no changes\n"),
        });
        made = now;
      });

      /**
       * `npm run replace -- <node>` of a control-plane node: drained and removed while the two
       * others keep etcd's quorum, its VM (alone) cloned anew, and cluster.yml joining it again
       * with the control plane in `order` (the record's, the node last); a clean review after.
       */
      async function replaceControlPlane(node: string, order: readonly string[]): Promise<void> {
        const from = rig.env.double.requests().length;
        const { result, fewest } = await watching(() =>
          rig.callsOf(() => replace([node, "--auto-approve"])),
        );
        expectSuccess(result.result, `npm run replace -- ${node}`);
        expect(
          brief(result.calls).filter((c) => /^(remove-node|scale|cluster)\.yml/.test(c)),
        ).toEqual([`remove-node.yml -e node=${node}`, "cluster.yml"]);
        expect(result.calls.find((c) => c.playbook === "cluster.yml")?.kube_control_plane).toEqual(
          order,
        );
        expect(rig.env.deletedVms(from)).toEqual([made[node].vm]);
        const now = rig.env.vmIdentities();
        expect(now[node].vmgenid).not.toBe(made[node].vmgenid);
        for (const n of ALL.filter((x) => x !== node)) expect(now[n]).toEqual(made[n]);
        expect(fewest).toEqual({ workers: 3, controlPlane: 2, nodes: ALL.length - 1 });
        expect(await readyNodes()).toEqual(ALL);
        expect(readRecord(rig.env.stateDir)?.controlPlaneOrder).toEqual(order);
        const clean = await rig.review("vms", "cluster");
        expect({ status: clean.status, out: clean.stdout }).toEqual({
          status: 0,
          out: expect.stringContaining("vms: no changes\ncluster: no changes\n"),
        });
        made = now;
      }

      it("a control-plane node: the others keep quorum, cluster.yml joins it again", async () => {
        // The first control-plane node, which is never replaced, stays first; the node that
        // joined again comes last, as Kubespray's inventory order has it.
        await replaceControlPlane("kspray-cp-2", ["kspray-cp-1", "kspray-cp-3", "kspray-cp-2"]);
      });

      it("the first control-plane node: refused, then moved last (the runbook's step 1) and replaced", async () => {
        const refused = await replace(["kspray-cp-1", "--auto-approve"]);
        expect(refused.status).not.toBe(0);
        expect(refused.output).toContain(
          "kspray-cp-1 is the first control-plane node, which Kubespray cannot remove",
        );
        expect(rig.env.vmIdentities()).toEqual(made);

        // docs/operations.md, "Replacing the first control-plane node", step 1.
        const record = readRecord(rig.env.stateDir);
        const order = ["kspray-cp-3", "kspray-cp-2", "kspray-cp-1"];
        writeFileSync(
          rig.paths.recordFile,
          JSON.stringify({ ...record, nextControlPlaneOrder: order }),
        );
        const moved = await rig.deploy("vms", "cluster");
        expect(brief(moved)).toEqual(["node-prep.yml", "cluster.yml"]);
        expect(moved[1].kube_control_plane).toEqual(order);
        expect(rig.env.vmIdentities()).toEqual(made);

        // Step 2: now it is not first, it is replaced like any other control-plane node.
        await replaceControlPlane("kspray-cp-1", order);
      });

      it("tears everything down", async () => {
        expectSuccess(await rig.teardown(), "teardown");
        expect(rig.env.clusterVms()).toEqual([]);
      });
    });
  });
});
