/**
 * lib/capacity on small manifests written here: how a pod's requests are counted, that a
 * pod which runs to completion needs room only while it runs, and a pod no pool lets on.
 * (__tests__/preflight/capacity.test.ts runs the same code on the real rendered charts.)
 */
import { stringify } from "yaml";

import { parseClusterConfig } from "../../config/load";
import { addonsCapacity, podRequests } from "../../lib/capacity";
import { homelab } from "../fixtures/definitions";

const Mi = 2 ** 20;

const container = (cpu?: string, memory?: string, extra: object = {}) => ({
  name: "c",
  image: "i",
  resources: { requests: { ...(cpu ? { cpu } : {}), ...(memory ? { memory } : {}) } },
  ...extra,
});

const job = (name: string, cpu: string, spec: object = {}) => ({
  apiVersion: "batch/v1",
  kind: "Job",
  metadata: { name },
  spec: { template: { spec: { containers: [container(cpu)], ...spec } } },
});

/** The homelab example's nodes (3 workers of 8 cores: 7400m each for pods). */
const capacityOf = (...objects: object[]) =>
  addonsCapacity(parseClusterConfig(homelab()).config, [
    {
      name: "metallb",
      namespace: "metallb-system",
      manifest: objects.map((o) => stringify(o)).join("---\n"),
    },
  ]);

describe("the add-ons' capacity, on manifests written here", () => {
  it("counts a pod as the scheduler does: containers and sidecars, or the largest init container", () => {
    expect(
      podRequests({
        initContainers: [
          container("500m", "64Mi"),
          container("50m", "10Mi", { restartPolicy: "Always" }),
        ],
        containers: [
          container("100m", "100Mi"),
          { name: "limits-only", resources: { limits: { cpu: "1", memory: "1Gi" } } },
        ],
      }),
    ).toEqual({ milliCpu: 1150, memoryBytes: 1134 * Mi });
    // An init container alone larger than the rest: it decides.
    expect(podRequests({ initContainers: [container("3")], containers: [container("1")] })).toEqual(
      { milliCpu: 3000, memoryBytes: 0 },
    );
  });

  it("gives each Job room only while it runs, and names one that never fits", () => {
    // Two Jobs of 7 cores fit: each one alone next to what keeps running.
    expect(capacityOf(job("a", "7"), job("b", "7")).problems).toEqual([]);
    const { problems } = capacityOf(job("a", "7"), job("huge", "8"));
    expect(problems).toHaveLength(1);
    expect(problems[0].what).toBe("nodePools[1].cores");
    expect(problems[0].problem).toContain(
      "1 pod of metallb's Job huge (8 CPU, 0Mi memory each) would stay Pending while it runs (Insufficient cpu)",
    );
  });

  it("names the add-on when no pool's labels let its pod on", () => {
    const { problems } = capacityOf(
      job("picky", "1", { nodeSelector: { "example.com/zone": "nowhere" } }),
    );
    expect(problems).toEqual([
      {
        what: "addons.metallb",
        problem:
          "metallb's Job picky (1 pod) may run on no node of the cluster: pool cp: taint " +
          "node-role.kubernetes.io/control-plane:NoSchedule not tolerated; pool worker: its node " +
          "selector or affinity does not match",
        fix: "give a pool the labels it selects and no taint it does not tolerate, or turn it off",
      },
    ]);
  });
});
