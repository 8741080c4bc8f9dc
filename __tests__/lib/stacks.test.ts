/**
 * The one list of stack names: what the app builds, and what every command checks the
 * stacks it is given against.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { UserError } from "../../errors/user-error";
import { checkStackNames, STACK_NAMES, stacksOf } from "../../lib/stacks";
import { deployOrder } from "../../scripts/review";
import { HOMELAB_FILE } from "../fixtures/definitions";
import { synthApp } from "../support/synth-app";

// It loads the review's modules, which start tofu: a budget for a loaded two-core machine.
jest.setTimeout(60_000);

describe("lib/stacks", () => {
  it("is the app's stacks, in the order they deploy", () => {
    const out = mkdtempSync(join(tmpdir(), "stacks-"));
    try {
      synthApp(HOMELAB_FILE, out);
      const manifest = JSON.parse(readFileSync(join(out, "manifest.json"), "utf8")) as Parameters<
        typeof deployOrder
      >[0];
      expect(deployOrder(manifest)).toEqual([...STACK_NAMES]);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }, 180_000);

  it("passes the stacks named, in the order given", () => {
    expect(checkStackNames(["addons", "vms"])).toEqual(["addons", "vms"]);
    expect(checkStackNames([])).toEqual([]);
  });

  it("rejects a name that is no stack, naming the stacks there are", () => {
    expect(() => checkStackNames(["vms", "adons"])).toThrow(UserError);
    expect(() => checkStackNames(["vms", "adons", "vsm"])).toThrow(
      'stacks "adons", "vsm": no such stack; the stacks are vms, cluster, addons (name none for all of them)',
    );
  });

  it("gives a deploy or destroy naming none every stack, in the order it takes them", () => {
    expect(stacksOf([], "deploy")).toEqual(["vms", "cluster", "addons"]);
    expect(stacksOf([], "destroy")).toEqual(["addons", "cluster", "vms"]);
    expect(stacksOf(["cluster"], "destroy")).toEqual(["cluster"]);
    expect(() => stacksOf(["vsm"], "deploy")).toThrow('stack "vsm": no such stack');
  });
});
