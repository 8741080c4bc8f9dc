#!/usr/bin/env bash
# Runs cdktf with the offline toolchain (OpenTofu and the provider mirror built by
# scripts/toolchain.sh). deploy and destroy skip `tofu providers lock`, which would ask a
# registry for checksums: the mirror is the only provider source.
#   bash scripts/cdktf.sh deploy vms cluster addons
#   bash scripts/cdktf.sh deploy addons          # one stack: its dependencies stay as they are
#
# deploy and destroy of ONE stack add --ignore-missing-stack-dependencies (cdktf refuses a
# stack whose dependencies are not named); not for several, with which cdktf 0.21 starts a
# destroy again and again while it runs. Without a terminal to confirm on, deploy and
# destroy need --auto-approve (cdktf would die in its interactive prompt). A deploy starts
# with the preflight checks (npm run preflight); --skip-preflight skips them.
set -euo pipefail
# What OpenTofu, cdktf and the runner write is the user's alone: the states (the addons
# state holds the add-ons' secrets), their backups and lock records, plans, the inventory.
umask 077
# A relative CLUSTER_CONFIG starts in the folder the user ran the command in (npm passes it as
# INIT_CWD), as lib/environment.ts userPath() reads it; made absolute here, before `cd` and npx (which
# resets INIT_CWD to the project's folder for cdktf and the app).
if [[ -n "${CLUSTER_CONFIG:-}" && "$CLUSTER_CONFIG" != /* ]]; then
  export CLUSTER_CONFIG="${INIT_CWD:-$PWD}/$CLUSTER_CONFIG"
fi
cd "$(dirname "$0")/.."
# shellcheck source=scripts/toolchain-env.sh
source scripts/toolchain-env.sh
# A missing secret variable fails with its name instead of waiting for typed input.
export TF_INPUT=0
command="${1:?usage: scripts/cdktf.sh COMMAND [ARGS...]}"
shift

# A shared state's files (the inventory, runner.json) that this clone lacks, or has in an
# older version, are written back from the state before anything plans
# (scripts/restore-files.ts; with a local state it does nothing).
restore_files() {
  CDKTF_OUTDIR="${output:-${CDKTF_OUTDIR:-cdktf.out}}" node --import tsx scripts/restore-files.ts
}

output=""
case "$command" in
  deploy | destroy) ;;
  diff)
    restore_files
    exec npx cdktf diff --skip-provider-lock "$@"
    ;;
  *) exec npx cdktf "$command" "$@" ;;
esac

stacks=()
flags=()
value_next=0
for arg in "$@"; do
  if [[ "$value_next" == 1 ]]; then
    flags+=("$arg")
    [[ "${flags[-2]}" == --output || "${flags[-2]}" == -o ]] && output="$arg"
    value_next=0
    continue
  fi
  case "$arg" in
    # cdktf options that take a value as the next argument
    --output | -o | --var | --var-file | --parallelism | --outputs-file | --target)
      flags+=("$arg")
      value_next=1
      ;;
    -*) flags+=("$arg") ;;
    *) stacks+=("$arg") ;;
  esac
done

# The stacks named, or all of them (cdktf itself takes no default when there are several);
# a name that is none of the app's (a typo: vsm) stops here, naming them (lib/stacks.ts).
named="$(node --import tsx scripts/check-stacks.ts "$command" ${stacks[@]+"${stacks[@]}"})"
read -ra stacks <<<"$named"

# Preflight first (npm run preflight): every problem at once, before anything changes.
preflight=1
kept=()
for f in ${flags[@]+"${flags[@]}"}; do
  if [[ "$f" == "--skip-preflight" ]]; then preflight=0; else kept+=("$f"); fi
done
flags=(${kept[@]+"${kept[@]}"})

approved=0
for f in ${flags[@]+"${flags[@]}"}; do [[ "$f" == "--auto-approve" ]] && approved=1; done
if [[ "$approved" == 0 && ! -t 0 ]]; then
  echo "cdktf.sh: $command needs a terminal to confirm on; review the change with npm run diff, then run again with --auto-approve (npm run $command -- ${*} --auto-approve)" >&2
  exit 2
fi

if [[ "$command" == deploy && "$preflight" == 1 ]]; then
  node --import tsx preflight/cli.ts ${stacks[@]+"${stacks[@]}"}
fi
# A stack whose last apply could not save its state (errored.tfstate) is pushed before
# anything runs (scripts/errored-state.ts).
errored_state() {
  CDKTF_OUTDIR="${output:-${CDKTF_OUTDIR:-cdktf.out}}" node --import tsx scripts/errored-state.ts "$@"
}
errored_state before
restore_files
# VMs an interrupted deploy left behind are imported, not made again (scripts/adopt.ts).
# Then no node's VM may be replaced (scripts/node-guard.ts): it exits 2 naming each, or
# prints the unfinished ones outside the cluster that the deploy may make anew.
if [[ "$command" == deploy && ( "${#stacks[@]}" -eq 0 || " ${stacks[*]} " == *" vms "* ) ]]; then
  CDKTF_OUTDIR="${output:-${CDKTF_OUTDIR:-cdktf.out}}" node --import tsx scripts/adopt.ts
  DESTROYABLE_NODES="$(CDKTF_OUTDIR="${output:-${CDKTF_OUTDIR:-cdktf.out}}" node --import tsx scripts/node-guard.ts)"
  export DESTROYABLE_NODES
fi
# A teardown destroys every node's VM (each is otherwise marked prevent_destroy).
if [[ "$command" == destroy ]]; then export DESTROYABLE_NODES=all; fi

# Destroying needs no secret: the add-ons' variables that are unset get a placeholder.
if [[ "$command" == destroy ]]; then
  secrets="$(node --import tsx scripts/secret-variables.ts)"
  for name in $secrets; do
    [[ -n "${!name:-}" ]] || export "$name=unused-by-destroy"
  done
fi

# Ctrl-C (or a kill) while cdktf runs: cdktf stops OpenTofu and says no more than
# `AbortError: The operation was aborted`; scripts/interrupted.ts then says what was cut off
# and what to run next, and removes a lock record OpenTofu left once no process holds the lock.
interrupted=0
trap 'interrupted=1' INT TERM
# A failed one that left a stack's state in errored.tfstate (the database went away during
# the apply) ends with where it is and how to push it (scripts/errored-state.ts, exit 2).
run_cdktf() {
  local status=0
  npx cdktf "$@" || status=$?
  if [[ "$interrupted" == 1 ]]; then
    node --import tsx scripts/interrupted.ts "$command" "${stacks[@]}" || true
    exit 130
  fi
  if [[ "$status" != 0 ]]; then errored_state after; fi
  return "$status"
}

# The add-ons first, on their own and without OpenTofu's refresh: a destroy refreshes a
# state that is not empty with a normal plan, in which the helm provider locates every chart,
# so a repository out of reach (or a stack whose deploy failed after planning) stopped the
# teardown with `Error locating chart`. Uninstalling needs no chart, and the provider skips
# a release already gone. Then the command as given: the emptied addons state is not
# refreshed any more, and the other stacks are, so that a VM deleted by hand leaves their
# state (the proxmox provider cannot delete a VM that is gone).
if [[ "$command" == destroy && " ${stacks[*]} " == *" addons "* ]]; then
  TF_CLI_ARGS_destroy=-refresh=false run_cdktf destroy --skip-provider-lock addons \
    --ignore-missing-stack-dependencies ${flags[@]+"${flags[@]}"}
  [[ "${stacks[*]:-}" != addons ]] || exit 0
  flags+=("--skip-synth")
fi

# One stack alone: its dependencies are deployed (or its dependants destroyed) already.
if [[ "${#stacks[@]}" -eq 1 ]]; then flags+=("--ignore-missing-stack-dependencies"); fi
run_cdktf "$command" --skip-provider-lock ${stacks[@]+"${stacks[@]}"} ${flags[@]+"${flags[@]}"}
