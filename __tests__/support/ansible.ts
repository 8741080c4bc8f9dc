/**
 * The Ansible of the runner tests: `.toolchain/ansible-venv`, built by
 * `bash scripts/ansible-venv.sh` with Kubespray v2.31.0's exact requirements. Tests that
 * need it fail when it is missing under CI, and are skipped locally.
 */
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";

export const ROOT = resolve(__dirname, "..", "..");
export const ANSIBLE_VENV = join(ROOT, ".toolchain", "ansible-venv");
export const ANSIBLE_BIN = join(ANSIBLE_VENV, "bin");
export const STANDIN = join(ROOT, "__tests__", "fixtures", "kubespray-standin");

export function hasAnsible(): boolean {
  return existsSync(join(ANSIBLE_BIN, "ansible-playbook"));
}

/** `describe` when Ansible is there; under CI a missing venv is a failure, locally a skip. */
export function describeWithAnsible(name: string, fn: () => void): void {
  if (hasAnsible()) {
    describe(name, fn);
  } else if (process.env.CI) {
    describe(name, () => {
      it("needs the Ansible venv", () => {
        throw new Error(`${ANSIBLE_VENV} is missing; run: bash scripts/ansible-venv.sh`);
      });
    });
  } else {
    describe.skip(`${name} (no ${ANSIBLE_VENV}; run bash scripts/ansible-venv.sh)`, fn);
  }
}
