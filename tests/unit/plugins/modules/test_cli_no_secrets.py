# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Through the real `ansible` command at -vvv: no PIN of any kind reaches the output."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import subprocess
import sys

import pytest

from ansible_collections.keyceremony.byok.plugins.module_utils._world import World, recover_so_pin
from ansible_collections.keyceremony.byok.tests.unit.helpers import COLLECTIONS_ROOT, REPO_ROOT, cards_for

ANSIBLE = os.path.join(os.path.dirname(sys.executable), 'ansible')


def ansible(module, args, softhsm, home):
    env = dict(os.environ, SOFTHSM2_CONF=softhsm.conf, HOME=str(home), ANSIBLE_CONFIG=os.path.join(REPO_ROOT, 'ansible.cfg'),
               ANSIBLE_COLLECTIONS_PATH=COLLECTIONS_ROOT, ANSIBLE_LOCAL_TEMP=str(home / 'tmp'),
               ANSIBLE_PYTHON_INTERPRETER=sys.executable, ANSIBLE_NOCOLOR='1', ANSIBLE_CALLBACK_RESULT_FORMAT='json')
    out = subprocess.run([ANSIBLE, 'localhost', '-vvv', '-m', 'keyceremony.byok.' + module, '-a', json.dumps(args)],
                         capture_output=True, text=True, env=env, cwd=REPO_ROOT, check=False)
    return out.returncode, out.stdout + out.stderr


@pytest.mark.skipif(not os.path.exists(ANSIBLE), reason='needs the ansible command of the venv (make setup)')
def test_no_secret_in_verbose_output(softhsm, tmp_path):
    world_dir = str(tmp_path / 'world')
    cards = cards_for(tmp_path, 3)
    world_args = {'token_label': 'cli-world', 'world_dir': world_dir, 'admin_cards': cards}
    outputs = []
    for module, args in [('security_world', world_args), ('security_world', world_args),
                         ('hsm_key', {'world_dir': world_dir, 'ident': 'clikey'}),
                         ('security_world_info', {'world_dir': world_dir}),
                         ('hsm_key_info', {'world_dir': world_dir}),
                         ('security_world', dict(world_args, acs_quorum='3/3'))]:
        code, text = ansible(module, args, softhsm, tmp_path)
        outputs.append((module, code, text))
    assert [o[1] for o in outputs] == [0, 0, 0, 0, 0, 2]
    assert 'has quorum 2/3, not 3/3' in outputs[-1][2]
    assert '"changed": true' in outputs[0][2] and '"changed": false' in outputs[1][2]
    secrets = [c['pin'] for c in cards] + [World(world_dir).user_pin(), recover_so_pin(world_dir, cards)]
    for module, code, text in outputs:
        for secret in secrets:
            assert secret not in text, 'a secret reached the -vvv output of %s' % module
    # the PINs were really passed: ansible masks them where the arguments are echoed
    assert 'VALUE_SPECIFIED_IN_NO_LOG_PARAMETER' in outputs[0][2] or '********' in outputs[0][2]
