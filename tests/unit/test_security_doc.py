# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""docs/security.md states how many distinct bad inputs the suite refuses: the number must be the suite's."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import re
import subprocess
import sys

from ansible_collections.keyceremony.byok.tests.unit.helpers import REPO_ROOT


def test_the_bad_input_count_in_the_docs_is_the_suites():
    out = subprocess.run([sys.executable, '-m', 'pytest', '--collect-only', '-q', '-m', 'bad_input', '-p', 'no:cacheprovider',
                          '-p', 'no:xdist', 'tests/unit', 'tests/tenant', 'tests/playbooks'], cwd=REPO_ROOT, capture_output=True, text=True,
                         check=False)
    found = re.search(r'^(\d+)/\d+ tests collected', out.stdout, re.M)
    assert found, out.stdout + out.stderr
    # a bad input tried under both of Ansible's strategies (the playbook tests) is one bad input
    ids = [line for line in out.stdout.splitlines() if '::' in line]
    distinct = set(re.sub(r'\[(?:mitogen_linear|linear)(?:-|\])', '[', i) for i in ids)
    assert len(ids) == int(found.group(1))
    found = re.match(r'(\d+)', str(len(distinct)))
    with open(os.path.join(REPO_ROOT, 'docs', 'security.md')) as f:
        doc = f.read()
    stated = re.search(r'The suite gives the collection \*\*(\d+)\*\* distinct bad inputs', doc)
    assert stated and int(stated.group(1)) == int(found.group(1)), \
        'docs/security.md says %s; the suite has %s tests marked bad_input' % (stated and stated.group(1), found.group(1))
