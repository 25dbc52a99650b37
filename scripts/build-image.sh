#!/usr/bin/env bash
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Build a container image from Debian's packages, when it is missing: the molecule scenarios' image, or the base of
# the execution environment (scripts/ee.sh).
#
# Usage: scripts/build-image.sh [IMAGE]      (default localhost/keyceremony-byok:bookworm)
#   EXTRA_PACKAGES="python3-pip"  more Debian packages in the root file system
#   WHEELS=no                     no Python library baked in (ansible-builder installs them in the EE)
#
# No image can be pulled here: the root file system comes from debootstrap (bookworm, minbase, with python3,
# SoftHSM2 and OpenSC), the pinned Python libraries of meta/ee-requirements.txt that the modules and the rehearsal
# tenant need (PyKCS11, cryptography, defusedxml, fastapi, uvicorn) are installed into it as wheels from the host's
# pip, and the tree is imported with `podman import`. Everything a workstation or the rehearsal tenant needs is baked
# in: the scenarios never reach a package mirror.
#
# The image carries a label with the SHA-256 of its recipe (this script, meta/ee-requirements.txt and the two
# settings above); it is rebuilt only when it is missing or that recipe changed.
set -euo pipefail

repo=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)
image=${1:-localhost/keyceremony-byok:bookworm}
pip=${PIP:-$repo/.venv/bin/pip}
extra=${EXTRA_PACKAGES:-}
wheels=${WHEELS:-yes}
pins=$repo/meta/ee-requirements.txt

recipe=$( (cat "${BASH_SOURCE[0]}" "$pins"; echo "$extra|$wheels") | sha256sum | cut -c1-16)

if podman image exists "$image" &&
   [ "$(podman image inspect --format '{{ index .Labels "keyceremony.recipe" }}' "$image")" = "$recipe" ]; then
  echo "build-image: $image is up to date (recipe $recipe)"
  exit 0
fi

work=$(mktemp -d /var/tmp/keyceremony-image.XXXXXX)
trap 'rm -rf "$work"' EXIT
rootfs=$work/rootfs
include=python3,softhsm2,opensc,ca-certificates${extra:+,${extra// /,}}
echo "build-image: debootstrap bookworm ($include) into $rootfs"
debootstrap --variant=minbase --include="$include" bookworm "$rootfs" >"$work/debootstrap.log" 2>&1 ||
  { tail -20 "$work/debootstrap.log" >&2; exit 1; }
if [ "$wheels" = yes ]; then
  echo "build-image: Python libraries of $pins"
  # Same Python (3.11) and glibc as the image: the host's pip fetches manylinux wheels for it.
  "$pip" install --quiet --disable-pip-version-check --no-compile --only-binary :all: \
    --target "$rootfs/usr/local/lib/python3.11/dist-packages" -r "$pins"
fi
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
tar -C "$rootfs" -c . | podman import --quiet --change "LABEL keyceremony.recipe=$recipe" --change 'CMD ["sleep", "infinity"]' \
  - "$image" >/dev/null
echo "build-image: $image built (recipe $recipe)"
