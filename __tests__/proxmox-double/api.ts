/** A tiny HTTPS client for the double's API, for tests. */
import { request } from "node:https";

import type { ProxmoxDouble } from "../../proxmox-double";

export interface ApiResponse {
  readonly status: number;
  readonly statusMessage: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON of many shapes
  readonly body: any;
}

export type ApiParams = Record<string, string | number | boolean>;

function encode(params: ApiParams): string {
  return new URLSearchParams(
    Object.entries(params).map(([k, v]): [string, string] => [
      k,
      typeof v === "boolean" ? (v ? "1" : "0") : String(v),
    ]),
  ).toString();
}

/**
 * Calls `/api2/json/<path>` like the provider does: query string for GET/DELETE, form body
 * otherwise, the double's token unless `token` is given (`null`: no Authorization header).
 */
export function api(
  double: ProxmoxDouble,
  method: string,
  path: string,
  params: ApiParams = {},
  token: string | null = double.token,
): Promise<ApiResponse> {
  const form = encode(params);
  const inQuery = method === "GET" || method === "DELETE";
  const url = new URL(`api2/json/${path.replace(/^\//, "")}`, double.endpoint);
  if (inQuery && form !== "") url.search = form;
  return raw(double, method, url.pathname + url.search, inQuery ? undefined : form, token);
}

/** A request to any path of the double (the control API under `/_double/` included). */
export function raw(
  double: ProxmoxDouble,
  method: string,
  path: string,
  body?: string,
  token: string | null = null,
  contentType = "application/x-www-form-urlencoded",
): Promise<ApiResponse> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { Accept: "application/json" };
    if (token !== null) headers.Authorization = `PVEAPIToken=${token}`;
    if (body !== undefined) {
      headers["Content-Type"] = contentType;
      headers["Content-Length"] = String(Buffer.byteLength(body));
    }
    const req = request(
      { host: "127.0.0.1", port: double.port, method, path, headers, ca: double.certificate },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            // not JSON: keep the text
          }
          resolve({
            status: res.statusCode ?? 0,
            statusMessage: res.statusMessage ?? "",
            body: parsed,
          });
        });
      },
    );
    req.on("error", reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

/** `data` of a successful call; throws with the status line otherwise. */
export async function data(
  double: ProxmoxDouble,
  method: string,
  path: string,
  params: ApiParams = {},
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON of many shapes
): Promise<any> {
  const res = await api(double, method, path, params);
  if (res.status !== 200) throw new Error(`${method} ${path}: ${res.status} ${res.statusMessage}`);
  return res.body.data;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls a task until it stops, like the provider (but faster); returns its status. */
export async function waitTask(
  double: ProxmoxDouble,
  upid: string,
  timeoutMs = 5000,
): Promise<{ status: string; exitstatus: string; type: string }> {
  const node = upid.split(":")[1];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = await data(
      double,
      "GET",
      `nodes/${node}/tasks/${encodeURIComponent(upid)}/status`,
    );
    if (status.status === "stopped") return status;
    if (Date.now() > deadline) throw new Error(`task ${upid} still running after ${timeoutMs} ms`);
    await sleep(20);
  }
}

/** Polls until `check` holds (the double acts in rounds: agents boot, the HA manager runs). */
export async function until(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(20);
  }
}
