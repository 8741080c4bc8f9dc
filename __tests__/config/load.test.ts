/**
 * The loader (config/load.ts): reference files load unchanged, YAML errors name their
 * line, every problem is reported at once with its line, and nothing crashes.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { parse } from "yaml";

import { BUNDLED_EXAMPLE, loadClusterConfig, parseClusterConfig } from "../../config/load";
import { UserError } from "../../errors/user-error";
import {
  CLOUD_FILE,
  expectProblem,
  FIXTURES,
  EXAMPLES,
  HOMELAB_FILE,
  homelab,
  problems,
  SHARED_EXAMPLES,
} from "../fixtures/definitions";

/** The lines a file is rejected with; fails the test if it loads. */
function fileProblems(file: string): string[] {
  try {
    loadClusterConfig(file);
  } catch (e) {
    if (e instanceof UserError) return e.lines();
    throw e;
  }
  throw new Error(`${file} was accepted`);
}

function tempFile(name: string, text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), "config-load-")), name);
  writeFileSync(file, text);
  return file;
}

describe("reference definitions", () => {
  test("homelab.yaml loads unchanged, without warnings", () => {
    const { config, warnings, file } = loadClusterConfig(HOMELAB_FILE);
    expect(file).toBe(HOMELAB_FILE);
    expect(warnings).toEqual([]);
    expect(config.name).toBe("kspray");
    expect(config.nodePools.map((p) => [p.name, p.role, p.count, p.firstIp])).toEqual([
      ["cp", "control-plane", 3, "10.10.30.21"],
      ["worker", "worker", 3, "10.10.30.31"],
    ]);
    expect(config.coexistence.existingClusters[0].vmIds).toEqual(["101-106"]);
  });

  test("cloud-cluster.yaml loads with exactly the ingress-nginx warning, on its line", () => {
    const { config, warnings } = loadClusterConfig(CLOUD_FILE);
    expect(config.nodePools[2].gpu).toEqual({ mapping: "rtx-a6000" });
    expect(warnings).toEqual([
      {
        file: CLOUD_FILE,
        path: "addons.ingress.controller",
        line: 76,
        message: expect.stringContaining("ingress-nginx was retired upstream in March 2026"),
        warning: true,
      },
    ]);
  });

  test("the bundled example loads and is the homelab definition", () => {
    expect(BUNDLED_EXAMPLE).toMatch(/examples[/\\]homelab\.yaml$/);
    const bundled = loadClusterConfig(BUNDLED_EXAMPLE);
    expect(bundled.warnings).toEqual([]);
    expect(bundled.config).toEqual(loadClusterConfig(HOMELAB_FILE).config);
  });

  // Users' reference files are kept beside the clone; the repository's copies (which the
  // other tests use, so that a clone without ../shared is tested too) must mean the same.
  const sharedFiles = existsSync(SHARED_EXAMPLES)
    ? readdirSync(SHARED_EXAMPLES).filter((f) => f.endsWith(".yaml"))
    : [];
  (sharedFiles.length > 0 ? test.each(sharedFiles) : test.skip.each(["(no ../shared/examples)"]))(
    "../shared/examples/%s loads unchanged and equals the repository's copy",
    (name) => {
      const shared = join(SHARED_EXAMPLES, name);
      const copy = join(EXAMPLES, name);
      expect(parse(readFileSync(copy, "utf8"))).toEqual(parse(readFileSync(shared, "utf8")));
      expect(loadClusterConfig(shared).config).toEqual(loadClusterConfig(copy).config);
    },
  );

  test("parseClusterConfig takes a definition built in code", () => {
    expect(parseClusterConfig(homelab()).config.proxmox.vmIdStart).toBe(4100);
  });
});

describe("YAML errors", () => {
  test("rejects a syntax error, naming its line", () => {
    const file = join(FIXTURES, "bad-syntax.yaml");
    expect(fileProblems(file)).toEqual([
      `${file}:7: YAML syntax error: Flow sequence in block collection must be sufficiently indented and end with a ]`,
    ]);
  });

  test("rejects a duplicate key, naming its line", () => {
    const file = join(FIXTURES, "duplicate-key.yaml");
    expect(fileProblems(file)).toEqual([`${file}:4: YAML syntax error: Map keys must be unique`]);
  });

  test("rejects a file that is not a mapping", () => {
    const file = tempFile("list.yaml", "- name: a\n");
    expectProblem(fileProblems(file), `${file}:1`, "expected a mapping", "got a list");
  });

  test("rejects an empty file", () => {
    const file = tempFile("empty.yaml", "# nothing\n");
    expect(fileProblems(file)).toEqual([expect.stringMatching(/expected a mapping, got nothing/)]);
  });

  test("rejects a missing file without a stack trace", () => {
    const file = join(FIXTURES, "does-not-exist.yaml");
    expect(fileProblems(file)).toEqual([
      `${file}: cannot read the file (ENOENT); check the path, a relative one starts in the folder the command was run in`,
    ]);
  });
});

describe("all problems at once", () => {
  test("a file with three independent mistakes gives three lines, each with its line", () => {
    const file = join(FIXTURES, "three-mistakes.yaml");
    const lines = fileProblems(file);
    expect(lines).toHaveLength(3);
    expect(lines).toEqual(
      expect.arrayContaining([
        `${file}:11: network.vlanId: 5000 is above the maximum of 4094`,
        `${file}:20: nodePools[0].count: 2 control-plane nodes cannot keep etcd quorum; use 1, 3 or 5`,
        `${file}:21: nodePools[0].memoryMb: unknown key; did you mean "memoryMiB"?`,
      ]),
    );
  });

  test("cross-field problems are reported beside schema problems of optional fields", () => {
    const d = homelab();
    d.network.vlanId = 0;
    d.nodePools[1].firstIp = "10.10.30.23";
    d.kubernetes.apiServerVip = "not-an-ip";
    const lines = problems(d);
    expectProblem(lines, "network.vlanId", "below the minimum of 1");
    expectProblem(lines, "kubernetes.apiServerVip", "not an IPv4 address");
    expectProblem(lines, "nodePools[1].firstIp", "overlaps pool cp's addresses");
    expect(lines).toHaveLength(3);
  });

  test("cross-field problems are reported beside a bad label, taint, range or release", () => {
    const d = homelab();
    d.nodePools[1].firstIp = "10.10.30.23";
    d.nodePools[1].labels = { "a/b/c": "x" };
    d.nodePools[1].taints = ["gpu=yes", "dedicated:NoSchedule"];
    d.coexistence.existingClusters[0].vmIds = ["106-101", 4101];
    d.kubernetes.kubesprayVersion = "v2.30.0";
    const lines = problems(d);
    expectProblem(lines, "nodePools[1].labels.a/b/c", "has more than one '/'");
    expectProblem(lines, "nodePools[1].taints[0]", "is not key=value:Effect");
    expectProblem(lines, "coexistence.existingClusters[0].vmIds[0]", "starts after it ends");
    expectProblem(lines, "kubernetes.kubesprayVersion", 'Kubespray "v2.30.0" is not supported');
    expectProblem(lines, "nodePools[1].firstIp", "overlaps pool cp's addresses");
    expectProblem(lines, "nodePools[0].count", "coexistence.existingClusters[0].vmIds[1]");
    expect(lines).toHaveLength(6);
  });

  test("one problem on many fields is one line each", () => {
    const d = homelab();
    d.name = "Bad_Name";
    d.nodePools[0].name = "Bad_Pool";
    d.proxmox.endpoint = "http://x";
    expect(problems(d)).toHaveLength(3);
  });

  test("UserError carries the issues and prints one line per problem", () => {
    const d = homelab();
    d.nodePools[0].count = 4;
    d.nodePools[0].cores = 1;
    try {
      parseClusterConfig(d);
      throw new Error("accepted");
    } catch (e) {
      expect(e).toBeInstanceOf(UserError);
      const error = e as UserError;
      expect(error.issues.map((i) => i.path).sort()).toEqual([
        "nodePools[0].cores",
        "nodePools[0].count",
      ]);
      expect(error.message.split("\n")).toEqual(error.lines());
    }
  });
});

describe("YAML syntax errors", () => {
  test("one tab gives one line, at the tab", () => {
    const text = readFileSync(HOMELAB_FILE, "utf8").replace("  bridge: vmbr0", "\tbridge: vmbr0");
    const lines = fileProblems(tempFile("tab.yaml", text));
    expect(lines).toEqual([
      expect.stringMatching(
        /tab\.yaml:21: YAML syntax error: Tabs are not allowed as indentation$/,
      ),
    ]);
  });

  test("every duplicate key is shown beside the first structural error", () => {
    const text = "name: a\nname: b\nproxmox:\n\thosts: [x]\nssh: {}\nssh: {}\n";
    const lines = fileProblems(tempFile("dups.yaml", text));
    expect(lines.map((l) => l.replace(/^.*dups\.yaml:/, ""))).toEqual([
      "2: YAML syntax error: Map keys must be unique",
      "4: YAML syntax error: Tabs are not allowed as indentation",
      "6: YAML syntax error: Map keys must be unique",
    ]);
  });
});
