# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.keyceremony.byok.plugins.modules import hsm_key, hsm_key_info
from ansible_collections.keyceremony.byok.tests.unit.helpers import assert_no_secret, four_way, run_module, secrets_of


def test_four_way_lists_every_key(world):
    a = run_module(hsm_key, {'world_dir': world.dir, 'ident': 'alpha', 'plain_name': 'Alpha'})
    b = run_module(hsm_key, {'world_dir': world.dir, 'ident': 'beta', 'app_name': 'mscapi', 'size': 3072})
    for r in four_way(hsm_key_info, {'world_dir': world.dir}):
        assert r['changed'] is False
        keys = dict((k['key_name'], k) for k in r['keys'])
        assert sorted(keys) == ['key_mscapi_beta', 'key_simple_alpha']
        assert keys['key_simple_alpha']['spki_sha256'] == a['spki_sha256']
        assert keys['key_simple_alpha']['plain_name'] == 'Alpha'
        assert keys['key_mscapi_beta']['size'] == 3072 and keys['key_mscapi_beta']['spki_sha256'] == b['spki_sha256']
        assert keys['key_mscapi_beta']['app_name'] == 'mscapi' and keys['key_mscapi_beta']['ident'] == 'beta'
        assert_no_secret(r.raw, secrets_of(world))


def test_one_key_and_its_attributes(world):
    run_module(hsm_key, {'world_dir': world.dir, 'ident': 'alpha'})
    run_module(hsm_key, {'world_dir': world.dir, 'ident': 'beta'})
    r = run_module(hsm_key_info, {'world_dir': world.dir, 'ident': 'alpha'})
    assert [k['key_name'] for k in r['keys']] == ['key_simple_alpha']
    attrs = r['keys'][0]['attributes']
    assert attrs == {'sign': True, 'decrypt': True, 'unwrap': False, 'derive': False, 'extractable': True,
                     'sensitive': True, 'wrap_with_trusted': True, 'never_extractable': False,
                     'always_sensitive': True, 'local': True, 'modifiable': False, 'copyable': False,
                     'destroyable': False, 'private': True}


def test_unknown_key_is_an_empty_list(world):
    r = run_module(hsm_key_info, {'world_dir': world.dir, 'ident': 'nothing'})
    assert not r.failed and r['keys'] == []
