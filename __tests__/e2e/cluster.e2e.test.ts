/**
 * The cluster stack end to end, continuing the vms flow: `cdktf deploy vms cluster` against
 * the Proxmox VE double, with the REAL ansible-playbook (Kubespray v2.31.0's pins, from
 * .toolchain/ansible-venv) running a copy of the stand-in Kubespray, whose playbooks
 * record how they were called (and which VMs the double holds at that moment). The nodes'
 * addresses are not reachable here, so the runner's SSH checks go to a loopback listener
 * (KSPRAY_SSH_HOST/PORT) and node preparation is the stand-in's (KSPRAY_NODE_PREP_PLAYBOOK);
 * both reach the local-exec provisioners through the cdktf environment.
 */
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { readRecord } from "../../lib/kubespray/record";
import type { Status } from "../../scripts/status";
import { cloud, homelab } from "../fixtures/definitions";
import { ANSIBLE_BIN, describeWithAnsible } from "../support/ansible";

import { brief, ClusterRig, TEARDOWN } from "./support/cluster-rig";
import { describeE2e, expectSuccess, oneLine, run } from "./support/harness";

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f]/;

const mode = (file: string): number => statSync(file).mode & 0o777;

/** `ansible-inventory -i FILE --list` of the test venv, parsed. */
async function ansibleInventory(file: string): Promise<Record<string, unknown>> {
  const r = expectSuccess(
    await run(join(ANSIBLE_BIN, "ansible-inventory"), ["-i", file, "--list"], {
      cwd: tmpdir(),
      env: { ...process.env, ANSIBLE_NOCOLOR: "1" },
      timeoutMs: 60_000,
    }),
    "ansible-inventory --list",
  );
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

interface InventoryList {
  _meta: { hostvars: Record<string, Record<string, unknown>> };
  [group: string]: { hosts?: string[]; children?: string[] } | InventoryList["_meta"];
}

const group = (inv: InventoryList, name: string) =>
  inv[name] as { hosts?: string[]; children?: string[] };

const WORKER_4 = "kspray-worker-4";

describeE2e("cluster stack end to end", () => {
  describeWithAnsible("homelab (static addresses)", () => {
    let rig: ClusterRig;

    beforeAll(async () => {
      const definition = homelab();
      // Starts one minor below the example, so that the version bump is the example's own.
      definition.kubernetes.version = "1.34.7";
      rig = await ClusterRig.start(definition, "homelab");
    });
    afterAll(async () => {
      await rig?.stop();
    });

    it("first deploy: node preparation, then cluster.yml", async () => {
      const calls = await rig.deploy("vms", "cluster");
      expect(brief(calls)).toEqual(["node-prep.yml", "cluster.yml"]);
      expect(calls[0].extra_vars).toMatchObject({ node_prep_iscsi: true, node_prep_nfs: true });
      expect(calls[1].inventory).toEqual([rig.paths.hostsFile]);
      expect(calls[1].kube_version).toBe("1.34.7");
      expect(calls[1].kube_control_plane).toEqual(["kspray-cp-1", "kspray-cp-2", "kspray-cp-3"]);
      expect(readRecord(rig.env.stateDir)?.action).toBe("cluster.yml");
      expect(await rig.env.outputs("cluster")).toMatchObject({ kubespray_action: "cluster.yml" });
      expect(mode(rig.paths.kubeconfig)).toBe(0o600);
    });

    it("writes the inventory and variables mode 0600, as ansible-inventory reads them", async () => {
      expect(mode(rig.paths.hostsFile)).toBe(0o600);
      expect(mode(rig.paths.groupVarsFile)).toBe(0o600);
      const inv = (await ansibleInventory(rig.paths.hostsFile)) as unknown as InventoryList;
      const cps = ["kspray-cp-1", "kspray-cp-2", "kspray-cp-3"];
      const workers = ["kspray-worker-1", "kspray-worker-2", "kspray-worker-3"];
      expect(group(inv, "kube_control_plane").hosts).toEqual(cps);
      expect(group(inv, "etcd").hosts).toEqual(cps);
      expect(group(inv, "kube_node").hosts).toEqual(workers);
      expect(group(inv, "k8s_cluster").children).toEqual(["kube_control_plane", "kube_node"]);
      // calico_rr exists, empty (ansible-inventory lists it only under all).
      expect(group(inv, "all").children).toEqual(expect.arrayContaining(["calico_rr"]));
      expect(inv._meta.hostvars["kspray-cp-1"]).toMatchObject({
        ansible_host: "10.10.30.21",
        ip: "10.10.30.21",
        access_ip: "10.10.30.21",
        ansible_user: "debian",
        // group_vars/all/ beside the inventory is read with it.
        kube_version: "1.34.7",
        kube_proxy_strict_arp: true,
      });
      expect(inv._meta.hostvars["kspray-worker-3"]).toMatchObject({
        ansible_host: "10.10.30.33",
        ip: "10.10.30.33",
        access_ip: "10.10.30.33",
      });
    });

    it("no-op redeploy: the cluster stack plans no change and no playbook runs", async () => {
      expect((await rig.env.plan("cluster")).exitCode).toBe(0);
      // The review of the deployed stacks (the add-ons need a real Kubernetes API).
      const review = await rig.review("vms", "cluster");
      expect({ status: review.status, out: review.stdout }).toMatchObject({ status: 0 });
      expect(review.stdout).toContain("vms: no changes\ncluster: no changes\n");
      expect(await rig.deploy("vms", "cluster")).toEqual([]);
    });

    it("one added worker: cdktf diff names scale.yml; facts.yml, then scale.yml --limit", async () => {
      rig.define((d) => {
        d.nodePools[1].count = 4;
      });
      const diff = expectSuccess(await rig.env.cdktf(["diff", "cluster"]), "cdktf diff cluster");
      expect(diff.output).toContain(`playbooks/facts.yml; scale.yml --limit=${WORKER_4}`);
      const review = await rig.review("vms", "cluster");
      expect({ status: review.status, out: review.output }).toMatchObject({ status: 2 });
      expect(review.stdout).toContain("vms: changes\n");
      expect(review.stdout).toMatch(
        new RegExp(`^  \\+ proxmox_virtual_environment_vm\\.\\S+ \\(${WORKER_4}\\)$`, "m"),
      );
      expect(review.stdout).toContain(
        `  Kubespray will run: playbooks/facts.yml; scale.yml --limit=${WORKER_4}\n`,
      );
      const calls = await rig.deploy("vms", "cluster");
      expect(brief(calls)).toEqual([
        "playbooks/facts.yml",
        `node-prep.yml --limit=${WORKER_4}`,
        `scale.yml --limit=${WORKER_4}`,
      ]);
      expect(calls[2].kube_node).toContain(WORKER_4);
      expect(rig.env.clusterVms().map((v) => v.config.name)).toContain(WORKER_4);
    });

    it("one removed worker: remove-node.yml -e node=... while its VM still exists", async () => {
      rig.define((d) => {
        d.nodePools[1].count = 3;
      });
      const vmid = rig.env.clusterVms().find((v) => v.config.name === WORKER_4)?.vmid;
      expect(vmid).toBeDefined();
      const diff = expectSuccess(await rig.env.cdktf(["diff", "cluster"]), "cdktf diff cluster");
      expect(diff.output).toContain(`remove-node.yml -e node=${WORKER_4}`);
      const calls = await rig.deploy("vms", "cluster");
      expect(brief(calls)).toEqual([`remove-node.yml -e node=${WORKER_4}`]);
      expect(calls[0].extra_vars).toMatchObject({ skip_confirmation: "true", reset_nodes: "" });
      // Run with the record's copy of the inventory, which still holds the node...
      expect(calls[0].inventory).toEqual([rig.paths.recordHostsFile]);
      expect(calls[0].kube_node).toContain(WORKER_4);
      // ...while the double still had its VM, which is gone afterwards.
      expect(calls[0].pve_vms).toContain(WORKER_4);
      expect(rig.env.clusterVms().map((v) => v.config.name)).not.toContain(WORKER_4);
      expect(
        rig.env.double
          .requests()
          .some((r) => r.method === "DELETE" && r.path.endsWith(`/qemu/${vmid}`)),
      ).toBe(true);
      expect(readRecord(rig.env.stateDir)?.hosts.map((h) => h.name)).not.toContain(WORKER_4);
      expect((await rig.env.plan("cluster")).exitCode).toBe(0);
    });

    it("Kubernetes version bump: upgrade-cluster.yml", async () => {
      rig.define((d) => {
        d.kubernetes.version = "1.35.4";
      });
      const diff = expectSuccess(await rig.env.cdktf(["diff", "cluster"]), "cdktf diff cluster");
      expect(diff.output).toContain("upgrade-cluster.yml");
      const calls = await rig.deploy("vms", "cluster");
      expect(brief(calls)).toEqual(["node-prep.yml", "upgrade-cluster.yml"]);
      expect(calls[1].kube_version).toBe("1.35.4");
    });

    it("a playbook failure fails the deploy with the record untouched; the retry runs it again", async () => {
      rig.define((d) => {
        d.kubernetes.nodeLocalDns = false;
      });
      const recordBefore = readFileSync(rig.paths.recordFile, "utf8");
      const failing = { KSPRAY_STANDIN_FAIL_ONCE: "cluster.yml" };
      const first = await rig.callsOf(() =>
        rig.env.cdktf(["deploy", "vms", "cluster"], { env: failing }),
      );
      const failed = first.result;
      expect(failed.status).not.toBe(0);
      expect(failed.output).toMatch(/cluster\.yml failed .*the record is unchanged/);
      // Through OpenTofu and cdktf: the progress lines and the explanation, no control character.
      const runnerLines = failed.stdout.split("\n").filter((l) => l.includes("[kubespray-runner]"));
      expect(runnerLines.join("\n")).toMatch(/cluster\.yml, play 1 "Stand-in cluster\.yml": /);
      expect(runnerLines.join("\n")).not.toMatch(CONTROL);
      const failedRun = readdirSync(join(rig.env.stateDir, "runs"))
        .filter((f) => f.endsWith("-cluster.log"))
        .sort()
        .pop();
      expect(oneLine(failed.output)).toMatch(
        new RegExp(
          `failed host: kspray-cp-1 .*task: Fail .*message: stand-in cluster\\.yml fails once, as asked .*` +
            `runbook: docs/operations\\.md#a-failed-kubespray-run .*full log: ${join(rig.env.stateDir, "runs", failedRun ?? "")}`,
        ),
      );
      expect(brief(first.calls)).toEqual(["node-prep.yml", "cluster.yml"]);
      expect(readFileSync(rig.paths.recordFile, "utf8")).toBe(recordBefore);
      // The runner was replaced and its run failed: no teardown marker may be left, or a
      // node removed later would lose its remove-node.yml.
      expect(existsSync(rig.paths.teardownMarker)).toBe(false);

      const retry = await rig.callsOf(async () =>
        expectSuccess(
          await rig.env.cdktf(["deploy", "vms", "cluster"], { env: failing }),
          "the retry",
        ),
      );
      expect(brief(retry.calls)).toEqual(["node-prep.yml", "cluster.yml"]);
      expect(readRecord(rig.env.stateDir)?.vars.enable_nodelocaldns).toBe(false);
      expect((await rig.env.plan("cluster")).exitCode).toBe(0);
    });

    it("npm run status: the VMs per host, the record's version, the last runs, the review", async () => {
      const r = expectSuccess(
        await rig.status("vms", "cluster", "--no-cluster", "--json"),
        "npm run status",
      );
      const status = JSON.parse(r.stdout) as Status;
      const vms = rig.env.clusterVms();
      expect(
        status.proxmox.hosts
          .flatMap((h) => h.vms.map((v) => ({ host: h.host, ...v })))
          .sort((a, b) => a.name.localeCompare(b.name)),
      ).toEqual(
        vms
          .map((v) => ({
            host: v.node,
            name: v.config.name,
            vmId: v.vmid,
            // The guest agent's: the cloud-init address of each VM.
            address: /ip=([0-9.]+)\//.exec(v.config.ipconfig0 ?? "")?.[1],
            power: "running",
          }))
          .sort((a, b) => String(a.name).localeCompare(String(b.name))),
      );
      expect(status.proxmox.missing).toEqual([]);
      expect(status.kubernetes).toMatchObject({ version: "1.35.4", action: "cluster.yml" });
      const runs = status.runs.map((x) => `${x.label}: ${x.result}`);
      expect(runs.slice(-4)).toEqual([
        "node-prep.yml: succeeded",
        "cluster.yml: failed",
        "node-prep.yml: succeeded",
        "cluster.yml: succeeded",
      ]);
      expect(status.kubernetes?.runs).toEqual(status.runs.slice(-2).map((x) => x.name));
      expect(status.review.map((x) => `${x.stack}: ${x.outcome}`)).toEqual([
        "vms: no-changes",
        "cluster: no-changes",
      ]);
      expect(status.addons).toMatchObject({
        state: [],
        cluster: { error: "not asked (--no-cluster)" },
      });
    });

    it("the first control-plane node moved away (docs/operations.md, step 1): cluster.yml sees the new order", async () => {
      // As the runbook says: the record gets nextControlPlaneOrder, the first node moved last.
      const order = ["kspray-cp-2", "kspray-cp-3", "kspray-cp-1"];
      const record = JSON.parse(readFileSync(rig.paths.recordFile, "utf8")) as Record<
        string,
        unknown
      >;
      expect(record.controlPlaneOrder).toEqual(["kspray-cp-1", "kspray-cp-2", "kspray-cp-3"]);
      writeFileSync(
        rig.paths.recordFile,
        JSON.stringify({ ...record, nextControlPlaneOrder: order }),
      );
      const review = await rig.review("cluster");
      // Exit 2: changes, as tofu plan -detailed-exitcode.
      expect({ status: review.status, out: review.stdout }).toMatchObject({ status: 2 });
      expect(review.stdout).toContain("Kubespray will run: cluster.yml");
      const calls = await rig.deploy("vms", "cluster");
      expect(brief(calls)).toEqual(["node-prep.yml", "cluster.yml"]);
      // Real Ansible's groups, read from the inventory file the stack wrote.
      expect(calls[1].kube_control_plane).toEqual(order);
      expect(readRecord(rig.env.stateDir)).toMatchObject({ controlPlaneOrder: order });
      expect(readRecord(rig.env.stateDir)?.nextControlPlaneOrder).toBeUndefined();
      expect((await rig.env.plan("cluster")).exitCode).toBe(0);
      expect(await rig.deploy("vms", "cluster")).toEqual([]);
    });

    it("full teardown: no node is removed one by one, and the double has no VM left", async () => {
      const { result, calls } = await rig.callsOf(() => rig.teardown());
      expectSuccess(result, TEARDOWN.join(" "));
      expect(calls).toEqual([]);
      expect(result.output).toContain("not removing");
      expect(rig.env.clusterVms()).toEqual([]);
      expect(existsSync(rig.paths.teardownMarker)).toBe(true);
      expect(readRecord(rig.env.stateDir)).toBeUndefined();
    });
  });

  describeWithAnsible("cloud-cluster (DHCP addresses from the guest agent)", () => {
    let rig: ClusterRig;

    beforeAll(async () => {
      rig = await ClusterRig.start(cloud(), "cloud");
    });
    afterAll(async () => {
      await rig?.stop();
    });

    it("deploys vms and cluster with the leased addresses in the inventory", async () => {
      const calls = await rig.deploy("vms", "cluster");
      expect(brief(calls)).toEqual(["node-prep.yml", "cluster.yml"]);
      // The lease the double gave each VM, by the MAC address of its first NIC.
      const { leases } = rig.env.double.state() as { leases: Record<string, string> };
      const leased = Object.fromEntries(
        rig.env.clusterVms().map((v) => {
          const mac = /=([0-9A-F:]{17})/i.exec(v.config.net0 ?? "")?.[1]?.toUpperCase() ?? "";
          return [v.config.name, leases[mac]] as const;
        }),
      );
      const inv = (await ansibleInventory(rig.paths.hostsFile)) as unknown as InventoryList;
      const names = ["cloud-controller-1", "cloud-cpu-worker-1", "cloud-gpu-worker-1"];
      expect(Object.keys(inv._meta.hostvars).sort()).toEqual(names);
      for (const name of names) {
        expect(leased[name]).toMatch(/^192\.168\.100\.1\d\d$/);
        expect(inv._meta.hostvars[name]).toMatchObject({
          ansible_host: leased[name],
          ip: leased[name],
          access_ip: leased[name],
        });
      }
      expect(calls[1].kube_node).toEqual(["cloud-cpu-worker-1", "cloud-gpu-worker-1"]);
      expect(mode(rig.paths.hostsFile)).toBe(0o600);
      expect(group(inv, "gpu_nodes").hosts).toEqual(["cloud-gpu-worker-1"]);
      expect(inv._meta.hostvars["cloud-gpu-worker-1"]).toMatchObject({
        node_labels: { "workload-type": "inference", "gpu-type": "rtx-a6000" },
        node_taints: ["nvidia.com/gpu=present:NoSchedule"],
      });
      expect((await rig.env.plan("cluster")).exitCode).toBe(0);
    });

    it("tears down without removing nodes one by one", async () => {
      const { result, calls } = await rig.callsOf(() => rig.teardown());
      expectSuccess(result, TEARDOWN.join(" "));
      expect(calls).toEqual([]);
      expect(rig.env.clusterVms()).toEqual([]);
    });
  });
});
