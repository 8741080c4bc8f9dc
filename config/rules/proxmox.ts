/** Rules of the Proxmox section: its hosts, this cluster's VM ID blocks and the template. */
import { show } from "../../errors/user-error";
import { checksumProblem, imageBaseName } from "../cloud-image";
import { overlaps } from "../net";
import { clusterVmIdBlocks, imageTemplateName, templateVmIds } from "../nodes";
import { IMPORT_FILE_NAME, PROXMOX_MAX_VMID } from "../schema";

import type { Rule } from "./context";

const hostsOnce: Rule = ({ config, err }) =>
  config.proxmox.hosts.forEach((h, i) => {
    if (config.proxmox.hosts.indexOf(h) !== i)
      err(`proxmox.hosts[${i}]`, `${show(h)} is listed twice; list each node once`);
  });

const vmIdsInRange: Rule = (c) => {
  const { last } = clusterVmIdBlocks(c.config);
  if (last > PROXMOX_MAX_VMID) {
    c.err(
      "proxmox.vmIdStart",
      `the VM ID blocks end at ${last}, above Proxmox's maximum ${PROXMOX_MAX_VMID}; lower vmIdStart or vmIdsPerPool`,
    );
  }
};

const templateOutsideCluster: Rule = (c) => {
  const cluster = clusterVmIdBlocks(c.config);
  const templates = templateVmIds(c.config);
  if (overlaps(templates, cluster)) {
    const ids =
      templates.last === templates.first
        ? `template ${templates.first} lies`
        : `the templates' VM IDs ${templates.first}-${templates.last} (one per host) lie`;
    c.err(
      "proxmox.template.vmId",
      `${ids} inside this cluster's VM IDs ${cluster.first}-${cluster.last}; move vmIdStart`,
    );
  } else if (templates.last > PROXMOX_MAX_VMID) {
    c.err(
      "proxmox.template.vmId",
      `the templates' VM IDs end at ${templates.last}, above Proxmox's maximum ${PROXMOX_MAX_VMID}; lower vmId`,
    );
  }
};

/** With `image`, every host gets its own template: a single template's settings do not apply. */
const imageAlone: Rule = (c) => {
  const { template } = c.config.proxmox;
  if (template.image === undefined) return;
  for (const key of ["node", "storage"] as const) {
    if (template[key] !== undefined)
      c.err(
        `proxmox.template.${key}`,
        `${show(template[key])} is not used with proxmox.template.image: each host gets a template of its own on proxmox.datastore; remove it`,
      );
  }
};

const imageChecksum: Rule = (c) => {
  const image = c.config.proxmox.template.image;
  if (image === undefined) return;
  const problem = checksumProblem(image.checksum, image.checksumAlgorithm);
  if (problem !== undefined) c.err("proxmox.template.image.checksum", problem);
};

const imageFile: Rule = (c) => {
  const image = c.config.proxmox.template.image;
  if (image === undefined || image.fileName !== undefined) return;
  const name = imageBaseName(image);
  if (!IMPORT_FILE_NAME.test(name))
    c.err(
      "proxmox.template.image.url",
      `the file name it ends in, ${show(name)}, is not one Proxmox imports a disk from (.qcow2, .raw or .vmdk); set proxmox.template.image.fileName, e.g. ${show(`${name.replace(/\.[^.]*$/, "") || "image"}.qcow2`)} for a qcow2 image`,
    );
};

const templateNames: Rule = (c) => {
  if (c.config.proxmox.template.image === undefined) return;
  c.config.proxmox.hosts.forEach((host, i) => {
    const name = imageTemplateName(c.config.name, host);
    if (name.length > 63)
      c.err(
        `proxmox.hosts[${i}]`,
        `the template name ${JSON.stringify(name)} is ${name.length} characters, longer than 63; shorten the cluster name or the host's`,
      );
  });
};

export const PROXMOX_RULES: readonly Rule[] = [
  hostsOnce,
  vmIdsInRange,
  templateOutsideCluster,
  imageAlone,
  imageChecksum,
  imageFile,
  templateNames,
];
