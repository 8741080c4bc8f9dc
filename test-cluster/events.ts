/** Events as the controllers the test cluster plays record them (client-go's recorder). */
import { randomBytes } from "node:crypto";

import type { CoreV1Api, V1ObjectMeta } from "@kubernetes/client-node";

export interface PlayedEvent {
  readonly type: "Normal" | "Warning";
  readonly reason: string;
  readonly message: string;
  /** `source.component`: the controller's name, e.g. `metallb-controller`. */
  readonly component: string;
}

/** A core/v1 Event about `object`, in its namespace (`default` for a cluster-scoped one). */
export async function recordEvent(
  core: CoreV1Api,
  object: { readonly kind: string; readonly apiVersion?: string; readonly metadata?: V1ObjectMeta },
  event: PlayedEvent,
): Promise<void> {
  const meta = object.metadata ?? {};
  const namespace = meta.namespace ?? "default";
  const now = new Date();
  await core.createNamespacedEvent({
    namespace,
    body: {
      metadata: { name: `${meta.name}.${randomBytes(8).toString("hex")}`, namespace },
      involvedObject: {
        kind: object.kind,
        apiVersion: object.apiVersion ?? "v1",
        namespace: meta.namespace,
        name: meta.name,
        uid: meta.uid,
        resourceVersion: meta.resourceVersion,
      },
      type: event.type,
      reason: event.reason,
      message: event.message,
      source: { component: event.component },
      reportingComponent: event.component,
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
    },
  });
}
