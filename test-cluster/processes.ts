/**
 * The processes of a test cluster: each component's output kept in its own log file, its
 * exit noticed, health endpoints polled with a deadline, and free loopback ports.
 */
import type { ChildProcess } from "node:child_process";
import { spawn } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import type { IncomingMessage } from "node:http";
import { get as httpGet } from "node:http";
import { request as httpsRequest } from "node:https";
import type { AddressInfo } from "node:net";
import { createServer } from "node:net";

/** A component of the cluster, started from a binary; its output goes to `log`. */
export class Component {
  private exit?: { code: number | null; signal: NodeJS.Signals | null };
  private readonly exited: Promise<void>;

  private constructor(
    readonly name: string,
    readonly log: string,
    private readonly child: ChildProcess,
  ) {
    this.exited = new Promise((resolve) => {
      child.on("exit", (code, signal) => {
        this.exit = { code, signal };
        resolve();
      });
      child.on("error", (e) => {
        this.exit = { code: null, signal: null };
        this.error = e;
        resolve();
      });
    });
  }

  private error?: Error;

  static start(name: string, command: string, args: readonly string[], log: string): Component {
    const fd = openSync(log, "a");
    try {
      const child = spawn(command, [...args], { stdio: ["ignore", fd, fd] });
      return new Component(name, log, child);
    } finally {
      closeSync(fd);
    }
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Whether it is still running. */
  get running(): boolean {
    return this.exit === undefined;
  }

  /** "exited with code 1", "was killed by SIGKILL", "could not start: ...". */
  describeExit(): string {
    if (this.error) return `could not start: ${this.error.message}`;
    if (this.exit === undefined) return "is running";
    return this.exit.signal
      ? `was killed by ${this.exit.signal}`
      : `exited with code ${this.exit.code}`;
  }

  /** The last `lines` lines of its log. */
  tail(lines = 40): string {
    let text: string;
    try {
      text = readFileSync(this.log, "utf8");
    } catch {
      return "(no log)";
    }
    return text.trimEnd().split("\n").slice(-lines).join("\n");
  }

  /** SIGKILL at once (when the test process exits without stopping the cluster). */
  kill(): void {
    if (this.running) this.child.kill("SIGKILL");
  }

  /** SIGTERM, then SIGKILL once `graceMs` have passed; resolves when it has exited. */
  async stop(graceMs = 10_000): Promise<void> {
    if (!this.running) return;
    this.child.kill("SIGTERM");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}

/** Thrown when a component stops during start-up, or does not become healthy in time. */
export class ComponentError extends Error {
  constructor(component: Component, problem: string) {
    super(
      `test cluster: ${component.name} ${problem} (log: ${component.log}); its last lines:\n` +
        component.tail(),
    );
    this.name = "ComponentError";
  }
}

/** A port on 127.0.0.1 that nothing listens on right now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** TLS material for an HTTPS health check: the CA, and a client certificate if needed. */
export interface TlsFiles {
  readonly ca: string;
  readonly cert?: string;
  readonly key?: string;
}

/** GETs a health endpoint; resolves to its status and body, or undefined if unreachable. */
export function probe(
  url: string,
  tls?: TlsFiles,
): Promise<{ status: number; body: string } | undefined> {
  return new Promise((resolve) => {
    const onResponse = (res: IncomingMessage) => {
      let body = "";
      res.on("data", (d: Buffer) => (body += d.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      res.on("error", () => resolve(undefined));
    };
    const req = tls
      ? httpsRequest(
          url,
          {
            ca: readFileSync(tls.ca),
            ...(tls.cert && tls.key
              ? { cert: readFileSync(tls.cert), key: readFileSync(tls.key) }
              : {}),
            timeout: 5_000,
          },
          onResponse,
        )
      : httpGet(url, { timeout: 5_000 }, onResponse);
    req.on("error", () => resolve(undefined));
    req.on("timeout", () => req.destroy());
    if (tls) req.end();
  });
}

/**
 * Polls `check` until it returns true, failing as soon as a watched component exits, or
 * with `what` once `deadline` (epoch ms) has passed.
 */
export async function waitUntil(
  what: string,
  check: () => Promise<boolean>,
  deadline: number,
  watched: readonly Component[],
  intervalMs = 200,
): Promise<void> {
  for (;;) {
    const dead = watched.find((c) => !c.running);
    if (dead) throw new ComponentError(dead, `${dead.describeExit()} while waiting for ${what}`);
    if (await check()) return;
    if (Date.now() > deadline) {
      const last = watched[watched.length - 1];
      throw last
        ? new ComponentError(last, `did not get ready in time: no ${what}`)
        : new Error(`test cluster: no ${what} in time`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
