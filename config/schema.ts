/**
 * The cluster definition schema: defined once here, and from it come the TypeScript types,
 * the parser with its defaults, the JSON Schema for editors (`schema/cluster.schema.json`)
 * and the field reference in `docs/configuration.md` (`npm run schema` writes both).
 *
 * Only what one field can check alone lives here; rules that relate fields to each other
 * (addresses, quorum, coexistence) are in `rules/`, one module per section.
 */
import { z } from "zod";

import { show } from "../errors/user-error";
import { DEFAULT_MAX_FORKS } from "../kubespray-vars/forks";
import {
  DEFAULT_KUBESPRAY_VERSION,
  SUPPORTED_KUBESPRAY_VERSIONS,
} from "../kubespray-vars/releases";
import { DEFAULT_NODE_CIDR_PREFIX } from "../kubespray-vars/vars";
import { DEFAULT_KEEP_RUNS } from "../lib/kubespray/runs";

import type { ChartName } from "./chart-names";
import { CHART_NAMES } from "./chart-names";
import { isLabelValue, labelKeyProblem, taintProblem } from "./kubernetes-names";
import { isIpv4, isOrdered, parseCidr, parseIdRange, parseIpRange } from "./net";
import { DEMOCRATIC_CSI_DRIVER_NAMES } from "./storage-drivers";

const DNS_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

/** A registry as image names start with it: `docker.io`, `registry.k8s.io`, `host:5000`. */
const REGISTRY_HOST = /^[a-z0-9.-]+(:\d+)?$/;

/** A mirror's address: http(s), and never credentials (they would land in group_vars). */
const mirrorUrl = z
  .url({ error: (i) => `not a URL (${show(i.input)}); write https://HOST[:PORT][/PATH]` })
  .refine((v) => /^https?:\/\//.test(v), {
    error: (i) => `${show(i.input)}: a mirror is reached over http or https`,
  })
  .refine((v) => new URL(v).username === "" && new URL(v).password === "", {
    error: () =>
      "no credentials in the file: they would be written into the Kubespray inventory; let the mirror accept the nodes' addresses, or configure its authentication on the nodes",
  });
/** The checksum algorithms Proxmox's download-url accepts, with their hex lengths. */
export const CHECKSUM_HEX_LENGTH = {
  md5: 32,
  sha1: 40,
  sha224: 56,
  sha256: 64,
  sha384: 96,
  sha512: 128,
} as const;
const CHECKSUM_ALGORITHMS = Object.keys(CHECKSUM_HEX_LENGTH) as [
  keyof typeof CHECKSUM_HEX_LENGTH,
  ...(keyof typeof CHECKSUM_HEX_LENGTH)[],
];
/** A file name pve-storage keeps under `import/` and imports a disk from. */
export const IMPORT_FILE_NAME = /^[a-zA-Z0-9\-.+=_]+\.(qcow2|raw|vmdk)$/;
const PROXMOX_TAG = /^[a-z0-9_][a-z0-9_.+-]*$/i;
/** Proxmox VE accepts VM IDs from 100 to 999999999. */
export const PROXMOX_MIN_VMID = 100;
export const PROXMOX_MAX_VMID = 999_999_999;

const dnsLabel = (what: string) =>
  z
    .string()
    .max(63, {
      error: (i) => `${what} is longer than 63 characters (${show(i.input)}); shorten it`,
    })
    .regex(DNS_LABEL, {
      error: (i) =>
        `${what} must be a DNS label: lowercase letters, digits and '-', starting with a letter (${show(i.input)})`,
    });

const ipv4 = z.string().refine(isIpv4, {
  error: (i) => `not an IPv4 address (${show(i.input)}); write it as a.b.c.d`,
});

const cidr = z.string().refine((v) => parseCidr(v) !== undefined, {
  error: (i) => `not an IPv4 CIDR (${show(i.input)}); write it as a.b.c.d/n`,
});

/**
 * Which checks a schema built here runs. `lenient` leaves out those the cross-field rules
 * can do without (label and taint syntax, a range's order, the git URL): config/load.ts
 * parses a rejected definition once more with such a schema, to still run the rules (so
 * that the user sees every problem at once); the rules skip what they cannot use.
 */
interface Checks {
  readonly lenient: boolean;
}

/** A check that a lenient schema leaves out. */
const unlessLenient =
  <T>({ lenient }: Checks, check: (value: T) => boolean) =>
  (value: T) =>
    lenient || check(value);

/** A range that starts after it ends (one that did not parse is reported already). */
const startsAfterItEnds = (what: string) => ({
  error: (i: { input: unknown }) =>
    `range ${show(i.input)} starts after it ends; write the lower ${what} first`,
});

const ipRange = (checks: Checks) =>
  z
    .string()
    .refine((v) => parseIpRange(v) !== undefined, {
      error: (i) =>
        `not an address range (${show(i.input)}); write A-B, a single address, or a CIDR`,
    })
    .refine(
      unlessLenient(checks, (v: string) => isOrdered(parseIpRange(v))),
      startsAfterItEnds("address"),
    );

const idRange = (checks: Checks) =>
  z
    .union([z.int(), z.string()])
    .refine((v) => parseIdRange(v) !== undefined, {
      error: (i) => `not a VM ID range (${show(i.input)}); write N-M or a single ID`,
    })
    .refine(
      unlessLenient(checks, (v: string | number) => isOrdered(parseIdRange(v))),
      startsAfterItEnds("ID"),
    );

/** `https://HOST/OWNER/REPO`, `ssh://[USER@]HOST/...`, `git@HOST:...` or `file:///...`. */
const GIT_URL =
  /^(https?:\/\/[^\s/]+\/\S+|ssh:\/\/\S+@?[^\s/]+\/\S+|git@[^\s:]+:\S+|file:\/\/\/\S+)$/;

const vmId = z
  .int({ error: (i) => `must be a whole number (${show(i.input)})` })
  .min(PROXMOX_MIN_VMID, {
    error: (i) =>
      `${show(i.input)} is below Proxmox's VM ID range; use ${PROXMOX_MIN_VMID} to ${PROXMOX_MAX_VMID}`,
  })
  .max(PROXMOX_MAX_VMID, {
    error: (i) =>
      `${show(i.input)} is above Proxmox's VM ID range; use ${PROXMOX_MIN_VMID} to ${PROXMOX_MAX_VMID}`,
  });

const SnapshotsSchema = z.strictObject({
  enabled: z
    .boolean()
    .default(true)
    .describe(
      "Snapshot (disks only, no RAM) every VM a risky Kubespray step changes, before it runs, so it can be rolled back. Every node VM must then be on storage that can snapshot (preflight says which cannot); `false` turns the safety net off.",
    ),
  keep: z
    .int()
    .min(1)
    .max(50)
    .default(2)
    .describe("How many of these snapshots to keep per VM; older ones are deleted."),
});

const ProxmoxSchema = z
  .strictObject({
    endpoint: z
      .url({ error: (i) => `not a URL (${show(i.input)}); write https://HOST:8006/` })
      .refine((v) => v.startsWith("https://"), {
        error: (i) =>
          `the Proxmox API is only reached over HTTPS (${show(i.input)}); write https://HOST:8006/`,
      })
      .describe("URL of the Proxmox VE API, e.g. `https://pve01.example.lan:8006/`. HTTPS only."),
    insecure: z
      .boolean()
      .default(false)
      .describe(
        "Accept the API's self-signed certificate. Prefer a trusted certificate in production.",
      ),
    hosts: z
      .array(dnsLabel("a Proxmox node name"))
      .min(1, { error: "at least one Proxmox node is needed; list the node names, e.g. [pve01]" })
      .describe("Proxmox node names the VMs are spread over."),
    template: z
      .strictObject({
        vmId: vmId.describe(
          "VM ID of the cloud-init template every node is cloned from. With `image`: the first of the templates' VM IDs, the template on `proxmox.hosts[i]` gets `vmId + i`.",
        ),
        node: dnsLabel("a Proxmox node name")
          .optional()
          .describe(
            "Node that holds the template (not with `image`). @default the first of `proxmox.hosts`",
          ),
        storage: z
          .enum(["shared", "local"])
          .optional()
          .describe(
            "Where the template's disks are: `shared` storage every host sees (NFS, Ceph), or the template node's `local` storage. It decides how a VM for another host is cloned (see docs/proxmox.md); not with `image`, whose templates are on each host's `datastore`. @default `shared`",
          ),
        image: z
          .strictObject({
            url: z
              .url({ error: (i) => `not a URL (${show(i.input)}); write https://HOST/PATH` })
              .refine((v) => /^https?:\/\//.test(v), {
                error: (i) => `${show(i.input)}: Proxmox downloads images over http or https`,
              })
              .describe(
                "Where Proxmox downloads the cloud image from, e.g. `https://cloud.debian.org/images/cloud/trixie/latest/debian-13-genericcloud-amd64.qcow2`.",
              ),
            checksum: z
              .string()
              .regex(/^[0-9a-fA-F]+$/, {
                error: (i) =>
                  `not a hexadecimal checksum (${show(i.input)}); copy it from the image's SHA512SUMS`,
              })
              .describe("The image's checksum; Proxmox verifies the download against it."),
            checksumAlgorithm: z
              .enum(CHECKSUM_ALGORITHMS)
              .describe("Algorithm of `checksum`, e.g. `sha512`."),
            fileName: z
              .string()
              .regex(IMPORT_FILE_NAME, {
                error: (i) =>
                  `${show(i.input)} is not a name Proxmox keeps an importable image under; use letters, digits, '-', '.', '_' and end in .qcow2, .raw or .vmdk`,
              })
              .optional()
              .describe(
                "Name of the downloaded file on `datastore`, which gets the checksum's first 12 digits before the extension (`debian-13-genericcloud-amd64-0a1b2c3d4e5f.qcow2`). @default the URL's last path segment",
              ),
            datastore: z
              .string()
              .min(1)
              .default("local")
              .describe(
                "Storage on each host the image is downloaded to; it needs the `import` content type.",
              ),
            guestAgent: z
              .boolean()
              .default(false)
              .describe(
                "The image has the QEMU guest agent installed and enabled. DHCP pools need it (their address is read from it); static nodes get it from the node preparation playbook.",
              ),
          })
          .optional()
          .describe(
            "Make the templates from a cloud image: downloaded to each host that runs a node, one template per host, each node cloned on its own host (see docs/proxmox.md). @default none: the template `vmId` exists already",
          ),
      })
      .describe(
        "The cloud-init template: made by the vms stack from `image`, or one prepared by hand (see docs/proxmox.md).",
      ),
    datastore: z
      .string()
      .min(1)
      .describe(
        "Proxmox storage for the boot disks (and EFI disks of GPU nodes), e.g. `local-lvm`.",
      ),
    vmIdStart: vmId
      .default(1000)
      .describe(
        "First VM ID of this cluster; every pool gets a block of `vmIdsPerPool` IDs from here.",
      ),
    vmIdsPerPool: z
      .int()
      .min(1)
      .max(100_000)
      .default(100)
      .describe(
        "Size of each pool's VM ID block: pool `i` uses `vmIdStart + i * vmIdsPerPool` upward, so adding nodes or pools never renumbers a VM.",
      ),
    agentTimeout: z
      .string()
      .regex(/^\d+(s|m|h)$/, {
        error: (i) => `not a duration (${show(i.input)}); write e.g. 15m, 90s or 1h`,
      })
      .optional()
      .describe(
        "How long to wait for the QEMU guest agent to report a DHCP node's address before the deploy fails. Unset: the node VM's own default, 15 minutes.",
      ),
    ha: z
      .strictObject({
        enabled: z
          .boolean()
          .default(false)
          .describe(
            "Make every node's VM a Proxmox HA resource (state `started`): Proxmox starts it again when it stops, and on another host when its host fails (which needs its disks on storage every host sees). Proxmox VE 9 or newer, a cluster with quorum, and `Sys.Console` for the token (docs/proxmox.md). After a failover the VM stays where Proxmox put it: a deploy does not move it back.",
          ),
        keepApart: z
          .array(dnsLabel("a pool name"))
          .default([])
          .describe(
            "Node pools whose VMs Proxmox keeps on different hosts (a negative resource affinity rule per pool), e.g. the pool that runs the ingress. The control-plane nodes are always kept apart when `enabled`.",
          ),
      })
      .prefault({})
      .describe("Proxmox high availability for the node VMs. @default off"),
    snapshots: SnapshotsSchema.prefault({}).describe(
      "Proxmox snapshots before upgrades and node changes; `enabled: false` turns them off.",
    ),
    tags: z
      .array(
        z.string().regex(PROXMOX_TAG, {
          error: (i) =>
            `not a valid Proxmox tag (${show(i.input)}); use letters, digits, '_', '-', '.', '+'`,
        }),
      )
      .default([])
      .describe("Extra Proxmox tags on every VM (the cluster, pool and role are always tagged)."),
  })
  .describe("Where and how the VMs are created.");

const NetworkSchema = z
  .strictObject({
    bridge: z.string().min(1).default("vmbr0").describe("Proxmox bridge the NICs attach to."),
    vlanId: z.int().min(1).max(4094).optional().describe("VLAN tag on the NICs. @default untagged"),
    cidr: cidr.describe("The node network, e.g. `10.10.30.0/24`. Every node address lies in it."),
    gateway: ipv4.describe("Default gateway of the node network."),
    dnsServers: z
      .array(ipv4)
      .min(1)
      .optional()
      .describe("DNS servers written into cloud-init. @default the gateway"),
    searchDomain: z.string().optional().describe("DNS search domain. @default none"),
  })
  .describe("The network the nodes live on.");

const SSH_KEY =
  /^(ssh-(ed25519|rsa|dss)|ecdsa-sha2-nistp(256|384|521)|sk-(ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com) [A-Za-z0-9+/=]+( .*)?$/;

const SshSchema = z
  .strictObject({
    user: z
      .string()
      .regex(/^[a-z_][a-z0-9_-]*$/, {
        error: (i) => `not a valid Linux user name (${show(i.input)})`,
      })
      .default("debian")
      .describe("User created by cloud-init and used by Ansible."),
    authorizedKeys: z
      .array(
        z.string().regex(SSH_KEY, {
          error: (i) =>
            `not an OpenSSH public key (${show(i.input)}); paste a line of ~/.ssh/id_ed25519.pub`,
        }),
      )
      .min(1, { error: "at least one public key is needed, or nobody can log in" })
      .describe("Public keys authorized for `user`."),
    privateKeyFile: z
      .string()
      .min(1)
      .default("~/.ssh/id_ed25519")
      .describe("Path of the private key Ansible uses (a path, never the key itself)."),
  })
  .describe("SSH access to the nodes.");

export const NodeRoleSchema = z.enum(["control-plane", "worker"]);
/** Proxmox VE's cache modes of a VM disk (its `cache` option). */
export const DISK_CACHE_MODES = [
  "none",
  "writethrough",
  "writeback",
  "directsync",
  "unsafe",
] as const;

const nodePoolSchema = (checks: Checks) =>
  z.strictObject({
    name: dnsLabel("a pool name").describe("Pool name; nodes are named `<cluster>-<pool>-<n>`."),
    role: NodeRoleSchema.describe("`control-plane` (runs the API server and etcd) or `worker`."),
    count: z.int().min(0).max(1000).describe("Number of nodes in the pool."),
    cores: z.int().min(1).max(512).default(2).describe("vCPUs per node."),
    memoryMiB: z.int().min(512).default(4096).describe("Memory per node, MiB."),
    diskGiB: z.int().min(1).default(40).describe("Boot disk size per node, GiB."),
    cpuType: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9_.+-]*$/, {
        error: (i) => `not a QEMU CPU type (${show(i.input)}); e.g. host, x86-64-v3`,
      })
      .optional()
      .describe(
        "QEMU CPU type of the pool's VMs, e.g. `host` or `x86-64-v3`. @default `host` with a GPU, else `x86-64-v2-AES`",
      ),
    diskCache: z
      .enum(DISK_CACHE_MODES)
      .optional()
      .describe(
        "QEMU cache mode of the pool's boot disk: `none` (the host's page cache is bypassed), `writeback` (faster writes; what the guest has not flushed is lost if the host fails), `writethrough`, `directsync`, or `unsafe` (never for data you keep). @default Proxmox's, `none`",
      ),
    firstIp: ipv4
      .optional()
      .describe(
        "First static address; node n gets firstIp + n - 1. @default DHCP, the address read back from the guest agent",
      ),
    hosts: z
      .array(dnsLabel("a Proxmox node name"))
      .min(1)
      .optional()
      .describe(
        "Restrict the pool to these Proxmox nodes (e.g. the ones with the GPU). @default all of `proxmox.hosts`",
      ),
    gpu: z
      .strictObject({
        mapping: z
          .string()
          .regex(/^[A-Za-z][A-Za-z0-9_.-]*$/, {
            error: (i) => `not a Proxmox resource mapping name (${show(i.input)})`,
          })
          .describe("Name of the Proxmox PCI resource mapping (Datacenter > Resource Mappings)."),
      })
      .optional()
      .describe("Pass a GPU through to every node of the pool. @default no GPU"),
    labels: z
      .record(z.string(), z.string())
      .superRefine((labels, ctx) => {
        if (checks.lenient) return;
        for (const [key, value] of Object.entries(labels)) {
          const problem = labelKeyProblem(key);
          if (problem)
            ctx.addIssue({
              code: "custom",
              path: [key],
              message: `label key ${show(key)} ${problem}`,
            });
          if (!isLabelValue(value))
            ctx.addIssue({
              code: "custom",
              path: [key],
              message: `label value ${show(value)} is not valid: at most 63 letters, digits, '-', '_' or '.', starting and ending alphanumeric`,
            });
        }
      })
      .default({})
      .describe("Kubernetes node labels."),
    taints: z
      .array(
        z.string().refine(
          unlessLenient(checks, (t: string) => taintProblem(t) === undefined),
          {
            error: (i) =>
              `taint ${show(i.input)} ${taintProblem(i.input as string)}, e.g. nvidia.com/gpu=present:NoSchedule`,
          },
        ),
      )
      .default([])
      .describe("Kubernetes node taints, `key=value:Effect` or `key:Effect`."),
  });

const KubernetesSchema = z
  .strictObject({
    kubesprayVersion: z
      .enum(SUPPORTED_KUBESPRAY_VERSIONS, {
        error: (i) =>
          `Kubespray ${show(i.input)} is not supported; use ${SUPPORTED_KUBESPRAY_VERSIONS.join(" or ")}`,
      })
      .default(DEFAULT_KUBESPRAY_VERSION)
      .describe(
        `Kubespray release that builds the cluster. Supported: ${SUPPORTED_KUBESPRAY_VERSIONS.join(", ")}.`,
      ),
    version: z
      .string()
      .optional()
      .describe(
        "Kubernetes version, one the Kubespray release supports. @default the newest that release supports",
      ),
    networkPlugin: z
      .enum(["calico", "cilium", "flannel", "kube-ovn", "kube-router"])
      .default("calico")
      .describe("CNI plugin (Kubespray's `kube_network_plugin`)."),
    containerRuntime: z
      .enum(["containerd", "crio"])
      .default("containerd")
      .describe("Container runtime."),
    podCidr: cidr.default("10.233.64.0/18").describe("Pod network (`kube_pods_subnet`)."),
    serviceCidr: cidr
      .default("10.233.0.0/18")
      .describe("Service network (`kube_service_addresses`)."),
    nodeCidrPrefix: z
      .int()
      .min(16)
      .max(28)
      .default(DEFAULT_NODE_CIDR_PREFIX)
      .describe("Size of each node's pod block (`kube_network_node_prefix`)."),
    apiServerVip: ipv4
      .optional()
      .describe(
        "Virtual IP for the API servers, announced by kube-vip. @default none: clients use the first control-plane node",
      ),
    nodeLocalDns: z.boolean().default(true).describe("Run NodeLocal DNSCache."),
    metricsServer: z.boolean().default(true).describe("Install metrics-server."),
    mirrors: z
      .strictObject({
        registries: z
          .record(z.string(), z.array(mirrorUrl).min(1))
          .refine((r) => Object.keys(r).every((k) => REGISTRY_HOST.test(k)), {
            error: (i) =>
              `${show(Object.keys(i.input as object).find((k) => !REGISTRY_HOST.test(k)))} is not a registry host; write it as image names start, e.g. docker.io or registry.k8s.io`,
          })
          .default({})
          .describe(
            "Container registry mirrors for containerd, by registry: `docker.io: [https://mirror.lan:5000]`. Nodes pull through the mirrors first, then the registry itself.",
          ),
        files: mirrorUrl
          .optional()
          .describe(
            "Base URL of a mirror of the files Kubespray downloads (Kubernetes, etcd, CNI, containerd and helm binaries), laid out as `<files>/dl.k8s.io/...`, `<files>/github.com/...`, `<files>/get.helm.sh/...` (Kubespray's `files_repo`). @default downloaded from the Internet",
          ),
      })
      .optional()
      .describe(
        "Air-gapped nodes: where they pull images and files from (see docs/operations.md). @default the Internet",
      ),
    extraVars: z
      .record(z.string(), z.unknown())
      .default({})
      .describe(
        "Raw Kubespray variables, merged into group_vars. Only variables the Kubespray release knows, and none the project sets itself.",
      ),
  })
  .describe("The Kubernetes cluster Kubespray builds.");

const KubesprayRunSchema = z
  .strictObject({
    dir: z
      .string()
      .min(1)
      .default(`.kubespray/${DEFAULT_KUBESPRAY_VERSION}`)
      .describe(
        "Kubespray checkout of `kubernetes.kubesprayVersion` (`npm run kubespray:install` creates it).",
      ),
    mode: z
      .enum(["run", "print", "container"])
      .default("run")
      .describe(
        "`run` Ansible here, `print` the commands to a script, or run them in Kubespray's `container` image.",
      ),
    containerImage: z
      .string()
      .optional()
      .describe(
        "Image for `container` mode. @default quay.io/kubespray/kubespray:<kubesprayVersion>",
      ),
    maxForks: z
      .int()
      .min(5)
      .max(500)
      .default(DEFAULT_MAX_FORKS)
      .describe(
        "Most hosts Ansible works on at once: each playbook runs with `--forks` = the hosts it touches (at least Ansible's 5), up to this.",
      ),
    venv: z
      .string()
      .optional()
      .describe(
        "Python virtualenv holding Ansible. @default `<dir>/.venv` if present, else `ansible-playbook` on PATH",
      ),
    keepRuns: z
      .int()
      .min(1)
      .max(1000)
      .default(DEFAULT_KEEP_RUNS)
      .describe(
        "Playbook runs kept under `<state>/runs/` (each Ansible's full log and a JSON summary); older ones are removed, never the runs the record points to.",
      ),
  })
  .prefault({})
  .describe("Where Kubespray is and how it runs.");

const addressPoolSchema = (checks: Checks) =>
  z.strictObject({
    name: dnsLabel("an address pool name").describe("IPAddressPool name."),
    addresses: z.array(ipRange(checks)).min(1).describe("Ranges `A-B`, single addresses or CIDRs."),
    autoAssign: z
      .boolean()
      .default(true)
      .describe("Hand out addresses without an explicit request."),
  });

const ClusterIssuerSchema = z
  .strictObject({
    name: dnsLabel("an issuer name").describe("ClusterIssuer name."),
    vault: z
      .strictObject({
        server: z.url().describe("Vault address."),
        path: z.string().min(1).describe("PKI signing path, e.g. `pki_int/sign/<role>`."),
        role: z.string().min(1).describe("Vault Kubernetes-auth role cert-manager logs in with."),
        authMount: z
          .string()
          .default("kubernetes")
          .describe("Mount path of Vault's Kubernetes auth."),
        caBundleFile: z
          .string()
          .optional()
          .describe("PEM file with Vault's CA, when not publicly trusted."),
      })
      .optional()
      .describe("Sign with Vault's PKI, logging in with Kubernetes auth."),
    acme: z
      .strictObject({
        email: z.email().describe("Account e-mail."),
        server: z
          .url()
          .default("https://acme-v02.api.letsencrypt.org/directory")
          .describe("ACME directory URL."),
      })
      .optional()
      .describe("ACME (e.g. Let's Encrypt) with HTTP-01 through the ingress."),
    selfSigned: z.strictObject({}).optional().describe("A self-signed issuer."),
  })
  .refine((v) => [v.vault, v.acme, v.selfSigned].filter((x) => x !== undefined).length === 1, {
    error: "give exactly one of vault, acme or selfSigned",
  });

const DemocraticCsiSchema = z.strictObject({
  name: dnsLabel("a storage backend name").describe("Release and StorageClass name."),
  driver: z.enum(DEMOCRATIC_CSI_DRIVER_NAMES).describe("democratic-csi driver."),
  host: z.string().min(1).describe("TrueNAS address (API and SSH)."),
  port: z.int().min(1).max(65535).default(443).describe("TrueNAS API port."),
  protocol: z.enum(["https", "http"]).default("https").describe("TrueNAS API protocol."),
  allowInsecure: z.boolean().default(false).describe("Accept TrueNAS's self-signed certificate."),
  sshUser: z.string().default("root").describe("SSH user for the `freenas-*` (SSH) drivers."),
  datasetParent: z.string().min(1).describe("Parent dataset of the volumes."),
  snapshotsDatasetParent: z.string().min(1).describe("Parent dataset of detached snapshots."),
  targetPortal: z.string().optional().describe("iSCSI portal `host:port` (iSCSI drivers)."),
  shareHost: z.string().optional().describe("NFS server address (NFS drivers)."),
  default: z.boolean().default(false).describe("Make this the default StorageClass (at most one)."),
  reclaimPolicy: z
    .enum(["Delete", "Retain"])
    .default("Delete")
    .describe("StorageClass reclaim policy."),
});

const addonsSchema = (checks: Checks) =>
  z
    .strictObject({
      metallb: z
        .strictObject({
          addressPools: z
            .array(addressPoolSchema(checks))
            .min(1)
            .describe("Address pools, announced over L2."),
        })
        .optional()
        .describe("MetalLB load balancer. @default not installed"),
      ingress: z
        .strictObject({
          controller: z
            .enum(["traefik", "ingress-nginx"])
            .default("traefik")
            .describe(
              "`traefik` (recommended) or `ingress-nginx` (retired upstream in March 2026).",
            ),
          loadBalancerIp: ipv4
            .optional()
            .describe("Fixed address from a MetalLB pool. @default any pool address"),
        })
        .optional()
        .describe("Ingress controller. @default not installed"),
      certManager: z
        .strictObject({
          clusterIssuers: z
            .array(ClusterIssuerSchema)
            .default([])
            .describe("ClusterIssuers to create."),
        })
        .optional()
        .describe("cert-manager and its issuers. @default not installed"),
      storage: z
        .strictObject({
          democraticCsi: z.array(DemocraticCsiSchema).default([]).describe("TrueNAS backends."),
          localPath: z
            .strictObject({
              default: z
                .boolean()
                .default(false)
                .describe("Make `local-path` the default StorageClass (at most one)."),
              claimRoot: z
                .string()
                .regex(/^\//, {
                  error: "write an absolute path on the nodes, e.g. /var/lib/local-path",
                })
                .default("/opt/local-path-provisioner/")
                .describe("Directory on each node that holds the volumes."),
            })
            .optional()
            .describe(
              "Volumes on the nodes' own disks (Kubespray's local path provisioner, StorageClass `local-path`): no NAS needed, but a volume is bound to its node and has no snapshots. @default not installed",
            ),
        })
        .optional()
        .describe("Persistent storage. @default none"),
      argocd: z
        .strictObject({
          domain: z
            .string()
            .optional()
            .describe("Host name of the ArgoCD UI ingress. @default no ingress"),
          bootstrap: z
            .strictObject({
              repoUrl: z
                .string()
                .refine(
                  unlessLenient(checks, (v: string) => GIT_URL.test(v)),
                  {
                    error: (i) =>
                      `${show(i.input)} is not a git URL; write https://HOST/OWNER/REPO.git or git@HOST:OWNER/REPO.git`,
                  },
                )
                .describe("Git repository of the root Application."),
              path: z.string().default(".").describe("Path inside the repository."),
              revision: z.string().default("HEAD").describe("Branch, tag or commit."),
            })
            .optional()
            .describe("Root Application (app of apps). @default none"),
        })
        .optional()
        .describe("ArgoCD. @default not installed"),
      vault: z
        .strictObject({
          address: z.url().describe("Vault address."),
          externalSecrets: z
            .boolean()
            .default(true)
            .describe("Install external-secrets with a Vault ClusterSecretStore."),
          kubernetesAuthMount: z
            .string()
            .default("kubernetes")
            .describe("Mount path of Vault's Kubernetes auth for this cluster."),
          role: z.string().min(1).describe("Vault role external-secrets logs in with."),
          kvPath: z.string().default("secret").describe("KV v2 mount the store reads."),
        })
        .optional()
        .describe("Vault integration. @default none"),
      monitoring: z
        .strictObject({
          kubePrometheusStack: z
            .boolean()
            .default(false)
            .describe("Install kube-prometheus-stack."),
        })
        .optional()
        .describe("Monitoring. @default none"),
      gpuOperator: z
        .strictObject({
          enabled: z
            .boolean()
            .default(false)
            .describe("Install the NVIDIA GPU Operator on the GPU pools."),
        })
        .optional()
        .describe("NVIDIA GPU Operator. @default not installed"),
      chartOverrides: z
        .partialRecord(
          z.enum(CHART_NAMES),
          z.strictObject({
            repository: z
              .string()
              .min(1)
              .optional()
              .describe("Mirror repository, `https://...` or `oci://...`. @default the pinned one"),
            chart: z.string().min(1).optional().describe("Chart name. @default the pinned one"),
            version: z
              .string()
              .min(1)
              .optional()
              .describe("Chart version. @default the pinned one"),
            path: z
              .string()
              .min(1)
              .optional()
              .describe(
                "Local chart directory or `.tgz`, relative to where cdktf runs; wins over the fields above.",
              ),
          }),
        )
        .default({})
        .describe(
          "Air-gapped installs: take an add-on's chart (by its name in lib/charts.ts, e.g. `traefik`) from a mirror or a local directory.",
        ),
    })
    .prefault({})
    .describe("Add-ons installed with Helm by the addons stack.");

const StateSchema = z
  .strictObject({
    backend: z
      .enum(["local", "pg"])
      .default("local")
      .describe(
        "`local`: `<stateDir>/<stack>.tfstate` on this machine. `pg`: PostgreSQL, one schema per stack (`<cluster>_<stack>`), locked, shared by a team; the connection string only from `PG_CONN_STR`.",
      ),
    encryption: z
      .strictObject({
        enabled: z
          .boolean()
          .optional()
          .describe(
            "Encrypt the state and plans (OpenTofu: pbkdf2 + aes_gcm, passphrase from `TF_VAR_state_passphrase`). @default true with `pg`, false with `local`",
          ),
        unencryptedFallback: z
          .boolean()
          .default(false)
          .describe(
            "Migration: read a state not yet encrypted, write it encrypted (OpenTofu's `fallback`). Set it while moving the state (docs/operations.md, Working as a team), then remove it.",
          ),
      })
      .prefault({})
      .describe("OpenTofu's state encryption."),
  })
  .prefault({})
  .describe(
    'Where the stacks keep their Terraform state (docs/operations.md, "Working as a team").',
  );

const existingClusterSchema = (checks: Checks) =>
  z.strictObject({
    name: z.string().min(1).describe("Name of the existing cluster (for messages)."),
    nodeAddresses: z.array(ipRange(checks)).default([]).describe("Its node addresses."),
    vmIds: z.array(idRange(checks)).default([]).describe("Its Proxmox VM IDs."),
    apiServerAddress: ipv4.optional().describe("Its API server address or VIP."),
    loadBalancerAddresses: z
      .array(ipRange(checks))
      .default([])
      .describe("Its load balancer ranges."),
  });

/** The whole definition, with the checks `checks` asks for. */
const clusterConfigSchema = (checks: Checks) =>
  z
    .strictObject({
      name: dnsLabel("the cluster name").describe("Cluster name; prefixes VM names and tags."),
      proxmox: ProxmoxSchema,
      network: NetworkSchema,
      ssh: SshSchema,
      nodePools: z.array(nodePoolSchema(checks)).min(1).describe("Groups of identical nodes."),
      // prefault: the default is parsed, so every field's own default applies (no copy here).
      kubernetes: KubernetesSchema.prefault({}),
      kubespray: KubesprayRunSchema,
      addons: addonsSchema(checks),
      state: StateSchema,
      coexistence: z
        .strictObject({
          existingClusters: z
            .array(existingClusterSchema(checks))
            .default([])
            .describe("Clusters this one must never collide with."),
        })
        .prefault({})
        .describe(
          "Existing clusters on the same network and Proxmox (e.g. K3s during a migration).",
        ),
    })
    .describe("A Kubernetes cluster on Proxmox VE, built by Kubespray.");

/** The definition's schema, every check on: the types, the JSON Schema and the docs come from it. */
export const ClusterConfigSchema = clusterConfigSchema({ lenient: false });

/** The same without the checks the cross-field rules can do without. */
const LenientClusterConfigSchema = clusterConfigSchema({ lenient: true });

/** Parses leniently, for the cross-field rules after a failed parse. */
export function parseForCrossFieldRules(input: unknown) {
  return LenientClusterConfigSchema.safeParse(input);
}

/** A cluster definition as written (optional fields may be absent). */
export type ClusterConfigInput = z.input<typeof ClusterConfigSchema>;
/** A parsed cluster definition with every default filled in. */
export type ClusterConfig = z.output<typeof ClusterConfigSchema>;
export type NodePool = ClusterConfig["nodePools"][number];
export type NodeRole = z.output<typeof NodeRoleSchema>;
export type Addons = ClusterConfig["addons"];
export type DemocraticCsiBackend = NonNullable<Addons["storage"]>["democraticCsi"][number];
export type ClusterIssuer = NonNullable<Addons["certManager"]>["clusterIssuers"][number];
export type CloudImage = NonNullable<ClusterConfig["proxmox"]["template"]["image"]>;
export type ChecksumAlgorithm = CloudImage["checksumAlgorithm"];
export type DiskCache = (typeof DISK_CACHE_MODES)[number];
/** Where the prepared template's disks are: `shared` storage or the template node's `local`. */
export type TemplateStorage = NonNullable<ClusterConfig["proxmox"]["template"]["storage"]>;
/** How the runner runs Kubespray: `run`, `print` or `container`. */
export type RunnerMode = ClusterConfig["kubespray"]["mode"];
export type IngressControllerKind = NonNullable<Addons["ingress"]>["controller"];
/** Where an air-gapped install takes an add-on's chart from instead. */
export type ChartOverride = NonNullable<Addons["chartOverrides"][ChartName]>;
export type ExistingCluster = ClusterConfig["coexistence"]["existingClusters"][number];
