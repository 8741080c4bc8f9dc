#!/usr/bin/env bash
# `npm run kubespray:install -- [--dir DIR] [--version vX.Y.Z] [--url URL]`
# Clones the pinned Kubespray release into DIR (default .kubespray/<version>, the default
# of `kubespray.dir`) and creates DIR/.venv with the release's requirements.txt.
# The URL defaults to GitHub; KUBESPRAY_GIT_URL or --url override it (tests use a local
# repository). Does nothing when DIR already holds the release and its venv.
set -euo pipefail
VERSION="${KUBESPRAY_VERSION:-v2.31.0}"
URL="${KUBESPRAY_GIT_URL:-https://github.com/kubernetes-sigs/kubespray.git}"
DIR=""
PYTHON="${PYTHON:-python3}"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --dir) DIR="$2"; shift 2 ;;
    --version) VERSION="$2"; shift 2 ;;
    --url) URL="$2"; shift 2 ;;
    *) echo "usage: npm run kubespray:install -- [--dir DIR] [--version vX.Y.Z] [--url URL]" >&2; exit 2 ;;
  esac
done
DIR="${DIR:-.kubespray/$VERSION}"
DIR="${DIR/#\~/$HOME}"

if [[ -f "$DIR/galaxy.yml" ]]; then
  have="v$(sed -n 's/^version: *//p' "$DIR/galaxy.yml" | tr -d "\"' ")"
  if [[ "$have" != "$VERSION" ]]; then
    echo "kubespray:install: $DIR holds Kubespray $have, not $VERSION; remove it or choose another --dir" >&2
    exit 1
  fi
  echo "kubespray:install: $DIR already holds Kubespray $VERSION"
else
  mkdir -p "$(dirname "$DIR")"
  git clone --quiet --branch "$VERSION" --depth 1 "$URL" "$DIR"
  echo "kubespray:install: cloned Kubespray $VERSION into $DIR"
fi

stamp="$DIR/.venv/.requirements"
if [[ -x "$DIR/.venv/bin/ansible-playbook" ]] && cmp -s "$DIR/requirements.txt" "$stamp"; then
  echo "kubespray:install: $DIR/.venv is up to date"
  exit 0
fi
"$PYTHON" -m venv "$DIR/.venv"
"$DIR/.venv/bin/pip" install --quiet --disable-pip-version-check -r "$DIR/requirements.txt"
cp "$DIR/requirements.txt" "$stamp"
"$DIR/.venv/bin/ansible-playbook" --version | head -1
