#!/usr/bin/env bash
# Builds the test control plane (kube-apiserver, kube-controller-manager, etcd, helm) from the Go
# module proxy into a cache outside the repository, keyed by version, and prints its directory.
# Idempotent: a complete cache is reused. The versions are the `require` lines of the wrapper
# modules beside this script.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

# The version a wrapper module requires (a single `require` line or one inside a block).
version_of() {
  awk -v m="$2" '($1 == "require" && $2 == m) { print $3; exit } ($1 == m && $2 ~ /^v/) { print $2; exit }' "$here/$1/go.mod"
}
kubernetes=$(version_of kubernetes k8s.io/kubernetes)
etcd=$(version_of etcd go.etcd.io/etcd/server/v3)
helm=$(version_of helm helm.sh/helm/v4)

if [ "$(id -u)" = 0 ]; then root=${DUMPLENS_CACHE:-/var/cache/dumplens}; else root=${DUMPLENS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dumplens}; fi
if [ -z "$kubernetes" ] || [ -z "$etcd" ] || [ -z "$helm" ]; then
  echo "error: cannot read the versions from the wrapper modules in $here" >&2
  exit 1
fi
out=$root/controlplane-kubernetes-$kubernetes-etcd-$etcd-helm-$helm
if [ -f "$out/.complete" ]; then
  echo "$out"
  exit 0
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
build() { # NAME MODULE-DIR PACKAGE LDFLAGS
  echo "building $1 ($3)" >&2
  if ! (cd "$here/$2" && go build -trimpath -ldflags "$4" -o "$out.partial/$1" "$3") >"$log" 2>&1; then
    echo "error: building $1 failed; the last lines of its output:" >&2
    tail -20 "$log" >&2
    exit 1
  fi
}

started=$(date +%s)
rm -rf "$out.partial"
mkdir -p "$out.partial"
minor=${kubernetes#v1.}; minor=${minor%%.*}
kube_version="-s -w -X k8s.io/component-base/version.gitVersion=$kubernetes \
  -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor \
  -X k8s.io/component-base/version.gitTreeState=clean \
  -X k8s.io/component-base/version.buildDate=1970-01-01T00:00:00Z"
build kube-apiserver kubernetes k8s.io/kubernetes/cmd/kube-apiserver "$kube_version"
build kube-controller-manager kubernetes k8s.io/kubernetes/cmd/kube-controller-manager "$kube_version"
build etcd etcd go.etcd.io/etcd/server/v3 "-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=$etcd"
build helm helm helm.sh/helm/v4/cmd/helm "-s -w -X helm.sh/helm/v4/internal/version.version=$helm"
touch "$out.partial/.complete"
rm -rf "$out"
mv "$out.partial" "$out"
echo "built the control plane in $(( $(date +%s) - started )) s" >&2
echo "$out"
