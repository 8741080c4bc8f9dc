import type { Release } from "@cdktf/provider-helm/lib/release";
import type { ITerraformDependable } from "cdktf";
import { Annotations, Token } from "cdktf";
import { Construct } from "constructs";

import { isIpv4 } from "../config/net";
import type { IngressControllerKind } from "../config/schema";
import { UserError } from "../errors/user-error";
import type { ChartSource } from "../lib/charts";

import { AddonNamespace } from "./addon-namespace";
import { AddonRelease } from "./addon-release";

export interface IngressControllerProps {
  readonly controller: IngressControllerKind;
  /** The controller's chart (`resolveChart(controller, ...)`). */
  readonly chart: ChartSource;
  /** Fixed address of the LoadBalancer Service, from a MetalLB pool. @default any pool address */
  readonly loadBalancerIp?: string;
  /** Installed first: MetalLB's pools, so that the Service gets an address. @default nothing */
  readonly dependsOn?: readonly ITerraformDependable[];
  /** Where it runs. @default - a namespace of its own, named after the controller */
  readonly namespace?: AddonNamespace;
}

/** The IngressClass name each controller registers (and is the default class). */
export const INGRESS_CLASS: Record<IngressControllerKind, string> = {
  traefik: "traefik",
  "ingress-nginx": "nginx",
};

/**
 * The ingress controller: Traefik (recommended) or ingress-nginx (retired upstream), the
 * default IngressClass, behind a MetalLB LoadBalancer Service.
 */
export class IngressController extends Construct {
  public readonly release: Release;
  public readonly namespace: AddonNamespace;
  /** IngressClass to use in Ingresses and ACME HTTP-01 solvers. */
  public readonly ingressClassName: string;

  constructor(scope: Construct, id: string, props: IngressControllerProps) {
    super(scope, id);
    this.ingressClassName = INGRESS_CLASS[props.controller];
    this.namespace =
      props.namespace ?? new AddonNamespace(this, "Namespace", { name: props.controller });
    const ip = props.loadBalancerIp;
    if (ip !== undefined && !Token.isUnresolved(ip) && !isIpv4(ip))
      throw UserError.prop(
        this,
        "loadBalancerIp",
        `${JSON.stringify(ip)} is not an IPv4 address; give one of a MetalLB pool, as a.b.c.d`,
      );
    // The address comes from MetalLB's annotation alone: MetalLB refuses a Service that has
    // both it and the deprecated spec.loadBalancerIP ("service can not have both ...").
    const annotations =
      ip === undefined ? {} : { annotations: { "metallb.io/loadBalancerIPs": ip } };
    let values: Record<string, unknown>;
    if (props.controller === "traefik") {
      values = {
        ingressClass: { enabled: true, isDefaultClass: true, name: this.ingressClassName },
        providers: { kubernetesIngress: { publishedService: { enabled: true } } },
        // The chart merges service.spec into the Service's spec.
        service: { ...annotations, spec: { type: "LoadBalancer" } },
      };
    } else {
      Annotations.of(this).addWarning(
        "ingress-nginx was retired upstream in March 2026 and gets no more fixes, not even for security issues; Traefik is recommended (addons.ingress.controller: traefik)",
      );
      values = {
        controller: {
          ingressClassResource: { name: this.ingressClassName, default: true },
          service: { type: "LoadBalancer", ...annotations },
        },
      };
    }
    this.release = new AddonRelease(this, "Resource", {
      name: props.controller,
      namespace: this.namespace.name,
      chart: props.chart,
      values,
      // Helm waits until the LoadBalancer Service has its address: a stuck MetalLB fails here.
      wait: true,
      timeoutSeconds: 600,
      dependsOn: [this.namespace.release, ...(props.dependsOn ?? [])],
    }).release;
  }
}
