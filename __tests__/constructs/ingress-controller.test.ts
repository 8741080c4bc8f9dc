import { AnnotationMetadataEntryType, TerraformStack, Testing } from "cdktf";

import type { IngressControllerKind } from "../../constructs/ingress-controller";
import { IngressController } from "../../constructs/ingress-controller";
import { resolveChart } from "../../lib/charts";
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
  it("installs Traefik as the default IngressClass with its Service on the fixed address", () => {
    const r = release(build("traefik", "10.10.30.200"), "traefik");
    expect(r).toMatchObject({ chart: "traefik", version: "41.5.0", namespace: "traefik" });
    expect(r.timeout).toBeGreaterThanOrEqual(300);
    expect(r.wait).toBe(true);
    expect(r.parsedValues.ingressClass).toEqual({
      enabled: true,
      isDefaultClass: true,
      name: "traefik",
    });
    expect(r.parsedValues.service.spec.loadBalancerIP).toBe("10.10.30.200");
    expect(r.parsedValues.service.annotations).toEqual({
      "metallb.io/loadBalancerIPs": "10.10.30.200",
    });
  });

  it("leaves the address to MetalLB without loadBalancerIp", () => {
    const r = release(build("traefik"), "traefik");
    expect(r.parsedValues.service.spec).toEqual({});
    expect(r.parsedValues.service.annotations).toEqual({});
  });

  it("installs ingress-nginx with the fixed address on the controller Service", () => {
    const r = release(build("ingress-nginx", "192.168.100.240"), "ingress-nginx");
    expect(r).toMatchObject({ chart: "ingress-nginx", version: "4.15.1" });
    expect(r.parsedValues.controller.service).toMatchObject({
      type: "LoadBalancer",
      loadBalancerIP: "192.168.100.240",
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
});
