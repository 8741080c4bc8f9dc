/**
 * What runs where, as `npm run demo` prints it: each node's workloads, read from pods and
 * the ReplicaSets between a Deployment and its pods.
 */
import type { V1Pod, V1ReplicaSet } from "@kubernetes/client-node";

import { workloadsByNode } from "../../lib/cluster-reader";

const owner = (kind: string, name: string) => ({
  apiVersion: "apps/v1",
  kind,
  name,
  uid: `${kind}-${name}`,
  controller: true,
});

const pod = (
  namespace: string,
  name: string,
  node: string | undefined,
  phase: string,
  owners: ReturnType<typeof owner>[] = [],
): V1Pod => ({
  metadata: { namespace, name, ownerReferences: owners },
  spec: { containers: [], nodeName: node },
  status: { phase },
});

const replicaSet = (namespace: string, name: string, deployment: string): V1ReplicaSet => ({
  metadata: { namespace, name, ownerReferences: [owner("Deployment", deployment)] },
});

describe("workloadsByNode", () => {
  it("names each pod after its workload, once per node, every node listed", () => {
    const pods = [
      pod("metallb-system", "speaker-abcde", "w-1", "Running", [owner("DaemonSet", "speaker")]),
      pod("metallb-system", "speaker-fghij", "cp-1", "Running", [owner("DaemonSet", "speaker")]),
      pod("traefik", "traefik-7d9f8-x1", "w-1", "Running", [owner("ReplicaSet", "traefik-7d9f8")]),
      pod("traefik", "traefik-7d9f8-x2", "w-1", "Running", [owner("ReplicaSet", "traefik-7d9f8")]),
      pod("monitoring", "prometheus-0", "w-2", "Running", [owner("StatefulSet", "prometheus")]),
      pod("kube-system", "static", "w-2", "Pending"),
    ];
    const replicaSets = [replicaSet("traefik", "traefik-7d9f8", "traefik")];
    expect(workloadsByNode(pods, replicaSets, ["w-2", "w-1", "cp-1", "w-3"])).toEqual([
      { node: "cp-1", workloads: ["metallb-system/speaker"] },
      { node: "w-1", workloads: ["metallb-system/speaker", "traefik/traefik"] },
      { node: "w-2", workloads: ["kube-system/static", "monitoring/prometheus"] },
      { node: "w-3", workloads: [] },
    ]);
  });

  it("leaves out finished pods, and lists the unscheduled ones under (no node)", () => {
    const pods = [
      pod("cert-manager", "startupapicheck-x", "w-1", "Succeeded", [
        owner("Job", "startupapicheck"),
      ]),
      pod("cert-manager", "failed-x", "w-1", "Failed", [owner("Job", "failed")]),
      pod("argocd", "server-1", undefined, "Pending", [owner("ReplicaSet", "server-5c")]),
    ];
    // A ReplicaSet whose Deployment is not known keeps its own name.
    expect(workloadsByNode(pods, [], ["w-1"])).toEqual([
      { node: "(no node)", workloads: ["argocd/server-5c"] },
      { node: "w-1", workloads: [] },
    ]);
  });
});
