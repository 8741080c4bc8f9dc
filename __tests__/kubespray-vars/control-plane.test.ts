import {
  controlPlaneVariables,
  KUBEADM_ADMISSION_PLUGINS,
  kubesprayAdmission,
} from "../../kubespray-vars/control-plane";
import { testClusterAdmission } from "../../test-cluster/admission";

/** Kubespray's docs/operations/hardening.md list, webhooks included. */
const HARDENING = [
  "EventRateLimit",
  "AlwaysPullImages",
  "ServiceAccount",
  "NamespaceLifecycle",
  "NodeRestriction",
  "LimitRanger",
  "ResourceQuota",
  "MutatingAdmissionWebhook",
  "ValidatingAdmissionWebhook",
  "PodNodeSelector",
  "PodSecurity",
];

describe("kubesprayAdmission", () => {
  it("with Kubespray's defaults passes no plugin list, so kubeadm's NodeRestriction applies, and no config file", () => {
    const admission = kubesprayAdmission(controlPlaneVariables({}, "1.35.4"));
    expect(admission).toEqual({ enable: KUBEADM_ADMISSION_PLUGINS, disable: [] });
    expect(KUBEADM_ADMISSION_PLUGINS).toEqual(["NodeRestriction"]);
  });

  it("writes PodSecurity's defaults as podsecurity.yaml.j2 does, versions from kube_version's minor", () => {
    const admission = kubesprayAdmission(
      controlPlaneVariables(
        {
          kube_apiserver_enable_admission_plugins: HARDENING,
          kube_apiserver_admission_control_config_file: true,
          kube_pod_security_use_default: true,
          kube_pod_security_default_enforce: "restricted",
          kube_apiserver_admission_event_rate_limits: {
            limit_1: { type: "Namespace", qps: 50, burst: 100, cache_size: 2000 },
            limit_2: { type: "User", qps: 50, burst: 100 },
          },
        },
        "1.35.4",
      ),
    );
    expect(admission.enable).toEqual(HARDENING);
    // Every enabled plugin that Kubespray configures, in the order it was enabled.
    expect(admission.config?.admissionConfiguration).toEqual({
      apiVersion: "apiserver.config.k8s.io/v1",
      kind: "AdmissionConfiguration",
      plugins: [
        { name: "EventRateLimit", path: "eventratelimit.yaml" },
        { name: "ResourceQuota", path: "resourcequota.yaml" },
        { name: "PodNodeSelector", path: "podnodeselector.yaml" },
        { name: "PodSecurity", path: "podsecurity.yaml" },
      ],
    });
    const file = (name: string) => admission.config?.plugins.find((p) => p.plugin === name);
    expect(file("PodSecurity")?.content).toEqual({
      apiVersion: "pod-security.admission.config.k8s.io/v1",
      kind: "PodSecurityConfiguration",
      defaults: {
        enforce: "restricted",
        "enforce-version": "v1.35",
        audit: "restricted",
        "audit-version": "v1.35",
        warn: "restricted",
        "warn-version": "v1.35",
      },
      exemptions: { usernames: [], runtimeClasses: [], namespaces: ["kube-system"] },
    });
    expect(file("EventRateLimit")?.content).toEqual({
      apiVersion: "eventratelimit.admission.k8s.io/v1alpha1",
      kind: "Configuration",
      limits: [
        { type: "Namespace", qps: 50, burst: 100, cacheSize: 2000 },
        { type: "User", qps: 50, burst: 100 },
      ],
    });
    expect(file("PodNodeSelector")?.content).toEqual({
      podNodeSelectorPluginConfig: { clusterDefaultNodeSelector: "" },
    });
  });

  it("without kube_pod_security_use_default the PodSecurity file sets no default (privileged everywhere)", () => {
    const admission = kubesprayAdmission(
      controlPlaneVariables(
        {
          kube_apiserver_enable_admission_plugins: ["PodSecurity"],
          kube_apiserver_admission_control_config_file: true,
        },
        "1.35.4",
      ),
    );
    expect(admission.config?.plugins).toEqual([
      {
        plugin: "PodSecurity",
        file: "podsecurity.yaml",
        content: {
          apiVersion: "pod-security.admission.config.k8s.io/v1",
          kind: "PodSecurityConfiguration",
        },
      },
    ]);
  });

  it("ignores kube_pod_security_use_default without the admission config file, as Kubespray does", () => {
    const admission = kubesprayAdmission(
      controlPlaneVariables(
        { kube_pod_security_use_default: true, kube_pod_security_default_enforce: "restricted" },
        "1.35.4",
      ),
    );
    expect(admission.config).toBeUndefined();
  });
});

describe("testClusterAdmission", () => {
  it("turns the admission webhooks off and keeps every other plugin Kubespray enables", () => {
    const admission = testClusterAdmission(
      controlPlaneVariables(
        {
          kube_apiserver_enable_admission_plugins: [...HARDENING, "ImagePolicyWebhook"],
          kube_apiserver_disable_admission_plugins: ["DefaultStorageClass"],
        },
        "1.35.4",
      ),
    );
    expect(admission.enable).toEqual(
      HARDENING.filter(
        (p) => !["MutatingAdmissionWebhook", "ValidatingAdmissionWebhook"].includes(p),
      ),
    );
    expect(admission.disable).toEqual([
      "DefaultStorageClass",
      "MutatingAdmissionWebhook",
      "ValidatingAdmissionWebhook",
    ]);
  });

  it("with Kubespray's defaults: kubeadm's NodeRestriction on, the webhooks off", () => {
    expect(testClusterAdmission(controlPlaneVariables({}, "1.35.4"))).toEqual({
      enable: ["NodeRestriction"],
      disable: ["MutatingAdmissionWebhook", "ValidatingAdmissionWebhook"],
    });
  });
});
