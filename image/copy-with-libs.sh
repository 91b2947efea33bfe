#!/usr/bin/env bash
# Copies programs into a root filesystem with the shared libraries they load that the runtime
# base image lacks, so a distroless base (no package manager, no shell) can run them.
#
#   copy-with-libs.sh ROOTFS BASE LIB_DIR SOURCE=TARGET...
#
# Each program SOURCE goes to ROOTFS/TARGET. Every library `ldd SOURCE` resolves here (the
# whole closure) goes to ROOTFS/LIB_DIR under the name the program asks for, unless BASE (the
# runtime base's root filesystem) already has a library of that name: the base's glibc,
# libgcc and libssl stay the only ones. LIB_DIR should be one the base's dynamic loader
# searches by itself (Debian's /usr/lib/<arch>-linux-gnu): a program started with a cleared
# environment, as the restore starts pg_restore, never sees LD_LIBRARY_PATH.
#
# The Dockerfile runs it in a postgres:18 stage for pg_restore; tests/image.rs runs it on the
# pg_restore `./dev setup` installs, so both images are laid out by the same code.
set -euo pipefail

if [ $# -lt 4 ]; then
  sed -n 's/^#   \(copy-with-libs.sh .*\)/usage: \1/p' "$0" >&2
  exit 2
fi
rootfs=$1 base=$2 lib_dir=$3
shift 3

# Whether the base has a library of this name where its dynamic loader looks.
in_base() {
  local dir
  for dir in "$base"/lib/*-linux-gnu "$base"/usr/lib/*-linux-gnu "$base"/lib64 "$base"/lib "$base"/usr/lib; do
    # A symbolic link counts even when it points outside BASE (its targets are absolute).
    if [ -e "$dir/$1" ] || [ -L "$dir/$1" ]; then
      return 0
    fi
  done
  return 1
}

mkdir -p "$rootfs/$lib_dir"
for pair in "$@"; do
  source=${pair%%=*} target=${pair#*=}
  if [ "$source" = "$pair" ] || [ -z "$target" ]; then
    echo "error: $pair is not SOURCE=TARGET" >&2
    exit 2
  fi
  install -D -m 0755 "$source" "$rootfs/$target"
  # ldd prints `name => /resolved/path (address)`, `name => not found`, or just
  # `/path/of/the/loader (address)` and the kernel's vDSO (no path).
  ldd "$source" | while read -r name arrow path _; do
    if [ "$arrow" != "=>" ]; then
      continue
    fi
    if [ "$path" = not ]; then
      echo "error: $source needs $name, which is not installed here" >&2
      exit 1
    fi
    if ! in_base "$name"; then
      # -L: the file itself, not the symbolic link distributions name it by.
      cp -L "$path" "$rootfs/$lib_dir/$name"
      chmod 0755 "$rootfs/$lib_dir/$name"
    fi
  done
done
