import {
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
  mkdirSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import type { ShowState } from "../../lib/state-files";
import { filesInState, restoreFiles } from "../../lib/state-files";

/** `tofu show -json` of a state with two files, a data source and a null_resource. */
const SHOWN: ShowState = {
  values: {
    root_module: {
      resources: [
        {
          mode: "managed",
          type: "local_file",
          values: {
            filename: "../../../.state/c/inventory/hosts.yaml",
            content: "all: {}\n",
            file_permission: "0600",
            directory_permission: "0700",
          },
        },
        { mode: "managed", type: "null_resource", values: { triggers: { a: "b" } } },
        { mode: "data", type: "local_file", values: { filename: "/etc/hostname", content: "x" } },
      ],
      child_modules: [
        {
          resources: [
            {
              mode: "managed",
              type: "local_sensitive_file",
              values: {
                filename: "/abs/secret.bin",
                content_base64: Buffer.from([0, 1, 2]).toString("base64"),
                file_permission: "0640",
                directory_permission: "0750",
              },
            },
          ],
        },
      ],
    },
  },
};

describe("filesInState", () => {
  it("finds every managed local_file and local_sensitive_file, child modules too", () => {
    expect(filesInState(SHOWN)).toEqual([
      {
        filename: "../../../.state/c/inventory/hosts.yaml",
        content: Buffer.from("all: {}\n"),
        filePermission: "0600",
        directoryPermission: "0700",
      },
      {
        filename: "/abs/secret.bin",
        content: Buffer.from([0, 1, 2]),
        filePermission: "0640",
        directoryPermission: "0750",
      },
    ]);
  });

  it("finds nothing in an empty state", () => {
    expect(filesInState({})).toEqual([]);
  });
});

describe("restoreFiles", () => {
  let root: string;
  let stackDir: string;
  const [inventory] = filesInState(SHOWN);
  const target = () => join(root, ".state", "c", "inventory", "hosts.yaml");
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), "restore-"));
    stackDir = join(root, "cdktf.out", "stacks", "cluster");
    mkdirSync(stackDir, { recursive: true });
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it("writes a missing file relative to the stack's directory, with its permissions", () => {
    expect(restoreFiles([inventory], stackDir)).toEqual([target()]);
    expect(readFileSync(target(), "utf8")).toBe("all: {}\n");
    expect(statSync(target()).mode & 0o777).toBe(0o600);
    expect(statSync(join(root, ".state")).mode & 0o777).toBe(0o700);
    expect(statSync(join(root, ".state", "c", "inventory")).mode & 0o777).toBe(0o700);
  });

  it("writes over a stale copy, and leaves an identical one alone", () => {
    restoreFiles([inventory], stackDir);
    writeFileSync(target(), "all: {old: true}\n");
    expect(restoreFiles([inventory], stackDir)).toEqual([target()]);
    expect(readFileSync(target(), "utf8")).toBe("all: {}\n");
    utimesSync(target(), 1, 1);
    expect(restoreFiles([inventory], stackDir)).toEqual([]);
    expect(statSync(target()).mtimeMs).toBe(1000);
  });
});
