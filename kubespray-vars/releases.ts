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

/**
 * The Kubespray releases this project knows how to drive: the one place that pins them,
 * each with its facts in `releases/<version>/`.
 */
export const SUPPORTED_KUBESPRAY_VERSIONS = ["v2.31.0"] as const;
export type KubesprayVersion = (typeof SUPPORTED_KUBESPRAY_VERSIONS)[number];
/** The release a definition gets when it names none. */
export const DEFAULT_KUBESPRAY_VERSION: KubesprayVersion = "v2.31.0";

const RELEASES_DIR = projectPath("kubespray-vars", "releases");

/** Reads the facts of one release from its folder. */
function readRelease(version: string): KubesprayRelease {
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
  return {
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
}

/** Every supported release's facts, read once when this module loads. */
const RELEASES: ReadonlyMap<string, KubesprayRelease> = new Map(
  SUPPORTED_KUBESPRAY_VERSIONS.map((v) => [v, readRelease(v)]),
);

/** The facts of one supported release (the schema admits no other). */
export function kubesprayRelease(version: string): KubesprayRelease {
  const release = RELEASES.get(version);
  if (release === undefined) throw new Error(`Kubespray ${version} is not supported here`);
  return release;
}
