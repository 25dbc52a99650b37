#!/usr/bin/env bash
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# The linters a published collection is held to, as make test runs them (make lint):
#   1. ansible-lint with the production profile (.ansible-lint: what is left out, and why);
#   2. antsibull-docs lint-collection-docs --plugin-docs: every module's and role's documentation, its references;
#   3. antsibull-changelog lint: the changelog fragments and changelogs/changelog.yaml.
# Each runs even when an earlier one failed; the script fails when any did. The tools are pinned in requirements.txt.
#
# Usage: scripts/lint.sh
set -uo pipefail

repo=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$repo" || exit 2
bin=$repo/.venv/bin
[ -x "$bin/ansible-lint" ] || { echo "lint.sh: $bin/ansible-lint not found: run make setup" >&2; exit 2; }
export PATH="$bin:$PATH" ANSIBLE_NOCOLOR=1 NO_COLOR=1 PY_COLORS=0
# the collection as the repository's link shows it, never a stale copy under ~/.ansible
export ANSIBLE_COLLECTIONS_PATH=$repo/.collections

failed=()
run() {
    local name=$1
    shift
    local start=$SECONDS
    echo "lint: $name"
    if "$@"; then
        echo "lint: $name passed ($((SECONDS - start)) s)"
    else
        echo "lint: $name FAILED ($((SECONDS - start)) s)"
        failed+=("$name")
    fi
}

run ansible-lint ansible-lint --nocolor --offline --strict
run antsibull-docs antsibull-docs lint-collection-docs --plugin-docs .
run antsibull-changelog antsibull-changelog lint
[ ${#failed[@]} -eq 0 ] || { echo "lint: failed: ${failed[*]}"; exit 1; }
