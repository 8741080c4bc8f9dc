/**
 * The files a stack's state holds (its `local_file` and `local_sensitive_file` resources:
 * the Kubespray inventory, group_vars, runner.json), written back where a clone lacks them.
 *
 * Why: the local provider forgets a file that is missing on disk when it refreshes, and
 * plans to write it again; its hash is then unknown, so the runner, whose triggers are
 * those hashes, would be replaced and Kubespray run again. With a shared state
 * (`state.backend: pg`), a second operator's fresh clone has none of the files, so
 * scripts/restore-files.ts writes them from the state before OpenTofu plans: the plan is
 * the first operator's. The same for a file another operator's deploy has changed since
 * (this clone's copy is stale): with a shared state the files are a copy of it, and the
 * state is what the last deploy wrote.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";

/** The resource types whose files are restored. */
export const FILE_RESOURCE_TYPES: readonly string[] = ["local_file", "local_sensitive_file"];

/** One file the state holds. */
export interface StateFile {
  /** As in the state: absolute, or relative to the stack's directory. */
  readonly filename: string;
  readonly content: Buffer;
  /** Octal, e.g. `0600`. */
  readonly filePermission: string;
  readonly directoryPermission: string;
}

interface ShowModule {
  readonly resources?: readonly {
    readonly mode?: string;
    readonly type: string;
    readonly values?: Record<string, unknown>;
  }[];
  readonly child_modules?: readonly ShowModule[];
}

/** `tofu show -json` of a state (not a plan). */
export interface ShowState {
  readonly values?: { readonly root_module?: ShowModule };
}

function contentOf(values: Record<string, unknown>): Buffer | undefined {
  for (const key of ["content", "sensitive_content"]) {
    const text = values[key];
    if (typeof text === "string") return Buffer.from(text, "utf8");
  }
  const base64 = values.content_base64 ?? values.sensitive_content_base64;
  return typeof base64 === "string" ? Buffer.from(base64, "base64") : undefined;
}

/** The files of every `local_file` / `local_sensitive_file` of a state, child modules too. */
export function filesInState(show: ShowState): StateFile[] {
  const out: StateFile[] = [];
  const visit = (module: ShowModule | undefined) => {
    for (const r of module?.resources ?? []) {
      if (r.mode === "data" || !FILE_RESOURCE_TYPES.includes(r.type) || !r.values) continue;
      const { filename } = r.values;
      const content = contentOf(r.values);
      if (typeof filename !== "string" || content === undefined) continue;
      out.push({
        filename,
        content,
        filePermission: String(r.values.file_permission ?? "0777"),
        directoryPermission: String(r.values.directory_permission ?? "0777"),
      });
    }
    for (const child of module?.child_modules ?? []) visit(child);
  };
  visit(show.values?.root_module);
  return out;
}

/**
 * Writes each file that is missing or differs from the state, relative names against
 * `stackDir`, with the state's permissions (also on the directories it creates); returns
 * the paths written.
 */
export function restoreFiles(files: readonly StateFile[], stackDir: string): string[] {
  const written: string[] = [];
  for (const file of files) {
    const path = resolve(stackDir, file.filename);
    if (existsSync(path) && readFileSync(path).equals(file.content)) continue;
    const dirMode = parseInt(file.directoryPermission, 8);
    const missingDirs: string[] = [];
    for (let d = dirname(path); !existsSync(d); d = dirname(d)) missingDirs.unshift(d);
    for (const d of missingDirs) {
      mkdirSync(d, { mode: dirMode });
      chmodSync(d, dirMode); // the umask may have narrowed it
    }
    const mode = parseInt(file.filePermission, 8);
    // Whole or not at all: a new file renamed over the old one.
    const tmp = `${path}.restoring`;
    writeFileSync(tmp, file.content, { mode });
    chmodSync(tmp, mode);
    renameSync(tmp, path);
    written.push(path);
  }
  return written;
}
