# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The Key Vault path module by module, four ways each, against the rehearsal's Key Vault over TLS:
keyvault_kek (online) -> keyvault_kek_verify, key_acl, transfer_package (offline) -> keyvault_byok_import."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os

import pytest

from ansible_collections.keyceremony.byok.plugins.module_utils._journal import Journal
from ansible_collections.keyceremony.byok.plugins.modules import (
    key_acl, keyvault_byok_import, keyvault_kek, keyvault_kek_verify, transfer_package)
from ansible_collections.keyceremony.byok.tenant import datadir
from ansible_collections.keyceremony.byok.tests.unit.helpers import (
    TENANT_A, TenantServer, WorldFixture, assert_no_secret, four_way, free_port, offline_world, run_module, secrets_of)


class Ceremony(object):
    pass


@pytest.fixture(scope='module')
def kv(tmp_path_factory):
    """A tenant served with its Key Vault, an offline world with a tenant key, the connection options."""
    with pytest.MonkeyPatch.context() as mp:
        c = offline_world(Ceremony(), tmp_path_factory.mktemp('kvmodules'), mp, 'kv-world')
        c.tenant = datadir.init(os.path.join(c.base, 'service'), TENANT_A)
        c.server = TenantServer(c.tenant['data_dir'], keyvault=True).start()
        c.conn = {'vault_url': c.server.keyvault_url, 'tenant': TENANT_A, 'client_id': c.tenant['client_id'],
                  'secret': c.tenant['client_secret'], 'authority': c.server.url, 'ca_path': c.server.ca_path}
        c.media = os.path.join(c.base, 'media')
        c.journal = os.path.join(c.base, 'online', 'journal.jsonl')
        c.world = WorldFixture(c.world_dir, 'kv-world', c.cards, c.descriptor)
        yield c
        c.server.stop()


@pytest.fixture(scope='module')
def kek(kv):
    args = dict(kv.conn, name='ceremony-kek', key_size=2048, dest=kv.media, journal=kv.journal)
    check, real, check_again, again = four_way(keyvault_kek, args)
    assert [r['changed'] for r in (check, real, check_again, again)] == [True, True, False, False]
    assert check['created'] and check['kid'] is None and check['sha256'] is None
    assert real['created'] and not again['created'] and real['kid'] == again['kid']
    assert real['kek_size'] == 2048 and real['path'] == os.path.join(kv.media, 'ceremony-kek.kek.json')
    assert os.stat(real['path']).st_mode & 0o777 == 0o600
    for r in (check, real, check_again, again):
        assert_no_secret(r.raw, [kv.conn['secret']])
    return real.result


def test_keyvault_kek_writes_the_get_answer(kv, kek):
    with open(kek['path']) as f:
        doc = json.load(f)
    assert doc['key']['kid'] == kek['kid'] and doc['key']['kty'] == 'RSA-HSM' and doc['key']['key_ops'] == ['import']
    assert kek['kek_spki_sha256_grouped'].replace(' ', '') == kek['kek_spki_sha256']
    records, intact, _problem = Journal(kv.journal).read()
    assert intact and ('keyvault_kek', 'changed') in [(r['module'], r['outcome']) for r in records]
    assert_no_secret(open(kv.journal).read(), [kv.conn['secret']])


def test_keyvault_kek_rewrites_a_changed_file_and_refuses_another_key(kv, kek, tmp_path):
    with open(kek['path'], 'a') as f:
        f.write(' ')
    r = run_module(keyvault_kek, dict(kv.conn, name='ceremony-kek', dest=kv.media))
    assert r['changed'] and not r['created'] and r['sha256'] == kek['sha256']
    run_module(keyvault_kek, dict(kv.conn, name='not-a-kek', dest=str(tmp_path)))  # makes a KEK named not-a-kek
    # a signing key of that name made by someone else is refused and left alone
    from ansible_collections.keyceremony.byok.plugins.module_utils._keyvault import client_from_params
    client_from_params(kv.conn).create_key('a-signing-key', {'kty': 'RSA-HSM', 'key_size': 2048,
                                                             'key_ops': ['sign', 'verify']})
    r = run_module(keyvault_kek, dict(kv.conn, name='a-signing-key', dest=str(tmp_path)))
    assert r.failed and 'a KEK must be an RSA-HSM key with the import operation alone' in r['msg']
    assert not os.path.exists(str(tmp_path / 'a-signing-key.kek.json'))


@pytest.mark.bad_input
@pytest.mark.parametrize('change,msg', [
    ({'secret': 'wrong-secret'}, 'refused a token for client'),
    ({'vault_url': 'http://127.0.0.1:1'}, 'must be the vault\'s https:// origin'),
    ({'ca_path': None}, 'TLS verification of'),
    ({'access_token': 'not-a-token-of-this-vault', 'secret': None, 'tenant': None, 'client_id': None}, 'HTTP 401'),
    ({'access_token': 'eyJ0eXAiOiJKV1Qi-with-a-newline\nX-Evil: 1', 'secret': None, 'tenant': None, 'client_id': None},
     'is not a bearer token'),
])
def test_keyvault_connection_refusals(kv, change, msg):
    conn = dict((k, v) for k, v in dict(kv.conn, **change).items() if v is not None or k == 'ca_path')
    r = run_module(keyvault_kek, dict(conn, name='ceremony-kek', dest=kv.media))
    assert r.failed and msg in r['msg'], r['msg']
    assert 'wrong-secret' not in r.raw and kv.conn['secret'] not in r.raw and 'not-a-token' not in r.raw
    assert 'with-a-newline' not in r.raw


def test_an_access_token_instead_of_client_credentials(kv, kek):
    from ansible_collections.keyceremony.byok.plugins.module_utils._keyvault import client_from_params
    token = client_from_params(kv.conn).token()
    conn = dict((k, v) for k, v in kv.conn.items() if k not in ('secret', 'tenant', 'client_id'))
    conn['access_token'] = token
    r = run_module(keyvault_kek, dict(conn, name='ceremony-kek', dest=kv.media))
    assert not r.failed and r['kid'] == kek['kid'] and token not in r.raw


def test_a_vault_that_is_down(kv):
    r = run_module(keyvault_kek, dict(kv.conn, vault_url='https://127.0.0.1:%d' % free_port(), name='k', dest=kv.media))
    assert r.failed and 'cannot reach' in r['msg']


def test_keyvault_kek_verify_four_way(kv, kek):
    args = {'kek_file': kek['path'], 'kek_spki_sha256': kek['kek_spki_sha256_grouped']}
    for r in four_way(keyvault_kek_verify, args):
        assert r['changed'] is False and r['result'] == 'SUCCESS' and r['kek_kid'] == kek['kid']


@pytest.mark.bad_input
def test_keyvault_kek_verify_refuses_another_pin_and_journals_it(kv, kek, tmp_path):
    journal = str(tmp_path / 'j.jsonl')
    r = run_module(keyvault_kek_verify, {'kek_file': kek['path'], 'kek_spki_sha256': '00' * 32, 'journal': journal})
    assert r.failed and 'check "fingerprint" failed' in r['msg']
    assert [x['outcome'] for x in Journal(journal).read()[0]] == ['failed']


def offline_args(kv, kek):
    return {'world_dir': kv.world_dir, 'ident': 'contosokey', 'kek_file': kek['path'],
            'kek_spki_sha256': kek['kek_spki_sha256']}


@pytest.fixture(scope='module')
def byok(kv, kek):
    acl_args = dict(offline_args(kv, kek), admin_cards=kv.cards[:2])
    check, real, check_again, again = four_way(key_acl, acl_args)
    assert [r['changed'] for r in (check, real, check_again, again)] == [True, True, False, False]
    assert real['kek_kid'] == kek['kid'] and real['kek_spki_sha256'] == kek['kek_spki_sha256']
    for r in (check, real, check_again, again):
        assert_no_secret(r.raw, secrets_of(kv.world))
    args = dict(offline_args(kv, kek), key_friendly_name='ContosoBYOK', dest=kv.media)
    check, real, check_again, again = four_way(transfer_package, args)
    assert [r['changed'] for r in (check, real, check_again, again)] == [True, True, False, False]
    assert real['path'] == os.path.join(kv.media, 'ContosoBYOK.byok') and real['format'] == 'keyvault'
    assert real['tenant_id'] is None and real['spki_sha256'] == kv.key['spki_sha256'] and again['sha256'] == real['sha256']
    return real.result


@pytest.mark.bad_input
def test_the_offline_side_refuses_a_kek_it_was_not_told_about(kv, kek, byok):
    r = run_module(key_acl, dict(offline_args(kv, kek), kek_spki_sha256='11' * 32, admin_cards=kv.cards[:2]))
    assert r.failed and 'check "fingerprint" failed' in r['msg']
    r = run_module(transfer_package, dict(offline_args(kv, kek), kek_spki_sha256='11' * 32, key_friendly_name='x',
                                          dest=kv.media))
    assert r.failed and 'check "fingerprint" failed' in r['msg']


def test_kek_sources_are_one_or_the_other(kv, kek):
    r = run_module(transfer_package, dict(offline_args(kv, kek), root_hash='00' * 32, key_friendly_name='x',
                                          dest=kv.media))
    assert r.failed and 'mutually exclusive' in r['msg']
    args = dict(offline_args(kv, kek), key_friendly_name='x', dest=kv.media)
    del args['kek_spki_sha256']
    r = run_module(transfer_package, args)
    assert r.failed and 'kek_spki_sha256' in r['msg']


def test_a_byok_file_this_world_did_not_make_is_never_taken_for_its_own(kv, kek, byok, tmp_path):
    """A .byok carries no binding: an existing file is the same transfer only when its wrapped key is, byte for byte,
    this key wrapped under this world's package key."""
    from ansible_collections.keyceremony.byok.tests.tenant.test_keyvault_sdk import software_byok
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    dest = str(tmp_path)
    planted = os.path.join(dest, 'ContosoBYOK.byok')
    other = rsa.generate_private_key(65537, 2048)
    with open(planted, 'wb') as f:
        f.write(software_byok(_kek_object(kek), other.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())))
    args = dict(offline_args(kv, kek), key_friendly_name='ContosoBYOK', dest=dest)
    r = run_module(transfer_package, args)
    assert r.failed and 'is not this key wrapped for KEK' in r['msg'] and 'never overwritten' in r['msg']
    # the world's own file, copied, or with another first part (it can still only open to this key), is the same
    doc = json.load(open(byok['path']))
    with open(planted, 'w') as f:
        json.dump(doc, f)
    r = run_module(transfer_package, args)
    assert not r.failed and r['changed'] is False
    # but not for another KEK
    doc['header']['kid'] = doc['header']['kid'][:-32] + '0' * 32
    with open(planted, 'w') as f:
        json.dump(doc, f)
    r = run_module(transfer_package, args)
    assert r.failed and 'is not this key wrapped for KEK' in r['msg']


def test_wrapping_is_deterministic_so_a_file_is_recognised(kv, kek, byok, tmp_path):
    """Two .byok files of the same key for the same KEK differ in their first part only."""
    from ansible_collections.keyceremony.byok.plugins.module_utils._keyvault import parse_byok
    r = run_module(transfer_package, dict(offline_args(kv, kek), key_friendly_name='Again', dest=str(tmp_path)))
    assert r['changed']
    first = parse_byok(open(byok['path'], 'rb').read())[1]
    second = parse_byok(open(r['path'], 'rb').read())[1]
    size = kek['kek_size'] // 8
    assert first[size:] == second[size:] and first[:size] != second[:size]


def import_args(kv, byok, **change):
    """The import's options; a change to None leaves that option out."""
    args = dict(kv.conn, name='contoso-rms', byok_file=byok['path'], byok_file_sha256=byok['sha256'],
                spki_sha256=byok['spki_sha256'], journal=kv.journal)
    args.update(change)
    return dict((k, v) for k, v in args.items() if v is not None)


def test_keyvault_byok_import_four_way(kv, byok):
    check, real, check_again, again = four_way(keyvault_byok_import, import_args(kv, byok))
    assert [r['changed'] for r in (check, real, check_again, again)] == [True, True, False, False]
    assert check['actions'] == ['import ContosoBYOK.byok as key contoso-rms'] and check['kid'] is None
    assert real['spki_sha256'] == kv.key['spki_sha256'] == again['spki_sha256'] and real['kid'] == again['kid']
    assert real['key_size'] == 2048 and real['key_ops'] == ['decrypt', 'encrypt', 'sign', 'unwrapKey', 'verify', 'wrapKey']
    assert real['aip_command'] == 'Use-AipServiceKeyVaultKey -KeyVaultKeyUrl "%s"' % real['kid']
    assert real['kid'].startswith(kv.server.keyvault_url + '/keys/contoso-rms/')
    for r in (check, real, check_again, again):
        assert not r.warnings
        assert_no_secret(r.raw, [kv.conn['secret']])
    records = Journal(kv.journal).read()[0]
    assert [r['result']['kid'] for r in records if r['module'] == 'keyvault_byok_import'
            and '/keys/contoso-rms/' in r['result']['kid']] == [real['kid']]


@pytest.fixture(scope='module')
def imported(kv, byok):
    """The ceremony's key in the vault as rms-key (tests run on several workers: each depends on fixtures only)."""
    r = run_module(keyvault_byok_import, import_args(kv, byok, name='rms-key'))
    assert not r.failed, r['msg']
    return r.result


@pytest.mark.bad_input
def test_keyvault_byok_import_refusals(kv, byok, imported, tmp_path):
    r = run_module(keyvault_byok_import, import_args(kv, byok, name='rms-key', byok_file_sha256='00' * 32))
    assert r.failed and 'it changed on the way' in r['msg']
    r = run_module(keyvault_byok_import, import_args(kv, byok, name='rms-key', spki_sha256='22' * 32))
    assert r.failed and 'is another key' in r['msg'] and 'new_version=true' in r['msg']
    r = run_module(keyvault_byok_import, import_args(kv, byok, name='rms-key', spki_sha256=None))
    assert r.failed and 'missing required arguments: spki_sha256' in r['msg']
    doc = json.load(open(byok['path']))
    doc['header']['kid'] = 'https://contoso.vault.azure.net/keys/k/' + '0' * 32
    other = str(tmp_path / 'other-vault.byok')
    with open(other, 'w') as f:
        json.dump(doc, f)
    r = run_module(keyvault_byok_import, dict(import_args(kv, byok, byok_file=other, byok_file_sha256=None), name='o'))
    assert r.failed and 'of another vault' in r['msg']
    doc = json.load(open(byok['path']))
    ct = bytearray(doc['ciphertext'].encode())
    ct[20] = ord('A') if ct[20] != ord('A') else ord('B')
    doc['ciphertext'] = ct.decode()
    flipped = str(tmp_path / 'flipped.byok')
    with open(flipped, 'w') as f:
        json.dump(doc, f)
    r = run_module(keyvault_byok_import, dict(import_args(kv, byok, byok_file=flipped, byok_file_sha256=None),
                                              name='flipped'))
    assert r.failed and 'HTTP 400, BadParameter' in r['msg'] and 'does not open' in r['msg']


def test_a_new_version_for_another_key(kv, byok, kek, tmp_path):
    """The vault's key under that name is another key: refused, then imported as a new version on request."""
    from ansible_collections.keyceremony.byok.tests.tenant.test_keyvault_sdk import software_byok
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    class K(object):
        pass
    k = K()
    k.id = kek['kid']
    k.key = K()
    doc = json.load(open(kek['path']))['key']
    from ansible_collections.keyceremony.byok.plugins.module_utils._keyvault import unb64url, spki_sha256_of
    k.key.n, k.key.e = unb64url(doc['n'], 'n'), unb64url(doc['e'], 'e')
    other = rsa.generate_private_key(65537, 2048)
    path = str(tmp_path / 'other.byok')
    with open(path, 'wb') as f:
        f.write(software_byok(k, other.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                                     serialization.NoEncryption())))
    numbers = other.public_key().public_numbers()
    args = dict(import_args(kv, byok, byok_file=path, byok_file_sha256=None,
                            spki_sha256=spki_sha256_of(numbers.n, numbers.e)), name='rotated')
    first = run_module(keyvault_byok_import, dict(args, spki_sha256=byok['spki_sha256'], byok_file=byok['path']))
    assert first['changed']
    r = run_module(keyvault_byok_import, args)
    assert r.failed and 'is another key' in r['msg']
    check, real, check_again, again = four_way(keyvault_byok_import, dict(args, new_version=True))
    assert [x['changed'] for x in (check, real, check_again, again)] == [True, True, False, False]
    assert check['actions'] == ['import other.byok as a new version of key rotated']
    assert real['kid'] != first['kid'] and real['kid'].rsplit('/', 1)[0] == first['kid'].rsplit('/', 1)[0]


# ---------------------------------------------------------------- the RMS step against the rehearsal tenant

def tenant_conn(kv):
    return {'tenant_url': kv.server.url, 'admin_user': kv.tenant['admin_user'],
            'admin_password': kv.tenant['admin_password'], 'ca_path': kv.server.ca_path}


def test_tenant_key_uses_the_keyvault_key(kv, imported):
    from ansible_collections.keyceremony.byok.plugins.modules import tenant_key, tenant_key_info
    args = dict(tenant_conn(kv), key_vault_key_url=imported['kid'])
    r = run_module(tenant_key, args)
    assert r.failed and 'irreversible' in r['msg'] and 'force=true' in r['msg']
    check, real, check_again, again = four_way(tenant_key, dict(args, force=True))
    assert [x['changed'] for x in (check, real, check_again, again)] == [True, True, False, False]
    assert check['actions'] == ['Use-AipServiceKeyVaultKey -KeyVaultKeyUrl %s' % imported['kid'], 'make the key active']
    key = real['key']
    assert key['Status'] == 'Active' and key['KeyVaultKeyUrl'] == imported['kid']
    assert key['SpkiSha256'] == kv.key['spki_sha256'] == real['spki_sha256']
    assert key['KeyType'] == 'Customer-managed (BYOK, Azure Key Vault)' and again['key'] == key
    # the tenant proves it holds the key: signed inside the tenant's token, under the vault's key
    info = run_module(tenant_key_info, dict(tenant_conn(kv), challenge='a fresh challenge of the ceremony',
                                            expect_spki_sha256=kv.key['spki_sha256']))
    assert info['possession']['verified'] is True and info['possession']['key_identifier'] == key['KeyIdentifier']
    assert_no_secret(real.raw, [kv.tenant['admin_password'], kv.conn['secret']])


@pytest.mark.bad_input
def test_tenant_key_refuses_what_rms_cannot_use(kv, kek, imported, tmp_path):
    from ansible_collections.keyceremony.byok.plugins.modules import tenant_key
    from ansible_collections.keyceremony.byok.tests.tenant.test_keyvault_sdk import software_byok
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    r = run_module(tenant_key, dict(tenant_conn(kv), key_vault_key_url=kek['kid'], active=False))
    assert r.failed and 'does not permit decrypt, sign, unwrapKey, wrapKey' in r['msg']
    unknown = imported['kid'].rsplit('/', 1)[0] + '/' + 'f' * 32
    r = run_module(tenant_key, dict(tenant_conn(kv), key_vault_key_url=unknown, active=False))
    assert r.failed and 'has no key rms-key version' in r['msg']
    r = run_module(tenant_key, dict(tenant_conn(kv), key_vault_key_url='https://x.vault.azure.net/keys/k', active=False))
    assert r.failed and 'is not a versioned Key Vault key URL' in r['msg']
    big = rsa.generate_private_key(65537, 3072)
    k = _kek_object(kek)
    path = str(tmp_path / 'big.byok')
    with open(path, 'wb') as f:
        f.write(software_byok(k, big.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                                   serialization.NoEncryption())))
    numbers = big.public_key().public_numbers()
    from ansible_collections.keyceremony.byok.plugins.module_utils._keyvault import spki_sha256_of
    got = run_module(keyvault_byok_import, dict(kv.conn, name='big-key', byok_file=path,
                                                spki_sha256=spki_sha256_of(numbers.n, numbers.e)))
    assert got['changed'] and got['key_size'] == 3072
    assert any('takes RSA 2048 (recommended) or 1024' in w for w in got.warnings)
    r = run_module(tenant_key, dict(tenant_conn(kv), key_vault_key_url=got['kid'], active=False))
    assert r.failed and 'is RSA 3072' in r['msg'] and 'RSA 2048 (recommended) or 1024' in r['msg']


def _kek_object(kek):
    """The KEK as the software .byok helper of the SDK tests takes it."""
    from ansible_collections.keyceremony.byok.plugins.module_utils._keyvault import unb64url

    class K(object):
        pass
    doc = json.load(open(kek['path']))['key']
    k = K()
    k.id = kek['kid']
    k.key = K()
    k.key.n, k.key.e = unb64url(doc['n'], 'n'), unb64url(doc['e'], 'e')
    return k


def test_tpd_import_with_the_keyvault_key(kv, imported, tmp_path):
    """Import-AipServiceTpd -KeyVaultKeyUrl: an HSM-referenced TPD of the ceremony's key, its key from the vault."""
    from ansible_collections.keyceremony.byok.plugins.modules import tpd_export, tpd_import
    password = 'tpd-protection-password-1'
    export = run_module(tpd_export, dict(world_dir=kv.world_dir, app_name='simple', ident='contosokey',
                                         tpd_id='e1111111-2222-4333-8444-555555555555', display_name='Contoso AD RMS',
                                         cryptographic_mode=2, templates=['Confidential'], protection_password=password,
                                         dest=str(tmp_path / 'tpd.xml')))
    assert not export.failed, export['msg']
    args = dict(tenant_conn(kv), tpd_file=export['path'], protection_password=password, active=False,
                key_vault_key_url=imported['kid'])
    check, real, check_again, again = four_way(tpd_import, args)
    assert [x['changed'] for x in (check, real, check_again, again)] == [True, True, False, False]
    assert real['slc_spki_sha256'] == kv.key['spki_sha256'] == real['key']['SpkiSha256']
    for x in (check, real, check_again, again):
        assert_no_secret(x.raw, [password, kv.tenant['admin_password']])
    # a key of another fingerprint is refused for that TPD
    other = run_module(tpd_export, dict(world_dir=kv.world_dir, app_name='simple', ident='contosokey',
                                        tpd_id='e2222222-2222-4333-8444-555555555555', display_name='Other',
                                        cryptographic_mode=2, templates=['Confidential'], protection_password=password,
                                        dest=str(tmp_path / 'tpd2.xml')))
    kek = json.load(open(os.path.join(kv.media, 'ceremony-kek.kek.json')))['key']['kid']
    r = run_module(tpd_import, dict(args, tpd_file=other['path'], key_vault_key_url=kek))
    assert r.failed and 'does not permit' in r['msg']


@pytest.mark.bad_input
def test_a_file_holding_another_key_is_left_disabled(kv, kek, byok, tmp_path):
    """The import is disabled until the vault's key is known to be the one the offline workstation made."""
    from ansible_collections.keyceremony.byok.plugins.module_utils._keyvault import client_from_params
    from ansible_collections.keyceremony.byok.tests.tenant.test_keyvault_sdk import software_byok
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    planted = rsa.generate_private_key(65537, 2048)
    path = str(tmp_path / 'planted.byok')
    with open(path, 'wb') as f:
        f.write(software_byok(_kek_object(kek), planted.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())))
    r = run_module(keyvault_byok_import, dict(kv.conn, name='planted', byok_file=path, spki_sha256=byok['spki_sha256']))
    assert r.failed and 'the file holds another key' in r['msg'] and 'leave it disabled' in r['msg']
    client = client_from_params(kv.conn)
    assert client.get_key('planted')['attributes']['enabled'] is False
    assert client.get_key('planted')['tags'] == {keyvault_byok_import.PENDING_TAG: keyvault_byok_import.PENDING}
    # a matching version disabled by someone else is left alone
    good = run_module(keyvault_byok_import, import_args(kv, byok, name='cut-off'))
    assert 'tags' not in client.get_key('cut-off')
    version = good['kid'].rsplit('/', 1)[1]
    client.update_key('cut-off', version, {'attributes': {'enabled': False}})
    r = run_module(keyvault_byok_import, import_args(kv, byok, name='cut-off'))
    assert r.failed and 'disabled, and not by this module' in r['msg']
    assert client.get_key('cut-off')['attributes']['enabled'] is False
    # one this module left disabled (an enabling cut off) is enabled by the next run
    client.update_key('cut-off', version, {'tags': {keyvault_byok_import.PENDING_TAG: keyvault_byok_import.PENDING}})
    check, real, check_again, again = four_way(keyvault_byok_import, import_args(kv, byok, name='cut-off'))
    assert [x['changed'] for x in (check, real, check_again, again)] == [True, True, False, False]
    assert real['actions'] == ['enable %s' % good['kid']] and real['kid'] == good['kid']
    assert client.get_key('cut-off')['attributes']['enabled'] is True and 'tags' not in client.get_key('cut-off')
