/**
 * Cloud images for the e2e suites: a small qcow2 file, its checksum, and a loopback HTTP
 * server that the Proxmox VE double downloads them from.
 */
import { createHash } from "node:crypto";
import { createServer } from "node:http";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";

import { qcow2Image } from "../../../proxmox-double/qcow2";

/** An empty 3 GiB qcow2 image; the payload tells images apart. */
export const qcow2 = (payload: string): Buffer => qcow2Image(3 * 1024 ** 3, { payload });

export const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

/** Serves `files` by path on 127.0.0.1, counting the GETs of each. */
export async function imageServer(files: Record<string, Buffer>) {
  const gets = new Map<string, number>();
  const server: Server = createServer((req, res) => {
    const file = files[req.url ?? ""];
    if (file === undefined) {
      res.writeHead(404, "Not Found").end();
      return;
    }
    if (req.method === "GET") gets.set(req.url!, (gets.get(req.url!) ?? 0) + 1);
    res.writeHead(200, {
      "Content-Type": "application/octet-stream",
      "Content-Length": String(file.length),
    });
    res.end(req.method === "HEAD" ? undefined : file);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { server, base, gets };
}
