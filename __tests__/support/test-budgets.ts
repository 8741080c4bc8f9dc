/**
 * The suite's rules on time (issue 22), read from the test sources with the TypeScript
 * compiler API:
 * - every test and hook of a file that does slow work has a budget of its own, sized for a
 *   loaded two-core machine (jest's 5 s default is not one);
 * - no test or support file waits a fixed time: a wait polls for its condition, with a
 *   deadline.
 *
 * A file does slow work when it, or a module of this repository it imports (transitively,
 * through relative imports that are not type-only), imports one of SLOW_ROOTS. Reading the
 * imports rather than listing files keeps the rule true for the tests other branches add.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

import ts from "typescript";

/**
 * What makes work slow, and why: each of these is a process, a server or a peer over
 * loopback, whose time depends on the machine's load.
 */
export const SLOW_ROOTS: Readonly<Record<string, string>> = {
  "node:child_process": "starts a process (tofu, helm, ansible, the tsx CLIs)",
  child_process: "starts a process (tofu, helm, ansible, the tsx CLIs)",
  "node:http": "serves or calls HTTP (the Proxmox double, the test cluster's API)",
  "node:https": "serves or calls HTTPS (the Proxmox double, the test cluster's API)",
  "node:net": "opens sockets (the double, ports for PostgreSQL)",
  "node:tls": "opens TLS connections",
  pg: "talks to PostgreSQL",
  "@kubernetes/client-node": "talks to the test cluster's API server",
};

/**
 * A budget below this is no budget on a loaded two-core machine: a tofu init, a helm
 * template or a double's round trip waits for a core behind other jobs.
 */
export const MIN_BUDGET_MS = 30_000;

/**
 * Files that render charts (support/helm.ts, support/provider-render.ts) need more: a helm
 * render of every release took 67 s under load (issue 22).
 */
export const RENDER_MODULES = ["__tests__/support/helm.ts", "__tests__/support/provider-render.ts"];
export const MIN_RENDER_BUDGET_MS = 180_000;

const HOOKS = new Set(["beforeAll", "afterAll", "beforeEach", "afterEach"]);

export interface Finding {
  /** `path:line` relative to the repository. */
  readonly at: string;
  readonly problem: string;
}

/** The test files of a jest config: its roots, testMatch and testPathIgnorePatterns. */
export function suiteFiles(root: string, configFile: string): string[] {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- jest's own config
  const config = require(join(root, configFile)) as {
    roots: string[];
    testMatch: string[];
    testPathIgnorePatterns?: string[];
  };
  const suffixes = config.testMatch.map((m) => {
    const suffix = /^\*\*\/\*([^*/]+)$/.exec(m)?.[1];
    // Only `**/*<suffix>` is understood: a new form must be taught here, not skipped.
    if (!suffix) throw new Error(`${configFile}: testMatch ${m} is not of the form **/*<suffix>`);
    return suffix;
  });
  const ignored = (config.testPathIgnorePatterns ?? []).map(
    (p) => new RegExp(p.replace("<rootDir>", root)),
  );
  const files: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (suffixes.some((s) => name.endsWith(s)) && !ignored.some((r) => r.test(path)))
        files.push(path);
    }
  };
  for (const r of config.roots) walk(r.replace("<rootDir>", root));
  return files;
}

function parse(file: string, text = readFileSync(file, "utf8")): ts.SourceFile {
  return ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
}

/** Module specifiers a file loads at run time (type-only imports and exports left out). */
function runtimeImports(source: ts.SourceFile): string[] {
  const out: string[] = [];
  for (const s of source.statements) {
    if (ts.isImportDeclaration(s)) {
      const clause = s.importClause;
      if (clause?.isTypeOnly) continue;
      const named = clause?.namedBindings;
      if (
        clause &&
        !clause.name &&
        named &&
        ts.isNamedImports(named) &&
        named.elements.length > 0 &&
        named.elements.every((e) => e.isTypeOnly)
      )
        continue;
      out.push((s.moduleSpecifier as ts.StringLiteral).text);
    } else if (ts.isExportDeclaration(s) && s.moduleSpecifier && !s.isTypeOnly) {
      out.push((s.moduleSpecifier as ts.StringLiteral).text);
    }
  }
  return out;
}

function resolveRelative(from: string, specifier: string): string | undefined {
  const base = resolve(dirname(from), specifier);
  return [`${base}.ts`, join(base, "index.ts")].find((p) => existsSync(p));
}

/**
 * Why a file does slow work (the chain of imports down to a SLOW_ROOTS entry), or
 * undefined; memoised per path across calls.
 */
export class SlowWork {
  private readonly memo = new Map<string, string[] | null>();

  /** The import chain from `file` to a slow module, e.g. [support/helm.ts, node:child_process]. */
  chain(file: string, source?: ts.SourceFile): string[] | undefined {
    if (source) this.importMemo.set(file, runtimeImports(source));
    return this.walk(file, new Set()) ?? undefined;
  }

  /** Whether `file` loads `module` (a repository path), directly or through others. */
  loads(file: string, module: string, seen = new Set<string>()): boolean {
    if (file === module) return true;
    if (seen.has(file) || !file.endsWith(".ts")) return false;
    seen.add(file);
    return this.imports(file)
      .filter((s) => s.startsWith("."))
      .map((s) => resolveRelative(file, s))
      .some((p) => p !== undefined && this.loads(p, module, seen));
  }

  private readonly importMemo = new Map<string, string[]>();

  private imports(file: string): string[] {
    let found = this.importMemo.get(file);
    if (!found) this.importMemo.set(file, (found = runtimeImports(parse(file))));
    return found;
  }

  private walk(file: string, seen: Set<string>): string[] | null {
    const known = this.memo.get(file);
    if (known !== undefined) return known;
    if (seen.has(file)) return null;
    seen.add(file);
    let found: string[] | null = null;
    for (const specifier of this.imports(file)) {
      if (SLOW_ROOTS[specifier]) {
        found = [specifier];
        break;
      }
      if (!specifier.startsWith(".")) continue;
      const next = resolveRelative(file, specifier);
      const below = next && this.walk(next, seen);
      if (below) {
        found = [next, ...below];
        break;
      }
    }
    this.memo.set(file, found);
    return found;
  }
}

/** The callee's name path: `it.each(...)` -> ["it", "each"], `describeWithToolchain()` -> ["describeWithToolchain"]. */
function calleePath(expr: ts.Expression): string[] {
  if (ts.isIdentifier(expr)) return [expr.text];
  if (ts.isPropertyAccessExpression(expr)) return [...calleePath(expr.expression), expr.name.text];
  if (ts.isCallExpression(expr)) return calleePath(expr.expression);
  return [];
}

const isFunction = (n: ts.Node | undefined): n is ts.ArrowFunction | ts.FunctionExpression =>
  !!n && (ts.isArrowFunction(n) || ts.isFunctionExpression(n));

type Kind = "test" | "hook" | "describe";

/** What a call is to jest: a test, a hook, a describe block (with its body), or nothing. */
function jestKind(call: ts.CallExpression): Kind | undefined {
  const [head] = calleePath(call.expression);
  if (!head) return undefined;
  if (head === "it" || head === "test") return "test";
  if (HOOKS.has(head) && ts.isIdentifier(call.expression)) return "hook";
  // describe, describe.each(...)(...), describe.skip, describeWithToolchain()(...), a local
  // describe-like const: any describe* call whose second argument is its body.
  if (head.startsWith("describe") && isFunction(call.arguments[1])) return "describe";
  return undefined;
}

/** The value of a constant numeric expression (literals, `*`, `+`, consts of the file). */
function numberOf(expr: ts.Expression, consts: Map<string, ts.Expression>): number | undefined {
  if (ts.isNumericLiteral(expr)) return Number(expr.text.replace(/_/g, ""));
  if (ts.isParenthesizedExpression(expr)) return numberOf(expr.expression, consts);
  if (ts.isIdentifier(expr)) {
    const init = consts.get(expr.text);
    return init ? numberOf(init, consts) : undefined;
  }
  if (ts.isBinaryExpression(expr)) {
    const l = numberOf(expr.left, consts);
    const r = numberOf(expr.right, consts);
    if (l === undefined || r === undefined) return undefined;
    if (expr.operatorToken.kind === ts.SyntaxKind.AsteriskToken) return l * r;
    if (expr.operatorToken.kind === ts.SyntaxKind.PlusToken) return l + r;
  }
  return undefined;
}

function fileConsts(source: ts.SourceFile): Map<string, ts.Expression> {
  const consts = new Map<string, ts.Expression>();
  for (const s of source.statements) {
    if (!ts.isVariableStatement(s) || !(s.declarationList.flags & ts.NodeFlags.Const)) continue;
    for (const d of s.declarationList.declarations)
      if (ts.isIdentifier(d.name) && d.initializer) consts.set(d.name.text, d.initializer);
  }
  return consts;
}

/** `jest.setTimeout(N)` as a statement of this block (a file's or a describe body's). */
function blockTimeout(
  statements: readonly ts.Statement[],
  consts: Map<string, ts.Expression>,
): { ms: number | undefined; node: ts.Node } | undefined {
  for (const s of statements) {
    if (!ts.isExpressionStatement(s) || !ts.isCallExpression(s.expression)) continue;
    const path = calleePath(s.expression.expression);
    if (path.join(".") === "jest.setTimeout") {
      const arg = s.expression.arguments[0];
      return { ms: arg && numberOf(arg, consts), node: s };
    }
  }
  return undefined;
}

function lineOf(source: ts.SourceFile, node: ts.Node, root: string): string {
  const line = source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1;
  return `${relative(root, source.fileName)}:${line}`;
}

/**
 * Rule (a): every test and hook of a slow file has a budget: its own numeric timeout
 * argument, or `jest.setTimeout(N)` at file level or in a describe around it. Jest applies
 * the last `jest.setTimeout` made while collecting to every test of the file, so two with
 * different values in one file are flagged too: the earlier one does not hold.
 */
export function budgetFindings(
  root: string,
  file: string,
  slow: SlowWork,
  text?: string,
): Finding[] {
  const source = parse(file, text);
  const chain = slow.chain(file, source);
  if (!chain) return [];
  const why = `${chain.map((c) => (c.startsWith("/") ? relative(root, c) : c)).join(" -> ")}: ${
    SLOW_ROOTS[chain[chain.length - 1]]
  }`;
  const renders = RENDER_MODULES.some((m) => slow.loads(file, join(root, m)));
  const floor = renders ? MIN_RENDER_BUDGET_MS : MIN_BUDGET_MS;
  const floorWhy = renders
    ? `it renders charts (a full render took 67 s under load): at least ${floor} ms`
    : `at least ${floor} ms for a loaded two-core machine`;
  const consts = fileConsts(source);
  const findings: Finding[] = [];
  const setTimeouts: { ms: number | undefined; node: ts.Node }[] = [];

  const check = (
    budget: { ms: number | undefined; node: ts.Node } | undefined,
    at: ts.Node,
    what: string,
  ): void => {
    if (!budget) {
      findings.push({
        at: lineOf(source, at, root),
        problem: `${what} has no budget of its own (this file does slow work: ${why}); pass a timeout in ms as its last argument (${floorWhy}), or put jest.setTimeout(ms) at the top of the file or of its describe`,
      });
    } else if (budget.ms === undefined) {
      findings.push({
        at: lineOf(source, budget.node, root),
        problem: `the timeout of ${what} is not a number the guard can read; write a numeric literal (e.g. ${floor})`,
      });
    } else if (budget.ms < floor) {
      findings.push({
        at: lineOf(source, budget.node, root),
        problem: `${what} has a budget of ${budget.ms} ms; ${floorWhy}`,
      });
    }
  };

  const visit = (node: ts.Node, inherited: ReturnType<typeof blockTimeout>): void => {
    if (ts.isCallExpression(node)) {
      const kind = jestKind(node);
      if (kind === "describe") {
        const body = (node.arguments[1] as ts.ArrowFunction | ts.FunctionExpression).body;
        const own = ts.isBlock(body) ? blockTimeout(body.statements, consts) : undefined;
        if (own) setTimeouts.push(own);
        for (const a of node.arguments) visit(a, own ?? inherited);
        return;
      }
      if (kind === "test" || kind === "hook") {
        const fnIndex = node.arguments.findIndex(isFunction);
        const timeoutArg = fnIndex >= 0 ? node.arguments[fnIndex + 1] : undefined;
        const name = node.arguments[0];
        const label =
          kind === "hook"
            ? `${calleePath(node.expression)[0]} hook`
            : `test ${name && ts.isStringLiteralLike(name) ? JSON.stringify(name.text) : calleePath(node.expression).join(".")}`;
        if (fnIndex >= 0) {
          check(
            timeoutArg ? { ms: numberOf(timeoutArg, consts), node: timeoutArg } : inherited,
            node,
            label,
          );
        }
        return; // bodies of tests and hooks hold no tests
      }
    }
    ts.forEachChild(node, (c) => visit(c, inherited));
  };

  const top = blockTimeout(source.statements, consts);
  if (top) setTimeouts.push(top);
  visit(source, top);

  const values = new Set(setTimeouts.map((t) => t.ms));
  if (values.size > 1) {
    const last = setTimeouts[setTimeouts.length - 1];
    for (const t of setTimeouts.slice(0, -1)) {
      if (t.ms === last.ms) continue;
      findings.push({
        at: lineOf(source, t.node, root),
        problem: `jest.setTimeout(${t.ms}) does not hold: jest gives every test of the file the last value set while collecting, ${last.ms} at ${lineOf(source, last.node, root)}; keep one jest.setTimeout per file, or pass each test its own timeout`,
      });
    }
  }
  return findings;
}

/** `new Promise((r) => setTimeout(r, ...))`: the fixed wait itself. */
function isPromiseSleep(node: ts.Node): boolean {
  if (!ts.isNewExpression(node) || !ts.isIdentifier(node.expression)) return false;
  if (node.expression.text !== "Promise") return false;
  const executor = node.arguments?.[0];
  if (!isFunction(executor)) return false;
  const resolveName = executor.parameters[0]?.name;
  if (!resolveName || !ts.isIdentifier(resolveName)) return false;
  let found = false;
  const look = (n: ts.Node): void => {
    if (
      ts.isCallExpression(n) &&
      ts.isIdentifier(n.expression) &&
      n.expression.text === "setTimeout" &&
      n.arguments[0] &&
      ts.isIdentifier(n.arguments[0]) &&
      n.arguments[0].text === resolveName.text
    )
      found = true;
    ts.forEachChild(n, look);
  };
  look(executor.body);
  return found;
}

/** The name a sleep helper is declared with, when `node` is one (`const sleep = (ms) => new Promise(...)`). */
function sleepHelperName(node: ts.Node): string | undefined {
  const body = (fn: ts.Node | undefined): ts.Node | undefined => {
    if (!isFunction(fn) && !(fn && ts.isFunctionDeclaration(fn))) return undefined;
    const b = fn.body;
    if (!b) return undefined;
    if (!ts.isBlock(b)) return b;
    const only = b.statements.length === 1 ? b.statements[0] : undefined;
    return only && ts.isReturnStatement(only) ? only.expression : undefined;
  };
  if (ts.isFunctionDeclaration(node) && node.name) {
    const b = body(node);
    return b && isPromiseSleep(b) ? node.name.text : undefined;
  }
  if (ts.isVariableDeclaration(node) && ts.isIdentifier(node.name)) {
    const b = body(node.initializer);
    return b && isPromiseSleep(b) ? node.name.text : undefined;
  }
  return undefined;
}

const isLoop = (n: ts.Node): boolean =>
  ts.isForStatement(n) ||
  ts.isWhileStatement(n) ||
  ts.isDoStatement(n) ||
  ts.isForOfStatement(n) ||
  ts.isForInStatement(n);

/** Whether the loop reads the clock (`Date.now()`, `performance.now()`): it has a deadline. */
function readsClock(loop: ts.Node): boolean {
  let found = false;
  const look = (n: ts.Node): void => {
    if (
      ts.isCallExpression(n) &&
      /^(Date|performance)\.now$/.test(calleePath(n.expression).join("."))
    )
      found = true;
    ts.forEachChild(n, look);
  };
  look(loop);
  return found;
}

/** The loop around `node` that reads the clock, within its own function. */
function inDeadlineLoop(node: ts.Node): boolean {
  for (let n = node.parent; n; n = n.parent) {
    if (isLoop(n)) return readsClock(n);
    if (ts.isFunctionLike(n)) return false;
  }
  return false;
}

/**
 * Rule (b): no fixed wait. A `new Promise((r) => setTimeout(r, ms))`, or a call of a helper
 * that is one (declared here or imported under the name it has in support files), is
 * allowed only inside a loop that reads the clock: a poll with a deadline.
 */
export function sleepFindings(
  root: string,
  file: string,
  helpers: ReadonlySet<string>,
  text?: string,
): Finding[] {
  const source = parse(file, text);
  const local = new Set<string>();
  const collect = (n: ts.Node): void => {
    const name = sleepHelperName(n);
    if (name) local.add(name);
    ts.forEachChild(n, collect);
  };
  collect(source);
  const imported = new Set<string>();
  for (const s of source.statements) {
    const named = ts.isImportDeclaration(s) ? s.importClause?.namedBindings : undefined;
    if (named && ts.isNamedImports(named))
      for (const e of named.elements)
        if (helpers.has((e.propertyName ?? e.name).text)) imported.add(e.name.text);
  }
  const findings: Finding[] = [];
  const fixed = `a fixed wait; poll for the condition you wait for, with a deadline (e.g. \`const deadline = Date.now() + ms; while (!done()) { if (Date.now() > deadline) throw ...; await new Promise((r) => setTimeout(r, 50)); }\`)`;
  const visit = (n: ts.Node): void => {
    if (sleepHelperName(n)) return; // the helper's own definition: judged where it is called
    const sleeps =
      isPromiseSleep(n) ||
      (ts.isCallExpression(n) &&
        ts.isIdentifier(n.expression) &&
        (local.has(n.expression.text) || imported.has(n.expression.text)));
    if (sleeps && !inDeadlineLoop(n)) {
      findings.push({ at: lineOf(source, n, root), problem: fixed });
      return;
    }
    ts.forEachChild(n, visit);
  };
  visit(source);
  return findings;
}

/** Names of the sleep helpers declared in these files (for files that import them). */
export function sleepHelpers(files: readonly string[]): Set<string> {
  const names = new Set<string>();
  for (const f of files) {
    const collect = (n: ts.Node): void => {
      const name = sleepHelperName(n);
      if (name) names.add(name);
      ts.forEachChild(n, collect);
    };
    collect(parse(f));
  }
  return names;
}

/** Every .ts file under `dir` that is not a test (support code, fixtures, helpers). */
export function supportFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      const path = join(d, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (name.endsWith(".ts") && !name.endsWith(".test.ts")) out.push(path);
    }
  };
  walk(dir);
  return out;
}
