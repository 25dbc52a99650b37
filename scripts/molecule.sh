#!/usr/bin/env bash
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Run every molecule scenario (molecule/*/molecule.yml) in podman, one after the other, and say
# how long each took. Called by `make molecule` (and so `make test`) after the host is set up
# (scripts/containers-setup.sh) and the image is built (scripts/build-image.sh).
#
# Usage: scripts/molecule.sh [SCENARIO ...]       (default: every scenario)
#
# Each scenario runs its full sequence: syntax, create, prepare, check mode, converge,
# idempotence, testinfra verify, destroy. A failed scenario's containers are destroyed too; the
# run goes on with the next scenario and exits non-zero at the end.
set -uo pipefail

repo=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$repo" || exit 1
export PATH="$repo/.venv/bin:$PATH"
export ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0 PY_COLORS=0 NO_COLOR=1

if [ $# -gt 0 ]; then
  scenarios=("$@")
else
  scenarios=()
  for f in molecule/*/molecule.yml; do scenarios+=("$(basename "$(dirname "$f")")"); done
fi

logs=${MOLECULE_LOG_DIR:-$repo/.build/molecule}
mkdir -p "$logs"
failed=() summary=()
for s in "${scenarios[@]}"; do
  start=$(date +%s)
  echo "molecule: scenario $s (log in $logs/$s.log)"
  # each line stamped with the time, so that the log shows what each step cost
  if molecule test -s "$s" 2>&1 | while IFS= read -r line; do printf '%(%T)T %s\n' -1 "$line"; done >"$logs/$s.log"; then
    result=passed
  else
    result=FAILED
    failed+=("$s")
    tail -60 "$logs/$s.log"
    molecule destroy -s "$s" >/dev/null 2>&1 || true
  fi
  summary+=("$(printf '%-10s %-7s %4ds' "$s" "$result" "$(( $(date +%s) - start ))")")
done
echo "molecule: scenario   result  time"
printf 'molecule: %s\n' "${summary[@]}"
echo "molecule: $(( ${#scenarios[@]} - ${#failed[@]} )) passed, ${#failed[@]} failed"
[ ${#failed[@]} -eq 0 ]
