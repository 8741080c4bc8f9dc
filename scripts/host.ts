/**
 * `npm run host -- drain HOST [--timeout SECONDS]` and `npm run host -- resume HOST`: a
 * Proxmox host's maintenance on the Kubernetes side (lib/maintenance/host.ts). Drain finds
 * the nodes whose VMs Proxmox has on HOST now (HA may have moved them), refuses when that
 * would break etcd quorum or take away the last node the add-ons need, cordons them and
 * evicts their pods (PodDisruptionBudgets honoured, default timeout 600 s); resume
 * uncordons them. Runbook: docs/operations.md, "Host maintenance".
 *
 * Environment: CLUSTER_CONFIG and STATE_DIR as for `npm run deploy`; KUBECONFIG (default
 * `<state>/kubeconfig`, the admin kubeconfig the runner copied); PROXMOX_VE_API_TOKEN to
 * drain.
 */
import { CoreV1Api, PolicyV1Api } from "@kubernetes/client-node";

import { expandNodes } from "../config/nodes";
import { PROXMOX_ENV } from "../config/secrets";
import { runMain, show, UserError } from "../errors/user-error";
import { loadFromEnvironment } from "../lib/environment";
import { drainHost, resumeHost } from "../lib/maintenance/host";
import { clusterKubeConfig } from "../lib/maintenance/kube";
import { locateNodeVms } from "../lib/proxmox/vms";
import { ProxmoxHttpsClient } from "../preflight/proxmox-api";

const USAGE = "usage: npm run host -- drain HOST [--timeout SECONDS] | resume HOST";

void runMain(async () => {
  const [command, host, ...rest] = process.argv.slice(2);
  if ((command !== "drain" && command !== "resume") || !host)
    throw UserError.at(
      "npm run host",
      `not a host command: ${process.argv.slice(2).join(" ") || "(none)"}`,
      USAGE,
    );
  const { config } = loadFromEnvironment();
  const kc = clusterKubeConfig(config);
  const core = kc.makeApiClient(CoreV1Api);
  const log = (line: string) => process.stderr.write(`${line}\n`);
  if (command === "resume") {
    await resumeHost({ core, log }, host);
    return;
  }
  const i = rest.indexOf("--timeout");
  const timeout = i >= 0 ? Number(rest[i + 1]) : 600;
  if (!Number.isFinite(timeout) || timeout <= 0)
    throw UserError.at("--timeout", `${show(rest[i + 1])} is not a number of seconds`, USAGE);
  const token = process.env[PROXMOX_ENV.token];
  if (!token)
    throw UserError.at(
      PROXMOX_ENV.token,
      `not set, and drain asks Proxmox which node VMs are on ${host} now`,
      "export the deploy's token",
    );
  const api = new ProxmoxHttpsClient({
    endpoint: config.proxmox.endpoint,
    token,
    insecure: config.proxmox.insecure,
  });
  const { found, missing } = await locateNodeVms(
    api,
    new Map(expandNodes(config).map((n) => [n.name, n.vmId])),
  );
  for (const m of missing) log(`warning: ${m.node}: ${m.problem}`);
  await drainHost(
    {
      core,
      policy: kc.makeApiClient(PolicyV1Api),
      config,
      hostOf: new Map(found.map((vm) => [vm.name, vm.node])),
      log,
      timeoutMs: timeout * 1000,
    },
    host,
  );
});
