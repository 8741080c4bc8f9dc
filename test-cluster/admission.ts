/**
 * The test cluster's admission: Kubespray's for the definition's variables, with the
 * admission webhooks off. Kept apart from the cluster so that it is read without a client.
 */
import type { Admission, ControlPlaneVariables } from "../kubespray-vars/control-plane";
import { kubesprayAdmission } from "../kubespray-vars/control-plane";

/**
 * Admission plugins turned off: both call webhooks that charts register (cert-manager's,
 * the GPU Operator's, ...), served by pods that never run here (kwok fakes their status),
 * so every call would fail and every create in their scope with it. The in-process
 * ValidatingAdmissionPolicy stays on.
 */
export const WEBHOOK_ADMISSION_PLUGINS: readonly string[] = [
  "MutatingAdmissionWebhook",
  "ValidatingAdmissionWebhook",
];
/** Kubespray can enable it too; it calls an image policy webhook, which is not here either. */
const IMAGE_POLICY_WEBHOOK = "ImagePolicyWebhook";

/** Kubespray's admission for `variables`, less the webhooks that cannot be served here. */
export function testClusterAdmission(variables: ControlPlaneVariables): Admission {
  const kubespray = kubesprayAdmission(variables);
  const off = new Set([...WEBHOOK_ADMISSION_PLUGINS, IMAGE_POLICY_WEBHOOK]);
  return {
    ...kubespray,
    enable: kubespray.enable.filter((p) => !off.has(p)),
    disable: [...new Set([...kubespray.disable, ...WEBHOOK_ADMISSION_PLUGINS])],
  };
}
