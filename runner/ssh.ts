/** The runner's wait for its nodes: each answering on the SSH port. */
import { connect } from "node:net";

import { UserError } from "../errors/user-error";

/** One TCP connection attempt. */
export function canConnect(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

/** Waits until every host accepts a TCP connection on the SSH port. */
export async function waitForSsh(
  hosts: readonly { name: string; address: string }[],
  port: number,
  timeoutMs: number,
  log: (line: string) => void,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let pending = [...hosts];
  while (pending.length > 0) {
    const results = await Promise.all(
      pending.map((h) => canConnect(h.address, port, Math.min(5000, timeoutMs))),
    );
    pending = pending.filter((_, i) => !results[i]);
    if (pending.length === 0) return;
    if (Date.now() >= deadline)
      throw UserError.at(
        pending.map((h) => h.name).join(", "),
        `no SSH answer on port ${port} from ${pending.map((h) => `${h.name} (${h.address})`).join(", ")} ` +
          `after ${Math.round(timeoutMs / 1000)} s`,
        'check that the VM runs and its network (docs/operations.md, "An unreachable node")',
      );
    log(`waiting for SSH on ${pending.map((h) => h.name).join(", ")}`);
    await new Promise((r) => setTimeout(r, 2000));
  }
}
