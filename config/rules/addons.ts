/** Rules of the add-ons: MetalLB ranges, the ingress address, storage backends, the GPU Operator. */
import { show } from "../../errors/user-error";
import { formatIpRange, ipToInt, isOrdered, parseIpRange } from "../net";
import { gpuPools } from "../nodes";
import { storageBackendProblems } from "../storage-drivers";

import type { Rule } from "./context";

/** MetalLB's ranges lie in the node network; they are claimed. */
const metallbRanges: Rule = (c) =>
  c.config.addons.metallb?.addressPools.forEach((pool, i) =>
    pool.addresses.forEach((text, j) => {
      const path = `addons.metallb.addressPools[${i}].addresses[${j}]`;
      const range = parseIpRange(text);
      if (range && isOrdered(range) && c.inNodeNetwork(path, range, "MetalLB range"))
        c.claims.push({
          path,
          what: `MetalLB pool ${pool.name}'s range ${formatIpRange(range)}`,
          range,
          kind: "metallb",
        });
    }),
  );

const ingressNeedsMetallb: Rule = ({ config, err }) => {
  if (config.addons.ingress && !config.addons.metallb) {
    err(
      "addons.ingress",
      "an ingress controller needs a MetalLB address pool, or its LoadBalancer Service never gets an address; add addons.metallb.addressPools",
    );
  }
};

const retiredIngressNginx: Rule = ({ config, warn }) => {
  if (config.addons.ingress?.controller === "ingress-nginx") {
    warn(
      "addons.ingress.controller",
      "ingress-nginx was retired upstream in March 2026 and gets no more fixes; Traefik is recommended",
    );
  }
};

/** The ingress IP is claimed, and lies in a MetalLB range (of those inside the node network). */
const ingressAddress: Rule = (c) => {
  const ip = c.config.addons.ingress?.loadBalancerIp;
  if (ip === undefined) return;
  const value = ipToInt(ip);
  const inMetallb = c.claims.some(
    (claim) => claim.kind === "metallb" && value >= claim.range.first && value <= claim.range.last,
  );
  c.claims.push({
    path: "addons.ingress.loadBalancerIp",
    what: `the ingress IP ${ip}`,
    range: { first: value, last: value },
    kind: "ingress",
  });
  if (c.config.addons.metallb && !inMetallb) {
    c.err(
      "addons.ingress.loadBalancerIp",
      `${ip} is in no MetalLB address pool; pick an address from addons.metallb.addressPools`,
    );
  }
};

/** At most one default StorageClass, across every storage add-on. */
const oneDefaultStorageClass: Rule = ({ config, err }) => {
  const storage = config.addons.storage;
  const defaults = [
    ...(storage?.democraticCsi ?? []).flatMap((b, i) =>
      b.default ? [{ name: b.name, path: `addons.storage.democraticCsi[${i}].default` }] : [],
    ),
    ...(storage?.localPath?.default
      ? [{ name: "local-path", path: "addons.storage.localPath.default" }]
      : []),
  ];
  if (defaults.length > 1) {
    err(
      defaults[1].path,
      `${defaults.map((d) => d.name).join(" and ")} are both default StorageClasses; mark at most one default: true`,
    );
  }
};

const storageBackends: Rule = ({ config, err }) => {
  const names = new Set<string>();
  config.addons.storage?.democraticCsi.forEach((b, i) => {
    const at = `addons.storage.democraticCsi[${i}]`;
    if (names.has(b.name)) err(`${at}.name`, `${show(b.name)} is used twice; names must be unique`);
    names.add(b.name);
    for (const p of storageBackendProblems(b)) err(`${at}.${p.field}`, p.message);
  });
};

const gpuOperatorNeedsGpu: Rule = ({ config, err }) => {
  if (config.addons.gpuOperator?.enabled && gpuPools(config).length === 0) {
    err(
      "addons.gpuOperator.enabled",
      "the GPU Operator needs a node pool with a GPU; add gpu.mapping to a pool or disable it",
    );
  }
};

export const ADDON_RULES: readonly Rule[] = [
  metallbRanges,
  ingressNeedsMetallb,
  retiredIngressNginx,
  ingressAddress,
  oneDefaultStorageClass,
  storageBackends,
  gpuOperatorNeedsGpu,
];
