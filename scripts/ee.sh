#!/usr/bin/env bash
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# The execution environment for AWX / Automation Platform (docs/awx.md), built and tested offline.
#
# Usage: scripts/ee.sh build   (make ee)       build localhost/keyceremony-byok-ee:<version>
#        scripts/ee.sh test    (make ee-test)  run the rehearsal ceremony inside it, as AWX runs a job
#
# build:
#   1. the base image, localhost/keyceremony-ee-base:bookworm: Debian bookworm from debootstrap with python3,
#      python3-pip, SoftHSM2 and OpenSC (scripts/build-image.sh; no registry is reachable, so the base is ours);
#   2. a wheelhouse on the host (.build/ee/wheelhouse) of ee/wheelhouse-requirements.txt, pinned;
#   3. the collection's tarball from this tree (ansible-galaxy collection build);
#   4. ansible-builder (pinned in requirements.txt) with ee/execution-environment.yml, which reads the collection's
#      meta/execution-environment.yml for its Python libraries and system packages. The build's containers have no
#      network at all; pip reads the wheelhouse through a volume that exists only while the image builds.
# test: in the image, with no network, as the image's own user:
#   - ansible-doc lists the collection's modules;
#   - ansible-runner runs a project playbook that imports keyceremony.byok.rehearsal, the way AWX runs a job
#     template: the whole rehearsal ceremony, its tenant started from the installed collection; the job must end
#     "successful" with the HSM's and the tenant's fingerprints matching.
set -euo pipefail

repo=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$repo"
bin=$repo/.venv/bin
version=$(sed -n 's/^version: *//p' galaxy.yml)
image=${EE_IMAGE:-localhost/keyceremony-byok-ee:$version}
base=localhost/keyceremony-ee-base:bookworm
work=$repo/.build/ee

build() {
    local start=$SECONDS
    EXTRA_PACKAGES=python3-pip WHEELS=no PIP=$bin/pip scripts/build-image.sh "$base"
    mkdir -p "$work/wheelhouse"
    echo "ee: wheelhouse of ee/wheelhouse-requirements.txt"
    (cd ee && "$bin/pip" download --quiet --disable-pip-version-check --only-binary :all: \
        -d "$work/wheelhouse" -r wheelhouse-requirements.txt >"$work/pip.log" 2>&1) ||
        { grep -v 'is ignored: it is neither' "$work/pip.log" >&2; exit 1; }
    rm -rf "$work/definition" "$work/context"
    mkdir -p "$work/definition/collections"
    cp ee/execution-environment.yml ee/requirements.yml "$work/definition/"
    echo "ee: the collection's tarball"
    "$bin/ansible-galaxy" collection build --force --output-path "$work/dist" . >/dev/null
    cp "$work/dist/keyceremony-byok-$version.tar.gz" "$work/definition/collections/keyceremony-byok.tar.gz"
    echo "ee: ansible-builder build -t $image"
    # the dangling images there are before the build are never removed below
    local before
    before=$(podman images --filter dangling=true --format '{{.ID}}' | sort)
    "$bin/ansible-builder" build --container-runtime podman -t "$image" -f "$work/definition/execution-environment.yml" \
        --context "$work/context" --extra-build-cli-args="--network=none -v $work/wheelhouse:/wheelhouse:ro" \
        >"$work/build.log" 2>&1 || { tail -40 "$work/build.log" >&2; exit 1; }
    # the builder's intermediate stages: the dangling images this build left, never one that was there before
    podman images --filter dangling=true --format '{{.ID}}' | sort | comm -13 <(echo "$before") - | while read -r id; do
        podman rmi "$id" >/dev/null 2>&1 || true
    done
    echo "ee: $image built in $((SECONDS - start)) s ($(podman image inspect --format '{{.Size}}' "$image" |
        awk '{printf "%d MB", $1 / 1000000}'))"
}

run_test() {
    local start=$SECONDS
    podman image exists "$image" || { echo "ee: $image is not built: run make ee" >&2; exit 1; }
    local listed
    listed=$(podman run --rm --network=none "$image" ansible-doc --list keyceremony.byok)
    for module in plugins/modules/*.py; do
        name=$(basename "$module" .py)
        grep -q "^keyceremony.byok.$name " <<<"$listed" || { echo "ee: ansible-doc does not list $name" >&2; exit 1; }
    done
    # AWX's private data folder: a project, an inventory, written by the image's user (uid 1000, group 0)
    local pdd
    pdd=$(mktemp -d "$work/runner.XXXXXX")
    mkdir -p "$pdd/project" "$pdd/inventory" "$pdd/env"
    cat >"$pdd/project/rehearsal.yml" <<'PLAY'
---
- name: The rehearsal ceremony of the collection, as an AWX job template runs it
  ansible.builtin.import_playbook: keyceremony.byok.rehearsal
PLAY
    echo 'localhost ansible_connection=local ansible_python_interpreter=/usr/bin/python3' >"$pdd/inventory/hosts"
    printf -- '---\nrehearsal_dir: /tmp/rehearsal\n' >"$pdd/env/extravars"
    # the image's user (uid 1000, group 0) writes there, others cannot: podman's own mapping when rootless
    chmod -R u+rwX,g+rwX,o-rwx "$pdd"
    if [ "$(podman info --format '{{.Host.Security.Rootless}}')" = true ]; then
        podman unshare chown -R 1000:0 "$pdd"
    else
        chown -R 1000:0 "$pdd"
    fi
    echo "ee: the rehearsal ceremony in $image, through ansible-runner (log in $pdd)"
    if ! podman run --rm --network=none -v "$pdd:/runner:Z" "$image" ansible-runner run /runner -p rehearsal.yml \
        >"$pdd/run.log" 2>&1; then
        tail -60 "$pdd/run.log" >&2
    fi
    local status
    status=$(cat "$pdd"/artifacts/*/status 2>/dev/null || echo none)
    [ "$status" = successful ] || { tail -60 "$pdd/run.log" >&2; echo "ee: the job ended $status" >&2; exit 1; }
    if ! grep -q 'Match            YES' "$pdd/run.log" || ! grep -q 'Possession       verified=True' "$pdd/run.log"; then
        echo "ee: the job's summary does not show the fingerprints matching" >&2
        exit 1
    fi
    echo "ee: the rehearsal ceremony passed in the execution environment ($((SECONDS - start)) s)"
    if [ "$(podman info --format '{{.Host.Security.Rootless}}')" = true ]; then
        podman unshare rm -rf "$pdd"
    else
        rm -rf "$pdd"
    fi
}

case ${1:-} in
    build) build ;;
    test) run_test ;;
    *) echo "usage: scripts/ee.sh build|test" >&2; exit 2 ;;
esac
