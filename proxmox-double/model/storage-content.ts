/**
 * Files on file based storages (`import/`, `iso/`, `vztmpl/`): `query-url-metadata`,
 * `download-url` (a `download` task, as pve-storage's `API2/Storage/Status.pm` and
 * pve-common's `download_file_from_url` do it) and deleting a volume (an `imgdel` task).
 *
 * The double really fetches the URL, but only from loopback addresses: tests serve images
 * from a local HTTP server, and the double never sends traffic anywhere else.
 */
import { createHash } from "node:crypto";
import { request as httpRequest } from "node:http";
import type { IncomingHttpHeaders } from "node:http";
import { request as httpsRequest } from "node:https";

import { QCOW2_MAGIC } from "../qcow2";

import type { PveCluster } from "./cluster";
import { isTrue } from "./config-keys";
import { PveError, fail, paramError } from "./errors";
import type { Params, Task, Volume } from "./types";
import { BLOCK_STORAGES } from "./volumes";

/** The algorithms `download-url` accepts (its `checksum-algorithm` enum). */
const CHECKSUM_ALGORITHMS = ["md5", "sha1", "sha224", "sha256", "sha384", "sha512"] as const;
/** wget's default `--max-redirect`. */
const MAX_REDIRECTS = 20;
const FETCH_TIMEOUT_MS = 60_000;

/** pve-storage's filename rules per content type (`download_url`). */
const FILENAME_RULES: Readonly<Record<string, { re: RegExp; error: string }>> = {
  iso: { re: /[^/]+\.(?:iso|img)$/i, error: "wrong file extension" },
  vztmpl: { re: /[^/]+\.tar\.(gz|xz|zst|bz2)$/, error: "wrong file extension" },
  // SAFE_CHAR_CLASS_RE + UPLOAD_IMPORT_EXT_RE_1 (no .ovf: it cannot be uploaded alone)
  import: {
    re: /[a-zA-Z0-9\-.+=_]+\.(ova|qcow2|raw|vmdk)$/,
    error: "invalid filename or wrong extension",
  },
};

interface Fetched {
  readonly status: number;
  readonly statusText: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

/** The double's own limit: where it may send a request. */
function assertLoopback(url: URL): void {
  const host = url.hostname.replace(/^\[|\]$/g, "");
  if (host === "localhost" || host === "::1" || /^127(\.\d{1,3}){3}$/.test(host)) return;
  throw new PveError(
    501,
    `proxmox-double: fetches URLs from loopback addresses only (127.0.0.0/8, ::1, localhost), not '${url.hostname}'`,
  );
}

/** One HTTP(S) request to a loopback address, following redirects like wget (HEAD or GET). */
function fetchLoopback(url: string, method: "GET" | "HEAD", verify: boolean): Promise<Fetched> {
  const go = (target: URL, hops: number): Promise<Fetched> =>
    new Promise<Fetched>((resolvePromise, reject) => {
      assertLoopback(target);
      const request = target.protocol === "https:" ? httpsRequest : httpRequest;
      const req = request(
        target,
        { method, timeout: FETCH_TIMEOUT_MS, rejectUnauthorized: verify },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("error", reject);
          res.on("end", () => {
            const status = res.statusCode ?? 0;
            const location = res.headers.location;
            if (status >= 300 && status < 400 && location !== undefined && hops < MAX_REDIRECTS) {
              go(new URL(location, target), hops + 1).then(resolvePromise, reject);
              return;
            }
            resolvePromise({
              status,
              statusText: res.statusMessage ?? "",
              headers: res.headers,
              body: Buffer.concat(chunks),
            });
          });
        },
      );
      req.on("timeout", () => req.destroy(new Error("Read error (Connection timed out).")));
      req.on("error", reject);
      req.end();
    });
  try {
    return go(new URL(url), 0);
  } catch (e) {
    return Promise.reject(e);
  }
}

/** GET /nodes/{node}/query-url-metadata: a HEAD request, like pve-manager's handler. */
export async function queryUrlMetadata(
  c: PveCluster,
  node: string,
  params: Params,
): Promise<Record<string, unknown>> {
  c.node(node);
  const url = params.url;
  assertLoopback(new URL(url));
  let res: Fetched;
  try {
    res = await fetchLoopback(url, "HEAD", isTrue(params["verify-certificates"] ?? "1"));
  } catch (e) {
    if (e instanceof PveError) throw e;
    // LWP's status line when it cannot connect.
    throw fail(`invalid server response: '500 Can't connect to ${new URL(url).host}'`);
  }
  if (res.status !== 200) {
    throw fail(`invalid server response: '${res.status} ${res.statusText}'`);
  }
  const out: Record<string, unknown> = {};
  const disposition = res.headers["content-disposition"];
  const fromHeader =
    disposition !== undefined
      ? (/filename="([^"]*)"/.exec(disposition) ?? /filename=([^;]*)/.exec(disposition))
      : null;
  const fromUrl = /^[^?]+\/([^?/]*)(?:\?.*)?$/.exec(url);
  const filename = fromHeader?.[1] ?? fromUrl?.[1];
  if (filename) out.filename = filename;
  const size = Number(res.headers["content-length"] ?? 0);
  if (size) out.size = size;
  const type = res.headers["content-type"];
  if (type) out.mimetype = type.split(";")[0];
  return out;
}

/** `normalize_content_filename`: the last path component, unsafe characters as `_`. */
function normalizeFilename(name: string): string {
  return name
    .replace(/\n$/, "")
    .replace(/^.*[/\\]/, "")
    .replace(/[^a-zA-Z0-9_.-]/g, "_");
}

/** wget's `YYYY-MM-DD HH:MM:SS` in front of its `ERROR 404: Not Found.` line. */
function wgetTime(d: Date): string {
  const p = (n: number): string => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/**
 * What qemu-img would report for an untrusted image (`file_size_info(..., 1)` in the
 * upload's `assert_file_validity`): its virtual size, or the error that fails the task.
 */
function inspectImage(format: string | undefined, body: Buffer, tmp: string): number {
  const invalid = (why: string): Error => new Error(`failed to verify file: ${why}`);
  if (format === "qcow2") {
    if (body.length < 32 || body.readUInt32BE(0) !== QCOW2_MAGIC)
      throw invalid("failed to query file information with qemu-img");
    if (body.readBigUInt64BE(8) !== 0n)
      throw invalid(`backing file not allowed for untrusted image '${tmp}'!`);
    return Number(body.readBigUInt64BE(24));
  }
  if (format === "vmdk" && body.length >= 20 && body.toString("latin1", 0, 4) === "KDMV") {
    return Number(body.readBigUInt64LE(12)) * 512; // capacity in sectors
  }
  return body.length;
}

/** POST /nodes/{node}/storage/{storage}/download-url: the checks, then a `download` task. */
export function downloadUrl(c: PveCluster, node: string, storage: string, params: Params): string {
  c.node(node);
  const def = c.store.storageOn(node, storage);
  if (BLOCK_STORAGES.has(def.type))
    throw fail(`can't upload to storage type '${def.type}', not a file based storage!`);
  const content = params.content;
  if (!def.content.includes(content))
    throw fail(`storage '${storage}' is not configured for content-type '${content}'`);
  const filename = normalizeFilename(params.filename);
  const rule = FILENAME_RULES[content];
  const ext = rule.re.exec(filename);
  if (!ext) throw paramError({ filename: rule.error });
  const url = params.url;
  assertLoopback(new URL(url));

  const format = content === "import" ? ext[1] : content === "iso" ? "iso" : "tgz";
  const name = `${content}/${filename}`;
  const dest = c.store.filePath(def, name);
  const algorithm = params["checksum-algorithm"];
  const expected = params.checksum;
  const verify = isTrue(params["verify-certificates"] ?? "1");
  const compression = params.compression;

  return c.runner.startAsync({
    node,
    type: "download",
    id: filename, // encode_text() leaves normalized names as they are
    work: async (task: Task) => {
      if (compression !== undefined && content !== "iso")
        throw new Error(`decompression not supported for ${content}`);
      const log = task.log;
      log.push(`downloading ${url} to ${dest}`);
      const existing = c.store.get(node, `${storage}:${name}`);
      if (existing) {
        if (algorithm === undefined)
          throw new Error(`refusing to override existing file '${dest}'`);
        const got = existing.checksums?.[algorithm] ?? "";
        if (got === expected?.toLowerCase()) {
          log.push(
            "calculating checksum of existing file...OK, got correct file already, no need to download",
          );
          return;
        }
        log.push("calculating checksum of existing file...");
        throw new Error(`checksum mismatch: got '${got}' != expect '${expected}', aborting`);
      }
      const tmp = `${dest}.tmp_dwnl.${task.pid}`;
      let res: Fetched;
      try {
        res = await fetchLoopback(url, "GET", verify);
      } catch (e) {
        if (e instanceof PveError) throw new Error(e.message, { cause: e });
        const code = (e as NodeJS.ErrnoException).code;
        const where = new URL(url);
        const port = where.port || (where.protocol === "https:" ? "443" : "80");
        // wget's last line on stderr is what run_command's `errmsg` reports.
        throw new Error(
          code === "ECONNREFUSED"
            ? `download failed: Connecting to ${where.hostname}:${port}... failed: Connection refused.`
            : `download failed: ${(e as Error).message}`,
          { cause: e },
        );
      }
      if (res.status >= 400) {
        throw new Error(
          `download failed: ${wgetTime(new Date())} ERROR ${res.status}: ${res.statusText}.`,
        );
      }
      log.push(`${wgetTime(new Date())} (${res.body.length} bytes) - '${tmp}' saved`);
      const checksums = Object.fromEntries(
        CHECKSUM_ALGORITHMS.map((a) => [a, createHash(a).update(res.body).digest("hex")]),
      );
      if (algorithm !== undefined && expected !== undefined) {
        const got = checksums[algorithm];
        if (got !== expected.toLowerCase()) {
          log.push("calculating checksum...");
          throw new Error(`checksum mismatch: got '${got}' != expect '${expected}'`);
        }
        log.push("calculating checksum...OK, checksum verified");
      }
      const virtualSize = inspectImage(content === "import" ? format : undefined, res.body, tmp);
      if (task.status !== "running") return; // stopped meanwhile: the file is not kept
      const vol: Volume = {
        storage,
        scope: def.shared ? "*" : node,
        name,
        vmid: 0,
        size: res.body.length,
        ...(virtualSize !== res.body.length ? { virtualSize } : {}),
        checksums,
        format,
        content,
        ctime: Math.floor(Date.now() / 1000),
      };
      c.store.put(vol);
      log.push(`download of '${url}' to '${dest}' finished`);
    },
  });
}

/**
 * DELETE /nodes/{node}/storage/{storage}/content/{volume}: an `imgdel` task; with `delay`,
 * waits that many seconds for it and answers null when it ended well.
 */
export async function deleteVolume(
  c: PveCluster,
  node: string,
  storage: string | undefined,
  volume: string,
  delay: number | undefined,
): Promise<string | null> {
  c.node(node);
  let volid: string;
  let storeid: string;
  const m = /^([^:]+):(.+)$/.exec(volume);
  if (m) {
    if (storage !== undefined && m[1] !== storage)
      throw paramError({ volume: `storage ID mismatch (${m[1]} != ${storage})` });
    [volid, storeid] = [volume, m[1]];
  } else {
    if (storage === undefined) throw paramError({ volume: "no storage specified" });
    [volid, storeid] = [`${storage}:${volume}`, storage];
  }
  const def = c.store.storageOn(node, storeid);
  const vol = c.store.get(node, volid);
  const owner = vol && vol.vmid > 0 ? `${vol.vmid}@` : "";
  const upid = c.runner.start({
    node,
    type: "imgdel",
    id: `${owner}${storeid}`,
    work: () => {
      const now = c.store.get(node, volid);
      const lines: string[] = [];
      if (now) c.store.free(now);
      else {
        const name = volid.slice(storeid.length + 1);
        lines.push(`WARN: disk image '${c.store.filePath(def, name)}' does not exist`);
      }
      lines.push(`Removed volume '${volid}'`);
      return lines;
    },
  });
  if (delay === undefined) return upid;
  const task = c.task(node, upid);
  const until = Date.now() + delay * 1000;
  while (task.status === "running" && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 50));
  }
  if (task.status === "running") return upid;
  if (task.exitstatus === "OK" || task.exitstatus?.startsWith("WARNINGS")) return null;
  throw fail(task.exitstatus ?? "unknown error");
}
