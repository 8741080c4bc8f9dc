/**
 * How Kubespray v2.31.0 configures kube-apiserver's admission from its variables, so that
 * a test cluster admits what the definition's cluster would admit. Rendered as Kubespray's
 * role does it (roles/kubernetes/control-plane: defaults/main/main.yml, vars/main.yaml,
 * templates/kubeadm-config.v1beta4.yaml.j2, admission-controls.yaml.j2, podsecurity.yaml.j2,
 * eventratelimit.yaml.j2, podnodeselector.yaml.j2, resourcequota.yaml.j2), with kubeadm's
 * own default where Kubespray passes nothing.
 */

/** The variables this reads, with Kubespray's defaults (see {@link CONTROL_PLANE_DEFAULTS}). */
export interface ControlPlaneVariables {
  /** e.g. `1.35.4`; the PodSecurity versions default to its minor. */
  readonly kube_version: string;
  readonly kube_service_addresses: string;
  readonly kube_pods_subnet: string;
  readonly kube_network_node_prefix: number;
  readonly cluster_name: string;
  /** @default cluster_name */
  readonly dns_domain?: string;
  readonly kube_apiserver_node_port_range: string;
  readonly authorization_modes: readonly string[];
  readonly kube_apiserver_enable_admission_plugins: readonly string[];
  readonly kube_apiserver_disable_admission_plugins: readonly string[];
  readonly kube_apiserver_admission_control_config_file: boolean;
  readonly kube_pod_security_use_default: boolean;
  readonly kube_pod_security_default_enforce: string;
  /** @default `v<major.minor of kube_version>` */
  readonly kube_pod_security_default_enforce_version?: string;
  readonly kube_pod_security_default_audit: string;
  readonly kube_pod_security_default_audit_version?: string;
  readonly kube_pod_security_default_warn: string;
  readonly kube_pod_security_default_warn_version?: string;
  readonly kube_pod_security_exemptions_usernames: readonly string[];
  readonly kube_pod_security_exemptions_runtime_class_names: readonly string[];
  readonly kube_pod_security_exemptions_namespaces: readonly string[];
  readonly kube_apiserver_admission_event_rate_limits: Readonly<
    Record<string, { type: string; qps: number; burst: number; cache_size?: number }>
  >;
  readonly kube_apiserver_admission_plugins_podnodeselector_default_node_selector: string;
  readonly kube_resource_quota_limited_resources: readonly unknown[];
}

/** Kubespray v2.31.0's defaults of those variables (kube_version excepted). */
export const CONTROL_PLANE_DEFAULTS: Omit<ControlPlaneVariables, "kube_version"> = {
  kube_service_addresses: "10.233.0.0/18",
  kube_pods_subnet: "10.233.64.0/18",
  kube_network_node_prefix: 24,
  cluster_name: "cluster.local",
  kube_apiserver_node_port_range: "30000-32767",
  authorization_modes: ["Node", "RBAC"],
  kube_apiserver_enable_admission_plugins: [],
  kube_apiserver_disable_admission_plugins: [],
  kube_apiserver_admission_control_config_file: false,
  kube_pod_security_use_default: false,
  kube_pod_security_default_enforce: "baseline",
  kube_pod_security_default_audit: "restricted",
  kube_pod_security_default_warn: "restricted",
  kube_pod_security_exemptions_usernames: [],
  kube_pod_security_exemptions_runtime_class_names: [],
  kube_pod_security_exemptions_namespaces: ["kube-system"],
  kube_apiserver_admission_event_rate_limits: {},
  kube_apiserver_admission_plugins_podnodeselector_default_node_selector: "",
  kube_resource_quota_limited_resources: [],
};

/**
 * kubeadm's `enable-admission-plugins` when Kubespray passes none
 * (cmd/kubeadm/app/phases/controlplane/manifests.go).
 */
export const KUBEADM_ADMISSION_PLUGINS: readonly string[] = ["NodeRestriction"];

/** Plugins Kubespray writes a configuration file for (vars/main.yaml). */
const PLUGINS_WITH_CONFIGURATION = [
  "EventRateLimit",
  "ImagePolicyWebhook",
  "PodSecurity",
  "PodNodeSelector",
  "ResourceQuota",
] as const;
type ConfiguredPlugin = (typeof PLUGINS_WITH_CONFIGURATION)[number];

/** Kubespray's variables over its defaults. */
export function controlPlaneVariables(
  variables: Readonly<Record<string, unknown>>,
  kubeVersion: string,
): ControlPlaneVariables {
  return { ...CONTROL_PLANE_DEFAULTS, kube_version: kubeVersion, ...variables };
}

/** One admission plugin's configuration file, as Kubespray writes it. */
export interface AdmissionPluginFile {
  readonly plugin: ConfiguredPlugin;
  /** The file's name, e.g. `podsecurity.yaml` (Kubespray's `{{ plugin | lower }}.yaml`). */
  readonly file: string;
  /** Its content, as an object for the `yaml` library. */
  readonly content: Record<string, unknown>;
}

/** kube-apiserver's admission as Kubespray configures it. */
export interface Admission {
  /** `--enable-admission-plugins`. */
  readonly enable: readonly string[];
  /** `--disable-admission-plugins` (none when empty). */
  readonly disable: readonly string[];
  /**
   * With `kube_apiserver_admission_control_config_file`: the AdmissionConfiguration (its
   * plugins' `path` is the bare file name, to be put beside it) and the plugin files.
   */
  readonly config?: {
    readonly admissionConfiguration: Record<string, unknown>;
    readonly plugins: readonly AdmissionPluginFile[];
  };
}

/** `v1.35` for `1.35.4`: Kubespray's `v{{ kube_major_version }}`. */
function minorVersion(kubeVersion: string): string {
  return `v${kubeVersion.replace(/^v/, "").split(".").slice(0, -1).join(".")}`;
}

function pluginContent(
  plugin: ConfiguredPlugin,
  v: ControlPlaneVariables,
): Record<string, unknown> | undefined {
  switch (plugin) {
    case "PodSecurity": {
      const version = minorVersion(v.kube_version);
      return {
        apiVersion: "pod-security.admission.config.k8s.io/v1",
        kind: "PodSecurityConfiguration",
        ...(v.kube_pod_security_use_default
          ? {
              defaults: {
                enforce: v.kube_pod_security_default_enforce,
                "enforce-version": v.kube_pod_security_default_enforce_version ?? version,
                audit: v.kube_pod_security_default_audit,
                "audit-version": v.kube_pod_security_default_audit_version ?? version,
                warn: v.kube_pod_security_default_warn,
                "warn-version": v.kube_pod_security_default_warn_version ?? version,
              },
              exemptions: {
                usernames: v.kube_pod_security_exemptions_usernames,
                runtimeClasses: v.kube_pod_security_exemptions_runtime_class_names,
                namespaces: v.kube_pod_security_exemptions_namespaces,
              },
            }
          : {}),
      };
    }
    case "EventRateLimit":
      return {
        apiVersion: "eventratelimit.admission.k8s.io/v1alpha1",
        kind: "Configuration",
        limits: Object.values(v.kube_apiserver_admission_event_rate_limits).map((l) => ({
          type: l.type,
          qps: l.qps,
          burst: l.burst,
          ...(l.cache_size === undefined ? {} : { cacheSize: l.cache_size }),
        })),
      };
    case "PodNodeSelector":
      return {
        podNodeSelectorPluginConfig: {
          clusterDefaultNodeSelector:
            v.kube_apiserver_admission_plugins_podnodeselector_default_node_selector,
        },
      };
    case "ResourceQuota":
      return {
        apiVersion: "apiserver.config.k8s.io/v1",
        kind: "ResourceQuotaConfiguration",
        ...(v.kube_resource_quota_limited_resources.length > 0
          ? { limitedResources: v.kube_resource_quota_limited_resources }
          : {}),
      };
    case "ImagePolicyWebhook":
      // Kubespray ships no template for it: its file would be missing on a real cluster.
      return undefined;
  }
}

const isConfigured = (plugin: string): plugin is ConfiguredPlugin =>
  (PLUGINS_WITH_CONFIGURATION as readonly string[]).includes(plugin);

/** The admission flags and files Kubespray v2.31.0 gives kube-apiserver. */
export function kubesprayAdmission(v: ControlPlaneVariables): Admission {
  const enable =
    v.kube_apiserver_enable_admission_plugins.length > 0
      ? v.kube_apiserver_enable_admission_plugins
      : KUBEADM_ADMISSION_PLUGINS;
  if (!v.kube_apiserver_admission_control_config_file) {
    return { enable, disable: v.kube_apiserver_disable_admission_plugins };
  }
  const plugins = v.kube_apiserver_enable_admission_plugins
    .filter(isConfigured)
    .flatMap((plugin): AdmissionPluginFile[] => {
      const content = pluginContent(plugin, v);
      return content === undefined
        ? []
        : [{ plugin, file: `${plugin.toLowerCase()}.yaml`, content }];
    });
  return {
    enable,
    disable: v.kube_apiserver_disable_admission_plugins,
    config: {
      admissionConfiguration: {
        apiVersion: "apiserver.config.k8s.io/v1",
        kind: "AdmissionConfiguration",
        plugins: plugins.map((p) => ({ name: p.plugin, path: p.file })),
      },
      plugins,
    },
  };
}
