/**
 * `npm run status`'s view of Proxmox against the Proxmox VE double: the cluster's VMs on
 * the hosts they are on, their power state and address (the guest agent's when it
 * answers), and the nodes without a VM; rendered with the runs of a state directory.
 */
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { parse } from "yaml";

import { parseClusterConfig } from "../../config/load";
import { expandNodes } from "../../config/nodes";
import type { RunSummary } from "../../lib/kubespray/runs";
import { listRuns, writeSummary } from "../../lib/kubespray/runs";
import { ProxmoxHttpsClient } from "../../preflight/proxmox-api";
import type { ProxmoxDoubleOptions } from "../../proxmox-double";
import { ProxmoxDouble } from "../../proxmox-double";
import { addonsInState, proxmoxStatus, renderStatus } from "../../scripts/status";
import { homelab } from "../fixtures/definitions";
import { REPO_ROOT } from "../support/toolchain";

describe("npm run status", () => {
  jest.setTimeout(60_000);
  let double: ProxmoxDouble;
  const { config: base } = parseClusterConfig(homelab());
  const nodes = expandNodes(base);
  const node = (name: string) => {
    const n = nodes.find((x) => x.name === name);
    if (!n) throw new Error(`no node ${name}`);
    return n;
  };

  beforeAll(async () => {
    const seed = parse(
      readFileSync(join(REPO_ROOT, "proxmox-double", "seed.homelab.yaml"), "utf8"),
    ) as { vms: unknown[] };
    const vm = (name: string, host: string, status: string, ip: string) => ({
      vmid: node(name).vmId,
      node: host,
      status,
      config: {
        name,
        ostype: "l26",
        memory: "4096",
        scsi0: `local-lvm:vm-${node(name).vmId}-disk-0,size=40G`,
        net0: "virtio,bridge=vmbr0,tag=30",
        agent: "1",
        ipconfig0: `ip=${ip}/24,gw=10.10.30.1`,
      },
    });
    seed.vms.push(
      // The agent reports another address than the definition's: status shows the agent's.
      vm("kspray-cp-1", node("kspray-cp-1").host, "running", "10.10.30.99"),
      vm("kspray-worker-1", node("kspray-worker-1").host, "stopped", "10.10.30.31"),
      // Migrated to another host than the definition places it on.
      vm("kspray-cp-2", "pve03", "running", "10.10.30.22"),
    );
    double = await ProxmoxDouble.start({
      seed: seed as ProxmoxDoubleOptions["seed"],
      agentDelayMs: 0,
    });
  });
  afterAll(() => double?.stop());

  const config = () => ({
    ...base,
    proxmox: { ...base.proxmox, endpoint: double.endpoint, insecure: true },
  });

  it("lists the cluster's VMs per host with VM ID, address and power state, and the nodes without one", async () => {
    const api = new ProxmoxHttpsClient({
      endpoint: double.endpoint,
      token: double.token,
      insecure: true,
    });
    const status = await proxmoxStatus(config(), api);
    expect(status.error).toBeUndefined();
    expect(status.hosts).toEqual([
      {
        host: "pve01",
        vms: [
          {
            name: "kspray-cp-1",
            vmId: node("kspray-cp-1").vmId,
            address: "10.10.30.99",
            power: "running",
          },
        ],
      },
      {
        host: "pve02",
        vms: [
          {
            name: "kspray-worker-1",
            vmId: node("kspray-worker-1").vmId,
            address: node("kspray-worker-1").staticIp,
            power: "stopped",
          },
        ],
      },
      {
        host: "pve03",
        vms: [
          {
            name: "kspray-cp-2",
            vmId: node("kspray-cp-2").vmId,
            address: "10.10.30.22",
            power: "running",
          },
        ],
      },
    ]);
    expect(status.missing.map((m) => m.name)).toEqual(
      nodes
        .map((n) => n.name)
        .filter((n) => !["kspray-cp-1", "kspray-cp-2", "kspray-worker-1"].includes(n)),
    );
  });

  it("says why when Proxmox refuses the token", async () => {
    const api = new ProxmoxHttpsClient({
      endpoint: double.endpoint,
      token: "nobody@pve!x=0",
      insecure: true,
    });
    const status = await proxmoxStatus(config(), api);
    expect(status).toMatchObject({
      hosts: [],
      missing: [],
      error: expect.stringMatching(/^401/) as string,
    });
  });

  it("renders the VMs, the record's version, the runs with their failures", async () => {
    const api = new ProxmoxHttpsClient({
      endpoint: double.endpoint,
      token: double.token,
      insecure: true,
    });
    const stateDir = mkdtempSync(join(tmpdir(), "status-"));
    const failed: RunSummary = {
      name: "20260514T212633.123Z-cluster",
      playbook: "cluster.yml",
      label: "cluster.yml",
      command: [],
      machine: "here",
      startedAt: "2026-05-14T21:26:33.123Z",
      finishedAt: "2026-05-14T21:45:53.123Z",
      durationSeconds: 1160,
      result: "failed",
      exit: "exit 2",
      tasks: 800,
      hosts: {},
      changedTasks: [],
      failures: [
        {
          host: "kspray-cp-2",
          play: "Install etcd",
          task: "etcd : Configure | Wait for etcd cluster to be healthy",
          action: "shell",
          unreachable: false,
          message: "non-zero return code",
        },
      ],
      log: "20260514T212633.123Z-cluster.log",
    };
    writeSummary(stateDir, failed);
    const text = renderStatus({
      cluster: "kspray",
      definition: "homelab.yaml",
      stateDir,
      proxmox: await proxmoxStatus(config(), api),
      kubernetes: {
        version: "1.35.4",
        action: "cluster.yml",
        completedAt: "2026-05-13T10:00:00.000Z",
        runs: [],
      },
      runs: listRuns(stateDir),
      addons: {
        state: addonsInState({
          values: {
            root_module: {
              resources: [
                {
                  type: "helm_release",
                  values: {
                    name: "metallb",
                    namespace: "metallb-system",
                    chart: "metallb",
                    version: "0.16.1",
                    status: "deployed",
                  },
                },
                { type: "local_file", values: { filename: "x" } },
              ],
            },
          },
        }),
        cluster: { error: "not asked (--no-cluster)" },
      },
      unsavedStates: [],
      review: [{ stack: "vms", outcome: "no-changes", lines: [] }],
    });
    expect(text).toContain(
      `  pve01\n    kspray-cp-1  ${node("kspray-cp-1").vmId}  10.10.30.99  running\n`,
    );
    expect(text).toContain(
      `  no VM: kspray-worker-3 (VM ${node("kspray-worker-3").vmId} on ${node("kspray-worker-3").host})`,
    );
    expect(text).toContain(
      "Kubernetes 1.35.4: the record of the last run (cluster.yml, 2026-05-13 10:00 UTC)",
    );
    expect(text).toContain(
      "  2026-05-14 21:26 UTC  cluster.yml  failed (exit 2)  19m20s  kspray-cp-2: etcd : Configure | Wait for etcd cluster to be healthy",
    );
    expect(text).toContain("  metallb-system/metallb  metallb 0.16.1  deployed\n");
    expect(text).toContain("In the cluster: not asked (--no-cluster)");
    expect(text).toContain("Review (npm run diff)\n  vms: no changes\n");
  });

  it("puts the states an apply could not save first, and says why nothing was reviewed", () => {
    const line =
      "/o/stacks/vms/errored.tfstate: an earlier apply of the vms stack could not save its state in its backend and left it here; push it";
    const text = renderStatus({
      cluster: "kspray",
      definition: "homelab.yaml",
      stateDir: "/state",
      proxmox: { hosts: [], missing: [] },
      runs: [],
      addons: { state: [], cluster: { error: "not asked (--no-cluster)" } },
      unsavedStates: [line],
      review: [],
      reviewError: "not reviewed: a stack's state was not saved (above); push it first",
    });
    const head = `cluster kspray (homelab.yaml), state /state\n\nState not saved (errored.tfstate)\n  ${line}\n\nProxmox VMs\n`;
    expect(text.slice(0, head.length)).toBe(head);
    expect(text).toContain(
      "Review (npm run diff)\n  not reviewed: a stack's state was not saved (above); push it first\n",
    );
  });
});
