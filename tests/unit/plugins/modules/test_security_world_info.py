# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.keyceremony.byok.plugins.modules import hsm_key, security_world_info
from ansible_collections.keyceremony.byok.tests.unit.helpers import assert_no_secret, four_way, run_module, secrets_of


def test_four_way_and_content(world):
    key = run_module(hsm_key, {'world_dir': world.dir, 'ident': 'k1'})
    runs = four_way(security_world_info, {'world_dir': world.dir})
    for r in runs:
        assert r['changed'] is False
        assert r['exists'] and not r['unfinished']
        assert r['world']['world_id'] == world.id and r['world']['acs_quorum'] == '2/3'
        assert 'so_pin_check' not in r['world']
        assert r['token']['serial'] == world.descriptor['token_serial']
        assert r['token']['initialized'] and r['token']['user_pin_initialized']
        assert r['keys'] == [{'key_name': 'key_simple_k1', 'size': 2048, 'spki_sha256': key['spki_sha256'],
                              'recorded': True}]
        assert_no_secret(r.raw, secrets_of(world))


def test_no_world_is_not_a_failure(softhsm, tmp_path):
    r = run_module(security_world_info, {'world_dir': str(tmp_path / 'none')})
    assert not r.failed and r['exists'] is False and r['token'] is None and r['keys'] == []


@pytest.mark.bad_input
def test_other_token_label_is_refused(world):
    r = run_module(security_world_info, {'world_dir': world.dir, 'token_label': 'other'})
    assert r.failed and 'is not the token of the world' in r['msg']
