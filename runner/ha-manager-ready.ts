/**
 * `node dist/runner/ha-manager-ready.js ENDPOINT INSECURE(0|1) TIMEOUT_S HOST,HOST,...`: run by the vms
 * stack (HaManagerReady) between the HA resources and the HA rules. Waits until Proxmox's
 * HA manager lists every host (lib/proxmox/ha-manager.ts), with the deploy's own token
 * (PROXMOX_VE_API_TOKEN). Exit 0 when it does; 2, as every entry point for a user's error,
 * when the token is missing or the manager never lists every host (Proxmox's HA services).
 */
import { PROXMOX_ENV } from "../config/secrets";
import { runMain, UserError } from "../errors/user-error";
import { waitForHaManager } from "../lib/proxmox/ha-manager";
import { ProxmoxHttpsClient } from "../preflight/proxmox-api";

async function main(argv: readonly string[]): Promise<number> {
  const [endpoint, insecure, timeout, hostList] = argv;
  const token = process.env[PROXMOX_ENV.token];
  if (!token)
    throw UserError.at(
      PROXMOX_ENV.token,
      "not set; the HA rules wait for Proxmox's HA manager through the API with the deploy's token",
      "export it",
    );
  const hosts = (hostList ?? "").split(",").filter((h) => h !== "");
  process.stdout.write(`waiting for Proxmox's HA manager to list ${hosts.join(", ")}\n`);
  await waitForHaManager(
    new ProxmoxHttpsClient({ endpoint, token, insecure: insecure === "1" }),
    hosts,
    timeout === undefined ? {} : { timeoutMs: Number(timeout) * 1000 },
  );
  process.stdout.write("Proxmox's HA manager lists every host\n");
  return 0;
}

if (require.main === module) void runMain(() => main(process.argv.slice(2)));
