#!/usr/bin/env bash
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Build the container image of the molecule scenarios from Debian's packages, when it is missing.
#
# Usage: scripts/build-image.sh [IMAGE]      (default localhost/keyceremony-byok:bookworm)
#
# No image can be pulled here: the root file system comes from debootstrap (bookworm, minbase,
# with python3, SoftHSM2 and OpenSC), the pinned Python libraries of requirements.txt that the
# roles need (PyKCS11, cryptography, defusedxml, fastapi, uvicorn) are installed into it as wheels from the
# host's pip, and the tree is imported with `podman import`. Everything a workstation or the
# rehearsal tenant needs is baked in: the scenarios never reach a package mirror.
#
# The image carries a label with the SHA-256 of this script and of requirements.txt; it is
# rebuilt only when it is missing or that recipe changed.
set -euo pipefail

repo=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)
image=${1:-localhost/keyceremony-byok:bookworm}
pip=${PIP:-$repo/.venv/bin/pip}
wheels="PyKCS11 cryptography defusedxml fastapi uvicorn"

pins=()
for w in $wheels; do
  pin=$(grep -i "^$w==" "$repo/requirements.txt") || { echo "build-image: no pin for $w in requirements.txt" >&2; exit 1; }
  pins+=("$pin")
done
recipe=$(cat "${BASH_SOURCE[0]}" "$repo/requirements.txt" | sha256sum | cut -c1-16)

if podman image exists "$image" &&
   [ "$(podman image inspect --format '{{ index .Labels "keyceremony.recipe" }}' "$image")" = "$recipe" ]; then
  echo "build-image: $image is up to date (recipe $recipe)"
  exit 0
fi

work=$(mktemp -d /var/tmp/keyceremony-image.XXXXXX)
trap 'rm -rf "$work"' EXIT
rootfs=$work/rootfs
echo "build-image: debootstrap bookworm into $rootfs"
debootstrap --variant=minbase --include=python3,softhsm2,opensc,ca-certificates bookworm "$rootfs" >"$work/debootstrap.log" 2>&1 ||
  { tail -20 "$work/debootstrap.log" >&2; exit 1; }
echo "build-image: Python libraries: ${pins[*]}"
# Same Python (3.11) and glibc as the image: the host's pip fetches manylinux wheels for it.
"$pip" install --quiet --disable-pip-version-check --no-compile --only-binary :all: \
  --target "$rootfs/usr/local/lib/python3.11/dist-packages" "${pins[@]}"
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
tar -C "$rootfs" -c . | podman import --quiet --change "LABEL keyceremony.recipe=$recipe" --change 'CMD ["sleep", "infinity"]' \
  - "$image" >/dev/null
echo "build-image: $image built (recipe $recipe)"
