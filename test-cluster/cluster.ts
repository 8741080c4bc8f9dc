/**
 * A real Kubernetes control plane on loopback, shaped like the cluster Kubespray v2.31.0
 * makes from a definition: etcd, kube-apiserver with Kubespray's admission settings,
 * kube-controller-manager (every controller, service-account tokens, certificate signing),
 * kube-scheduler, and kwok in place of every node's kubelet. Nodes are not made here:
 * whoever plays Kubespray registers them (the stand-in's playbooks do, with the labels,
 * taints and capacity of each VM), and kwok then keeps them Ready and makes the pods bound
 * to them run, become Ready and, for Jobs, complete. Each run has its own directory,
 * certificates and free ports; `stop()` ends every process and removes the directory.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import type { ApiConstructor, ApiType } from "@kubernetes/client-node";
import { CoreV1Api, KubeConfig, RbacAuthorizationV1Api } from "@kubernetes/client-node";
import { stringify } from "yaml";

import { intToIp, ipToInt } from "../config/net";
import type { Admission, ControlPlaneVariables } from "../kubespray-vars/control-plane";
import { controlPlaneVariables } from "../kubespray-vars/control-plane";

import { testClusterAdmission } from "./admission";
import type { ControlPlaneBinaries } from "./binaries";
import { requireControlPlane } from "./binaries";
import { kubeconfigFor } from "./kubeconfig";
import type { Pki } from "./pki";
import { CLUSTER_ADMINS_GROUP, IDENTITIES, makePki } from "./pki";
import { Component, freePort, probe, waitUntil } from "./processes";

export interface TestClusterOptions {
  /**
   * The Kubespray variables of the cluster it stands for, as the cluster stack writes them
   * to group_vars (`groupVars(config)` of kubespray-vars/vars.ts, `extraVars` included):
   * the service and pod ranges, the cluster name, and the admission plugins and PodSecurity
   * defaults (`kube_apiserver_enable_admission_plugins`,
   * `kube_apiserver_admission_control_config_file`, `kube_pod_security_use_default`, ...).
   * @default - Kubespray v2.31.0's defaults
   */
  readonly kubesprayVariables?: Readonly<Record<string, unknown>>;
  /**
   * Where the run's certificates, kubeconfigs, etcd data and logs go.
   * @default - a new directory under the system's temporary directory
   */
  readonly dir?: string;
  /**
   * Keep `dir` when the cluster stops (to read the logs afterwards).
   * @default false
   */
  readonly keepDir?: boolean;
  /**
   * The built control plane.
   * @default - `.toolchain/control-plane` of this checkout
   */
  readonly controlPlaneDir?: string;
  /**
   * How long start-up may take before it fails with the log of the component it waits for.
   * @default 120_000
   */
  readonly startTimeoutMs?: number;
}

/** What {@link launch} started: a running cluster's facts. */
interface Launched {
  readonly server: string;
  readonly kubeconfigPath: string;
  readonly superAdminKubeconfigPath: string;
  readonly dir: string;
  readonly version: string;
  readonly admission: Admission;
  readonly components: readonly Component[];
}

/** A running test cluster. */
export class TestCluster {
  /** `https://127.0.0.1:<port>`. */
  readonly server: string;
  /** admin.conf: `kubernetes-admin` in `kubeadm:cluster-admins` (bound to cluster-admin). */
  readonly kubeconfigPath: string;
  /** Its content, as Kubespray's artifacts/admin.conf holds it. */
  readonly kubeconfig: string;
  /** super-admin.conf: `kubernetes-super-admin` in `system:masters`. */
  readonly superAdminKubeconfigPath: string;
  /** The client of the admin kubeconfig. */
  readonly kubeConfig: KubeConfig;
  /** The run's directory: pki/, logs/, etcd/, admission/ and the kubeconfigs. */
  readonly dir: string;
  /** The Kubernetes version the control plane reports, e.g. `v1.35.4`. */
  readonly version: string;
  /** The admission the API server runs with. */
  readonly admission: Admission;
  /** etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok. */
  readonly components: readonly Component[];
  private stopped = false;
  private readonly killOnExit = () => this.components.forEach((c) => c.kill());

  private constructor(
    launched: Launched,
    private readonly keepDir: boolean,
  ) {
    this.server = launched.server;
    this.kubeconfigPath = launched.kubeconfigPath;
    this.superAdminKubeconfigPath = launched.superAdminKubeconfigPath;
    this.dir = launched.dir;
    this.version = launched.version;
    this.admission = launched.admission;
    this.components = launched.components;
    this.kubeconfig = readFileSync(this.kubeconfigPath, "utf8");
    this.kubeConfig = new KubeConfig();
    this.kubeConfig.loadFromString(this.kubeconfig);
    // Nothing outlives the process that started it, even when it never calls stop().
    process.once("exit", this.killOnExit);
  }

  /** A typed client of the admin kubeconfig, e.g. `cluster.client(CoreV1Api)`. */
  client<T extends ApiType>(api: ApiConstructor<T>): T {
    return this.kubeConfig.makeApiClient(api);
  }

  /** Stops every component (the last started first) and removes the run's directory. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const component of [...this.components].reverse()) await component.stop();
    process.removeListener("exit", this.killOnExit);
    if (!this.keepDir) rmSync(this.dir, { recursive: true, force: true });
  }

  /** Starts a test cluster; see {@link TestClusterOptions}. */
  static async start(options: TestClusterOptions = {}): Promise<TestCluster> {
    const binaries = requireControlPlane(options.controlPlaneDir);
    const dir = options.dir ?? mkdtempSync(join(tmpdir(), "test-cluster-"));
    mkdirSync(join(dir, "logs"), { recursive: true });
    const deadline = Date.now() + (options.startTimeoutMs ?? 120_000);
    const started: Component[] = [];
    try {
      const launched = await launch(dir, binaries, options, deadline, started);
      return new TestCluster(launched, options.keepDir ?? false);
    } catch (e) {
      for (const component of started.reverse()) await component.stop();
      if (!options.keepDir) rmSync(dir, { recursive: true, force: true });
      throw e;
    }
  }
}

/** Starts a test cluster; see {@link TestClusterOptions}. */
export function startTestCluster(options: TestClusterOptions = {}): Promise<TestCluster> {
  return TestCluster.start(options);
}

/** `Kubernetes v1.35.4` -> `v1.35.4`: the version the binary was stamped with. */
function builtVersion(kube: string): string {
  const out = spawnSync(kube, ["kube-apiserver", "--version"], { encoding: "utf8" });
  const version = /Kubernetes (v\d+\.\d+\.\d+)/.exec(out.stdout)?.[1];
  if (version === undefined) throw new Error(`${kube} reports no version: ${out.stdout}`);
  return version;
}

/** Starts every component in turn, each once the one it needs is ready. */
async function launch(
  dir: string,
  bin: ControlPlaneBinaries,
  options: TestClusterOptions,
  deadline: number,
  started: Component[],
): Promise<Launched> {
  const version = builtVersion(bin.kube);
  const vars = controlPlaneVariables(options.kubesprayVariables ?? {}, version.slice(1));
  const dnsDomain = vars.dns_domain ?? vars.cluster_name;
  const serviceIp = intToIp(ipToInt(vars.kube_service_addresses.split("/")[0]) + 1);
  const pki = makePki({ dir: join(dir, "pki"), kube: bin.kube, serviceIp, dnsDomain });
  const log = (name: string) => join(dir, "logs", `${name}.log`);
  const start = (name: string, command: string, args: string[]) => {
    const component = Component.start(name, command, args, log(name));
    started.push(component);
    return component;
  };

  // etcd: plain HTTP on loopback, its data thrown away with the run (so no fsync).
  const [etcdClient, etcdPeer] = [await freePort(), await freePort()];
  const etcd = start("etcd", bin.etcd, [
    "--name=test-cluster",
    `--data-dir=${join(dir, "etcd")}`,
    `--listen-client-urls=http://127.0.0.1:${etcdClient}`,
    `--advertise-client-urls=http://127.0.0.1:${etcdClient}`,
    `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
    `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
    `--initial-cluster=test-cluster=http://127.0.0.1:${etcdPeer}`,
    "--unsafe-no-fsync",
  ]);
  await waitUntil(
    "healthy etcd",
    async () => (await probe(`http://127.0.0.1:${etcdClient}/health`))?.status === 200,
    deadline,
    [etcd],
  );

  // Kubespray's admission plugins for these variables, with MutatingAdmissionWebhook and
  // ValidatingAdmissionWebhook OFF: a webhook is served by a pod, no pod runs here (kwok only
  // fakes their status), so every call to one would fail, and every create it covers with it.
  const admission = testClusterAdmission(vars);
  const apiPort = await freePort();
  const server = `https://127.0.0.1:${apiPort}`;
  const apiServer = start("kube-apiserver", bin.kube, [
    "kube-apiserver",
    ...apiServerArgs(pki, vars, admission, join(dir, "admission"), apiPort, etcdClient),
  ]);
  const superAdmin = pki.client(IDENTITIES.superAdmin);
  const tls = { ca: pki.caCert, cert: superAdmin.cert, key: superAdmin.key };
  await waitUntil(
    `${server}/readyz`,
    async () => (await probe(`${server}/readyz`, tls))?.status === 200,
    deadline,
    [etcd, apiServer],
  );

  const conf = (name: string, identity: (typeof IDENTITIES)[keyof typeof IDENTITIES]) => {
    const path = join(dir, `${name}.conf`);
    writeFileSync(path, kubeconfigFor(pki, identity, server, vars.cluster_name), {
      mode: 0o600,
    });
    return path;
  };
  const adminConf = conf("admin", IDENTITIES.admin);
  const superAdminConf = conf("super-admin", IDENTITIES.superAdmin);
  await bindClusterAdmins(superAdminConf);

  const serving = [
    "--bind-address=127.0.0.1",
    `--tls-cert-file=${pki.componentsServingCert}`,
    `--tls-private-key-file=${pki.componentsServingKey}`,
    `--client-ca-file=${pki.caCert}`,
    `--requestheader-client-ca-file=${pki.frontProxyCaCert}`,
  ];
  const kubeconfigArgs = (path: string) => [
    `--kubeconfig=${path}`,
    `--authentication-kubeconfig=${path}`,
    `--authorization-kubeconfig=${path}`,
  ];
  const cmPort = await freePort();
  const controllerManager = start("kube-controller-manager", bin.kube, [
    "kube-controller-manager",
    ...kubeconfigArgs(conf("controller-manager", IDENTITIES.controllerManager)),
    ...serving,
    `--secure-port=${cmPort}`,
    // kubeadm's choices on a Kubespray control plane.
    "--controllers=*,bootstrapsigner,tokencleaner",
    "--use-service-account-credentials=true",
    `--service-account-private-key-file=${pki.serviceAccountKey}`,
    `--root-ca-file=${pki.caCert}`,
    `--cluster-signing-cert-file=${pki.caCert}`,
    `--cluster-signing-key-file=${pki.caKey}`,
    "--allocate-node-cidrs=true",
    `--cluster-cidr=${vars.kube_pods_subnet}`,
    `--node-cidr-mask-size=${vars.kube_network_node_prefix}`,
    `--service-cluster-ip-range=${vars.kube_service_addresses}`,
    `--cluster-name=${vars.cluster_name}`,
    // One instance: no lease to wait for.
    "--leader-elect=false",
  ]);
  const schedulerPort = await freePort();
  const scheduler = start("kube-scheduler", bin.kube, [
    "kube-scheduler",
    ...kubeconfigArgs(conf("scheduler", IDENTITIES.scheduler)),
    ...serving,
    `--secure-port=${schedulerPort}`,
    "--leader-elect=false",
  ]);
  const kwokPort = await freePort();
  const kwok = start("kwok", bin.kwok, [
    `--kubeconfig=${conf("kwok", IDENTITIES.kwok)}`,
    `--config=${bin.kwokStages}`,
    "--manage-all-nodes=true",
    // kwokctl's default: nodes hold leases, as kubelets do.
    "--node-lease-duration-seconds=40",
    `--cidr=${vars.kube_pods_subnet}`,
    `--server-address=127.0.0.1:${kwokPort}`,
  ]);

  const all = [etcd, apiServer, controllerManager, scheduler, kwok];
  const componentTls = { ca: pki.caCert };
  for (const [component, url, health] of [
    [controllerManager, `https://127.0.0.1:${cmPort}/healthz`, componentTls],
    [scheduler, `https://127.0.0.1:${schedulerPort}/healthz`, componentTls],
    [kwok, `http://127.0.0.1:${kwokPort}/healthz`, undefined],
  ] as const) {
    await waitUntil(
      `${component.name} healthy at ${url}`,
      async () => (await probe(url, health))?.status === 200,
      deadline,
      [...all.filter((c) => c !== component), component],
    );
  }
  // The controller manager works: it gave the default namespace its service account,
  // without which no pod can be created there.
  const core = clientOf(adminConf, CoreV1Api);
  await waitUntil(
    "the default service account (made by the controller manager)",
    () =>
      core.readNamespacedServiceAccount({ name: "default", namespace: "default" }).then(
        () => true,
        () => false,
      ),
    deadline,
    [...all.filter((c) => c !== controllerManager), controllerManager],
  );
  return {
    server,
    kubeconfigPath: adminConf,
    superAdminKubeconfigPath: superAdminConf,
    dir,
    version,
    admission,
    components: all,
  };
}

function clientOf<T extends ApiType>(kubeconfigPath: string, api: ApiConstructor<T>): T {
  const config = new KubeConfig();
  config.loadFromFile(kubeconfigPath);
  return config.makeApiClient(api);
}

/** What `kubeadm init` does for admin.conf: its group gets cluster-admin. */
async function bindClusterAdmins(superAdminConf: string): Promise<void> {
  await clientOf(superAdminConf, RbacAuthorizationV1Api).createClusterRoleBinding({
    body: {
      metadata: { name: CLUSTER_ADMINS_GROUP },
      roleRef: {
        apiGroup: "rbac.authorization.k8s.io",
        kind: "ClusterRole",
        name: "cluster-admin",
      },
      subjects: [
        { apiGroup: "rbac.authorization.k8s.io", kind: "Group", name: CLUSTER_ADMINS_GROUP },
      ],
    },
  });
}

/**
 * kube-apiserver's flags: kubeadm's for a control plane (as Kubespray drives it), with
 * Kubespray's variables, on loopback. The admission plugins are Kubespray's, except the
 * two admission webhooks: no webhook's pod runs here (see admission.ts).
 */
function apiServerArgs(
  pki: Pki,
  vars: ControlPlaneVariables,
  admission: Admission,
  admissionDir: string,
  port: number,
  etcdPort: number,
): string[] {
  const dnsDomain = vars.dns_domain ?? vars.cluster_name;
  return [
    "--advertise-address=127.0.0.1",
    "--bind-address=127.0.0.1",
    `--secure-port=${port}`,
    `--etcd-servers=http://127.0.0.1:${etcdPort}`,
    `--tls-cert-file=${pki.apiServerCert}`,
    `--tls-private-key-file=${pki.apiServerKey}`,
    `--client-ca-file=${pki.caCert}`,
    `--service-account-issuer=https://kubernetes.default.svc.${dnsDomain}`,
    `--service-account-key-file=${pki.serviceAccountPublicKey}`,
    `--service-account-signing-key-file=${pki.serviceAccountKey}`,
    `--service-cluster-ip-range=${vars.kube_service_addresses}`,
    `--service-node-port-range=${vars.kube_apiserver_node_port_range}`,
    `--authorization-mode=${vars.authorization_modes.join(",")}`,
    "--allow-privileged=true",
    "--enable-bootstrap-token-auth=true",
    // Kubespray's is `lease`, but the API server refuses to publish a loopback address as the
    // `kubernetes` Service's endpoint (and says so every ten seconds); no pod runs here to
    // call it.
    "--endpoint-reconciler-type=none",
    `--requestheader-client-ca-file=${pki.frontProxyCaCert}`,
    "--requestheader-allowed-names=front-proxy-client",
    "--requestheader-username-headers=X-Remote-User",
    "--requestheader-group-headers=X-Remote-Group",
    "--requestheader-extra-headers-prefix=X-Remote-Extra-",
    `--proxy-client-cert-file=${pki.frontProxyClientCert}`,
    `--proxy-client-key-file=${pki.frontProxyClientKey}`,
    ...admissionArgs(admission, admissionDir),
  ];
}

/** The admission flags, writing Kubespray's configuration files into `dir` when it has them. */
function admissionArgs(admission: Admission, dir: string): string[] {
  const args = [`--enable-admission-plugins=${admission.enable.join(",")}`];
  if (admission.disable.length > 0)
    args.push(`--disable-admission-plugins=${admission.disable.join(",")}`);
  if (admission.config !== undefined) {
    mkdirSync(dir, { recursive: true });
    for (const plugin of admission.config.plugins)
      writeFileSync(join(dir, plugin.file), stringify(plugin.content));
    const file = join(dir, "admission-controls.yaml");
    writeFileSync(file, stringify(admission.config.admissionConfiguration));
    args.push(`--admission-control-config-file=${file}`);
  }
  return args;
}
