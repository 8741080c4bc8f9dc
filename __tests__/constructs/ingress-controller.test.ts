import { AnnotationMetadataEntryType, TerraformStack, Testing } from "cdktf";

import type { IngressControllerKind } from "../../config/schema";
import { IngressController } from "../../constructs/ingress-controller";
import { CHARTS, resolveChart } from "../../lib/charts";
import { release } from "../support/releases";

function build(controller: IngressControllerKind, loadBalancerIp?: string) {
  return Testing.synthScope((scope) => {
    new IngressController(scope, "Ingress", {
      controller,
      chart: resolveChart(controller, undefined),
      loadBalancerIp,
    });
  });
}

describe("IngressController", () => {
  it("installs Traefik as the default IngressClass, its address from MetalLB's annotation alone", () => {
    const r = release(build("traefik", "10.10.30.200"), "traefik");
    expect(r).toMatchObject({
      chart: "traefik",
      version: CHARTS.traefik.version,
      namespace: "traefik",
    });
    expect(r.timeout).toBeGreaterThanOrEqual(300);
    expect(r.wait).toBe(true);
    expect(r.parsedValues.ingressClass).toEqual({
      enabled: true,
      isDefaultClass: true,
      name: "traefik",
    });
    // MetalLB refuses a Service with both the annotation and spec.loadBalancerIP.
    expect(r.parsedValues.service).toEqual({
      annotations: { "metallb.io/loadBalancerIPs": "10.10.30.200" },
      spec: { type: "LoadBalancer" },
    });
  });

  it("leaves the address to MetalLB without loadBalancerIp", () => {
    const r = release(build("traefik"), "traefik");
    expect(r.parsedValues.service).toEqual({ spec: { type: "LoadBalancer" } });
  });

  it("installs ingress-nginx with the fixed address in MetalLB's annotation alone", () => {
    const r = release(build("ingress-nginx", "192.168.100.240"), "ingress-nginx");
    expect(r).toMatchObject({ chart: "ingress-nginx", version: CHARTS["ingress-nginx"].version });
    expect(r.parsedValues.controller.service).toEqual({
      type: "LoadBalancer",
      annotations: { "metallb.io/loadBalancerIPs": "192.168.100.240" },
    });
    expect(r.parsedValues.controller.ingressClassResource).toEqual({
      name: "nginx",
      default: true,
    });
  });

  it("warns that ingress-nginx is retired upstream, and only for it", () => {
    const warnings = (controller: IngressControllerKind) => {
      const stack = new TerraformStack(Testing.app(), "s");
      new IngressController(stack, "Ingress", {
        controller,
        chart: resolveChart(controller, undefined),
      });
      return stack.node
        .findAll()
        .flatMap((c) => c.node.metadata)
        .filter((m) => m.type === AnnotationMetadataEntryType.WARN)
        .map((m) => String(m.data));
    };
    expect(warnings("ingress-nginx").join("\n")).toMatch(/retired upstream/);
    expect(warnings("traefik")).toEqual([]);
  });

  it("rejects a load balancer address that is no IPv4 address", () => {
    expect(() => build("traefik", "10.10.30.300")).toThrow(
      'stack/Ingress.loadBalancerIp: "10.10.30.300" is not an IPv4 address; give one of a MetalLB pool, as a.b.c.d',
    );
  });
});
