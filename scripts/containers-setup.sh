#!/usr/bin/env bash
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Prepare this machine for the molecule scenarios: podman with runc, and debootstrap for the images.
#
# Usage: scripts/containers-setup.sh        (as root, or with sudo available)
#
# 1. Installs the Debian packages podman, runc, debootstrap when one is missing.
# 2. Writes /etc/containers/containers.conf when it differs from the settings below:
#    podman 4.3's default runtime crun fails on hosts with hybrid cgroups ("cgroups in hybrid
#    mode not supported"), so runc is used with cgroupfs; and a container cannot raise its
#    ulimits above the host's without CAP_SYS_RESOURCE, so podman's default nofile=1048576
#    must be replaced (any --ulimit replaces the whole list: both are set). The file is only
#    rewritten when its content changes, so a second run changes nothing.
set -euo pipefail

sudo=""
[ "$(id -u)" = 0 ] || sudo=sudo

missing=()
for p in podman runc debootstrap; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "containers-setup: installing Debian packages: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
fi

conf=/etc/containers/containers.conf
want='# written by keyceremony.byok scripts/containers-setup.sh
[containers]
default_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"'
if [ "$(cat "$conf" 2>/dev/null)" != "$want" ]; then
  echo "containers-setup: writing $conf"
  [ ! -e "$conf" ] || $sudo cp -p "$conf" "$conf.before-keyceremony"
  printf '%s\n' "$want" | $sudo tee "$conf.tmp" >/dev/null
  $sudo mv "$conf.tmp" "$conf"
fi
