/**
 * Facts about the Kubespray releases this project supports, shipped in
 * `kubespray-vars/releases/<version>/` (derived from the release itself): the variables it
 * knows, the versions it can install, and the Python/Ansible it needs.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";

import { projectPath } from "../config/project-root";

export interface KubesprayRelease {
  readonly version: string;
  /** Kubernetes versions the release can install, newest first. */
  readonly kubernetes: readonly string[];
  readonly containerd: readonly string[];
  readonly calico: readonly string[];
  /** Pinned lines of the release's requirements.txt, e.g. `ansible==11.13.0`. */
  readonly pythonRequirements: readonly string[];
  /** ansible-core must be >= min and < max. */
  readonly ansibleCore: { readonly min: string; readonly max: string };
  /** Every variable name the release's roles and playbooks reference. */
  readonly knownVariables: ReadonlySet<string>;
}

interface SupportedVersionsFile {
  kubespray_version: string;
  kubernetes: string[];
  containerd: string[];
  calico: string[];
  python_requirements: string[];
  minimal_ansible_core_version: string;
  maximal_ansible_core_version: string;
}

const RELEASES_DIR = projectPath("kubespray-vars", "releases");
const cache = new Map<string, KubesprayRelease>();

/** Loads the facts of one supported release; throws for a release that is not shipped. */
export function kubesprayRelease(version: string): KubesprayRelease {
  const cached = cache.get(version);
  if (cached) return cached;
  const dir = join(RELEASES_DIR, version);
  const facts = JSON.parse(
    readFileSync(join(dir, "supported-versions.json"), "utf8"),
  ) as SupportedVersionsFile;
  const knownVariables = new Set(
    readFileSync(join(dir, "known-variables.txt"), "utf8")
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l !== ""),
  );
  const release: KubesprayRelease = {
    version: facts.kubespray_version,
    kubernetes: facts.kubernetes,
    containerd: facts.containerd,
    calico: facts.calico,
    pythonRequirements: facts.python_requirements,
    ansibleCore: {
      min: facts.minimal_ansible_core_version,
      max: facts.maximal_ansible_core_version,
    },
    knownVariables,
  };
  cache.set(version, release);
  return release;
}
