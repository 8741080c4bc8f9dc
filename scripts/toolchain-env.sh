# shellcheck shell=bash
# scripts/toolchain-env.sh — `source` this (from any directory) to use the
# offline toolchain built by scripts/toolchain.sh:
#
#   bash scripts/toolchain.sh && source scripts/toolchain-env.sh
#   tofu version; helm version; npx cdktf synth ...
#
# It only exports variables; it builds nothing and never exits the caller's
# shell. Safe to source more than once (PATH is not duplicated).

# Repo root = parent of the directory holding this file (bash and zsh).
if [ -n "${BASH_SOURCE[0]:-}" ]; then
  _toolchain_env_src="${BASH_SOURCE[0]}"
elif [ -n "${ZSH_VERSION:-}" ]; then
  # shellcheck disable=SC2296 # zsh-only expansion
  _toolchain_env_src="${(%):-%x}"
else
  _toolchain_env_src="$0"
fi
TOOLCHAIN_ROOT="$(cd "$(dirname "${_toolchain_env_src}")/.." && pwd -P)/.toolchain"
unset _toolchain_env_src
export TOOLCHAIN_ROOT

# OpenTofu: read the generated CLI config (filesystem mirror only, no registry).
export TF_CLI_CONFIG_FILE="${TOOLCHAIN_ROOT}/tofurc"

# cdktf: run `tofu` instead of `terraform`.
export TERRAFORM_BINARY_NAME=tofu

# cdktf otherwise points TF_PLUGIN_CACHE_DIR at ~/.terraform.d/plugin-cache,
# which would copy providers out of the mirror into $HOME and can hold stale
# builds of the same version; the mirror is local already, so keep it off.
export CDKTF_DISABLE_PLUGIN_CACHE_ENV=1

# cdktf telemetry (a network call) off; tofu itself has no checkpoint calls.
export CHECKPOINT_DISABLE=1

# tofu and helm first in PATH.
case ":${PATH}:" in
  *":${TOOLCHAIN_ROOT}/bin:"*) ;;
  *) export PATH="${TOOLCHAIN_ROOT}/bin:${PATH}" ;;
esac

if [ ! -x "${TOOLCHAIN_ROOT}/bin/tofu" ]; then
  echo "toolchain-env: ${TOOLCHAIN_ROOT}/bin/tofu not found — run: bash scripts/toolchain.sh" >&2
fi
