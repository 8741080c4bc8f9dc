/** Where the test cluster's control plane is: built by `scripts/toolchain.sh`. */
import { existsSync } from "node:fs";
import { join, relative } from "node:path";

import { CONTROL_PLANE_DIR } from "../config/project-root";
import { UserError } from "../errors/user-error";

export { CONTROL_PLANE_DIR };

export interface ControlPlaneBinaries {
  /** kube-apiserver, kube-controller-manager, kube-scheduler and `pki` in one binary. */
  readonly kube: string;
  readonly etcd: string;
  readonly kwok: string;
  /** The Stages kwok runs with (kwok's defaults, written by the toolchain). */
  readonly kwokStages: string;
}

/** The binaries in `dir`. */
export function controlPlaneBinaries(dir: string = CONTROL_PLANE_DIR): ControlPlaneBinaries {
  return {
    kube: join(dir, "kube"),
    etcd: join(dir, "etcd"),
    kwok: join(dir, "kwok"),
    kwokStages: join(dir, "kwok-stages.yaml"),
  };
}

/** Whether the control plane in `dir` has been built. */
export function hasControlPlane(dir: string = CONTROL_PLANE_DIR): boolean {
  return Object.values(controlPlaneBinaries(dir)).every((f) => existsSync(f));
}

/** The binaries in `dir`; a `UserError` that says how to build them when one is missing. */
export function requireControlPlane(dir: string = CONTROL_PLANE_DIR): ControlPlaneBinaries {
  const binaries = controlPlaneBinaries(dir);
  const missing = Object.values(binaries).filter((f) => !existsSync(f));
  if (missing.length > 0) {
    const shown = missing.map((f) => relative(process.cwd(), f) || f).join(", ");
    throw UserError.at(
      shown,
      "the test cluster's control plane is not built",
      "run: npm run toolchain (about 10 minutes the first time with cold Go caches, seconds afterwards)",
    );
  }
  return binaries;
}
