# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Trusted publishing domains: the export format's checks, and the AD RMS HSM-to-HSM migration
through the modules against a real tenant."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os

import re

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from ansible_collections.keyceremony.byok.plugins.module_utils import _tpd
from ansible_collections.keyceremony.byok.plugins.module_utils._errors import ByokError
from ansible_collections.keyceremony.byok.plugins.modules import (
    hsm_key, key_acl, tenant_key_info, tpd_export, tpd_import, transfer_package)
from ansible_collections.keyceremony.byok.tenant import datadir
from ansible_collections.keyceremony.byok.tests.unit.helpers import (
    TENANT_A, TENANT_B, TenantServer, assert_no_secret, four_way, run_module, software_package)

PASSWORD = 'tpd-protection-password-1'
ADMIN = 'tenant-admin-password-2'


def soft_key(bits=2048):
    key = rsa.generate_private_key(65537, bits)
    pkcs8 = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    spki = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return pkcs8, spki


def soft_tpd(tpd_id='11111111-2222-4333-8444-555555555555', mode=2, bits=2048, pkcs8=None, spki=None, **kw):
    if pkcs8 is None:
        pkcs8, spki = soft_key(bits)
    return _tpd.build_tpd(tpd_id, 'Contoso AD RMS', 'contoso', mode, spki, [{'id': tpd_id, 'name': 'Confidential'}],
                          PASSWORD, embedded_pkcs8=pkcs8, **kw)


# ---------------------------------------------------------------- the format

def test_a_software_tpd_opens():
    pkcs8, spki = soft_key()
    tpd = _tpd.read_tpd(soft_tpd(pkcs8=pkcs8, spki=spki), PASSWORD)
    assert tpd['storage'] == 'Embedded' and tpd['pkcs8'] == pkcs8 and tpd['cryptographic_mode'] == 2
    assert tpd['templates'][0]['name'] == 'Confidential'


@pytest.mark.bad_input
def test_wrong_password():
    with pytest.raises(ByokError, match='Trusted Publishing Domain data is corrupted'):
        _tpd.read_tpd(soft_tpd(), 'not-the-password')


@pytest.mark.bad_input
@pytest.mark.parametrize('old,new', [(b'Contoso AD RMS', b'Fabrikam AD RMS'),
                                     (b'CryptographicMode>2<', b'CryptographicMode>1<'),
                                     (b'Name="Confidential"', b'Name="Public"')])
def test_edited_exports_are_corrupted(old, new):
    data = soft_tpd()
    assert old in data
    with pytest.raises(ByokError, match='Trusted Publishing Domain data is corrupted'):
        _tpd.read_tpd(data.replace(old, new), PASSWORD)


def test_mode_and_key_size_must_agree():
    with pytest.raises(ByokError, match='cryptographic mode 2 means RSA 2048 with SHA-256, but the SLC key is RSA 1024'):
        _tpd.read_tpd(soft_tpd(mode=2, bits=1024), PASSWORD)
    assert _tpd.read_tpd(soft_tpd(mode=1, bits=1024), PASSWORD)['cryptographic_mode'] == 1


def test_embedded_key_must_match_the_slc():
    pkcs8, spki = soft_key()
    other_spki = soft_key()[1]
    with pytest.raises(ByokError, match='embedded private key does not match the Server Licensor Certificate'):
        _tpd.read_tpd(soft_tpd(pkcs8=pkcs8, spki=other_spki), PASSWORD)


@pytest.mark.bad_input
@pytest.mark.parametrize('memory', [b'3145728', b'4294967295'])
def test_a_tpd_cannot_choose_what_opening_it_costs(memory):
    # 3 GiB of Argon2id took 11 s and 3 GiB of RAM; 2^32-1 made the service answer 500
    import time
    data = soft_tpd()
    forged = re.sub(rb'Memory="\d+"', b'Memory="' + memory + b'"', data)
    assert forged != data
    started = time.monotonic()
    with pytest.raises(ByokError, match='refused before its password is tried: argon2id memory_cost=%s is outside'
                       % memory.decode()):
        _tpd.read_tpd(forged, PASSWORD)
    assert time.monotonic() - started < 0.5


@pytest.mark.bad_input
@pytest.mark.parametrize('encoding', ['utf-16', 'utf-16-le', 'utf-32'])
def test_entities_are_refused_in_any_encoding(encoding):
    # a byte-substring test for "<!ENTITY" let a UTF-16 document through
    laughs = ('<?xml version="1.0" encoding="%s"?><!DOCTYPE t [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
              '<TrustedPublishingDomain xmlns="urn:keyceremony:byok:tpd:1" Version="1">&b;</TrustedPublishingDomain>'
              % encoding.upper()).encode(encoding)
    assert b'<!ENTITY' not in laughs
    with pytest.raises(ByokError, match='declares a DTD, entities or external references'):
        _tpd.read_tpd(laughs, PASSWORD)


@pytest.mark.parametrize('encoding', ['utf-16', 'utf-16-be', 'utf-8-sig'])
def test_a_tpd_is_read_in_utf16_too(encoding):
    data = soft_tpd()
    text = data.decode('utf-8').replace('encoding="utf-8"', 'encoding="%s"' % encoding.replace('-sig', ''))
    assert _tpd.read_tpd(text.encode(encoding), PASSWORD) == _tpd.read_tpd(data, PASSWORD)


@pytest.mark.bad_input
@pytest.mark.parametrize('data,msg', [(b'<TrustedPublishingDomain', 'not well-formed XML'),
                                      (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><x/>', 'DTD'),
                                      (b'<other/>', 'not a trusted publishing domain export')])
def test_not_a_tpd(data, msg):
    with pytest.raises(ByokError, match=msg):
        _tpd.read_tpd(data, PASSWORD)


# ---------------------------------------------------------------- the tenant

@pytest.fixture(scope='module')
def tenants(tmp_path_factory):
    base = tmp_path_factory.mktemp('tpd-tenant')
    a = datadir.init(str(base / 'data'), TENANT_A)
    datadir.add_tenant(datadir.Service(a['data_dir']), TENANT_B)
    return datadir.Tenant(a['data_dir'], TENANT_A), datadir.Tenant(a['data_dir'], TENANT_B)


@pytest.mark.bad_input
def test_the_tenant_refuses_a_kdf_bomb_and_an_entity_before_storing(tenants):
    tenant = tenants[1]
    bomb = re.sub(rb'Memory="\d+"', b'Memory="4294967295"', soft_tpd('31111111-2222-4333-8444-555555555555'))
    with pytest.raises(ByokError, match='refused before its password is tried'):
        tenant.import_tpd(bomb, PASSWORD, None, active=False)
    laughs = soft_tpd('41111111-2222-4333-8444-555555555555').decode().replace(
        '<TrustedPublishingDomain', '<!DOCTYPE t [<!ENTITY a "x">]><TrustedPublishingDomain', 1).encode('utf-16')
    with pytest.raises(ByokError, match='declares a DTD'):
        tenant.import_tpd(laughs, PASSWORD, None, active=False)
    for tpd_id in ('31111111-2222-4333-8444-555555555555', '41111111-2222-4333-8444-555555555555'):
        assert tenant.service.store.tpd(TENANT_B, tpd_id) is None


def test_tenant_imports_a_software_tpd_once(tenants):
    tenant = tenants[0]
    pkcs8, spki = soft_key()
    data = soft_tpd('21111111-2222-4333-8444-555555555555', pkcs8=pkcs8, spki=spki)
    got = tenant.import_tpd(data, PASSWORD, None, active=False)
    assert got['created'] and got['key']['status'] == 'Archived' and got['key']['key_type'] == 'Microsoft-managed'
    with tenant.session() as s:
        handle = s.find_one(got['key']['hsm_label'], 'CKO_PRIVATE_KEY')
        assert s.raw_attribute_rv(handle, 'CKA_PRIVATE_EXPONENT') == 'CKR_ATTRIBUTE_SENSITIVE'
    again = tenant.import_tpd(data, PASSWORD, None, active=True)
    assert not again['created'] and again['key']['status'] == 'Archived'


def test_hsm_tpd_needs_its_package(tenants):
    tenant = tenants[0]
    pkcs8, spki = soft_key()
    data = _tpd.build_tpd('31111111-2222-4333-8444-555555555555', 'HSM TPD', None, 2, spki, [], PASSWORD,
                          hsm_key={'app_name': 'mscapi', 'ident': 'k'})
    with pytest.raises(ByokError, match='give the HSM key package'):
        tenant.import_tpd(data, PASSWORD, None, active=True)
    package, other = software_package(tenant, 'another key')
    with pytest.raises(ByokError, match='the HSM key package holds key %s, but the TPD' % other):
        tenant.import_tpd(data, PASSWORD, package, active=True)
    assert tenant.service.store.tpd(TENANT_A, '31111111-2222-4333-8444-555555555555') is None


@pytest.mark.bad_input
def test_hsm_tpd_with_a_package_for_another_tenant(tenants):
    tenant = tenants[0]
    key = rsa.generate_private_key(65537, 2048)
    spki = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    data = _tpd.build_tpd('41111111-2222-4333-8444-555555555555', 'HSM TPD', None, 2, spki, [], PASSWORD,
                          hsm_key={'app_name': 'mscapi', 'ident': 'k'})
    package = software_package(tenant, 'for B', key=key, tenant_id=TENANT_B)[0]
    keys_before = tenant.service.store.keys(TENANT_A)
    with pytest.raises(ByokError, match='made for tenant %s; this tenant is %s' % (TENANT_B, TENANT_A)):
        tenant.import_tpd(data, PASSWORD, package, active=True)
    assert tenant.service.store.keys(TENANT_A) == keys_before
    good = software_package(tenant, 'for A', key=key)[0]
    got = tenant.import_tpd(data, PASSWORD, good, active=True)
    assert got['created'] and got['key']['status'] == 'Active'


# ---------------------------------------------------------------- the migration, through the modules

@pytest.fixture(scope='module')
def migration(tmp_path_factory):
    """A world with two AD RMS (mscapi) keys, their ACLs and packages, TPD exports, and a served tenant."""
    from ansible_collections.keyceremony.byok.plugins.module_utils._hsm import Hsm
    from ansible_collections.keyceremony.byok.plugins.module_utils._world import WorldSpec, ensure_world
    from ansible_collections.keyceremony.byok.tests.unit.helpers import SoftHsm, cards_for
    with pytest.MonkeyPatch.context() as mp:
        base = str(tmp_path_factory.mktemp('migration'))
        offline = SoftHsm(os.path.join(base, 'offline'))
        mp.setenv('SOFTHSM2_CONF', offline.conf)
        world = os.path.join(base, 'world')
        cards = cards_for(os.path.join(base, 'cardset'), 3)
        with Hsm() as hsm:
            ensure_world(hsm, WorldSpec(world, 'adrms-world', '2/3', cards, 'argon2id-aes256gcm'))
        info = datadir.init(os.path.join(base, 'tenant'), TENANT_A, admin_password=ADMIN)
        toolset = datadir.Tenant(info['data_dir']).toolset('NA', os.path.join(base, 'media'))
        ts = {'kek_package': toolset['kek_package'], 'security_world_package': toolset['security_world_package'],
              'root_hash': info['root_hash']}
        m = {'base': base, 'world': world, 'info': info, 'keys': {}}
        from ansible_collections.keyceremony.byok.plugins.module_utils._keys import generate_rsa
        from ansible_collections.keyceremony.byok.plugins.module_utils._world import WorldContext
        for ident, size, mode in (('adrms2019', 2048, 2), ('adrms2012', 1024, 1)):
            # the AD RMS cluster's key exists in the HSM before the ceremony; hsm_key adopts it
            with Hsm() as hsm:
                with WorldContext(hsm, world).user_session(rw=True) as s:
                    generate_rsa(s, 'key_mscapi_' + ident, size, 65537)
            key = run_module(hsm_key, {'world_dir': world, 'app_name': 'mscapi', 'ident': ident, 'size': size}).result
            assert key['changed'] and json.load(open(key['key_record']))['adopted'] is True
            assert not run_module(key_acl, dict(ts, world_dir=world, app_name='mscapi', ident=ident,
                                                admin_cards=cards[1:])).failed
            pkg = run_module(transfer_package, dict(ts, world_dir=world, app_name='mscapi', ident=ident,
                                                    tenant_id=TENANT_A, key_friendly_name='ADRMS-' + ident,
                                                    dest=os.path.join(base, 'media'))).result
            m['keys'][ident] = {'spki': key['spki_sha256'], 'package': pkg['path'], 'mode': mode}
        server = TenantServer(info['data_dir']).start()
        m['conn'] = {'tenant_url': server.url, 'admin_user': info['admin_user'], 'admin_password': ADMIN,
                     'ca_path': server.ca_path}
        yield m
        server.stop()


def _export(m, ident, tpd_id, dest=None):
    return dict(world_dir=m['world'], ident=ident, tpd_id=tpd_id, display_name='Contoso AD RMS ' + ident,
                cryptographic_mode=m['keys'][ident]['mode'], templates=['Confidential', 'Internal'],
                protection_password=PASSWORD, dest=dest or os.path.join(m['base'], 'media', tpd_id + '.xml'))


def test_tpd_export_four_way(migration):
    args = _export(migration, 'adrms2019', 'a1111111-2222-4333-8444-555555555555')
    runs = four_way(tpd_export, args)
    assert [r['changed'] for r in runs] == [True, True, False, False]
    assert runs[1]['slc_spki_sha256'] == migration['keys']['adrms2019']['spki']
    assert runs[1]['hsm_key_reference'] == 'no_key_tpd_adrms2019.xml'
    text = open(args['dest'], 'rb').read()
    assert b'PRIVATE' not in text and PASSWORD.encode() not in text
    assert os.stat(args['dest']).st_mode & 0o777 == 0o600
    for r in runs:
        assert_no_secret(r.raw, [PASSWORD])


@pytest.mark.bad_input
def test_tpd_export_refuses_a_mode_that_does_not_fit(migration):
    r = run_module(tpd_export, dict(_export(migration, 'adrms2012', 'b1111111-2222-4333-8444-555555555555'),
                                    cryptographic_mode=2))
    assert r.failed and 'needs an RSA 2048 key, but key_mscapi_adrms2012 is RSA 1024' in r['msg']


def test_the_hsm_to_hsm_migration(migration):
    m = migration
    first = run_module(tpd_export, _export(m, 'adrms2019', 'c1111111-2222-4333-8444-555555555555')).result
    second = run_module(tpd_export, _export(m, 'adrms2019', 'c3333333-2222-4333-8444-555555555555')).result
    legacy = run_module(tpd_export, _export(m, 'adrms2012', 'c2222222-2222-4333-8444-555555555555')).result
    before = run_module(tenant_key_info, m['conn'])['keys']
    imp1 = dict(m['conn'], tpd_file=first['path'], protection_password=PASSWORD,
                hsm_key_file=m['keys']['adrms2019']['package'], active=True, force=True)
    # two TPDs exported from the one existing key: the first active, the second archived
    imp2 = dict(m['conn'], tpd_file=second['path'], protection_password=PASSWORD,
                hsm_key_file=m['keys']['adrms2019']['package'], active=False)
    imp3 = dict(m['conn'], tpd_file=legacy['path'], protection_password=PASSWORD,
                hsm_key_file=m['keys']['adrms2012']['package'], active=False)
    runs1 = four_way(tpd_import, imp1)
    assert [r['changed'] for r in runs1] == [True, True, False, False]
    assert runs1[1]['key']['Status'] == 'Active' and runs1[1]['key']['SpkiSha256'] == m['keys']['adrms2019']['spki']
    runs2 = four_way(tpd_import, imp2)
    assert [r['changed'] for r in runs2] == [True, True, False, False]
    assert runs2[1]['key']['KeyIdentifier'] == runs1[1]['key']['KeyIdentifier'] and runs2[1]['key']['Status'] == 'Active'
    runs3 = four_way(tpd_import, imp3)
    assert [r['changed'] for r in runs3] == [True, True, False, False]
    assert runs3[1]['key']['Status'] == 'Archived'
    keys = dict((k['SpkiSha256'], k) for k in run_module(tenant_key_info, m['conn'])['keys'])
    assert keys[m['keys']['adrms2019']['spki']]['Status'] == 'Active'
    assert keys[m['keys']['adrms2012']['spki']]['Status'] == 'Archived'
    assert keys[before[0]['SpkiSha256']]['Status'] == 'Archived'
    assert keys[m['keys']['adrms2019']['spki']]['KeyType'] == 'Customer-managed (BYOK)'
    proof = run_module(tenant_key_info, dict(m['conn'], challenge='the migration is complete',
                                             expect_spki_sha256=m['keys']['adrms2019']['spki']))
    assert proof['possession']['verified']
    assert len(keys) == 3
    for r in runs1 + runs2 + runs3:
        assert_no_secret(r.raw, [PASSWORD, ADMIN])


@pytest.mark.bad_input
def test_tpd_import_refusals(migration):
    m = migration
    first = run_module(tpd_export, _export(m, 'adrms2019', 'd1111111-2222-4333-8444-555555555555')).result
    base = dict(m['conn'], tpd_file=first['path'], protection_password=PASSWORD,
                hsm_key_file=m['keys']['adrms2019']['package'], active=False)
    r = run_module(tpd_import, dict(base, protection_password='wrong-password'))
    assert r.failed and 'Trusted Publishing Domain data is corrupted' in r['msg']
    r = run_module(tpd_import, dict(base, hsm_key_file=m['keys']['adrms2012']['package']))
    assert r.failed and 'hsm_key_file holds key %s' % m['keys']['adrms2012']['spki'] in r['msg']
    r = run_module(tpd_import, dict(base, hsm_key_file=None))
    assert r.failed and 'give hsm_key_file' in r['msg']
    r = run_module(tpd_import, dict(base, active=True))
    assert r.failed and 'force=true' in r['msg']
