/**
 * `npm run destroy` of the addons stack needs no chart: with the real OpenTofu and the real
 * helm provider, a teardown goes through when the charts' repository cannot be reached.
 * OpenTofu's destroy refreshes a state that is not empty with a normal plan first, and the
 * helm provider's plan of a release locates its chart (`Error locating chart`, once per
 * release the chain starts with); scripts/cdktf.sh destroys without that refresh.
 */
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import type { Server } from "node:http";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { CHART_NAMES } from "../../config/chart-names";
import { parseClusterConfig } from "../../config/load";
import { secretVariables } from "../../config/secrets";
import { homelab } from "../fixtures/definitions";
import { UPSTREAM_CHARTS } from "../support/helm";
import { toolchainEnv, toolPath } from "../support/toolchain";

import type { E2eEnvironment } from "./support/harness";
import { describeE2e, expectSuccess, run, startEnvironment } from "./support/harness";

/** A Helm repository on loopback serving the upstream charts; `stop()` makes it unreachable. */
async function chartRepository(): Promise<{ url: string; stop: () => Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), "chart-repo-"));
  for (const f of readdirSync(UPSTREAM_CHARTS).filter((f) => f.endsWith(".tgz")))
    copyFileSync(join(UPSTREAM_CHARTS, f), join(dir, f));
  const server: Server = createServer((req, res) => {
    const name = (req.url ?? "/").split("?")[0].replace(/^\/+/, "");
    if (/^[\w.-]+$/.test(name) && readdirSync(dir).includes(name))
      res.writeHead(200).end(readFileSync(join(dir, name)));
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  // The index, written by the real helm CLI.
  expectSuccess(
    await run(toolPath("helm"), ["repo", "index", dir, "--url", url], {
      cwd: dir,
      env: toolchainEnv(),
      timeoutMs: 120_000,
    }),
    "helm repo index",
  );
  return {
    url,
    stop: async () => {
      await new Promise<void>((r) => server.close(() => r()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The homelab definition with every chart taken from `repository`. */
function withRepository(repository: string) {
  const definition = homelab();
  definition.addons.chartOverrides = Object.fromEntries(
    CHART_NAMES.map((name) => [name, { repository }]),
  );
  return definition;
}

/** A kubeconfig whose API server is a closed loopback port: no add-on can be installed. */
function unreachableCluster(env: E2eEnvironment): void {
  mkdirSync(env.stateDir, { recursive: true });
  writeFileSync(
    join(env.stateDir, "kubeconfig"),
    [
      "apiVersion: v1",
      "kind: Config",
      "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]",
      "users: [{name: u, user: {token: unused}}]",
      "contexts: [{name: c, context: {cluster: c, user: u}}]",
      "current-context: c",
      "",
    ].join("\n"),
    { mode: 0o600 },
  );
}

describeE2e("npm run destroy of the add-ons without their charts", () => {
  jest.setTimeout(600_000);

  it("tears down a cluster never deployed, its chart repository unreachable", async () => {
    const env = await startEnvironment({
      definition: withRepository("http://127.0.0.1:1/charts"),
      seed: "homelab",
    });
    try {
      // Every stack: the add-ons on their own first, then all of them as cdktf orders them.
      const destroy = await env.npmRun("destroy");
      expect(destroy.output).not.toMatch(/Error locating chart/);
      expectSuccess(destroy, "npm run destroy");
      expect(env.clusterVms()).toEqual([]);
    } finally {
      await env.stop();
    }
  });

  it("tears down what a failed add-ons deploy left, once their chart repository is gone", async () => {
    const repository = await chartRepository();
    let stopped = false;
    const env = await startEnvironment({
      definition: withRepository(repository.url),
      seed: "homelab",
    });
    try {
      unreachableCluster(env);
      // The deploy plans every release from the repository, then fails to install them:
      // what it leaves is a state with the stack's outputs and no release.
      const { config } = parseClusterConfig(env.definition);
      const secrets = Object.fromEntries(secretVariables(config).map((s) => [s.env, "s3cret"]));
      const deploy = await env.npmRun("deploy", ["addons", "--skip-preflight"], { env: secrets });
      expect(deploy.status).not.toBe(0);
      expect(deploy.output).toMatch(/installation failed/);
      expect(env.state("addons")).toMatchObject({ resources: [] });
      expect(Object.keys((env.state("addons") as { outputs?: object }).outputs ?? {})).toEqual([
        "argocd_url",
      ]);

      await repository.stop();
      stopped = true;
      const destroy = await env.npmRun("destroy", ["addons"]);
      expect(destroy.output).not.toMatch(/Error locating chart/);
      expectSuccess(destroy, "npm run destroy -- addons");
      expect(env.state("addons")).toMatchObject({ resources: [], outputs: {} });
    } finally {
      if (!stopped) await repository.stop();
      await env.stop();
    }
  });
});
