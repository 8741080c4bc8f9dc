#!/usr/bin/env bash
# Creates .toolchain/ansible-venv with exactly the Python requirements of the pinned
# Kubespray release (kubespray-vars/releases/<version>/supported-versions.json), for the
# runner tests. Cached: does nothing when the venv already holds the pinned Ansible.
#   bash scripts/ansible-venv.sh [VENV_DIR]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RELEASE="${KUBESPRAY_VERSION:-v2.31.0}"
FACTS="$ROOT/kubespray-vars/releases/$RELEASE/supported-versions.json"
VENV="${1:-$ROOT/.toolchain/ansible-venv}"
PYTHON="${PYTHON:-python3}"

mapfile -t REQS < <("$PYTHON" -c 'import json,sys; print("\n".join(json.load(open(sys.argv[1]))["python_requirements"]))' "$FACTS")
ANSIBLE_PIN=""
for r in "${REQS[@]}"; do [[ "$r" == ansible==* ]] && ANSIBLE_PIN="${r#ansible==}"; done

if [[ -x "$VENV/bin/ansible-playbook" ]] &&
  [[ "$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("ansible"))' 2>/dev/null)" == "$ANSIBLE_PIN" ]]; then
  echo "ansible-venv: $VENV already holds ansible $ANSIBLE_PIN"
  exit 0
fi

echo "ansible-venv: creating $VENV with ${REQS[*]}"
rm -rf "$VENV"
mkdir -p "$(dirname "$VENV")"
"$PYTHON" -m venv "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check "${REQS[@]}"
# Not `| head -1`: under pipefail, ansible dies of the closed pipe and fails the script.
version="$("$VENV/bin/ansible-playbook" --version)"
echo "${version%%$'\n'*}"
