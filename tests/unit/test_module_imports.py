# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Each task is a new Python: a module imports PyKCS11 and cryptography only when it uses them."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import subprocess
import sys

import pytest

from ansible_collections.keyceremony.byok.tests.unit.helpers import COLLECTIONS_ROOT

# module -> (PyKCS11, cryptography) it may import
NEEDS = {
    'ceremony_preflight': (False, False),
    'journal_info': (False, False),
    'tenant_info': (False, False),
    'witness_sheet': (False, False),
    'tenant_key': (False, True),
    'tenant_key_info': (False, True),
    'byok_toolset': (False, True),
    'kek_package_verify': (False, True),
    'tpd_info': (False, True),
    'security_world': (True, True),
}

PROBE = '''
import json, sys
from unittest import mock
import ansible_collections.keyceremony.byok.plugins.modules.%s as m
from ansible_collections.keyceremony.byok.plugins.module_utils import _module
if hasattr(m, 'new_module'):
    # what main() asks of new_module, without running the module
    import inspect
    source = inspect.getsource(m.main)
    kwargs = {'needs_hsm': 'needs_hsm=False' not in source, 'needs_crypto': 'needs_crypto=False' not in source}
    with mock.patch.object(_module, 'ByokModule'):
        _module.new_module({}, **kwargs)
print(json.dumps(['PyKCS11' in sys.modules, 'cryptography' in sys.modules]))
'''


@pytest.mark.parametrize('name', sorted(NEEDS))
def test_a_module_imports_only_the_libraries_it_uses(name):
    out = subprocess.run([sys.executable, '-c', PROBE % name], capture_output=True, text=True, cwd=COLLECTIONS_ROOT,
                         check=True, env={'PYTHONPATH': COLLECTIONS_ROOT})
    assert tuple(json.loads(out.stdout.splitlines()[-1])) == NEEDS[name], out.stderr
