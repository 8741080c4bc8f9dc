/**
 * The suite passes on a busy machine (issue 22): every test and hook that does slow work
 * has a budget of its own, and nothing waits a fixed time (support/test-budgets.ts says
 * what each rule reads and why).
 *
 * The unit suite (jest.config.js) and the test cluster's (jest.test-cluster.config.js) are
 * checked. The e2e suite is left out of the budget rule on purpose: jest.e2e.config.js
 * raises its default (testTimeout) for every test, with the reason beside it, as the issue
 * allows. Its waits are read like every other suite's: no test file of any suite, and no
 * support file, waits a fixed time.
 */
import { join } from "node:path";

import type { Finding } from "./support/test-budgets";
import {
  budgetFindings,
  MIN_BUDGET_MS,
  MIN_RENDER_BUDGET_MS,
  SlowWork,
  sleepFindings,
  sleepHelpers,
  suiteFiles,
  supportFiles,
} from "./support/test-budgets";

// It parses every test and support file: seconds, more on a loaded machine.
jest.setTimeout(60_000);

const ROOT = join(__dirname, "..");
const SUITES = ["jest.config.js", "jest.test-cluster.config.js"];
/** Read for fixed waits only (its budget is the config's, see above). */
const E2E_SUITE = "jest.e2e.config.js";

const format = (findings: Finding[]): string =>
  findings.map((f) => `${f.at}: ${f.problem}`).join("\n");

describe("the suite's budgets and waits", () => {
  const tests = SUITES.flatMap((c) => suiteFiles(ROOT, c));
  const e2eTests = suiteFiles(ROOT, E2E_SUITE);
  // Support code of every suite (e2e/support too: unit tests load its harness).
  const support = supportFiles(join(ROOT, "__tests__"));
  const helpers = sleepHelpers(support);

  it("reads both suites' test files", () => {
    expect(tests).toContainEqual(join(ROOT, "__tests__/charts/upstream-charts.test.ts"));
    expect(tests).toContainEqual(join(ROOT, "__tests__/test-cluster/cluster.test.ts"));
    expect(tests.filter((f) => f.includes("/e2e/"))).toEqual([]);
    expect(e2eTests).toContainEqual(join(ROOT, "__tests__/e2e/template.e2e.test.ts"));
  });

  it("every test and hook that does slow work has a budget of its own", () => {
    const slow = new SlowWork();
    expect(format(tests.flatMap((f) => budgetFindings(ROOT, f, slow)))).toBe("");
  });

  it("no test or support file waits a fixed time", () => {
    expect(
      format([...tests, ...e2eTests, ...support].flatMap((f) => sleepFindings(ROOT, f, helpers))),
    ).toBe("");
  });
});

describe("what the guard reads", () => {
  // In-memory files placed in __tests__/ so that their relative imports resolve.
  const at = (name: string) => join(ROOT, "__tests__", name);
  const budgets = (text: string) =>
    budgetFindings(ROOT, at("x.test.ts"), new SlowWork(), text).map((f) => f.at + " " + f.problem);

  it("knows slow work from a direct import and through this repository's modules", () => {
    expect(budgets(`import { x } from "./config/net"; it("a", () => {});`)).toEqual([]);
    expect(budgets(`import type { X } from "./support/helm"; it("a", () => {});`)).toEqual([]);
    expect(budgets(`import { spawn } from "node:child_process";\nit("a", () => {});`)).toEqual([
      expect.stringMatching(
        /^__tests__\/x\.test\.ts:2 test "a" has no budget of its own \(this file does slow work: node:child_process: starts a process/,
      ),
    ]);
    expect(
      budgets(`import { startPostgres } from "./support/postgres";\nit("a", () => {});`),
    ).toEqual([expect.stringContaining("__tests__/support/postgres.ts -> node:child_process")]);
  });

  it("accepts a timeout argument, or jest.setTimeout at file level or in an enclosing describe", () => {
    const head = `import { spawn } from "node:child_process";\nconst T = 2 * 60_000;\n`;
    expect(budgets(`${head}it("a", async () => {}, 60_000);`)).toEqual([]);
    expect(budgets(`${head}it.each([1])("a %s", (n) => {}, T);`)).toEqual([]);
    expect(
      budgets(`${head}jest.setTimeout(60_000);\nbeforeAll(() => {});\ntest.skip("a", () => {});`),
    ).toEqual([]);
    expect(
      budgets(
        `${head}describeWithToolchain()("d", () => {\n  jest.setTimeout(60_000);\n  it.only("a", () => {});\n});`,
      ),
    ).toEqual([]);
    // A describe's jest.setTimeout does not reach a test outside it, in the guard's reading.
    expect(
      budgets(
        `${head}describe("d", () => {\n  jest.setTimeout(60_000);\n});\nafterEach(() => {});`,
      ),
    ).toEqual([expect.stringMatching(/^__tests__\/x\.test\.ts:6 afterEach hook has no budget/)]);
  });

  it("refuses budgets too small for a loaded machine, larger ones for renders, and two jest.setTimeout values", () => {
    const head = `import { spawn } from "node:child_process";\n`;
    expect(budgets(`${head}it("a", () => {}, 5000);`)).toEqual([
      `__tests__/x.test.ts:2 test "a" has a budget of 5000 ms; at least ${MIN_BUDGET_MS} ms for a loaded two-core machine`,
    ]);
    expect(
      budgets(`import { helmTemplate } from "./support/helm";\nit("a", () => {}, 120_000);`),
    ).toEqual([
      expect.stringContaining(
        `it renders charts (a full render took 67 s under load): at least ${MIN_RENDER_BUDGET_MS} ms`,
      ),
    ]);
    expect(
      budgets(
        `${head}describe("a", () => {\n  jest.setTimeout(60_000);\n  it("x", () => {});\n});\ndescribe("b", () => {\n  jest.setTimeout(600_000);\n  it("y", () => {});\n});`,
      ),
    ).toEqual([
      expect.stringMatching(
        /^__tests__\/x\.test\.ts:3 jest\.setTimeout\(60000\) does not hold: .* 600000 at __tests__\/x\.test\.ts:7/,
      ),
    ]);
  });

  it("finds fixed waits, and lets polls with a deadline be", () => {
    const sleeps = (text: string, helpers = new Set<string>()) =>
      sleepFindings(ROOT, at("x.ts"), helpers, text).map((f) => f.at);
    expect(
      sleeps(`async function f() {\n  await new Promise((r) => setTimeout(r, 300));\n}`),
    ).toEqual(["__tests__/x.ts:2"]);
    const helper = `const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));\n`;
    expect(sleeps(`${helper}async function f() {\n  await sleep(50);\n}`)).toEqual([
      "__tests__/x.ts:3",
    ]);
    expect(
      sleeps(
        `import { pause } from "./api";\nasync function f() { await pause(50); }`,
        new Set(["pause"]),
      ),
    ).toEqual(["__tests__/x.ts:2"]);
    // A loop that counts tries has no deadline.
    expect(
      sleeps(
        `async function f() {\n  for (let i = 0; i < 50; i++) {\n    if (ok()) break;\n    await new Promise((r) => setTimeout(r, 200));\n  }\n}`,
      ),
    ).toEqual(["__tests__/x.ts:4"]);
    expect(
      sleeps(
        `${helper}async function f() {\n  const deadline = Date.now() + 1000;\n  while (!ok()) {\n    if (Date.now() > deadline) throw new Error("x");\n    await sleep(20);\n  }\n}`,
      ),
    ).toEqual([]);
    // A timer that is not a wait (a kill after a time) is no sleep.
    expect(sleeps(`const t = setTimeout(() => child.kill(), 1000);`)).toEqual([]);
  });
});
