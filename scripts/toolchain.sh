#!/usr/bin/env bash
# scripts/toolchain.sh — build the offline OpenTofu toolchain into .toolchain/
#
# Everything is compiled from source with the Go toolchain; the only network
# access needed is the Go module proxy (for OpenTofu, the bpg/proxmox provider,
# the helm CLI, the test cluster's control plane and all Go dependencies). No Terraform/OpenTofu registry and no
# GitHub access is needed, now or later: the generated CLI config only knows a
# local filesystem mirror.
#
# Result (all git-ignored):
#   .toolchain/bin/tofu                      OpenTofu CLI
#   .toolchain/bin/helm                      helm v3 CLI (skip with --no-helm)
#   .toolchain/providers/HOST/NS/TYPE/VER/OS_ARCH/terraform-provider-TYPE_vVER
#                                            unpacked filesystem mirror, every
#                                            provider under both registry.opentofu.org
#                                            and registry.terraform.io
#   .toolchain/tofurc                        CLI config: filesystem mirror only
#   .toolchain/control-plane/                the test cluster's control plane (skip
#                                            with --no-control-plane; test-cluster/):
#     kube                                   kube-apiserver, kube-controller-manager and
#                                            kube-scheduler in one binary, and `kube pki`
#     etcd, kwok, kwok-stages.yaml           etcd; kwok and the Stages it runs with
#   .toolchain/stamps/*.stamp                cache keys (one per artifact)
#   .toolchain/logs/*.log                    build logs of the last build
#
# Use it via:  source scripts/toolchain-env.sh
#
# Usage: scripts/toolchain.sh [--no-helm] [--no-control-plane] [--check] [--help]
#   (default)   build whatever is missing or out of date; print one line per
#               artifact ("built" / "cached"). A warm second run takes seconds.
#   --no-helm   do not build (or, with --check, do not require) the helm CLI.
#   --no-control-plane
#               do not build (or, with --check, do not require) the test
#               cluster's control plane (about 9 of the cold build's minutes).
#   --check     build nothing; verify every artifact is present and matches the
#               pinned versions; exit 1 if anything is missing.
#
# Idempotent: each artifact is keyed by a stamp file holding its pinned
# version/source; it is rebuilt only when the binary or stamp is missing or the
# key changed. Go's own caches (GOMODCACHE, GOCACHE) make rebuilds cheaper too.
set -euo pipefail

# =============================================================================
# Pinned versions — the ONE place to change them.
# =============================================================================
TOFU_VERSION="1.12.6"                 # github.com/opentofu/opentofu

# hashicorp/{null,local,helm}: these versions MUST match the provider versions
# pinned by the prebuilt @cdktf/provider-null, @cdktf/provider-local and
# @cdktf/provider-helm npm packages in package.json.
# Their Go modules have no /vN suffix, so the Go proxy can only serve them by
# commit; the *_COMMIT values are the commits of the upstream release tags.
# Where the Go proxy refuses those commits (some sandboxed proxies answer 403),
# the script builds the same commit from a local git copy of the upstream
# repository instead: see PROVIDER_SOURCES below. Nothing of it is committed.
NULL_VERSION="3.2.4"                  # tag v3.2.4
NULL_COMMIT="01034f80eb238732fd9e8673582e0e770cfab578"
LOCAL_VERSION="2.6.1"                 # tag v2.6.1
LOCAL_COMMIT="ba8eb9d12edf493cd3f77ac80a59f6c89b50d4fc"
HELM_PROVIDER_VERSION="3.1.1"         # tag v3.1.1
HELM_PROVIDER_COMMIT="1cbf08f6a306ab3cdff6079b87a61c7641b64f3b"

PROXMOX_VERSION="0.111.1"             # github.com/bpg/terraform-provider-proxmox

# The helm CLI renders charts in tests: it must be the Helm library that the helm provider
# embeds (helm.sh/helm/v3 in terraform-provider-helm's go.mod at the pinned tag), so that a
# chart that renders in a test renders on a deploy. Checked when the provider is built.
HELM_CLI_VERSION="3.18.4"

# The test cluster's control plane (test-cluster/): Kubespray v2.31.0's default Kubernetes,
# and the etcd that Kubespray installs with it (etcd_supported_versions['1.35']: the newest
# 3.6 release in its checksums). Each is built from a small Go module of ours in
# test-cluster/go/{kube,etcd,kwok}, whose go.mod and go.sum pin every dependency; the
# go.mod must require exactly the version below (checked before building).
KUBE_VERSION="1.35.4"                 # k8s.io/kubernetes (staging modules at v0.35.4)
ETCD_VERSION="3.6.10"                 # go.etcd.io/etcd/server/v3
KWOK_VERSION="0.8.0"                  # sigs.k8s.io/kwok: plays the nodes' kubelets
# =============================================================================

# Provider table: one entry per provider, fields separated by '|':
#   namespace/type | version | Go module@ref | upstream owner/repo (for a local
#   git copy; may be empty) | Go package to build | -X ldflags ({V} = version)
PROVIDERS=(
  "hashicorp/null|${NULL_VERSION}|github.com/terraform-providers/terraform-provider-null@${NULL_COMMIT}|hashicorp/terraform-provider-null|.|"
  "hashicorp/local|${LOCAL_VERSION}|github.com/terraform-providers/terraform-provider-local@${LOCAL_COMMIT}|hashicorp/terraform-provider-local|.|"
  "hashicorp/helm|${HELM_PROVIDER_VERSION}|github.com/hashicorp/terraform-provider-helm@${HELM_PROVIDER_COMMIT}|hashicorp/terraform-provider-helm|.|-X main.Version={V}"
  "bpg/proxmox|${PROXMOX_VERSION}|github.com/bpg/terraform-provider-proxmox@v${PROXMOX_VERSION}||.|-X main.version={V}"
)
# Every provider is published under both hostnames: short sources ("null",
# "hashicorp/null", as cdktf synthesizes them) resolve to registry.opentofu.org
# in tofu, while explicit registry.terraform.io/hashicorp/... sources (older
# configs, Terraform-made lock files) must resolve too.
MIRROR_HOSTS=("registry.opentofu.org" "registry.terraform.io")

# -----------------------------------------------------------------------------
# Paths and options
# -----------------------------------------------------------------------------
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
TOOLCHAIN_DIR="${REPO_ROOT}/.toolchain"
BIN_DIR="${TOOLCHAIN_DIR}/bin"
PROVIDERS_DIR="${TOOLCHAIN_DIR}/providers"
STAMP_DIR="${TOOLCHAIN_DIR}/stamps"
LOG_DIR="${TOOLCHAIN_DIR}/logs"
TMP_ROOT="${TOOLCHAIN_DIR}/tmp"
TOFURC="${TOOLCHAIN_DIR}/tofurc"
CONTROL_PLANE_DIR="${TOOLCHAIN_DIR}/control-plane"
CONTROL_PLANE_MODULES="${REPO_ROOT}/test-cluster/go"
# Colon-separated folders holding git copies (bare or not) of the upstream
# provider repositories, each named after its repository (REPO or REPO/.git):
# used only when the Go proxy does not serve a pinned commit. The default is the
# project's shared artifacts folder beside the clone (../shared/provider-sources),
# which holds the three hashicorp providers at their release tags.
PROVIDER_SOURCES="${PROVIDER_SOURCES:-${REPO_ROOT}/../shared/provider-sources}"

WITH_HELM=1
WITH_CONTROL_PLANE=1
CHECK_ONLY=0
for arg in "$@"; do
  case "${arg}" in
    --no-helm) WITH_HELM=0 ;;
    --no-control-plane) WITH_CONTROL_PLANE=0 ;;
    --check) CHECK_ONLY=1 ;;
    -h | --help)
      sed -n '2,/^set -euo pipefail/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
      exit 0
      ;;
    *)
      echo "toolchain: unknown argument '${arg}' (try --help)" >&2
      exit 2
      ;;
  esac
done

die() {
  echo "toolchain: ERROR: $*" >&2
  exit 1
}

# Reproducible, static builds regardless of the caller's Go settings:
# no cgo, no go.work from a parent dir, no VCS stamping (sources are copies),
# and no inherited -mod=mod/vendor that could rewrite or bypass go.sum.
export CGO_ENABLED=0
export GOWORK=off
export GOFLAGS="-buildvcs=false"

# Target platform of the mirror (tofu looks for OS_ARCH of the host).
platform() {
  if command -v go >/dev/null 2>&1; then
    echo "$(go env GOOS)_$(go env GOARCH)"
    return
  fi
  local os arch
  case "$(uname -s)" in Linux) os=linux ;; Darwin) os=darwin ;; *) os="$(uname -s | tr '[:upper:]' '[:lower:]')" ;; esac
  case "$(uname -m)" in x86_64 | amd64) arch=amd64 ;; aarch64 | arm64) arch=arm64 ;; *) arch="$(uname -m)" ;; esac
  echo "${os}_${arch}"
}
PLATFORM="$(platform)"

# -----------------------------------------------------------------------------
# Cache helpers: an artifact is up to date when all its files exist and its
# stamp holds exactly the expected key.
# -----------------------------------------------------------------------------
stamp_ok() { # stamp_ok NAME KEY FILE...
  local name="$1" key="$2"
  shift 2
  local f
  for f in "$@"; do [[ -x "${f}" ]] || return 1; done
  [[ -f "${STAMP_DIR}/${name}.stamp" ]] && [[ "$(cat "${STAMP_DIR}/${name}.stamp")" == "${key}" ]]
}
write_stamp() { printf '%s\n' "$2" >"${STAMP_DIR}/$1.stamp"; }

# Scratch space for writable source copies, on the same filesystem. A fixed
# path (runs are serialised by a lock) keeps Go's build cache effective across
# runs; it is emptied at start and on exit.
WORK=""
cleanup() { [[ -n "${WORK}" && -d "${WORK}" ]] && chmod -R u+w "${WORK}" 2>/dev/null && rm -rf "${WORK}"; return 0; }

# module_dir MODULE@VERSION LOG -> prints the (read-only) module cache dir.
module_dir() {
  local json dir err
  # Run from the scratch dir so no surrounding go.mod can interfere.
  json="$(cd "${WORK}" && go mod download -json "$1" 2>>"$2")" || true
  err="$(printf '%s\n' "${json}" | sed -n 's/^[[:space:]]*"Error": "\(.*\)",\{0,1\}$/\1/p')"
  dir="$(printf '%s\n' "${json}" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')"
  if [[ -n "${err}" || -z "${dir}" || ! -d "${dir}" ]]; then
    echo "go mod download $1 failed: ${err:-see $2}" >>"$2"
    return 1
  fi
  printf '%s\n' "${dir}"
}

# local_git_copy OWNER/REPO COMMIT -> prints the git dir of a local copy of the
# upstream repository (searched in PROVIDER_SOURCES) that holds COMMIT.
local_git_copy() {
  local repo="${1#*/}" base candidate
  local IFS=:
  for base in ${PROVIDER_SOURCES}; do
    for candidate in "${base}/${repo}/.git" "${base}/${repo}"; do
      if [[ -d "${candidate}" ]] && git --git-dir "${candidate}" cat-file -e "$2^{commit}" 2>/dev/null; then
        printf '%s\n' "${candidate}"
        return 0
      fi
    done
  done
  return 1
}

# writable_copy SRC DEST: copy a source tree into scratch space, make it writable.
writable_copy() {
  mkdir -p "$(dirname "$2")"
  cp -R "$1" "$2"
  chmod -R u+w "$2"
}

# go_build NAME SRCDIR PKG OUT LDFLAGS: build, logging to logs/NAME.log.
# The binary is written next to OUT and renamed into place only on success.
go_build() {
  local name="$1" src="$2" pkg="$3" out="$4" ldflags="$5" log="${LOG_DIR}/$1.log"
  mkdir -p "$(dirname "${out}")"
  if ! (cd "${src}" && go build -trimpath -ldflags "-s -w ${ldflags}" -o "${out}.tmp" "${pkg}") >>"${log}" 2>&1; then
    rm -f "${out}.tmp"
    echo "---- last lines of ${log} ----" >&2
    tail -n 25 "${log}" >&2 || true
    die "building ${name} failed (full log: ${log})"
  fi
  mv -f "${out}.tmp" "${out}"
}

# Pretty "NAME VERSION: built (Ns)" / "cached" line.
report() { printf '%-28s %s\n' "$1" "$2"; }
# Said before a long build starts, with which artifact of how many it is.
BUILD_TOTAL=0
BUILD_STEP=0
building() {
  BUILD_STEP=$((BUILD_STEP + 1))
  report "$1" "building (${BUILD_STEP} of at most ${BUILD_TOTAL}; $2; log: ${LOG_DIR})..."
}

MISSING=0
check_line() { # check_line LABEL OK?
  if [[ "$2" == 1 ]]; then report "$1" "ok"; else report "$1" "MISSING or outdated"; MISSING=1; fi
}

# -----------------------------------------------------------------------------
# 1. OpenTofu
# -----------------------------------------------------------------------------
TOFU_KEY="tofu ${TOFU_VERSION} ${PLATFORM}"
build_tofu() {
  local label="tofu ${TOFU_VERSION}"
  if stamp_ok tofu "${TOFU_KEY}" "${BIN_DIR}/tofu"; then report "${label}" cached; return; fi
  local t0=${SECONDS} log="${LOG_DIR}/tofu.log" dir
  building "${label}" "the longest: about 4 to 8 minutes on 2 cores with cold Go caches"
  : >"${log}"
  # go.mod of opentofu has replace directives, so `go install mod@ver` refuses
  # it: download the module and build it as the main module of a copy.
  dir="$(module_dir "github.com/opentofu/opentofu@v${TOFU_VERSION}" "${log}")" ||
    die "cannot download github.com/opentofu/opentofu@v${TOFU_VERSION} from the Go proxy (see ${log})"
  writable_copy "${dir}" "${WORK}/opentofu"
  # version.dev=no drops the "-dev" suffix, so `tofu version` says v${TOFU_VERSION}.
  go_build tofu "${WORK}/opentofu" ./cmd/tofu "${BIN_DIR}/tofu" \
    "-X github.com/opentofu/opentofu/version.dev=no"
  # (empty CLI config: ignore whatever TF_CLI_CONFIG_FILE the caller has set)
  local reported
  reported="$(TF_CLI_CONFIG_FILE=/dev/null "${BIN_DIR}/tofu" version 2>&1 || true)"
  grep -qF "OpenTofu v${TOFU_VERSION}" <<<"${reported}" ||
    die "built tofu does not report v${TOFU_VERSION}: ${reported}"
  write_stamp tofu "${TOFU_KEY}"
  rm -rf "${WORK}/opentofu"
  report "${label}" "built ($((SECONDS - t0))s)"
}

# -----------------------------------------------------------------------------
# 2. Providers (filesystem mirror, unpacked layout)
# -----------------------------------------------------------------------------
provider_paths() { # provider_paths NS/TYPE VERSION -> one binary path per host
  local nt="$1" ver="$2" host
  for host in "${MIRROR_HOSTS[@]}"; do
    echo "${PROVIDERS_DIR}/${host}/${nt}/${ver}/${PLATFORM}/terraform-provider-${nt#*/}_v${ver}"
  done
}

build_provider() { # build_provider "table entry"
  local nt ver modref upstream pkg xflags git_dir
  IFS='|' read -r nt ver modref upstream pkg xflags <<<"$1"
  local name="provider-${nt//\//-}" label="${nt} ${ver}"
  local key="provider ${nt} ${ver} ${modref} ${PLATFORM}"
  local -a paths
  mapfile -t paths < <(provider_paths "${nt}" "${ver}")

  if stamp_ok "${name}" "${key}" "${paths[@]}"; then report "${label}" cached; return; fi
  local t0=${SECONDS} log="${LOG_DIR}/${name}.log" src dir
  building "${label}" "about 1 to 3 minutes"
  : >"${log}"
  src="${WORK}/${name}"
  echo "source: Go proxy ${modref}" >>"${log}"
  if dir="$(module_dir "${modref}" "${log}")"; then
    writable_copy "${dir}" "${src}"
  elif [[ -n "${upstream}" ]] && git_dir="$(local_git_copy "${upstream}" "${modref##*@}")"; then
    echo "source: ${git_dir} at ${modref##*@} (the Go proxy refused the commit)" >>"${log}"
    mkdir -p "${src}"
    git --git-dir "${git_dir}" archive "${modref##*@}" | tar -x -C "${src}"
  else
    die "cannot get ${modref} from the Go proxy (see ${log}), and no git copy of ${upstream:-it} in PROVIDER_SOURCES=${PROVIDER_SOURCES} holds that commit. Offline, put the project's shared artifacts folder beside the clone (../shared/provider-sources) or point PROVIDER_SOURCES at folders holding git copies of the provider repositories; online, check that the Go module proxy is reachable (go env GOPROXY)"
  fi
  if [[ "${nt}" == "hashicorp/helm" ]]; then
    local embedded
    embedded="$(awk '$1 == "helm.sh/helm/v3" { print $2; exit }' "${src}/go.mod")"
    [[ "${embedded}" == "v${HELM_CLI_VERSION}" ]] ||
      die "hashicorp/helm ${ver} embeds Helm ${embedded:-?}, but HELM_CLI_VERSION is ${HELM_CLI_VERSION}: set it to ${embedded#v}"
  fi
  if grep -q '^[[:space:]]*replace' "${src}/go.mod"; then
    echo "note: go.mod has replace directives (fine: built as main module)" >>"${log}"
  fi

  # Build once into the first host's path, hard-link (or copy) to the others.
  go_build "${name}" "${src}" "${pkg}" "${paths[0]}" "${xflags//\{V\}/${ver}}"
  local p
  for p in "${paths[@]:1}"; do
    mkdir -p "$(dirname "${p}")"
    ln -f "${paths[0]}" "${p}" 2>/dev/null || cp -f "${paths[0]}" "${p}"
  done
  # Drop other versions of this provider so version constraints stay unambiguous.
  local host
  for host in "${MIRROR_HOSTS[@]}"; do
    find "${PROVIDERS_DIR}/${host}/${nt}" -mindepth 1 -maxdepth 1 -type d ! -name "${ver}" \
      -exec rm -rf {} + 2>/dev/null || true
  done
  write_stamp "${name}" "${key}"
  rm -rf "${src}"
  report "${label}" "built ($((SECONDS - t0))s)"
}

# -----------------------------------------------------------------------------
# 3. helm CLI (for linting/rendering local charts in tests)
# -----------------------------------------------------------------------------
HELM_KEY="helm ${HELM_CLI_VERSION} ${PLATFORM}"
build_helm() {
  local label="helm ${HELM_CLI_VERSION}"
  if stamp_ok helm "${HELM_KEY}" "${BIN_DIR}/helm"; then report "${label}" cached; return; fi
  local t0=${SECONDS} log="${LOG_DIR}/helm.log" dir cgo major minor
  building "${label}" "about 1 to 2 minutes"
  : >"${log}"
  dir="$(module_dir "helm.sh/helm/v3@v${HELM_CLI_VERSION}" "${log}")" ||
    die "cannot download helm.sh/helm/v3@v${HELM_CLI_VERSION} from the Go proxy (see ${log})"
  writable_copy "${dir}" "${WORK}/helm"
  # Like helm's Makefile: the default Capabilities.KubeVersion (used by
  # `helm template`/`helm lint`) follows the client-go version it is built
  # with (v0.N.x -> 1.N); without these flags it would be an ancient 1.20.
  cgo="$(awk '$1 == "k8s.io/client-go" { print $2; exit }' "${WORK}/helm/go.mod")"
  [[ "${cgo}" =~ ^v([0-9]+)\.([0-9]+)\. ]] || die "cannot find k8s.io/client-go version in helm's go.mod"
  major=$((BASH_REMATCH[1] + 1))
  minor="${BASH_REMATCH[2]}"
  go_build helm "${WORK}/helm" ./cmd/helm "${BIN_DIR}/helm" "\
-X helm.sh/helm/v3/internal/version.version=v${HELM_CLI_VERSION} \
-X helm.sh/helm/v3/internal/version.metadata= \
-X helm.sh/helm/v3/internal/version.gitTreeState=clean \
-X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=${major} \
-X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=${minor} \
-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=${major} \
-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=${minor}"
  write_stamp helm "${HELM_KEY}"
  rm -rf "${WORK}/helm"
  report "${label}" "built ($((SECONDS - t0))s)"
}

# -----------------------------------------------------------------------------
# 4. The test cluster's control plane: one Go module of ours per binary, built
#    as the main module, so that its committed go.sum verifies every dependency.
# -----------------------------------------------------------------------------
# required_version MODULE_DIR GO_MODULE -> the version MODULE_DIR/go.mod requires.
required_version() {
  awk -v m="$2" '$1 == m { print $2; exit } $1 == "require" && $2 == m { print $3; exit }' "$1/go.mod"
}
# control_plane_key NAME VERSION -> the stamp key: the version, the platform and a hash of
# the module's own files, so that an edit of its go.mod, go.sum or code rebuilds it.
control_plane_key() {
  local dir="${CONTROL_PLANE_MODULES}/$1" sum
  sum="$(cd "${dir}" && find . -maxdepth 1 -type f \( -name 'go.mod' -o -name 'go.sum' -o -name '*.go' \) |
    LC_ALL=C sort | xargs sha256sum | sha256sum | cut -c1-16)"
  echo "$1 $2 ${PLATFORM} ${sum}"
}
# require_pin NAME GO_MODULE VERSION: dies unless the module's go.mod requires VERSION.
require_pin() {
  local found
  found="$(required_version "${CONTROL_PLANE_MODULES}/$1" "$2")"
  [[ "${found}" == "v$3" ]] ||
    die "test-cluster/go/$1/go.mod requires $2 ${found:-(nothing)}, but the pinned version is v$3: in test-cluster/go/$1 run: go get $2@v$3 && go mod tidy"
}
# reports_version LABEL FILE TEXT CMD...: dies unless CMD's output holds TEXT.
reports_version() {
  local label="$1" file="$2" want="$3" reported
  shift 3
  reported="$("$@" 2>&1 || true)"
  if ! grep -qF -- "${want}" <<<"${reported}"; then
    rm -f "${file}"
    die "the built ${label} does not report ${want}: ${reported}"
  fi
}

CP_KUBE="${CONTROL_PLANE_DIR}/kube"
CP_ETCD="${CONTROL_PLANE_DIR}/etcd"
CP_KWOK="${CONTROL_PLANE_DIR}/kwok"
CP_STAGES="${CONTROL_PLANE_DIR}/kwok-stages.yaml"

build_kube() {
  local label="kubernetes ${KUBE_VERSION}" key
  key="$(control_plane_key kube "${KUBE_VERSION}")"
  if stamp_ok control-plane-kube "${key}" "${CP_KUBE}"; then report "${label}" cached; return; fi
  require_pin kube k8s.io/kubernetes "${KUBE_VERSION}"
  local t0=${SECONDS} log="${LOG_DIR}/control-plane-kube.log" src="${CONTROL_PLANE_MODULES}/kube"
  building "${label}" "kube-apiserver, -controller-manager, -scheduler in one binary; about 5 to 7 minutes on 2 cores with cold Go caches"
  : >"${log}"
  # The build date is the release's own (its time on the module proxy), so that a rebuild
  # is byte for byte the same; the tree state is "archive", as Kubernetes' own
  # hack/lib/version.sh says of a build from an exported tree without its git history.
  local built_at
  built_at="$(cd "${src}" && go list -m -json k8s.io/kubernetes 2>>"${log}" |
    sed -n 's/^[[:space:]]*"Time": "\(.*\)",\{0,1\}$/\1/p')"
  [[ -n "${built_at}" ]] || die "cannot read the release time of k8s.io/kubernetes v${KUBE_VERSION} (see ${log})"
  local minor="${KUBE_VERSION#*.}" pkg flags=""
  minor="${minor%%.*}"
  # Without these the components report v0.0.0-master, and Helm's kubeVersion checks fail.
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    flags+=" -X ${pkg}.gitVersion=v${KUBE_VERSION} -X ${pkg}.gitMajor=${KUBE_VERSION%%.*}"
    flags+=" -X ${pkg}.gitMinor=${minor} -X ${pkg}.gitCommit= -X ${pkg}.gitTreeState=archive"
    flags+=" -X ${pkg}.buildDate=${built_at}"
  done
  go_build control-plane-kube "${src}" . "${CP_KUBE}" "${flags}"
  local component
  for component in kube-apiserver kube-controller-manager kube-scheduler; do
    reports_version "${component}" "${CP_KUBE}" "Kubernetes v${KUBE_VERSION}" "${CP_KUBE}" "${component}" --version
  done
  write_stamp control-plane-kube "${key}"
  report "${label}" "built ($((SECONDS - t0))s)"
}

build_etcd() {
  local label="etcd ${ETCD_VERSION}" key
  key="$(control_plane_key etcd "${ETCD_VERSION}")"
  if stamp_ok control-plane-etcd "${key}" "${CP_ETCD}"; then report "${label}" cached; return; fi
  require_pin etcd go.etcd.io/etcd/server/v3 "${ETCD_VERSION}"
  local t0=${SECONDS}
  building "${label}" "about 1 minute"
  : >"${LOG_DIR}/control-plane-etcd.log"
  go_build control-plane-etcd "${CONTROL_PLANE_MODULES}/etcd" go.etcd.io/etcd/server/v3 "${CP_ETCD}" ""
  reports_version etcd "${CP_ETCD}" "etcd Version: ${ETCD_VERSION}" "${CP_ETCD}" --version
  write_stamp control-plane-etcd "${key}"
  report "${label}" "built ($((SECONDS - t0))s)"
}

build_kwok() {
  local label="kwok ${KWOK_VERSION}" key
  key="$(control_plane_key kwok "${KWOK_VERSION}")"
  if stamp_ok control-plane-kwok "${key}" "${CP_KWOK}" && [[ -s "${CP_STAGES}" ]]; then
    report "${label}" cached
    return
  fi
  require_pin kwok sigs.k8s.io/kwok "${KWOK_VERSION}"
  local t0=${SECONDS} log="${LOG_DIR}/control-plane-kwok.log" src="${CONTROL_PLANE_MODULES}/kwok"
  building "${label}" "about 2 minutes"
  : >"${log}"
  go_build control-plane-kwok "${src}" sigs.k8s.io/kwok/cmd/kwok "${CP_KWOK}" \
    "-X sigs.k8s.io/kwok/pkg/consts.Version=v${KWOK_VERSION}"
  reports_version kwok "${CP_KWOK}" "v${KWOK_VERSION}" "${CP_KWOK}" --version
  # The Stages kwok runs with, printed by our module's command from kwok's release.
  go_build control-plane-kwok "${src}" . "${WORK}/kwok-stages" ""
  "${WORK}/kwok-stages" >"${CP_STAGES}.tmp" 2>>"${log}" || die "printing kwok's Stages failed (see ${log})"
  mv -f "${CP_STAGES}.tmp" "${CP_STAGES}"
  write_stamp control-plane-kwok "${key}"
  report "${label}" "built ($((SECONDS - t0))s)"
}

# -----------------------------------------------------------------------------
# 5. CLI config: only the local filesystem mirror, no direct installation, so
#    `tofu init` never touches the network. (No plugin_cache_dir: providers in
#    an unpacked mirror are symlinked into .terraform, a cache adds nothing.)
# -----------------------------------------------------------------------------
tofurc_content() {
  cat <<EOF
# Generated by scripts/toolchain.sh — do not edit (rewritten on every run).
# Providers come only from the local filesystem mirror; there is deliberately
# no "direct" block, so OpenTofu never contacts a registry.
provider_installation {
  filesystem_mirror {
    path    = "${PROVIDERS_DIR}"
    include = ["*/*/*"]
  }
}
EOF
}
write_tofurc() {
  local want
  want="$(tofurc_content)"
  if [[ -f "${TOFURC}" && "$(cat "${TOFURC}")" == "${want}" ]]; then
    report "tofurc" cached
  else
    printf '%s\n' "${want}" >"${TOFURC}"
    report "tofurc" written
  fi
}

# -----------------------------------------------------------------------------
# --check: verify only
# -----------------------------------------------------------------------------
if [[ "${CHECK_ONLY}" == 1 ]]; then
  ok=0; stamp_ok tofu "${TOFU_KEY}" "${BIN_DIR}/tofu" && ok=1
  check_line "tofu ${TOFU_VERSION}" "${ok}"
  for entry in "${PROVIDERS[@]}"; do
    IFS='|' read -r nt ver modref _ <<<"${entry}"
    mapfile -t paths < <(provider_paths "${nt}" "${ver}")
    ok=0; stamp_ok "provider-${nt//\//-}" "provider ${nt} ${ver} ${modref} ${PLATFORM}" "${paths[@]}" && ok=1
    check_line "${nt} ${ver}" "${ok}"
  done
  if [[ "${WITH_HELM}" == 1 ]]; then
    ok=0; stamp_ok helm "${HELM_KEY}" "${BIN_DIR}/helm" && ok=1
    check_line "helm ${HELM_CLI_VERSION}" "${ok}"
  fi
  if [[ "${WITH_CONTROL_PLANE}" == 1 ]]; then
    ok=0; stamp_ok control-plane-kube "$(control_plane_key kube "${KUBE_VERSION}")" "${CP_KUBE}" && ok=1
    check_line "kubernetes ${KUBE_VERSION}" "${ok}"
    ok=0; stamp_ok control-plane-etcd "$(control_plane_key etcd "${ETCD_VERSION}")" "${CP_ETCD}" && ok=1
    check_line "etcd ${ETCD_VERSION}" "${ok}"
    ok=0; stamp_ok control-plane-kwok "$(control_plane_key kwok "${KWOK_VERSION}")" "${CP_KWOK}" && [[ -s "${CP_STAGES}" ]] && ok=1
    check_line "kwok ${KWOK_VERSION}" "${ok}"
  fi
  ok=0; [[ -f "${TOFURC}" && "$(cat "${TOFURC}")" == "$(tofurc_content)" ]] && ok=1
  check_line "tofurc" "${ok}"
  if [[ "${MISSING}" == 1 ]]; then
    echo "toolchain: incomplete — run: bash scripts/toolchain.sh" >&2
    exit 1
  fi
  exit 0
fi

# -----------------------------------------------------------------------------
# Build
# -----------------------------------------------------------------------------
command -v go >/dev/null 2>&1 || die "Go is required (go not found in PATH)"
mkdir -p "${BIN_DIR}" "${PROVIDERS_DIR}" "${STAMP_DIR}" "${LOG_DIR}" "${TMP_ROOT}"

# Serialise concurrent runs (e.g. two test jobs) on the same checkout.
if command -v flock >/dev/null 2>&1; then
  exec 9>"${TOOLCHAIN_DIR}/.lock"
  flock 9
fi
WORK="${TMP_ROOT}/work"
cleanup
mkdir -p "${WORK}"
trap cleanup EXIT

BUILD_TOTAL=$((1 + ${#PROVIDERS[@]} + WITH_HELM + 3 * WITH_CONTROL_PLANE))
build_tofu
for entry in "${PROVIDERS[@]}"; do build_provider "${entry}"; done
if [[ "${WITH_HELM}" == 1 ]]; then build_helm; else report "helm ${HELM_CLI_VERSION}" "skipped (--no-helm)"; fi
if [[ "${WITH_CONTROL_PLANE}" == 1 ]]; then
  mkdir -p "${CONTROL_PLANE_DIR}"
  build_etcd
  build_kwok
  build_kube
else
  report "control plane" "skipped (--no-control-plane)"
fi
write_tofurc
