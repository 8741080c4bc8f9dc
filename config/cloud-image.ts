/**
 * What the files of `proxmox.template.image` are called: the name the definition gives the
 * image, and the name it is kept under on each host's datastore. Which templates are made
 * from it, with which VM IDs and on which hosts, is the node model's (config/nodes.ts).
 */
import type { ChecksumAlgorithm, CloudImage } from "./schema";
import { CHECKSUM_HEX_LENGTH } from "./schema";

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

/** What is wrong with a checksum for its algorithm (`problem; fix`), or undefined. */
export function checksumProblem(
  checksum: string,
  algorithm: ChecksumAlgorithm,
): string | undefined {
  const want = CHECKSUM_HEX_LENGTH[algorithm];
  return checksum.length === want
    ? undefined
    : `${checksum.length} hex digits, but a ${algorithm} checksum has ${want}; copy the image's line of its ${algorithm.toUpperCase()}SUMS file, or fix checksumAlgorithm`;
}
