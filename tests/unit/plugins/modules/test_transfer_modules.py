# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""kek_package_verify, key_acl and transfer_package: four-way runs and refusals on real SoftHSM2."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import shutil

import pytest

from ansible_collections.keyceremony.byok.plugins.module_utils._errors import HsmError
from ansible_collections.keyceremony.byok.plugins.module_utils._hsm import Hsm, attribute_template
from ansible_collections.keyceremony.byok.plugins.module_utils._world import World, WorldContext
from ansible_collections.keyceremony.byok.plugins.modules import hsm_key, kek_package_verify, key_acl, transfer_package
from ansible_collections.keyceremony.byok.tenant import datadir
from ansible_collections.keyceremony.byok.tests.unit.helpers import (
    WorldFixture, assert_no_secret, build_chain, four_way, held_back_by_the_world_lock, plant_private_key, run_module,
    secrets_of)

TENANT = '3f2a8b1c-5d6e-4f70-8a9b-0c1d2e3f4a5b'


@pytest.fixture(scope='module')
def tenant(tmp_path_factory):
    base = tmp_path_factory.mktemp('tenant')
    info = datadir.init(str(base / 'data'), TENANT)
    ts = datadir.Tenant(info['data_dir']).toolset('NA', str(base / 'toolset'))
    return info, {'kek_package': ts['kek_package'], 'security_world_package': ts['security_world_package'],
                  'root_hash': info['root_hash_grouped']}


@pytest.fixture
def keyed_world(world, tenant):
    run_module(hsm_key, {'world_dir': world.dir, 'ident': 'contosokey'})
    return world


def _token_objects(world):
    with Hsm() as hsm:
        with WorldContext(hsm, world.dir).user_session() as s:
            return sorted(s.attributes(o, ['CKA_LABEL'])['CKA_LABEL'] for o in s.find(attribute_template([])))


# ---------------------------------------------------------------- kek_package_verify

def test_verify_four_way(tenant):
    info, toolset = tenant
    for r in four_way(kek_package_verify, toolset):
        assert r['changed'] is False and r['result'] == 'SUCCESS'
        assert r['kek_kid'] == info['keks']['NA']['kid'] and r['region'] == 'NA'
        assert r['root_hash_grouped'] == info['root_hash_grouped']


@pytest.mark.bad_input
def test_verify_wrong_root_hash(tenant):
    r = run_module(kek_package_verify, dict(tenant[1], root_hash='ab' * 32))
    assert r.failed and 'KEK package check "root" failed' in r['msg']


@pytest.mark.bad_input
def test_verify_names_missing_files(tenant, tmp_path):
    r = run_module(kek_package_verify, dict(tenant[1], security_world_package=str(tmp_path / 'nope')))
    assert r.failed and 'cannot read the security-world package' in r['msg']


@pytest.mark.bad_input
def test_a_journal_in_a_shared_folder_leaves_the_folder_alone(tenant, tmp_path):
    shared = tmp_path / 'tmp'
    shared.mkdir()
    os.chmod(str(shared), 0o1777)
    r = run_module(kek_package_verify, dict(tenant[1], root_hash='ab' * 32, journal=str(shared / 'journal.jsonl')))
    assert r.failed and r['msg'].startswith('journal %s: folder %s can be written by others' % (shared / 'journal.jsonl', shared))
    assert os.stat(str(shared)).st_mode & 0o7777 == 0o1777 and os.listdir(str(shared)) == []


# ---------------------------------------------------------------- key_acl

def _acl_args(world, toolset, cards=None):
    return dict(toolset, world_dir=world.dir, ident='contosokey', admin_cards=cards or world.cards[:2])


def test_key_acl_four_way(keyed_world, tenant):
    args = _acl_args(keyed_world, tenant[1])
    check, real, check_again, again = four_way(key_acl, args)
    assert [r['changed'] for r in (check, real, check_again, again)] == [True, True, False, False]
    assert len(check['actions']) == 3 and again['actions'] == []
    assert real['copy_name'] == 'key_simple_xferacl_contosokey'
    labels = _token_objects(keyed_world)
    assert 'kek_' + real['kek_kid'] in labels and 'key_simple_xferwrap_contosokey' in labels
    record = json.load(open(os.path.join(keyed_world.dir, 'key_simple_xferacl_contosokey')))
    assert record['copy_of'] == 'key_simple_contosokey' and record['trusted_keks'] == [real['kek_kid']]
    assert record['spki_sha256'] == real['spki_sha256']
    for r in (check, real, check_again, again):
        assert_no_secret(r.raw, secrets_of(keyed_world))


def test_key_acl_waits_while_another_run_holds_the_world(keyed_world, tenant, tmp_path):
    """Two key_acl runs at once would both find the copy missing and both make one."""
    before = _token_objects(keyed_world)
    r = held_back_by_the_world_lock(key_acl, _acl_args(keyed_world, tenant[1]), tmp_path, keyed_world.dir,
                                    lambda: _token_objects(keyed_world) == before)
    assert r['changed'] and r['copy_name'] in _token_objects(keyed_world)


def test_key_acl_check_mode_leaves_the_token_alone(keyed_world, tenant):
    before = _token_objects(keyed_world)
    r = run_module(key_acl, _acl_args(keyed_world, tenant[1]), check_mode=True)
    assert r['changed'] and _token_objects(keyed_world) == before


def test_key_acl_any_two_cards(keyed_world, tenant):
    r = run_module(key_acl, _acl_args(keyed_world, tenant[1], [keyed_world.cards[2], keyed_world.cards[0]]))
    assert not r.failed and r['changed']


@pytest.mark.bad_input
@pytest.mark.parametrize('cards,msg', [
    (lambda w: w.cards[:1], '1 administrator card(s) given; world'),
    (lambda w: [w.cards[0], dict(w.cards[1], pin='wrong-pin-00')], 'wrong card PIN'),
    (lambda w: [w.cards[0], w.cards[0]], 'given twice'),
    (lambda w: [w.cards[0], dict(w.cards[1], pin=None)], 'no PIN given'),
])
def test_key_acl_card_refusals_leave_the_token_alone(keyed_world, tenant, cards, msg):
    before = _token_objects(keyed_world)
    r = run_module(key_acl, _acl_args(keyed_world, tenant[1], cards(keyed_world)))
    assert r.failed and msg in r['msg']
    assert 'wrong-pin-00' not in r.raw
    assert _token_objects(keyed_world) == before


@pytest.mark.bad_input
def test_key_acl_refuses_a_bad_kek_package_and_an_unknown_key(keyed_world, tenant, tmp_path):
    before = _token_objects(keyed_world)
    r = run_module(key_acl, dict(_acl_args(keyed_world, tenant[1]), root_hash='cd' * 32))
    assert r.failed and 'check "root" failed' in r['msg']
    r = run_module(key_acl, dict(_acl_args(keyed_world, tenant[1]), ident='unknown'))
    assert r.failed and 'has no key key_simple_unknown' in r['msg'] and 'hsm_key first' in r['msg']
    assert _token_objects(keyed_world) == before


def _plant_copy(world, with_primes, ident='contosokey'):
    """As the user-PIN holder: a private key with the tenant key's modulus and a private exponent of the planter's
    (and, ``with_primes``, another key's CRT values, so that the HSM can encode it), labelled and made to look exactly
    like the reduced-permission copy."""
    from cryptography.hazmat.primitives.asymmetric import rsa
    with Hsm() as hsm:
        with WorldContext(hsm, world.dir).user_session(rw=True) as s:
            n, e = s.rsa_public_numbers(s.find_one('key_simple_' + ident, 'CKO_PUBLIC_KEY'))
            look = dict(CKA_SIGN=False, CKA_DECRYPT=False, CKA_COPYABLE=False, CKA_DESTROYABLE=False)
            if with_primes:
                other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
                look.update(CKA_MODULUS=n.to_bytes(256, 'big'))
                plant_private_key(s, 'key_simple_xferacl_' + ident, key=other, **look)
            else:
                d = int.from_bytes(os.urandom(255), 'big') | 1
                plant_private_key(s, 'key_simple_xferacl_' + ident, numbers=(n, e, d), **look)


@pytest.mark.bad_input
@pytest.mark.parametrize('with_primes', [False, True])
def test_key_acl_refuses_a_planted_copy_before_making_anything(keyed_world, tenant, with_primes):
    _plant_copy(keyed_world, with_primes)
    before = _token_objects(keyed_world)
    for check_mode in (True, False):
        r = run_module(key_acl, _acl_args(keyed_world, tenant[1]), check_mode=check_mode)
        assert r.failed and 'the transfer copy key_simple_xferacl_contosokey' in r['msg']
        assert 'pairwise-consistency' in r['msg'] and 'planted' in r['msg']
    assert _token_objects(keyed_world) == before  # neither the KEK nor the package key was made for it
    assert not os.path.exists(os.path.join(keyed_world.dir, 'key_simple_xferacl_contosokey'))


def test_key_acl_proves_its_own_copy_on_every_run(keyed_world, tenant):
    args = _acl_args(keyed_world, tenant[1])
    assert run_module(key_acl, args)['changed']
    again = run_module(key_acl, args, check_mode=True)
    assert not again.failed and not again['changed']
    assert not run_module(key_acl, args)['changed']


def test_key_acl_objects_cannot_be_deleted_without_login_or_with_it(keyed_world, tenant):
    real = run_module(key_acl, _acl_args(keyed_world, tenant[1]))
    labels = ['kek_' + real['kek_kid'], real['package_key'], real['copy_name'], real['key_name']]
    with Hsm() as hsm:
        with hsm.session(keyed_world.token_label, rw=True) as s:  # no PIN at all
            for obj in s.find(attribute_template([])):
                with pytest.raises(HsmError, match='CKR_ACTION_PROHIBITED'):
                    s.destroy('destroying without login', obj)
        with WorldContext(hsm, keyed_world.dir).user_session(rw=True) as s:
            for obj in s.find(attribute_template([])):
                with pytest.raises(HsmError, match='CKR_ACTION_PROHIBITED'):
                    s.destroy('destroying as user', obj)
    assert set(labels) <= set(_token_objects(keyed_world))


@pytest.mark.bad_input
def test_a_proved_copy_relabelled_and_a_planted_one_in_its_place_is_never_packaged(keyed_world, tenant, tmp_path):
    # SoftHSM2 cannot make the copy unmodifiable: its label can change after key_acl proved it
    args = _acl_args(keyed_world, tenant[1])
    assert run_module(key_acl, args)['changed']
    with Hsm() as hsm:
        with WorldContext(hsm, keyed_world.dir).user_session(rw=True) as s:
            copy = s.find_one('key_simple_xferacl_contosokey', 'CKO_PRIVATE_KEY')
            s.call('relabelling the copy', s.raw.setAttributeValue, copy, attribute_template([('CKA_LABEL', 'aside')]))
    _plant_copy(keyed_world, with_primes=True)
    package = dict(tenant[1], world_dir=keyed_world.dir, ident='contosokey', tenant_id=TENANT,
                   key_friendly_name='Planted', dest=str(tmp_path / 'media'))
    for module, module_args in ((transfer_package, package), (key_acl, args)):
        r = run_module(module, module_args)
        assert r.failed and 'private keys with the modulus of key_simple_contosokey' in r['msg'], module
        assert 'aside' in r['msg'] and 'relabelled or planted' in r['msg']
    assert not os.path.exists(str(tmp_path / 'media'))


@pytest.mark.bad_input
def test_a_key_replaced_under_its_label_is_not_prepared(world, tenant):
    # an adopted (imported, modifiable) key is relabelled, and a key the planter knows takes its label
    with Hsm() as hsm:
        with WorldContext(hsm, world.dir).user_session(rw=True) as s:
            plant_private_key(s, 'key_simple_contosokey')
    assert run_module(hsm_key, {'world_dir': world.dir, 'ident': 'contosokey', 'adopt_imported': True})['changed']
    with Hsm() as hsm:
        with WorldContext(hsm, world.dir).user_session(rw=True) as s:
            key = s.find_one('key_simple_contosokey', 'CKO_PRIVATE_KEY')
            s.call('relabelling the key', s.raw.setAttributeValue, key, attribute_template([('CKA_LABEL', 'aside')]))
            plant_private_key(s, 'key_simple_contosokey')
    before = _token_objects(world)
    r = run_module(key_acl, _acl_args(world, tenant[1]))
    assert r.failed and 'but hsm_key recorded' in r['msg'] and 'another key was put under its label' in r['msg']
    assert _token_objects(world) == before


def test_key_acl_journal_records_changes_and_failures(keyed_world, tenant):
    run_module(key_acl, _acl_args(keyed_world, tenant[1], keyed_world.cards[:1]))
    run_module(key_acl, _acl_args(keyed_world, tenant[1]))
    run_module(key_acl, _acl_args(keyed_world, tenant[1]))
    lines = [json.loads(x) for x in open(os.path.join(keyed_world.dir, 'journal.jsonl'))]
    assert [(r['module'], r['outcome']) for r in lines] == [('hsm_key', 'changed'), ('key_acl', 'failed'),
                                                            ('key_acl', 'changed')]
    assert lines[1]['error'].startswith('1 administrator card(s) given')
    assert lines[2]['asked']['admin_cards'] == [{'path': c['path']} for c in keyed_world.cards[:2]]
    text = open(os.path.join(keyed_world.dir, 'journal.jsonl')).read()
    assert_no_secret(text, secrets_of(keyed_world))


# ---------------------------------------------------------------- transfer_package

@pytest.fixture(scope='module')
def chain(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        yield build_chain(tmp_path_factory.mktemp('chain'), mp), mp


def test_transfer_package_four_way(chain, tmp_path):
    c = chain[0]
    args = dict(c.package_args, dest=str(tmp_path / 'media'), key_friendly_name='Fresh')
    check, real, check_again, again = four_way(transfer_package, args)
    assert [r['changed'] for r in (check, real, check_again, again)] == [True, True, False, False]
    assert check['sha256'] is None and real['sha256'] == again['sha256']
    assert real['path'].endswith('KeyTransferPackage-Fresh.byok') and real['tenant_id'] == TENANT
    assert real['spki_sha256'] == c.key['spki_sha256']
    assert os.listdir(str(tmp_path / 'media')) == ['KeyTransferPackage-Fresh.byok']
    w = WorldFixture(c.world_dir, 'offline-world', c.cards, World(c.world_dir).descriptor())
    for r in (check, real, again):
        assert_no_secret(r.raw, secrets_of(w))


@pytest.mark.bad_input
def test_an_existing_file_of_another_transfer_is_never_overwritten(chain, tmp_path):
    # a package made under another name, and a file that is no package: refused, kept
    c = chain[0]
    args = dict(c.package_args, dest=str(tmp_path / 'media'), key_friendly_name='Other')
    os.makedirs(args['dest'])
    target = os.path.join(args['dest'], 'KeyTransferPackage-Other.byok')
    for data, msg in ((c.package_bytes, 'exists for another transfer: key_friendly_name ContosoBYOK (asked Other)'),
                      (b'not a package', 'is not a usable transfer package')):
        with open(target, 'wb') as f:
            f.write(data)
        r = run_module(transfer_package, args)
        assert r.failed and msg in r['msg'] and 'never overwritten' in r['msg']
        assert open(target, 'rb').read() == data and os.listdir(args['dest']) == ['KeyTransferPackage-Other.byok']


def test_a_package_for_a_mistyped_tenant_is_set_aside_when_the_id_is_fixed(chain, tmp_path):
    """Fix the input and run again: the package made for the typo is kept under another name and journalled."""
    c = chain[0]
    args = dict(c.package_args, dest=str(tmp_path / 'media'), key_friendly_name='Typo')
    typo = '9e8d7c6b-5a49-4382-a716-f5e4d3c2b1a0'
    first = run_module(transfer_package, dict(args, tenant_id=typo))
    typo_bytes = open(first['path'], 'rb').read()
    check = run_module(transfer_package, args, check_mode=True)
    assert check['changed'] and 'tenant %s' % typo in check['set_aside'] and open(first['path'], 'rb').read() == typo_bytes
    fixed = run_module(transfer_package, args)
    assert fixed['changed'] and fixed['tenant_id'] == args['tenant_id']
    assert fixed['set_aside'].endswith('KeyTransferPackage-Typo.set-aside-for-tenant-%s.byok' % typo)
    assert open(fixed['set_aside'], 'rb').read() == typo_bytes
    assert json.loads(open(fixed['path'], 'rb').read())['binding']['tenant_id'] == args['tenant_id']
    assert not run_module(transfer_package, args)['changed']
    records = [json.loads(x) for x in open(os.path.join(c.world_dir, 'journal.jsonl'))]
    # the run that set it aside records it; the run after it, which changed nothing, records what it found
    assert records[-2]['module'] == 'transfer_package' and records[-2]['result']['set_aside'] == fixed['set_aside']
    assert (records[-1]['module'], records[-1]['outcome']) == ('transfer_package', 'verified')
    assert records[-1]['result']['tenant_id'] == args['tenant_id'] and 'set_aside' not in records[-1]['result']


@pytest.mark.parametrize('other_tenant,changed', [(TENANT, False), ('9e8d7c6b-5a49-4382-a716-f5e4d3c2b1a0', None)])
def test_a_package_written_meanwhile_by_another_run(chain, tmp_path, monkeypatch, other_tenant, changed):
    """Another run writes the package while this one is packaging: the same transfer is reported
    unchanged (not a failure), another one refused; the other run's file is kept either way."""
    from ansible_collections.keyceremony.byok.plugins.module_utils import _byok
    c = chain[0]
    args = dict(c.package_args, dest=str(tmp_path / 'media'), key_friendly_name='Meanwhile')
    other = run_module(transfer_package, dict(args, dest=str(tmp_path / 'other'), tenant_id=other_tenant))
    theirs = open(other['path'], 'rb').read()
    real_build = _byok.build_package

    def build_while_another_run_writes(*a, **kw):
        package = real_build(*a, **kw)
        os.makedirs(str(tmp_path / 'media'))
        with open(str(tmp_path / 'media' / 'KeyTransferPackage-Meanwhile.byok'), 'wb') as f:
            f.write(theirs)
        return package
    monkeypatch.setattr(_byok, 'build_package', build_while_another_run_writes)
    r = run_module(transfer_package, args)
    if changed is None:
        assert r.failed and 'exists for another transfer: tenant_id' in r['msg']
    else:
        assert not r.failed and r['changed'] is changed and r['sha256'] == other['sha256']
    assert open(str(tmp_path / 'media' / 'KeyTransferPackage-Meanwhile.byok'), 'rb').read() == theirs


def test_a_foreign_file_is_never_overwritten(chain, tmp_path):
    c = chain[0]
    dest = tmp_path / 'media'
    dest.mkdir()
    (dest / 'KeyTransferPackage-ContosoBYOK.byok').write_text('someone else\'s file')
    r = run_module(transfer_package, dict(c.package_args, dest=str(dest)))
    assert r.failed and 'not a usable transfer package' in r['msg']
    assert (dest / 'KeyTransferPackage-ContosoBYOK.byok').read_text() == 'someone else\'s file'


@pytest.mark.bad_input
@pytest.mark.parametrize('change,msg', [
    ({'tenant_id': 'contoso'}, 'is not a GUID'),
    ({'key_friendly_name': '../escape'}, 'key_friendly_name'),
    ({'root_hash': 'ef' * 32}, 'check "root" failed'),
    ({'ident': 'other'}, 'has no key key_simple_other'),
])
def test_transfer_package_refusals(chain, change, msg, tmp_path):
    r = run_module(transfer_package, dict(chain[0].package_args, dest=str(tmp_path / 'm'), **change))
    assert r.failed and msg in r['msg']
    assert not os.path.exists(str(tmp_path / 'm'))


def test_transfer_package_needs_key_acl_first(world, tenant, tmp_path):
    run_module(hsm_key, {'world_dir': world.dir, 'ident': 'contosokey'})
    r = run_module(transfer_package, dict(tenant[1], world_dir=world.dir, ident='contosokey', tenant_id=TENANT,
                                          key_friendly_name='X', dest=str(tmp_path / 'm')))
    assert r.failed and 'Run keyceremony.byok.key_acl with the admin cards first' in r['msg']


def test_a_changed_copy_is_never_packaged(chain, tmp_path):
    c, mp = chain
    # Work on a copy of the offline token, so the shared chain stays as it was.
    base = tmp_path / 'copy'
    shutil.copytree(c.offline.base, str(base / 'offline'))
    shutil.copytree(c.world_dir, str(base / 'world'))
    conf = str(base / 'offline' / 'softhsm2.conf')
    with open(conf, 'w') as f:
        f.write('directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' % (base / 'offline' / 'tokens'))
    mp.setenv('SOFTHSM2_CONF', conf)
    try:
        with Hsm() as hsm:
            with WorldContext(hsm, str(base / 'world')).user_session(rw=True) as s:
                s.call('re-enabling sign on the copy', s.raw.setAttributeValue,
                       s.find_one('key_simple_xferacl_contosokey', 'CKO_PRIVATE_KEY'), attribute_template([('CKA_SIGN', True)]))
        r = run_module(transfer_package, dict(c.package_args, world_dir=str(base / 'world'), dest=str(tmp_path / 'm')))
    finally:
        mp.setenv('SOFTHSM2_CONF', c.offline.conf)
    assert r.failed and 'has sign=True' in r['msg'] and 'do not package it' in r['msg']
