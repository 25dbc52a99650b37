# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os

import pytest

from ansible_collections.keyceremony.byok.plugins.module_utils._hsm import Hsm, attribute_template
from ansible_collections.keyceremony.byok.plugins.module_utils._journal import JOURNAL_NAME, Journal
from ansible_collections.keyceremony.byok.plugins.module_utils._keys import describe_key, generate_rsa
from ansible_collections.keyceremony.byok.plugins.module_utils._world import WorldContext
from ansible_collections.keyceremony.byok.plugins.modules import hsm_key
from ansible_collections.keyceremony.byok.tests.unit.helpers import (
    assert_no_secret, four_way, held_back_by_the_world_lock, module_result, plant_private_key, run_module, secrets_of,
    start_module)


@pytest.fixture
def args(world):
    return {'world_dir': world.dir, 'ident': 'contosokey', 'plain_name': 'Contoso tenant key'}


def test_four_way(world, args):
    check, real, check_again, again = four_way(hsm_key, args)
    assert [r['changed'] for r in (check, real, check_again, again)] == [True, True, False, False]
    assert check['spki_sha256'] is None
    assert real['key_name'] == 'key_simple_contosokey' == real['label']
    assert real['size'] == 2048 and real['public_exponent'] == 65537
    assert real['public_key_pem'].startswith('-----BEGIN PUBLIC KEY-----')
    assert again['spki_sha256'] == real['spki_sha256'] == check_again['spki_sha256']
    with Hsm() as hsm:
        with WorldContext(hsm, world.dir).user_session() as s:
            assert describe_key(s, 'key_simple_contosokey')['spki_sha256'] == real['spki_sha256']


def test_check_mode_generates_nothing(world, args):
    r = run_module(hsm_key, args, check_mode=True)
    assert r['changed'] and not os.path.exists(r['key_record'])
    with Hsm() as hsm:
        with WorldContext(hsm, world.dir).user_session() as s:
            assert describe_key(s, 'key_simple_contosokey') is None


def test_key_record_and_output_hold_no_secret(world, args):
    r = run_module(hsm_key, args, diff=True)
    assert_no_secret(r.raw, secrets_of(world))
    record = open(r['key_record']).read()
    assert_no_secret(record, secrets_of(world))
    assert os.stat(r['key_record']).st_mode & 0o777 == 0o600
    rec = json.loads(record)
    assert rec['spki_sha256'] == r['spki_sha256'] and rec['world_id'] == world.id and rec['plain_name'] == 'Contoso tenant key'
    assert 'PRIVATE' not in r.raw and 'PRIVATE' not in record
    after = {'key_name': 'key_simple_contosokey', 'size': 2048, 'spki_sha256': r['spki_sha256']}
    assert r.result['diff'] == {'before': {}, 'after': after}


@pytest.mark.parametrize('size', [3072, 4096])
def test_larger_sizes(args, size):
    r = run_module(hsm_key, dict(args, size=size))
    assert not r.failed and r['size'] == size


def test_legacy_1024_warns(args):
    r = run_module(hsm_key, dict(args, size=1024, app_name='mscapi'))
    assert not r.failed and r['size'] == 1024 and r['key_name'] == 'key_mscapi_contosokey'
    assert any('legacy AD RMS' in w for w in r.warnings)


@pytest.mark.bad_input
def test_same_ident_other_size_is_refused_and_key_kept(args):
    first = run_module(hsm_key, args)
    r = run_module(hsm_key, dict(args, size=3072))
    assert r.failed and 'already exists' in r['msg'] and 'never replaced' in r['msg']
    assert run_module(hsm_key, args)['spki_sha256'] == first['spki_sha256']


@pytest.mark.bad_input
def test_same_ident_other_plain_name_is_refused(args):
    run_module(hsm_key, args)
    r = run_module(hsm_key, dict(args, plain_name='Another name'))
    assert r.failed and "recorded with plain_name 'Contoso tenant key'" in r['msg']


def test_other_app_is_another_key(args):
    a = run_module(hsm_key, args)
    b = run_module(hsm_key, dict(args, app_name='mscapi'))
    assert b['changed'] and b['spki_sha256'] != a['spki_sha256']


def test_existing_key_is_adopted(world, args):
    # An AD RMS key made before the world had records: the module adopts it, writing only the record.
    with Hsm() as hsm:
        with WorldContext(hsm, world.dir).user_session(rw=True) as s:
            made = generate_rsa(s, 'key_mscapi_adrms', 2048, 65537)
    adopt = dict(args, app_name='mscapi', ident='adrms', plain_name=None)
    check = run_module(hsm_key, adopt, check_mode=True)
    assert check['changed'] and check['spki_sha256'] == made['spki_sha256']
    real = run_module(hsm_key, adopt)
    assert real['changed'] and real['spki_sha256'] == made['spki_sha256']
    assert json.load(open(real['key_record']))['adopted'] is True
    assert not run_module(hsm_key, adopt)['changed']


@pytest.mark.bad_input
def test_a_planted_key_is_not_adopted(world, args):
    # Whoever holds the user PIN imports a key they know, labelled as the tenant key, before the ceremony.
    with Hsm() as hsm:
        with WorldContext(hsm, world.dir).user_session(rw=True) as s:
            plant_private_key(s, 'key_simple_contosokey')
    r = run_module(hsm_key, args)
    assert r.failed and 'key_simple_contosokey' in r['msg'] and 'cannot be adopted' in r['msg']
    assert 'CKA_LOCAL is false' in r['msg'] and 'CKA_ALWAYS_SENSITIVE is false' in r['msg']
    assert 'adopt_imported=true' in r['msg']
    assert not os.path.exists(os.path.join(world.dir, 'key_simple_contosokey'))
    assert run_module(hsm_key, args, check_mode=True).failed


@pytest.mark.bad_input
def test_a_key_generated_wrapped_out_and_then_made_unextractable_is_not_adopted(world, args):
    # Generated in the HSM (CKA_LOCAL, CKA_ALWAYS_SENSITIVE) but extractable under any key: wrapped out under the
    # planter's own AES key, then CKA_EXTRACTABLE turned off, so that it looks like it never left.
    from ansible_collections.keyceremony.byok.plugins.module_utils._hsm import constant, mechanism
    from ansible_collections.keyceremony.byok.plugins.module_utils._keys import generate_rsa_pair
    with Hsm() as hsm:
        with WorldContext(hsm, world.dir).user_session(rw=True) as s:
            generate_rsa_pair(s, 'key_simple_contosokey', 2048, 65537,
                              [('CKA_EXTRACTABLE', True), ('CKA_WRAP_WITH_TRUSTED', False), ('CKA_SIGN', True)],
                              [('CKA_VERIFY', True)])
            mine = s.generate_key('the planter\'s AES key', [
                ('CKA_CLASS', constant('CKO_SECRET_KEY')), ('CKA_KEY_TYPE', constant('CKK_AES')), ('CKA_VALUE_LEN', 32),
                ('CKA_TOKEN', False), ('CKA_WRAP', True), ('CKA_UNWRAP', True), ('CKA_EXTRACTABLE', True),
                ('CKA_SENSITIVE', False)])
            key = s.find_one('key_simple_contosokey', 'CKO_PRIVATE_KEY')
            assert s.wrap('taking the key out', mine, key, mechanism('CKM_AES_KEY_WRAP_PAD'))
            s.call('hiding it', s.raw.setAttributeValue, key, attribute_template([('CKA_EXTRACTABLE', False)]))
            looks = describe_key(s, 'key_simple_contosokey')['attributes']
    assert looks['local'] and looks['always_sensitive'] and looks['sensitive'] and not looks['extractable']
    r = run_module(hsm_key, args)
    assert r.failed and 'cannot be adopted' in r['msg'] and 'CKA_NEVER_EXTRACTABLE is false' in r['msg']
    assert 'CKA_MODIFIABLE is true' in r['msg']
    assert not os.path.exists(os.path.join(world.dir, 'key_simple_contosokey'))


@pytest.mark.bad_input
def test_a_key_that_can_be_read_is_refused_even_when_adopting_imported_keys(world, args):
    with Hsm() as hsm:
        with WorldContext(hsm, world.dir).user_session(rw=True) as s:
            plant_private_key(s, 'key_simple_contosokey', CKA_SENSITIVE=False)
    r = run_module(hsm_key, dict(args, adopt_imported=True))
    assert r.failed and 'can never be a ceremony key: its private parts can be read' in r['msg']


def test_an_imported_key_is_adopted_only_when_asked_and_journalled(world, args):
    with Hsm() as hsm:
        with WorldContext(hsm, world.dir).user_session(rw=True) as s:
            plant_private_key(s, 'key_mscapi_adrms')
    adopt = dict(args, app_name='mscapi', ident='adrms', plain_name=None, adopt_imported=True)
    r = run_module(hsm_key, adopt)
    assert r['changed'] and r['adopted'] and any('CKA_LOCAL is false' in p for p in r['imported'])
    assert any('adopted although' in w and 'adopt_imported=true' in w for w in r.warnings)
    assert json.load(open(r['key_record']))['imported'] == r['imported']
    again = run_module(hsm_key, adopt)
    assert not again['changed'] and again['imported'] == r['imported']
    records, intact, _problem = Journal(os.path.join(world.dir, JOURNAL_NAME)).read()
    assert intact and any(rec['module'] == 'hsm_key' and 'CKA_LOCAL is false' in json.dumps(rec) for rec in records)
    # without the option, the next run refuses it again
    assert run_module(hsm_key, dict(adopt, adopt_imported=False)).failed


def test_a_generated_key_stays_unchanged_and_not_imported(args):
    first = run_module(hsm_key, args)
    again = run_module(hsm_key, args)
    assert first['changed'] and not first['adopted'] and first['imported'] == []
    assert not again['changed'] and not again['adopted'] and again['imported'] == [] and not again.warnings


@pytest.mark.bad_input
def test_record_without_key_is_refused(world, args):
    r = run_module(hsm_key, args)
    os.rename(r['key_record'], r['key_record'] + '.saved')
    other = run_module(hsm_key, dict(args, ident='second'))
    os.rename(r['key_record'] + '.saved', os.path.join(world.dir, 'key_simple_third'))
    refused = run_module(hsm_key, dict(args, ident='third'))
    assert not other.failed
    assert refused.failed and 'has no key key_simple_third' in refused['msg']


@pytest.mark.bad_input
@pytest.mark.parametrize('change,msg', [
    ({'protect': 'ocs'}, 'only module protection is'),
    ({'ident': 'Bad Ident'}, 'ident'),
    ({'public_exponent': 3}, 'public_exponent 3'),
    ({'size': 1536}, 'value of size must be one of'),
    ({'token_label': 'not-the-world'}, "token_label 'not-the-world' is not the token of the world"),
])
def test_refusals(args, change, msg):
    r = run_module(hsm_key, dict(args, **change))
    assert r.failed and msg in r['msg']


def test_no_world(softhsm, tmp_path):
    r = run_module(hsm_key, {'world_dir': str(tmp_path / 'none'), 'ident': 'k'})
    assert r.failed and 'there is no security world in' in r['msg'] and 'security_world first' in r['msg']


def test_lost_module_credential(world, args):
    os.unlink(os.path.join(world.dir, 'module_credential.json'))
    r = run_module(hsm_key, args)
    assert r.failed and "cannot read world's module credential" in r['msg']


def test_a_run_waits_while_another_holds_the_world(world, args, tmp_path):
    """Another run holding the world's lock holds this one back before it looks at the token."""
    def no_key_yet():
        with Hsm() as hsm:
            with WorldContext(hsm, world.dir).user_session() as s:
                return describe_key(s, 'key_simple_contosokey') is None
    assert held_back_by_the_world_lock(hsm_key, args, tmp_path, world.dir, no_key_yet)['changed'] is True


def test_two_runs_at_once_make_one_key(world, args, tmp_path):
    """Two runs started together (two terminals): one generates the key, the other finds it."""
    args = dict(args, size=4096)  # a long generation: without the lock both would find the key missing
    procs = [start_module(hsm_key, args, tmp_path), start_module(hsm_key, args, tmp_path)]
    results = [module_result(p) for p in procs]
    assert sorted(r['changed'] for r in results) == [False, True]
    assert results[0]['spki_sha256'] == results[1]['spki_sha256']
    with Hsm() as hsm:
        with WorldContext(hsm, world.dir).user_session() as s:
            found = s.find(attribute_template([('CKA_LABEL', 'key_simple_contosokey')]))
    assert len(found) == 2  # one private and one public key: generated once
