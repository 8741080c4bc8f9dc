/**
 * MetalLB's controller as the test cluster plays it (test-cluster/metallb.ts): first its
 * allocation rules on their own, then on a test cluster with MetalLB v0.16.1's own
 * IPAddressPool CRD, asserted with the API's answers (the Service's status, annotation and
 * events).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";

import type { CoreV1Event, V1Service } from "@kubernetes/client-node";
import { ApiextensionsV1Api, CoreV1Api, CustomObjectsApi } from "@kubernetes/client-node";
import { parseAllDocuments } from "yaml";

import { CHARTS } from "../../lib/charts";
import type { TestCluster } from "../../test-cluster/cluster";
import { startTestCluster } from "../../test-cluster/cluster";
import type { MetalLbPlay, ServiceView } from "../../test-cluster/metallb";
import {
  ANN_ALLOCATED_FROM_POOL,
  converge,
  METALLB_NAMESPACE,
  playMetalLb,
  poolsConfig,
} from "../../test-cluster/metallb";
import { upstreamChart } from "../support/helm";
import { describeWithControlPlane, eventually } from "../support/test-cluster";

const START_MS = 180_000;
const SETTLE_MS = 60_000;

// Every test and hook talks to a test cluster (and the first renders MetalLB's chart).
jest.setTimeout(START_MS);

const pool = (name: string, addresses: string[], extra: Record<string, unknown> = {}) => ({
  metadata: { name },
  spec: { addresses, ...extra },
});

const lb = (name: string, extra: Partial<ServiceView> = {}): ServiceView => ({
  key: `default/${name}`,
  annotations: {},
  type: "LoadBalancer",
  clusterIPs: ["10.233.0.10"],
  ipFamilies: ["IPv4"],
  ports: [{ proto: "TCP", port: 80 }],
  selector: { app: name },
  ingressIps: [],
  ...extra,
});
const asking = (ip: string) => ({ annotations: { "metallb.io/loadBalancerIPs": ip } });

describe("MetalLB's allocation rules", () => {
  const config = poolsConfig([
    pool("default", ["10.0.0.200-10.0.0.201"]),
    pool("manual", ["10.0.0.240/30"], { autoAssign: false }),
  ]);
  const pools = "pools" in config ? config.pools : [];

  it("reads A-B ranges and CIDRs, and refuses what MetalLB refuses", () => {
    expect(pools.map((p) => [p.name, p.autoAssign])).toEqual([
      ["default", true],
      ["manual", false],
    ]);
    // A bare address is not a CIDR to MetalLB: the whole configuration is refused.
    expect(poolsConfig([pool("one", ["10.0.0.7"])])).toEqual({
      error: expect.stringContaining('invalid CIDR "10.0.0.7" in pool "one"'),
    });
    expect(poolsConfig([pool("a", ["10.0.0.0/29"]), pool("b", ["10.0.0.5-10.0.0.9"])])).toEqual({
      error: expect.stringContaining('in pool "b" overlap with "10.0.0.0/29"'),
    });
    expect(poolsConfig([pool("r", ["10.0.0.9-10.0.0.5"])])).toEqual({
      error: expect.stringContaining("is after the end IP"),
    });
  });

  it("gives a requested address only from a pool that holds it, autoAssign or not", () => {
    const [inManual, outside] = converge(
      [lb("a", asking("10.0.0.242")), lb("b", asking("10.0.0.250"))],
      pools,
    );
    expect(inManual).toMatchObject({ ips: ["10.0.0.242"], pool: "manual" });
    expect(outside).toMatchObject({ ips: [] });
    expect(outside.events).toEqual([
      {
        type: "Warning",
        reason: "AllocationFailed",
        message: 'Failed to allocate IP for "default/b": ["10.0.0.250"] is not allowed in config',
      },
    ]);
  });

  it("hands out free addresses of auto-assign pools only, and runs out", () => {
    const out = converge([lb("a"), lb("b"), lb("c")], pools);
    expect(out.map((o) => o.ips)).toEqual([["10.0.0.200"], ["10.0.0.201"], []]);
    expect(out[2].events[0].message).toBe(
      'Failed to allocate IP for "default/c": no available IPs',
    );
  });

  it("keeps a held address, shares one only with the same key and other ports", () => {
    const held = lb("held", { ingressIps: ["10.0.0.200"] });
    const taking = lb("taking", asking("10.0.0.200"));
    const [first, second] = converge([taking, held], pools);
    expect(first).toMatchObject({ key: "default/held", ips: ["10.0.0.200"] });
    expect(second.events[0].message).toBe(
      'Failed to allocate IP for "default/taking": can\'t change sharing key for "default/taking", address also in use by default/held',
    );
    const shared = {
      "metallb.io/allow-shared-ip": "k",
      "metallb.io/loadBalancerIPs": "10.0.0.201",
    };
    const both = converge(
      [
        lb("x", { annotations: shared }),
        lb("y", { annotations: shared, ports: [{ proto: "TCP", port: 443 }] }),
        lb("z", { annotations: shared }),
      ],
      pools,
    );
    expect(both.map((o) => o.ips)).toEqual([["10.0.0.201"], ["10.0.0.201"], []]);
    expect(both[2].events[0].message).toBe(
      'Failed to allocate IP for "default/z": port TCP/80 is already in use on "10.0.0.201"',
    );
  });

  it("refuses both the annotation and spec.loadBalancerIP, and ignores other classes", () => {
    const [both, other] = converge(
      [
        lb("both", { ...asking("10.0.0.200"), loadBalancerIP: "10.0.0.200" }),
        lb("other", { loadBalancerClass: "example.com/lb" }),
      ],
      pools,
    );
    expect(both.events[0].message).toContain(
      "service can not have both metallb.io/loadBalancerIPs and svc.Spec.LoadBalancerIP",
    );
    expect(other.skipped).toBe("another loadBalancerClass");
    expect(other.ips).toBeUndefined();
  });
});

/** MetalLB v0.16.1's IPAddressPool CRD, from the chart the addons stack installs. */
function ipAddressPoolCrd(): Record<string, unknown> {
  const { chart, version, repository } = CHARTS.metallb;
  const file = join(
    upstreamChart(chart, version, repository),
    "charts",
    "crds",
    "templates",
    "crds.yaml",
  );
  const doc = readFileSync(file, "utf8")
    .split(/^---$/m)
    .find((d) => d.includes("name: ipaddresspools.metallb.io"));
  return parseAllDocuments(doc ?? "")[0].toJS() as Record<string, unknown>;
}

describeWithControlPlane("MetalLB's controller played on a test cluster", () => {
  let cluster: TestCluster;
  let core: CoreV1Api;
  let custom: CustomObjectsApi;
  let play: MetalLbPlay;
  const lines: string[] = [];

  const service = (name: string, annotations: Record<string, string> = {}): V1Service => ({
    metadata: { name, namespace: "default", annotations },
    spec: { type: "LoadBalancer", selector: { app: name }, ports: [{ port: 80 }] },
  });
  const createPool = (name: string, addresses: string[], autoAssign = true) =>
    custom.createNamespacedCustomObject({
      group: "metallb.io",
      version: "v1beta1",
      namespace: METALLB_NAMESPACE,
      plural: "ipaddresspools",
      body: {
        apiVersion: "metallb.io/v1beta1",
        kind: "IPAddressPool",
        ...pool(name, addresses, { autoAssign }),
      },
    });
  const read = (name: string) => core.readNamespacedService({ name, namespace: "default" });
  const events = async (name: string): Promise<CoreV1Event[]> =>
    (
      await core.listNamespacedEvent({
        namespace: "default",
        fieldSelector: `involvedObject.name=${name}`,
      })
    ).items;
  const addressOf = (name: string) =>
    eventually(
      `an address for ${name}`,
      async () => {
        const svc = await read(name);
        const ip = svc.status?.loadBalancer?.ingress?.[0]?.ip;
        return { done: ip !== undefined, value: { ip, svc }, state: lines };
      },
      SETTLE_MS,
    );

  beforeAll(async () => {
    cluster = await startTestCluster();
    core = cluster.client(CoreV1Api);
    custom = cluster.client(CustomObjectsApi);
    await cluster.client(ApiextensionsV1Api).createCustomResourceDefinition({
      body: ipAddressPoolCrd() as never,
    });
    await core.createNamespace({ body: { metadata: { name: METALLB_NAMESPACE } } });
    await core.createNode({
      body: {
        metadata: { name: "worker-1", labels: { "kubernetes.io/hostname": "worker-1" } },
        status: { capacity: { cpu: "4", memory: "8Gi", pods: "110" } },
      },
    });
    play = playMetalLb({ kubeConfig: cluster.kubeConfig, log: (l) => lines.push(l) });
  }, START_MS);

  afterAll(async () => {
    await play?.loop.stop();
    await cluster?.stop();
  });

  it(
    "does nothing until MetalLB's controller pod is Ready",
    async () => {
      await eventually(
        "the IPAddressPool CRD served",
        async () => ({
          done: await custom
            .listNamespacedCustomObject({
              group: "metallb.io",
              version: "v1beta1",
              namespace: METALLB_NAMESPACE,
              plural: "ipaddresspools",
            })
            .then(
              () => true,
              () => false,
            ),
          value: true,
        }),
        SETTLE_MS,
      );
      await createPool("default", ["10.10.30.200-10.10.30.201"]);
      await core.createNamespacedService({ namespace: "default", body: service("early") });
      await play.loop.settled();
      expect((await read("early")).status?.loadBalancer?.ingress).toBeUndefined();
      expect(lines).toContain(
        `no Ready MetalLB controller pod in ${METALLB_NAMESPACE}: not acting`,
      );

      // The chart's controller pod, which kwok makes Ready.
      await core.createNamespacedPod({
        namespace: METALLB_NAMESPACE,
        body: {
          metadata: {
            name: "controller",
            labels: {
              "app.kubernetes.io/name": "metallb",
              "app.kubernetes.io/component": "controller",
            },
          },
          spec: {
            containers: [{ name: "controller", image: "quay.io/metallb/controller:v0.16.1" }],
          },
        },
      });
      const { ip, svc } = await addressOf("early");
      expect(ip).toBe("10.10.30.200");
      expect(svc.metadata?.annotations?.[ANN_ALLOCATED_FROM_POOL]).toBe("default");
      expect((await events("early")).map((e) => [e.type, e.reason, e.message])).toContainEqual([
        "Normal",
        "IPAllocated",
        'Assigned IP ["10.10.30.200"]',
      ]);
    },
    START_MS,
  );

  it(
    "gives a requested address only from a pool that holds it, and says why not",
    async () => {
      await createPool("fixed", ["10.10.30.240/32"], false);
      await core.createNamespacedService({
        namespace: "default",
        body: service("ingress", { "metallb.io/loadBalancerIPs": "10.10.30.240" }),
      });
      expect((await addressOf("ingress")).ip).toBe("10.10.30.240");

      await core.createNamespacedService({
        namespace: "default",
        body: service("outside", { "metallb.io/loadBalancerIPs": "10.10.30.99" }),
      });
      const refused = await eventually(
        "an AllocationFailed event for outside",
        async () => {
          const found = (await events("outside")).find((e) => e.reason === "AllocationFailed");
          return { done: found !== undefined, value: found, state: lines };
        },
        SETTLE_MS,
      );
      expect(refused?.type).toBe("Warning");
      expect(refused?.message).toBe(
        'Failed to allocate IP for "default/outside": ["10.10.30.99"] is not allowed in config',
      );
      expect(refused?.source?.component).toBe("metallb-controller");
      await play.loop.settled();
      expect((await read("outside")).status?.loadBalancer?.ingress).toBeUndefined();
    },
    START_MS,
  );

  it(
    "refuses a configuration MetalLB refuses, saying why, and assigns nothing meanwhile",
    async () => {
      await createPool("single", ["10.10.30.250"]);
      await core.createNamespacedService({ namespace: "default", body: service("late") });
      await play.loop.settled();
      expect(play.configurationError()).toContain('invalid CIDR "10.10.30.250" in pool "single"');
      expect((await read("late")).status?.loadBalancer?.ingress).toBeUndefined();
      await custom.deleteNamespacedCustomObject({
        group: "metallb.io",
        version: "v1beta1",
        namespace: METALLB_NAMESPACE,
        plural: "ipaddresspools",
        name: "single",
      });
      expect((await addressOf("late")).ip).toBe("10.10.30.201");
      expect(play.configurationError()).toBeUndefined();
    },
    START_MS,
  );

  it(
    "takes the address back when its pool is deleted",
    async () => {
      await custom.deleteNamespacedCustomObject({
        group: "metallb.io",
        version: "v1beta1",
        namespace: METALLB_NAMESPACE,
        plural: "ipaddresspools",
        name: "fixed",
      });
      const svc = await eventually(
        "ingress without an address",
        async () => {
          const s = await read("ingress");
          return { done: s.status?.loadBalancer?.ingress === undefined, value: s, state: s.status };
        },
        SETTLE_MS,
      );
      expect(svc.metadata?.annotations?.[ANN_ALLOCATED_FROM_POOL]).toBeUndefined();
      expect((await events("ingress")).map((e) => e.reason)).toContain("AllocationFailed");
    },
    START_MS,
  );
});
