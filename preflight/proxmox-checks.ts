/**
 * Preflight's checks of Proxmox VE: what a deploy needs there, read before anything
 * changes, every problem at once, each an `Issue` naming the field or variable at fault.
 *
 * Read-only: GET requests with the deploy's own token, so a missing privilege shows here.
 */
import type { NodeSpec, TemplateRef } from "../config/nodes";
import {
  expandNodes,
  hostsInUse,
  imageTemplateName,
  imageTemplates,
  preparedTemplate,
} from "../config/nodes";
import type { ClusterConfig } from "../config/schema";
import { PROXMOX_ENV } from "../config/secrets";
import type { Issue } from "../errors/user-error";
import { issue } from "../errors/user-error";

import type { ClusterVm } from "./cluster-vms";
import { agentAddresses, listVms } from "./cluster-vms";
import { checkHa } from "./ha";
import { privilegesFor } from "./privileges";
import type { ProxmoxApi } from "./proxmox-api";
import { ApiError } from "./proxmox-api";
import { checkSnapshots } from "./snapshots";

interface Storage {
  readonly storage: string;
  readonly content?: string;
  readonly shared?: number;
  readonly active?: number;
  readonly enabled?: number;
  readonly avail?: number;
}

interface NetworkIface {
  readonly iface: string;
  readonly type: string;
  readonly bridge_vlan_aware?: number;
}

interface PciMapping {
  readonly id: string;
  readonly map?: string[];
}

const GiB = 1024 ** 3;
const DOCS_TOKEN = "create the token as docs/proxmox.md (section 2) shows";

function tryGet<T>(api: ProxmoxApi, path: string, query?: Record<string, string>) {
  return attempt(api.get<T>(path, query));
}

/** An API call's answer, or the API's error (any other error is thrown). */
async function attempt<T>(call: Promise<T>) {
  try {
    return { ok: true as const, data: await call };
  } catch (e) {
    if (e instanceof ApiError) return { ok: false as const, error: e };
    throw e;
  }
}

/** The token: present, accepted, and holding every privilege the deploy uses. */
async function checkAccess(api: ProxmoxApi, env: NodeJS.ProcessEnv, config: ClusterConfig) {
  const problems: Issue[] = [];
  if (!env[PROXMOX_ENV.token]) {
    return {
      reachable: false,
      problems: [
        issue(
          PROXMOX_ENV.token,
          "not set",
          `export the deploy's API token (user@realm!tokenid=secret); ${DOCS_TOKEN}`,
        ),
      ],
    };
  }
  const version = await tryGet<{ version: string }>(api, "/version");
  if (!version.ok) {
    if (version.error.status === 401) {
      problems.push(
        issue(
          PROXMOX_ENV.token,
          `Proxmox refuses the token (${version.error.reason})`,
          `check its user, token ID and secret; ${DOCS_TOKEN}`,
        ),
      );
    } else {
      problems.push(
        issue(
          "proxmox.endpoint",
          `cannot reach the Proxmox VE API at ${config.proxmox.endpoint} (${version.error.reason})`,
          "check the address, that the host is up and that port 8006 is reachable from here",
        ),
      );
    }
    return { reachable: false, problems };
  }
  const perms = await tryGet<Record<string, Record<string, number>>>(api, "/access/permissions");
  if (!perms.ok) {
    problems.push(
      issue(
        PROXMOX_ENV.token,
        `cannot read its own permissions (${perms.error.reason})`,
        DOCS_TOKEN,
      ),
    );
  } else {
    // Granted on `/` and propagating, as the documented `pveum aclmod /` does.
    const held = new Set(Object.keys(perms.data["/"] ?? {}));
    const missing = privilegesFor(config).filter((p) => !held.has(p));
    if (missing.length > 0) {
      problems.push(
        issue(
          PROXMOX_ENV.token,
          `the token lacks ${missing.join(", ")} on /`,
          "add them to its role (the pveum role in docs/proxmox.md) or use a token without privilege separation",
        ),
      );
    }
  }
  return { reachable: true, problems };
}

/**
 * The token alone: set, accepted by Proxmox, and the API answering at the endpoint. `npm run
 * diff` asks it before planning, as a deploy's preflight does, so that a wrong token is one
 * line instead of the provider's 401 for every VM in the state.
 */
export async function checkToken(
  config: ClusterConfig,
  api: ProxmoxApi,
  env: NodeJS.ProcessEnv,
): Promise<Issue[]> {
  const access = await checkAccess(api, env, config);
  return access.reachable ? [] : access.problems;
}

/** The hosts' problems, and those of them that are online (the later checks read those). */
async function checkHosts(
  api: ProxmoxApi,
  hosts: readonly string[],
): Promise<{ problems: Issue[]; online: string[] }> {
  const nodes = await tryGet<{ node: string; status?: string }[]>(api, "/nodes");
  if (!nodes.ok)
    return { problems: [apiProblem("proxmox.hosts", "/nodes", nodes.error)], online: [] };
  const status = new Map(nodes.data.map((n) => [n.node, n.status]));
  const known = [...status.keys()].sort().join(", ");
  const online = hosts.filter((h) => status.get(h) === "online");
  const problems = hosts.flatMap((h): Issue[] => {
    if (!status.has(h))
      return [
        issue(
          "proxmox.hosts",
          `no Proxmox node ${h} (the cluster has ${known})`,
          "use the node names that Datacenter > Nodes shows",
        ),
      ];
    if (status.get(h) !== "online")
      return [
        issue(
          "proxmox.hosts",
          `${h} is ${status.get(h) ?? "in an unknown state"}`,
          `bring ${h} back online, or place no VM on it (proxmox.hosts, nodePools[].hosts)`,
        ),
      ];
    return [];
  });
  return { problems, online };
}

function apiProblem(what: string, path: string, e: ApiError): Issue {
  return issue(
    what,
    `cannot read ${path} (${e.reason})`,
    e.status === 403 ? "give the token the documented role (docs/proxmox.md)" : "check Proxmox",
  );
}

/**
 * Templates made from `proxmox.template.image`: the image's storage on each of their hosts,
 * node-local, active and holding `import` content; their VM IDs free or already ours.
 */
function checkImageTemplates(
  config: ClusterConfig,
  nodes: readonly NodeSpec[],
  vms: readonly ClusterVm[],
  storages: ReadonlyMap<string, Storage[]>,
): Issue[] {
  const problems: Issue[] = [];
  const what = "proxmox.template.image.datastore";
  const byId = new Map(vms.map((v) => [v.vmid, v]));
  for (const t of imageTemplates(config, nodes)) {
    const id = t.image.datastore;
    const list = storages.get(t.host);
    const s = list?.find((x) => x.storage === id);
    if (list !== undefined && s === undefined)
      problems.push(
        issue(
          what,
          `${id} does not exist on ${t.host} (it has ${list.map((x) => x.storage).join(", ")})`,
          "name a directory storage every host has, such as local",
        ),
      );
    else if (s !== undefined && !(s.content ?? "").split(",").includes("import"))
      problems.push(
        issue(
          what,
          `${id} on ${t.host} does not take the import content type (content: ${s.content ?? "none"})`,
          `add it: pvesm set ${id} --content ${s.content ? `${s.content},` : ""}import (or Datacenter > Storage > ${id} > Content: Import)`,
        ),
      );
    else if (s?.shared === 1)
      problems.push(
        issue(
          what,
          `${id} is shared, and each host downloads the image for itself`,
          "name a storage of each host's own, such as local",
        ),
      );
    const vm = byId.get(t.vmId);
    if (vm !== undefined && (vm.name !== t.name || vm.node !== t.host))
      problems.push(
        issue(
          "proxmox.template.vmId",
          `VM ID ${t.vmId} (for the template on ${t.host}) is taken by VM ${vm.name ?? "(no name)"} on ${vm.node}`,
          "move proxmox.template.vmId to free IDs (one per host of proxmox.hosts)",
        ),
      );
  }
  return problems;
}

/**
 * Templates made from an image that the definition no longer names: the node VMs were
 * cloned from them. Dropping `image` leaves the VMs as they are (a clone's source is only
 * read when a VM is made) but deletes the templates, so nodes added later would have
 * nothing to clone from.
 */
function checkImageDropped(
  config: ClusterConfig,
  nodes: readonly NodeSpec[],
  vms: readonly ClusterVm[],
): Issue[] {
  if (config.proxmox.template.image !== undefined) return [];
  const ours = new Set(config.proxmox.hosts.map((h) => imageTemplateName(config.name, h)));
  const made = vms.filter((v) => v.template === 1 && ours.has(v.name ?? ""));
  const names = new Set(nodes.map((n) => n.name));
  if (made.length === 0 || !vms.some((v) => names.has(v.name ?? ""))) return [];
  return [
    issue(
      "proxmox.template.image",
      `not set, but the cluster's VMs were cloned from the templates it made (${made.map((v) => `${v.vmid} on ${v.node}`).join(", ")}); without it the deploy deletes those templates (the VMs stay), and nodes added later have none to clone from`,
      "keep proxmox.template.image (a new URL and checksum make new templates and leave the VMs alone), or destroy the vms stack first",
    ),
  ];
}

/** The template: there, a template, with a cloud-init drive and the guest agent on. */
async function checkTemplate(
  api: ProxmoxApi,
  config: ClusterConfig,
  template: TemplateRef,
  nodes: readonly NodeSpec[],
  vms: readonly ClusterVm[],
  storages: ReadonlyMap<string, Storage[]>,
): Promise<Issue[]> {
  const { vmId, node } = template;
  const what = "proxmox.template.vmId";
  const vm = vms.find((v) => v.vmid === vmId);
  if (!vm)
    return [
      issue(
        what,
        `no VM ${vmId} in the cluster`,
        "create the template as docs/proxmox.md (section 1) shows",
      ),
    ];
  if (vm.node !== node)
    return [
      issue(
        "proxmox.template.node",
        `template ${vmId} is on ${vm.node}, not on ${node}`,
        `set proxmox.template.node: ${vm.node}`,
      ),
    ];
  const conf = await tryGet<Record<string, string | number>>(
    api,
    `/nodes/${node}/qemu/${vmId}/config`,
  );
  if (!conf.ok) return [apiProblem(what, `the config of VM ${vmId}`, conf.error)];
  const c = conf.data;
  const problems: Issue[] = [];
  if (Number(c.template) !== 1)
    problems.push(issue(what, `VM ${vmId} is not a template`, `convert it: qm template ${vmId}`));
  const values = Object.entries(c).map(([k, v]) => [k, String(v)] as const);
  if (!values.some(([, v]) => v.includes("cloudinit")))
    problems.push(
      issue(
        what,
        `template ${vmId} has no cloud-init drive`,
        `add one: qm set ${vmId} --ide2 <storage>:cloudinit`,
      ),
    );
  const agent = String(c.agent ?? "0");
  if (!/^(1|enabled=1)/.test(agent))
    problems.push(
      issue(
        what,
        `template ${vmId} has the QEMU guest agent off (agent: ${agent})`,
        `qm set ${vmId} --agent enabled=1 (and install qemu-guest-agent in the image)`,
      ),
    );
  // Only a clone to another host needs the template's disk on shared storage.
  const elsewhere = nodes.some((n) => n.host !== node);
  if ((config.proxmox.template.storage ?? "shared") === "shared" && elsewhere) {
    const diskStorage = values
      .filter(([k, v]) => /^(scsi|virtio|sata)\d+$/.test(k) && !v.includes("cloudinit"))
      .map(([, v]) => v.split(":")[0])[0];
    const info = (storages.get(node) ?? []).find((s) => s.storage === diskStorage);
    if (info !== undefined && info.shared !== 1)
      problems.push(
        issue(
          "proxmox.template.storage",
          `template ${vmId}'s disk is on ${diskStorage}, which is not shared`,
          "write storage: local (one clone per host from the template's node), or move the disk to shared storage",
        ),
      );
  }
  return problems;
}

/** The datastore: on every host, for VM disks, shared where the layout needs it, with room. */
function checkDatastore(
  config: ClusterConfig,
  nodes: readonly NodeSpec[],
  storages: ReadonlyMap<string, Storage[]>,
): Issue[] {
  const id = config.proxmox.datastore;
  const what = "proxmox.datastore";
  const problems: Issue[] = [];
  for (const [host, list] of storages) {
    const s = list.find((x) => x.storage === id);
    if (!s) {
      problems.push(
        issue(
          what,
          `${id} does not exist on ${host} (it has ${list.map((x) => x.storage).join(", ")})`,
          "name a storage every host of the cluster has, or add it to that host",
        ),
      );
      continue;
    }
    if (!(s.content ?? "").split(",").includes("images"))
      problems.push(
        issue(
          what,
          `${id} on ${host} does not hold VM disks (content: ${s.content ?? "none"})`,
          `add the "Disk image" content type to ${id} (Datacenter > Storage)`,
        ),
      );
    if (s.active === 0 || s.enabled === 0)
      problems.push(
        issue(what, `${id} is not active on ${host}`, "enable the storage and check its backend"),
      );
    // Disks of the VMs placed on this host (a shared storage holds every VM's disk).
    const placed = s.shared === 1 ? nodes : nodes.filter((n) => n.host === host);
    const needGiB = placed.reduce((sum, n) => sum + n.diskGiB, 0);
    if (s.avail !== undefined && s.avail < needGiB * GiB)
      problems.push(
        issue(
          what,
          `${id} on ${host} has ${(s.avail / GiB).toFixed(0)} GiB free, the disks need ${needGiB} GiB`,
          "free space, use another datastore, or make the disks (nodePools[].diskGiB) smaller",
        ),
      );
  }
  return problems;
}

async function checkBridge(api: ProxmoxApi, config: ClusterConfig, hosts: readonly string[]) {
  const { bridge, vlanId } = config.network;
  const problems: Issue[] = [];
  for (const host of hosts) {
    const net = await tryGet<NetworkIface[]>(api, `/nodes/${host}/network`);
    if (!net.ok) {
      problems.push(apiProblem("network.bridge", `the network of ${host}`, net.error));
      continue;
    }
    const iface = net.data.find((i) => i.iface === bridge);
    if (!iface || !/bridge/i.test(iface.type)) {
      problems.push(
        issue(
          "network.bridge",
          `${host} has no bridge ${bridge}`,
          `create it (System > Network) or name one of ${
            net.data
              .filter((i) => /bridge/i.test(i.type))
              .map((i) => i.iface)
              .join(", ") || "its bridges"
          }`,
        ),
      );
    } else if (vlanId !== undefined && iface.bridge_vlan_aware !== 1) {
      // Proxmox still tags the NIC then, through a bridge per VLAN it makes (vmbr0v30).
      problems.push({
        ...issue(
          "network.vlanId",
          `bridge ${bridge} on ${host} is not VLAN aware: Proxmox will tag VLAN ${vlanId} through a bridge of its own (${bridge}v${vlanId})`,
          `tick "VLAN aware" on ${bridge} (System > Network) to tag on ${bridge} itself`,
        ),
        warning: true,
      });
    }
  }
  return problems;
}

/** Our VM IDs: free, or held by our own VM of that name (a deploy that was interrupted). */
function checkVmIds(nodes: readonly NodeSpec[], vms: readonly ClusterVm[]): Issue[] {
  const byId = new Map(vms.map((v) => [v.vmid, v]));
  return nodes.flatMap((n): Issue[] => {
    const vm = byId.get(n.vmId);
    if (!vm || vm.name === n.name) return [];
    return [
      issue(
        "proxmox.vmIdStart",
        `VM ID ${n.vmId} (for ${n.name}) is taken by VM ${vm.name ?? "(no name)"} on ${vm.node}`,
        "move the cluster's VM IDs (proxmox.vmIdStart) to a free range",
      ),
    ];
  });
}

/** No running VM that is not ours reports one of our static addresses. */
async function checkAddresses(
  api: ProxmoxApi,
  nodes: readonly NodeSpec[],
  vms: readonly ClusterVm[],
): Promise<Issue[]> {
  const ours = new Map(nodes.filter((n) => n.staticIp).map((n) => [n.staticIp!, n.name]));
  const names = new Set(nodes.map((n) => n.name));
  const others = vms.filter(
    (v) => v.status === "running" && v.template !== 1 && !names.has(v.name ?? ""),
  );
  const problems: Issue[] = [];
  for (const vm of others) {
    const addresses = await attempt(agentAddresses(api, vm));
    if (!addresses.ok) continue; // no agent: nothing to learn
    for (const address of addresses.data) {
      const node = ours.get(address);
      if (node)
        problems.push(
          issue(
            "nodePools[].firstIp",
            `${address} (for ${node}) is in use by VM ${vm.vmid} (${vm.name ?? "no name"}) on ${vm.node}`,
            "move the pool's firstIp to free addresses",
          ),
        );
    }
  }
  return problems;
}

async function checkPciMappings(api: ProxmoxApi, nodes: readonly NodeSpec[]): Promise<Issue[]> {
  const gpu = nodes.filter((n) => n.gpuMapping !== undefined);
  if (gpu.length === 0) return [];
  const list = await tryGet<PciMapping[]>(api, "/cluster/mapping/pci");
  if (!list.ok) return [apiProblem("nodePools[].gpu.mapping", "/cluster/mapping/pci", list.error)];
  const byId = new Map(list.data.map((m) => [m.id, m]));
  const problems: Issue[] = [];
  for (const n of gpu) {
    const m = byId.get(n.gpuMapping!);
    const onHost = (m?.map ?? []).some((entry) => entry.split(",").includes(`node=${n.host}`));
    if (!m || !onHost)
      problems.push(
        issue(
          "nodePools[].gpu.mapping",
          m
            ? `PCI mapping ${n.gpuMapping} has no device on ${n.host}, where ${n.name} runs`
            : `no PCI resource mapping ${n.gpuMapping} (for ${n.name})`,
          `add ${n.host}'s GPU to the mapping (Datacenter > Resource Mappings), or place the pool on hosts that have it (nodePools[].hosts)`,
        ),
      );
  }
  return problems;
}

/**
 * Every problem a deploy of `config` would meet in Proxmox VE, at once: the token first
 * (nothing else is asked without it), then the hosts, storages, template, bridge, VM IDs,
 * addresses and PCI mappings of the nodes, whether Proxmox could snapshot them, and HA.
 */
export async function proxmoxProblems(
  config: ClusterConfig,
  api: ProxmoxApi,
  env: NodeJS.ProcessEnv,
  nodes: readonly NodeSpec[] = expandNodes(config),
): Promise<Issue[]> {
  const access = await checkAccess(api, env, config);
  if (!access.reachable) return access.problems;
  const problems = [...access.problems];

  const { problems: hostProblems, online } = await checkHosts(api, hostsInUse(config, nodes));
  problems.push(...hostProblems);
  const storages = new Map<string, Storage[]>();
  for (const host of online) {
    const s = await tryGet<Storage[]>(api, `/nodes/${host}/storage`);
    if (s.ok) storages.set(host, s.data);
    else problems.push(apiProblem("proxmox.datastore", `the storages of ${host}`, s.error));
  }
  const vms = await attempt(listVms(api));
  if (!vms.ok)
    return [...problems, apiProblem("proxmox.vmIdStart", "/cluster/resources", vms.error)];

  const template = preparedTemplate(config);
  problems.push(
    ...(template !== undefined
      ? await checkTemplate(api, config, template, nodes, vms.data, storages)
      : checkImageTemplates(config, nodes, vms.data, storages)),
    ...checkImageDropped(config, nodes, vms.data),
    ...checkDatastore(config, nodes, storages),
    ...(await checkBridge(api, config, online)),
    ...checkVmIds(nodes, vms.data),
    ...(await checkAddresses(api, nodes, vms.data)),
    ...(await checkPciMappings(api, nodes)),
    ...(await checkSnapshots(api, config, nodes, vms.data, storages)),
    ...(await checkHa(api, config, nodes, storages)),
  );
  return problems;
}
