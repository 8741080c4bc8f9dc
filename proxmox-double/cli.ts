/**
 * Runs the Proxmox VE double until killed:
 *
 *   npm run proxmox-double -- --port 8006 --seed proxmox-double/seed.homelab.yaml
 *
 * It prints the endpoint, the API token and the line to export for the provider.
 */
import { parseArgs } from "node:util";

import { SeedError } from "./seed";
import { ProxmoxDouble } from "./server";

const USAGE = `usage: npm run proxmox-double -- [options]

  --port N              TCP port on 127.0.0.1 (default 8006; 0 = any free port)
  --seed FILE           seed file, YAML or JSON (default proxmox-double/seed.default.yaml)
  --token-secret UUID   secret of the root@pam!double token (default: random)
  --state FILE          keep the cluster's VMs across restarts in FILE (read at start, written at stop)
  --clone-ms N          duration of a clone task (default 300)
  --task-ms N           duration of other tasks (default 100)
  --agent-delay-ms N    guest agent answers N ms after a VM starts (default 1500)
  --fail-clone N        the Nth clone fails (repeatable)
  --fail-task TYPE      every task of TYPE (qmstart, resize, qmdestroy...) fails (repeatable)
  --agent-no-address    guest agents never report a routable address
  -h, --help            this help

Faults can also be changed while it runs: PUT /_double/faults with a JSON body
{"failClones": [2], "failTasks": ["qmstart"], "agentNoAddress": true}.
`;

function int(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0)
    throw new Error(`--${name}: expected a non-negative integer, got '${value}'`);
  return n;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: "string" },
      seed: { type: "string" },
      "token-secret": { type: "string" },
      state: { type: "string" },
      "clone-ms": { type: "string" },
      "task-ms": { type: "string" },
      "agent-delay-ms": { type: "string" },
      "fail-clone": { type: "string", multiple: true },
      "fail-task": { type: "string", multiple: true },
      "agent-no-address": { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  const double = await ProxmoxDouble.start({
    port: int("port", values.port, 8006),
    seed: values.seed,
    tokenSecret: values["token-secret"],
    stateFile: values.state,
    cloneDurationMs: int("clone-ms", values["clone-ms"], 300),
    taskDurationMs: int("task-ms", values["task-ms"], 100),
    agentDelayMs: int("agent-delay-ms", values["agent-delay-ms"], 1500),
    faults: {
      failClones: (values["fail-clone"] ?? []).map((v) => int("fail-clone", v, 0)),
      failTasks: values["fail-task"] ?? [],
      agentNoAddress: values["agent-no-address"] ?? false,
    },
  });
  process.stdout.write(
    [
      `Proxmox VE double listening on ${double.endpoint} (self-signed certificate: use insecure = true)`,
      `API token: ${double.token}`,
      `export PROXMOX_VE_API_TOKEN='${double.token}'`,
      `State: ${double.endpoint}_double/state   Faults: ${double.endpoint}_double/faults`,
      "",
    ].join("\n"),
  );
  const shutdown = (): void => {
    double.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once("SIGINT", shutdown);
  process.once("SIGTERM", shutdown);
}

main().catch((e: unknown) => {
  const msg = e instanceof SeedError || e instanceof Error ? e.message : String(e);
  process.stderr.write(`proxmox-double: ${msg}\n${e instanceof TypeError ? USAGE : ""}`);
  process.exit(1);
});
