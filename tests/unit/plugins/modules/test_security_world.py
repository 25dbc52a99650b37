# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import re

import pytest

from ansible_collections.keyceremony.byok.plugins.module_utils._hsm import Hsm
from ansible_collections.keyceremony.byok.plugins.module_utils._world import World, recover_so_pin
from ansible_collections.keyceremony.byok.plugins.modules import security_world
from ansible_collections.keyceremony.byok.tests.unit.helpers import (
    WorldFixture, assert_no_secret, cards_for, four_way, run_module, secrets_of)


@pytest.fixture
def args(softhsm, tmp_path):
    return {'token_label': 'contoso-world', 'world_dir': str(tmp_path / 'world'), 'acs_quorum': '2/3',
            'admin_cards': cards_for(tmp_path, 3)}


def test_four_way(args):
    check, real, check_again, again = four_way(security_world, args)
    assert [r['changed'] for r in (check, real, check_again, again)] == [True, True, False, False]
    assert check['world_id'] is None and check['actions']
    assert real['world_id'] and len(real['world_id']) == 32
    assert again['world_id'] == real['world_id'] and again['token_serial'] == real['token_serial']
    assert again['actions'] == []
    assert [c['fingerprint'] for c in again['cards']] == [c['fingerprint'] for c in real['cards']]
    with Hsm() as hsm:
        assert hsm.find_token('contoso-world').serial == real['token_serial']


def test_check_mode_touches_nothing(args, tmp_path):
    r = run_module(security_world, args, check_mode=True)
    assert r['changed'] and not r.failed
    assert not os.path.exists(args['world_dir'])
    assert not os.path.exists(str(tmp_path / 'cards'))
    with Hsm() as hsm:
        assert hsm.find_token('contoso-world', required=False) is None


def test_returns_no_secret_and_files_are_private(args):
    r = run_module(security_world, args, diff=True)
    w = WorldFixture(args['world_dir'], args['token_label'], args['admin_cards'], World(args['world_dir']).descriptor())
    assert_no_secret(r.raw, secrets_of(w))
    assert set(r.result['diff']['after']) == {'world_id', 'token_label', 'token_serial', 'acs_quorum', 'cards'}
    assert r['world_file'] == os.path.join(args['world_dir'], 'world.json')
    for path in [c['path'] for c in args['admin_cards']] + [os.path.join(args['world_dir'], f)
                                                            for f in os.listdir(args['world_dir'])]:
        assert os.stat(path).st_mode & 0o777 == 0o600, path
    assert os.stat(args['world_dir']).st_mode & 0o777 == 0o700


def test_cards_open_the_world_it_returns(args):
    r = run_module(security_world, args)
    so_pin = recover_so_pin(args['world_dir'], args['admin_cards'][1:])
    with Hsm() as hsm:
        with hsm.session('contoso-world', login='so', pin=so_pin):
            pass
    assert len(r['cards']) == 3


@pytest.mark.parametrize('change,msg', [
    ({'acs_quorum': '3/3'}, 'has quorum 2/3, not 3/3'),
    ({'token_label': 'other'}, "uses token 'contoso-world', not 'other'"),
    ({'cipher_suite': 'scrypt-aes256gcm'}, 'uses cipher suite argon2id-aes256gcm'),
])
def test_existing_world_with_other_options(args, change, msg):
    run_module(security_world, args)
    before = open(os.path.join(args['world_dir'], 'world.json')).read()
    r = run_module(security_world, dict(args, **change))
    assert r.failed and msg in r['msg']
    assert open(os.path.join(args['world_dir'], 'world.json')).read() == before


def test_existing_world_with_other_cards(args, tmp_path):
    run_module(security_world, args)
    other = cards_for(tmp_path / 'elsewhere', 3)
    for c in other:
        os.makedirs(os.path.dirname(c['path']), exist_ok=True)
        with open(c['path'], 'w') as f:
            f.write('{}')
    r = run_module(security_world, dict(args, admin_cards=other))
    assert r.failed and 'is not one of the cards of the world' in r['msg']


def test_existing_world_checked_without_cards(args):
    real = run_module(security_world, args)
    r = run_module(security_world, dict(args, admin_cards=None))
    assert not r.failed and not r['changed'] and r['world_id'] == real['world_id']


def test_a_moved_card_is_still_recognised(args, tmp_path):
    run_module(security_world, args)
    moved = dict(args['admin_cards'][0], path=str(tmp_path / 'mounted-elsewhere'))
    os.rename(args['admin_cards'][0]['path'], moved['path'])
    r = run_module(security_world, dict(args, admin_cards=[moved] + args['admin_cards'][1:]))
    assert not r.failed and not r['changed']


@pytest.mark.bad_input
@pytest.mark.parametrize('change,msg', [
    ({'acs_quorum': '4/3'}, 'cannot exceed'),
    ({'acs_quorum': '0/3'}, 'at least 1'),
    ({'acs_quorum': '2/65'}, 'at most 64'),
    ({'acs_quorum': '2/4'}, 'admin_cards has 3 entries; a 4-card set needs exactly 4'),
    ({'acs_quorum': '2/2'}, 'admin_cards has 3 entries; a 2-card set needs exactly 2'),
    ({'token_label': 'x' * 33}, 'must be 1 to 32 bytes'),
])
def test_refusals_change_nothing(args, change, msg):
    r = run_module(security_world, dict(args, **change))
    assert r.failed and msg in r['msg']
    assert not os.path.exists(args['world_dir'])
    assert not any(os.path.exists(c['path']) for c in args['admin_cards'])
    with Hsm() as hsm:
        assert not [t for t in hsm.tokens() if t.initialized]


@pytest.mark.bad_input
def test_short_card_pin_is_refused(args):
    args['admin_cards'][1]['pin'] = 'q7Zx'
    r = run_module(security_world, args)
    assert r.failed and 'shorter than 8 characters' in r['msg'] and args['admin_cards'][1]['path'] in r['msg']
    assert 'q7Zx' not in r.raw


def test_existing_card_path_is_never_overwritten(args):
    path = args['admin_cards'][2]['path']
    os.makedirs(os.path.dirname(path))
    with open(path, 'w') as f:
        f.write('precious')
    r = run_module(security_world, args)
    assert r.failed and 'card path %s already exists' % path in r['msg']
    assert open(path).read() == 'precious'
    assert not os.path.exists(args['admin_cards'][0]['path'])


def test_token_with_that_label_that_is_not_this_world(args):
    with Hsm() as hsm:
        hsm.init_token(hsm.free_slot(), 'contoso-world', 'some-so-pin-1')
    r = run_module(security_world, args)
    assert r.failed and "token 'contoso-world'" in r['msg'] and 'is not the world in' in r['msg']
    assert not os.path.exists(os.path.join(args['world_dir'], 'world.json'))
    assert not any(os.path.exists(c['path']) for c in args['admin_cards'])


def test_world_whose_token_is_gone(args, softhsm):
    run_module(security_world, args)
    for name in os.listdir(softhsm.tokendir):
        os.rename(os.path.join(softhsm.tokendir, name), os.path.join(softhsm.base, name))
    r = run_module(security_world, args)
    assert r.failed and 'which is not present' in r['msg']


def test_world_descriptor_is_json_with_the_documented_fields(args):
    run_module(security_world, args)
    desc = json.load(open(os.path.join(args['world_dir'], 'world.json')))
    for field in ('world_id', 'token_label', 'token_serial', 'acs_quorum', 'cards', 'cipher_suite', 'created'):
        assert field in desc


def test_a_token_uri_for_a_new_world(softhsm, tmp_path):
    """An RFC 7512 URI names the world's token: its label makes it, its manufacturer and model are the HSM's and are
    checked on the free slot before anything is made; a serial cannot name a token that does not exist yet."""
    args = {'world_dir': str(tmp_path / 'world'), 'acs_quorum': '1/1',
            'admin_cards': [{'path': str(tmp_path / 'card1'), 'pin': 'card-pin-0123456789'}]}
    for uri, said in (('pkcs11:token=uri-world;serial=1234', 'names a serial, but token'),
                      ('pkcs11:token=uri-world;manufacturer=Thales', "the free slot .* has manufacturer 'SoftHSM "
                                                                     "project', but .* names manufacturer 'Thales'")):
        got = run_module(security_world, dict(args, token_label=uri))
        assert got.failed and re.search(said, got['msg']), got['msg']
        # nothing made: no card, no world, no token (only the world's lock file)
        assert not os.path.exists(str(tmp_path / 'card1')) and not os.path.exists(str(tmp_path / 'world' / 'world.json'))
        with Hsm() as hsm:
            assert hsm.find_token('uri-world', required=False) is None
    uri = 'pkcs11:model=SoftHSM%20v2;manufacturer=SoftHSM%20project;token=uri-world'
    got = run_module(security_world, dict(args, token_label=uri))
    assert not got.failed and got['changed'] and got['token_label'] == 'uri-world'


def test_a_pin_in_a_token_uri_is_refused_and_never_shown(world):
    """A PIN in token_label (any case, percent-encoded too) is refused, and masked in the module's output and in the
    journal's record of the options (hsm_key journals a failure in an existing world)."""
    from ansible_collections.keyceremony.byok.plugins.modules import hsm_key
    journal = os.path.join(world.dir, 'journal.jsonl')
    before = open(journal).read().count('"failed"') if os.path.exists(journal) else 0
    for uri in ('pkcs11:token=w1;PIN-VALUE=s3cr3t-pin-42', 'pkcs11:token=w1;pin%2Dvalue=s3cr3t-pin-42',
                'pkcs11:token=w1?Pin-Source=s3cr3t-pin-42'):
        got = run_module(hsm_key, {'world_dir': world.dir, 'ident': 'k', 'token_label': uri})
        assert got.failed and 'a PIN never goes in a token URI' in got['msg'], got['msg']
        assert 's3cr3t-pin-42' not in json.dumps(got.result)
    recorded = open(journal).read()
    assert recorded.count('"failed"') == before + 3 and 's3cr3t-pin-42' not in recorded
