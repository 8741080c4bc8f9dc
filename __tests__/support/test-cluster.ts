/**
 * For tests against a test cluster (test-cluster/): whether its control plane is built,
 * and polling the API for a condition with a deadline (never a fixed sleep).
 */
import { CONTROL_PLANE_DIR, hasControlPlane } from "../../test-cluster/binaries";

/** `describe` when the control plane is built; under CI a missing build fails, locally it skips. */
export function describeWithControlPlane(name: string, fn: () => void): void {
  if (hasControlPlane()) {
    describe(name, fn);
  } else if (process.env.CI) {
    describe(name, () => {
      it("needs the control plane", () => {
        throw new Error(`${CONTROL_PLANE_DIR} is incomplete; run: bash scripts/toolchain.sh`);
      });
    });
  } else {
    describe.skip(`${name} (no ${CONTROL_PLANE_DIR}; run bash scripts/toolchain.sh)`, fn);
  }
}

/**
 * Polls `check` every `intervalMs` until it returns `{ done: true }`, and returns its value;
 * fails after `timeoutMs` with `what` and the last state `check` described.
 */
export async function eventually<T>(
  what: string,
  check: () => Promise<{ done: boolean; value: T; state?: unknown }>,
  timeoutMs: number,
  intervalMs = 250,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const result = await check();
      if (result.done) return result.value;
      last = result.state ?? result.value;
    } catch (e) {
      last = (e as Error).message;
    }
    if (Date.now() > deadline) {
      throw new Error(`not within ${timeoutMs} ms: ${what}; last seen: ${JSON.stringify(last)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
