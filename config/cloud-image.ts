/**
 * What `proxmox.template` implies, used by the rules here, the node model (lib/topology.ts)
 * and preflight: which template a node is cloned from, and, with `image`, the templates the
 * vms stack makes (one per host that runs a node, on that host) and the image's file name.
 */
import type { CloudImage, ClusterConfig } from "./schema";

/** A template and the host it lives on. */
export interface TemplateRef {
  readonly vmId: number;
  readonly node: string;
}

/**
 * VM ID of the template made on `host`: `template.vmId` plus the host's position in
 * `proxmox.hosts`, so it never changes while hosts are only appended.
 */
export function imageTemplateVmId(config: ClusterConfig, host: string): number {
  return config.proxmox.template.vmId + config.proxmox.hosts.indexOf(host);
}

/** The highest VM ID the templates can take. */
export function lastTemplateVmId(config: ClusterConfig): number {
  const { template, hosts } = config.proxmox;
  return template.image === undefined ? template.vmId : template.vmId + hosts.length - 1;
}

/**
 * The template a node on `host` is cloned from: with `image`, the one on its own host (a
 * full clone onto local storage never leaves the host); otherwise the one template.
 */
export function templateFor(config: ClusterConfig, host: string): TemplateRef {
  const { template, hosts } = config.proxmox;
  return template.image === undefined
    ? { vmId: template.vmId, node: template.node ?? hosts[0] }
    : { vmId: imageTemplateVmId(config, host), node: host };
}

/** The name the definition gives the image: `fileName`, else the URL's last path segment. */
export function imageBaseName(image: CloudImage): string {
  return image.fileName ?? new URL(image.url).pathname.split("/").pop() ?? "";
}

/**
 * The name the image is kept under on its datastore (`<datastore>:import/<name>`): the
 * base name with the checksum's first 12 digits before the extension. A new image thus
 * never meets the old file, which Proxmox may still be deleting (the provider does not wait
 * for that) and would otherwise check the new checksum against ("checksum mismatch").
 */
export function imageFileName(image: CloudImage): string {
  const base = imageBaseName(image);
  const dot = base.lastIndexOf(".");
  const tag = image.checksum.slice(0, 12).toLowerCase();
  return dot <= 0 ? `${base}-${tag}` : `${base.slice(0, dot)}-${tag}${base.slice(dot)}`;
}

/** The name of the template made on `host`. */
export function imageTemplateName(clusterName: string, host: string): string {
  return `${clusterName}-template-${host}`;
}
