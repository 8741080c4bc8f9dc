/**
 * How many hosts Ansible works on at once when it runs a Kubespray playbook (`--forks`):
 * its own default, and the cap the definition's `kubespray.maxForks` defaults to.
 */

/** Ansible's own default of `--forks`. */
export const ANSIBLE_FORKS = 5;

/** Ansible's `--forks` cap: a playbook works on as many hosts at once as it touches, up to this. */
export const DEFAULT_MAX_FORKS = 25;
