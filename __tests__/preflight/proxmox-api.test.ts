/**
 * The Proxmox VE API client (preflight/proxmox-api.ts): what it answers when the API does
 * not, as the one error type, naming the request and what to do.
 */
import type { AddressInfo } from "node:net";
import { createServer } from "node:net";

import { UserError } from "../../errors/user-error";
import { ApiError, ProxmoxHttpsClient } from "../../preflight/proxmox-api";

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

// It opens sockets on loopback: a budget sized for a loaded two-core machine.
jest.setTimeout(60_000);

describe("ProxmoxHttpsClient", () => {
  it("turns no answer into an ApiError, a UserError that names the request and the fix", async () => {
    const api = new ProxmoxHttpsClient({ endpoint: `https://127.0.0.1:${await closedPort()}` });
    const failed = await api.get("/version").catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(ApiError);
    expect(failed).toBeInstanceOf(UserError);
    const e = failed as ApiError;
    expect(e.status).toBe(0);
    expect(e.reason).toMatch(/ECONNREFUSED/);
    expect(e.lines()).toEqual([
      expect.stringMatching(
        /^Proxmox VE API GET \/version: connect ECONNREFUSED .*; check proxmox\.endpoint, that the host is up and port 8006 reachable$/,
      ),
    ]);
  }, 30_000);

  it("says what each status asks for", () => {
    expect(new ApiError(401, "401 authentication failure", "GET /version").lines()).toEqual([
      "Proxmox VE API GET /version: 401 authentication failure; check PROXMOX_VE_API_TOKEN: its user, token ID and secret",
    ]);
    expect(new ApiError(403, "403 Permission check failed", "GET /nodes").lines()[0]).toMatch(
      /; give the token the documented role \(docs\/proxmox\.md\)$/,
    );
  });
});
