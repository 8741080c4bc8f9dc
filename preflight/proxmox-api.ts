/**
 * The Proxmox VE API as this project uses it, behind one interface (`ProxmoxApi`): GET for
 * the preflight checks, POST and the wait for a task for the adoption of VMs an interrupted
 * deploy left (scripts/adopt.ts), DELETE for snapshots (lib/proxmox/snapshots.ts).
 * `ProxmoxHttpsClient` is the one implementation, used with a real Proxmox, with the API
 * double in the tests and the demo; anything else that answers like the API (a fake in a
 * unit test) can stand in for it.
 */
import { request } from "node:https";

import type { ClusterConfig } from "../config/schema";
import { PROXMOX_ENV } from "../config/secrets";
import { issue, UserError } from "../errors/user-error";

/** What the checks, the adoption and the snapshots ask of Proxmox VE. */
export interface ProxmoxApi {
  /** `data` of a GET; an ApiError with the status and Proxmox's reason otherwise. */
  get<T>(path: string, query?: Record<string, string>): Promise<T>;
  /** `data` of a POST with form parameters (a task's UPID, for a task). */
  post<T>(path: string, params: Record<string, string>): Promise<T>;
  /**
   * Waits for the task `upid` on `node` to end; an ApiError with its exit status unless it
   * ended OK.
   */
  waitForTask(node: string, upid: string, timeoutMs?: number): Promise<void>;
  /** `data` of a DELETE, parameters in the query string (snapshots). */
  delete<T>(path: string, query?: Record<string, string>): Promise<T>;
}

/** What to do about an answer of the API, by its status (0: no answer at all). */
function fixFor(status: number): string {
  if (status === 401) return `check ${PROXMOX_ENV.token}: its user, token ID and secret`;
  if (status === 403) return "give the token the documented role (docs/proxmox.md)";
  if (status === 0) return "check proxmox.endpoint, that the host is up and port 8006 reachable";
  return "see the task log in the Proxmox UI";
}

/** The API refused or failed a request: a UserError naming the request, its status and reason. */
export class ApiError extends UserError {
  constructor(
    /** The HTTP status; 0 when nothing answered. */
    readonly status: number,
    /** Proxmox's reason (`401 authentication failure`), or why nothing answered. */
    readonly reason: string,
    /** The request, e.g. `GET /version`. */
    readonly request: string,
  ) {
    super([issue(`Proxmox VE API ${request}`, reason, fixFor(status))]);
    this.name = "ApiError";
  }
}

export interface ProxmoxApiOptions {
  /** `https://pve01.lan:8006/` (with or without the trailing slash). */
  readonly endpoint: string;
  /** `user@realm!tokenid=secret`, as PROXMOX_VE_API_TOKEN holds it. @default no credentials */
  readonly token?: string;
  /** Accept a self-signed certificate. @default false */
  readonly insecure?: boolean;
  /** @default 10000 */
  readonly timeoutMs?: number;
}

/** The API over HTTPS, with an API token (or no credentials at all). */
export class ProxmoxHttpsClient implements ProxmoxApi {
  private readonly base: URL;

  constructor(private readonly opts: ProxmoxApiOptions) {
    this.base = new URL(
      "api2/json/",
      opts.endpoint.endsWith("/") ? opts.endpoint : `${opts.endpoint}/`,
    );
  }

  get<T>(path: string, query: Record<string, string> = {}): Promise<T> {
    const url = new URL(path.replace(/^\//, ""), this.base);
    for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
    return this.send<T>("GET", url);
  }

  post<T>(path: string, params: Record<string, string>): Promise<T> {
    const url = new URL(path.replace(/^\//, ""), this.base);
    return this.send<T>("POST", url, new URLSearchParams(params).toString());
  }

  /** `data` of a DELETE, parameters in the query string like Proxmox's clients send them. */
  delete<T>(path: string, query: Record<string, string> = {}): Promise<T> {
    const url = new URL(path.replace(/^\//, ""), this.base);
    for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
    return this.send<T>("DELETE", url);
  }

  async waitForTask(node: string, upid: string, timeoutMs = 15 * 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const path = `/nodes/${node}/tasks/${encodeURIComponent(upid)}/status`;
    for (;;) {
      const task = await this.get<{ status: string; exitstatus?: string }>(path);
      if (task.status === "stopped") {
        if (task.exitstatus === "OK") return;
        throw new ApiError(
          500,
          `task ${upid} failed: ${task.exitstatus ?? "no exit status"}`,
          `task ${upid}`,
        );
      }
      if (Date.now() > deadline)
        throw new ApiError(0, `task ${upid} still running after ${timeoutMs / 1000} s`, path);
      await new Promise((r) => setTimeout(r, 1000));
    }
  }

  private send<T>(method: "GET" | "POST" | "DELETE", url: URL, body?: string): Promise<T> {
    const what = `${method} ${url.pathname.replace(this.base.pathname, "/")}`;
    return new Promise<T>((resolve, reject) => {
      const req = request(
        url,
        {
          method,
          rejectUnauthorized: !(this.opts.insecure ?? false),
          headers: {
            ...(this.opts.token ? { Authorization: `PVEAPIToken=${this.opts.token}` } : {}),
            ...(body === undefined
              ? {}
              : {
                  "Content-Type": "application/x-www-form-urlencoded",
                  "Content-Length": String(Buffer.byteLength(body)),
                }),
          },
          timeout: this.opts.timeoutMs ?? 10_000,
        },
        (res) => {
          let body = "";
          res.setEncoding("utf8");
          res.on("data", (d: string) => (body += d));
          res.on("end", () => {
            const status = res.statusCode ?? 0;
            if (status >= 200 && status < 300) {
              try {
                resolve((JSON.parse(body) as { data: T }).data);
              } catch {
                reject(
                  new ApiError(status, `not a Proxmox VE API answer from ${url.origin}`, what),
                );
              }
              return;
            }
            // Proxmox puts its reason in the status line (`401 authentication failure`).
            reject(new ApiError(status, `${status} ${res.statusMessage ?? ""}`.trim(), what));
          });
        },
      );
      req.on("timeout", () =>
        req.destroy(new Error(`no answer within ${this.opts.timeoutMs ?? 10_000} ms`)),
      );
      req.on("error", (e) => reject(new ApiError(0, e.message, what)));
      req.end(body);
    });
  }
}

/** The client of the definition's Proxmox VE cluster, with the deploy's token. */
export function proxmoxApiOf(config: ClusterConfig, env: NodeJS.ProcessEnv): ProxmoxApi {
  return new ProxmoxHttpsClient({
    endpoint: config.proxmox.endpoint,
    token: env[PROXMOX_ENV.token],
    insecure: config.proxmox.insecure,
  });
}
