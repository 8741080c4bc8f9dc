/**
 * qcow2 images as far as the double reads them (the header that `qemu-img info` checks:
 * magic, version 3, backing file, virtual size), for tests and for trying templates from a
 * cloud image without downloading one:
 *
 *   npx tsx proxmox-double/qcow2.ts /tmp/images/debian-13-genericcloud-amd64.qcow2 3
 *
 * writes an empty image with a virtual size of 3 GiB (what `qemu-img create -f qcow2 ... 3G`
 * would, where qemu-img is not installed).
 */
import { writeFileSync } from "node:fs";

/** "QFI\xfb" */
export const QCOW2_MAGIC = 0x514649fb;
const HEADER_BYTES = 65_536;
/** Where `payload` is written: after the header, so images with the same size differ. */
const PAYLOAD_OFFSET = 4096;

export interface Qcow2Options {
  /** A backing file in the header, which Proxmox refuses in a downloaded image. @default false */
  readonly backing?: boolean;
  /** Bytes that tell two images of the same size apart (and their checksums). @default - none */
  readonly payload?: string;
}

/** A qcow2 image of `virtualSize` bytes with no data in it. */
export function qcow2Image(virtualSize: number, opts: Qcow2Options = {}): Buffer {
  const b = Buffer.alloc(HEADER_BYTES);
  b.writeUInt32BE(QCOW2_MAGIC, 0);
  b.writeUInt32BE(3, 4); // version
  if (opts.backing) {
    b.writeBigUInt64BE(4096n, 8); // backing_file_offset
    b.writeUInt32BE(12, 16); // backing_file_size
  }
  b.writeUInt32BE(16, 20); // cluster_bits: 64 KiB clusters
  b.writeBigUInt64BE(BigInt(virtualSize), 24);
  if (opts.payload !== undefined) b.write(opts.payload, PAYLOAD_OFFSET);
  return b;
}

if (require.main === module) {
  const [file, gib] = process.argv.slice(2);
  const size = Number(gib);
  if (file === undefined || !Number.isInteger(size) || size < 1) {
    process.stderr.write("usage: npx tsx proxmox-double/qcow2.ts FILE SIZE_IN_GIB\n");
    process.exit(2);
  }
  writeFileSync(file, qcow2Image(size * 1024 ** 3));
  process.stdout.write(`wrote ${file}: qcow2, virtual size ${size} GiB\n`);
}
