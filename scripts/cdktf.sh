#!/usr/bin/env bash
# Runs cdktf with the offline toolchain (OpenTofu and the provider mirror built by
# scripts/toolchain.sh). deploy, destroy and diff skip `tofu providers lock`, which would
# ask a registry for checksums: the mirror is the only provider source.
#   bash scripts/cdktf.sh deploy vms cluster addons
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/toolchain-env.sh
source scripts/toolchain-env.sh
# A missing secret variable fails with its name instead of waiting for typed input.
export TF_INPUT=0
command="${1:?usage: scripts/cdktf.sh COMMAND [ARGS...]}"
shift
case "$command" in
  deploy | destroy | diff) exec npx cdktf "$command" --skip-provider-lock "$@" ;;
  *) exec npx cdktf "$command" "$@" ;;
esac
