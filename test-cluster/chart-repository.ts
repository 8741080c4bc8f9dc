/**
 * A Helm chart repository on loopback, as an air-gapped site mirrors one: a folder of
 * packaged upstream charts (`UPSTREAM_CHARTS`, default `../shared/charts`: an `index.yaml`
 * and the `.tgz` files it names, by relative URL) served over plain HTTP on 127.0.0.1, for
 * definitions whose `addons.chartOverrides.<chart>.repository` point at it. The add-ons e2e
 * and `npm run demo` install the add-ons onto a test cluster from it.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import type { Server } from "node:http";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";

import { CHART_NAMES } from "../config/chart-names";
import { UserError } from "../errors/user-error";

/** A definition as written (before validation): only its `addons` are read here. */
interface Definition {
  addons?: { chartOverrides?: unknown; [field: string]: unknown };
}

export class ChartRepository {
  /** Every request served, as `GET /index.yaml 200`. */
  readonly requests: string[] = [];
  private readonly server: Server;
  private readonly files: Set<string>;
  /** `http://127.0.0.1:<port>` once started. */
  url = "";

  private constructor(private readonly dir: string) {
    if (!existsSync(join(dir, "index.yaml")))
      throw UserError.at(
        join(dir, "index.yaml"),
        "is missing",
        "set UPSTREAM_CHARTS to a folder of packaged charts and their index.yaml",
      );
    this.files = new Set(readdirSync(dir).filter((f) => f === "index.yaml" || f.endsWith(".tgz")));
    this.server = createServer((req, res) => {
      const name = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname.slice(1));
      const status = req.method === "GET" && this.files.has(name) ? 200 : 404;
      this.requests.push(`${req.method} /${name} ${status}`);
      if (status !== 200) {
        res.writeHead(status).end();
        return;
      }
      const type = name.endsWith(".tgz") ? "application/gzip" : "text/yaml";
      res.writeHead(200, { "Content-Type": type }).end(readFileSync(join(this.dir, name)));
    });
  }

  /**
   * Serves `dir` (its index.yaml and .tgz files, nothing else) on a free loopback port:
   * `chartsDirFromEnvironment()` (lib/environment.ts) for the pinned charts.
   */
  static async start(dir: string): Promise<ChartRepository> {
    const repo = new ChartRepository(dir);
    await new Promise<void>((resolve) => repo.server.listen(0, "127.0.0.1", resolve));
    repo.url = `http://127.0.0.1:${(repo.server.address() as AddressInfo).port}`;
    return repo;
  }

  /**
   * `definition` with every third-party chart taken from this repository (chart name and
   * version stay pinned), as docs/addons.md's air-gapped install does. Local paths win.
   */
  mirror<T extends Definition>(definition: T): T {
    const copy = structuredClone(definition);
    copy.addons ??= {};
    const overrides = (copy.addons.chartOverrides ?? {}) as Record<string, Record<string, string>>;
    copy.addons.chartOverrides = Object.fromEntries(
      CHART_NAMES.map((name) => [name, { ...overrides[name], repository: this.url }]),
    );
    return copy;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
