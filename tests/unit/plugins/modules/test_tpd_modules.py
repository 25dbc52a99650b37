# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Trusted publishing domains in the format AD RMS writes: tpd_info, the tenant's import, and the AD RMS HSM-to-HSM
migration through the modules against a real tenant. The format itself: tests/unit/plugins/module_utils/test_tpd.py."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from ansible_collections.keyceremony.byok.plugins.module_utils._errors import ByokError
from ansible_collections.keyceremony.byok.plugins.modules import (
    hsm_key, key_acl, tenant_key_info, tpd_export, tpd_import, tpd_info, transfer_package)
from ansible_collections.keyceremony.byok.tests.unit import independent_tpd as ind
from ansible_collections.keyceremony.byok.tenant import datadir
from ansible_collections.keyceremony.byok.tests.unit.helpers import (
    TENANT_A, TENANT_B, TenantServer, assert_no_secret, four_way, run_module, software_package)

PASSWORD = 'tpd-protection-password-1'
ADMIN = 'tenant-admin-password-2'


@pytest.fixture(scope='module')
def key():
    return rsa.generate_private_key(65537, 2048)


def independent(key, slc_id, blob=True, key_for_slc=None, scheme='v2', encoding='utf-8', **kw):
    """A real-format export built by hand (tests/unit/independent_tpd.py), not by our writer."""
    slc = ind.slc(key_for_slc or key, slc_id, 'SHA1' if (key_for_slc or key).key_size == 1024 else 'SHA256')
    return ind.export(PASSWORD, ind.inner(slc, [ind.template('0e5a7e61-5f8e-4c1b-9f1c-2b9c7f3e1a10', 'Confidential')],
                                          encoding=encoding, **kw),
                      ind.privatekeyblob(key) if blob else None, scheme, encoding)


# ---------------------------------------------------------------- tpd_info

def test_tpd_info_reads_an_independent_export(key, tmp_path):
    path = tmp_path / 'tpd.xml'
    path.write_bytes(independent(key, '71111111-2222-4333-8444-555555555555', scheme='v1', encoding='utf-16'))
    r = run_module(tpd_info, {'tpd_file': str(path), 'protection_password': PASSWORD})
    assert not r.failed and not r['changed'], r.result
    assert (r['password_scheme'], r['cryptographic_mode'], r['key_storage'], r['modulus_byte_order']) == \
        ('v1', 2, 'embedded', 'little-endian')
    assert r['slc_spki_sha256'] == ind.spki_sha256(key) and r['slc_key_size'] == 2048
    assert r['slc_id'] == r['tpd_id'] == '71111111-2222-4333-8444-555555555555'
    assert r['embedded_key_matches_slc'] is True and r['problems'] == [] and r['outer_encoding'] == 'utf-16-le'
    assert r['templates'] == [{'id': '0e5a7e61-5f8e-4c1b-9f1c-2b9c7f3e1a10', 'name': 'Confidential'}]
    nums = key.private_numbers()
    assert_no_secret(r.raw, [PASSWORD, str(nums.d), '%x' % nums.d, str(nums.p)])
    assert 'private_key' not in r.result


@pytest.mark.bad_input
def test_tpd_info_wrong_password_and_problems(key, tmp_path):
    path = tmp_path / 'tpd.xml'
    path.write_bytes(independent(key, '72111111-2222-4333-8444-555555555555', csp_type=1))
    r = run_module(tpd_info, {'tpd_file': str(path), 'protection_password': 'not-the-password-9'})
    assert r.failed and r['msg'] == 'Trusted Publishing Domain data is corrupted, or the password is wrong'
    r = run_module(tpd_info, {'tpd_file': str(path), 'protection_password': PASSWORD})
    assert not r.failed and r['problems'] == [
        'CSP type 1 (PROV_RSA_FULL) is not allowed in cryptographic mode 2, which needs 24 (PROV_RSA_AES)']


# ---------------------------------------------------------------- the tenant

@pytest.fixture(scope='module')
def tenants(tmp_path_factory):
    base = tmp_path_factory.mktemp('tpd-tenant')
    a = datadir.init(str(base / 'data'), TENANT_A)
    datadir.add_tenant(datadir.Service(a['data_dir']), TENANT_B)
    return datadir.Tenant(a['data_dir'], TENANT_A), datadir.Tenant(a['data_dir'], TENANT_B)


@pytest.mark.bad_input
def test_the_tenant_refuses_before_storing(tenants, key):
    tenant = tenants[1]
    laughs = independent(key, '31111111-2222-4333-8444-555555555555').decode().replace(
        '<ArrayOfAnyType', '<!DOCTYPE t [<!ENTITY a "x">]><ArrayOfAnyType', 1).encode('utf-16')
    with pytest.raises(ByokError, match='declares a DTD'):
        tenant.import_tpd(laughs, PASSWORD, None, active=False)
    legacy = rsa.generate_private_key(65537, 1024)
    mode2 = ind.export(PASSWORD, ind.inner(ind.slc(legacy, '41111111-2222-4333-8444-555555555555', 'SHA256'), []),
                       ind.privatekeyblob(legacy))
    with pytest.raises(ByokError, match='cannot be imported: cryptographic mode 2 means RSA 2048 with SHA-256, but the '
                                        'SLC key is RSA 1024'):
        tenant.import_tpd(mode2, PASSWORD, None, active=False)
    big = b' ' * (50 * 1024 * 1024)
    with pytest.raises(ByokError, match='at most 5 MiB'):
        tenant.import_tpd(big, PASSWORD, None, active=False)
    with pytest.raises(ByokError, match='^Trusted Publishing Domain data is corrupted, or the password is wrong$'):
        tenant.import_tpd(independent(key, '51111111-2222-4333-8444-555555555555'), 'wrong', None, active=False)
    assert tenant.service.store.tpds(TENANT_B) == [] and tenant.service.store.keys(TENANT_B) == keys_before(tenant)


def keys_before(tenant):
    return [k for k in tenant.service.store.keys(tenant.tenant_id) if k['source'] != 'tpd']


def test_tenant_imports_an_independent_software_tpd_once(tenants, key):
    tenant = tenants[0]
    data = independent(key, '21111111-2222-4333-8444-555555555555')
    got = tenant.import_tpd(data, PASSWORD, None, active=False)
    assert got['created'] and got['key']['status'] == 'Archived' and got['key']['key_type'] == 'Microsoft-managed'
    assert got['key']['spki_sha256'] == ind.spki_sha256(key) and got['tpd']['display_name'] == 'Contoso AD RMS'
    with tenant.session() as s:
        handle = s.find_one(got['key']['hsm_label'], 'CKO_PRIVATE_KEY')
        assert s.raw_attribute_rv(handle, 'CKA_PRIVATE_EXPONENT') == 'CKR_ATTRIBUTE_SENSITIVE'
    again = tenant.import_tpd(data, PASSWORD, None, active=True)
    assert not again['created'] and again['key']['status'] == 'Archived'
    # the key is nowhere in the clear in the tenant's folder
    d = key.private_numbers().d
    for folder, _dirs, files in os.walk(tenant.dir):
        for name in files:
            blob = open(os.path.join(folder, name), 'rb').read()
            assert d.to_bytes(256, 'little') not in blob and d.to_bytes(256, 'big') not in blob


@pytest.mark.bad_input
def test_hsm_tpd_needs_its_package(tenants, key):
    tenant = tenants[0]
    data = independent(key, '31111111-2222-4333-8444-555555555555', blob=False, container='adrms2019')
    with pytest.raises(ByokError, match="key container 'adrms2019'\\): give the HSM key package"):
        tenant.import_tpd(data, PASSWORD, None, active=True)
    package, other = software_package(tenant, 'another key')
    with pytest.raises(ByokError, match='the HSM key package holds key %s, but the TPD' % other):
        tenant.import_tpd(data, PASSWORD, package, active=True)
    assert tenant.service.store.tpd(TENANT_A, '31111111-2222-4333-8444-555555555555') is None


@pytest.mark.bad_input
def test_hsm_tpd_with_a_package_for_another_tenant(tenants):
    tenant = tenants[0]
    key = rsa.generate_private_key(65537, 2048)
    data = independent(key, '41111111-2222-4333-8444-555555555555', blob=False)
    package = software_package(tenant, 'for B', key=key, tenant_id=TENANT_B)[0]
    keys_now = tenant.service.store.keys(TENANT_A)
    with pytest.raises(ByokError, match='made for tenant %s; this tenant is %s' % (TENANT_B, TENANT_A)):
        tenant.import_tpd(data, PASSWORD, package, active=True)
    assert tenant.service.store.keys(TENANT_A) == keys_now
    good = software_package(tenant, 'for A', key=key)[0]
    got = tenant.import_tpd(data, PASSWORD, good, active=True)
    assert got['created'] and got['key']['status'] == 'Active' and got['key']['spki_sha256'] == ind.spki_sha256(key)


@pytest.mark.bad_input
def test_a_tpd_id_taken_by_another_key_is_no_tpd_held(tenants):
    """A tenant session may import a TPD under any ID first; the real export of that ID is then refused, not taken
    for one the tenant holds already."""
    tenant = tenants[0]
    theirs, ours = rsa.generate_private_key(65537, 2048), rsa.generate_private_key(65537, 2048)
    tpd_id = '61111111-2222-4333-8444-555555555555'
    tenant.import_tpd(independent(theirs, tpd_id), PASSWORD, None, active=False)
    package = software_package(tenant, 'ours', key=ours)[0]
    with pytest.raises(ByokError, match='the tenant holds TPD %s already, with key %s' % (tpd_id, ind.spki_sha256(theirs))):
        tenant.import_tpd(independent(ours, tpd_id, blob=False), PASSWORD, package, active=True)


def test_a_big_endian_slc_is_matched_by_its_package(tenants):
    tenant = tenants[0]
    while True:  # a key whose modulus reads as one in both byte orders: the package decides
        key = rsa.generate_private_key(65537, 2048)
        n = key.public_key().public_numbers().n
        be = int.from_bytes(n.to_bytes(256, 'little'), 'big')
        if be & 1 and be.bit_length() == 2048:
            break
    slc = ind.slc(key, '81111111-2222-4333-8444-555555555555', order='big')
    data = ind.export(PASSWORD, ind.inner(slc, []), None)
    got = tenant.import_tpd(data, PASSWORD, software_package(tenant, 'be', key=key)[0], active=False)
    assert got['created'] and got['key']['spki_sha256'] == ind.spki_sha256(key)


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
    assert text.startswith(b'<?xml version="1.0" encoding="utf-8"?>\n<ArrayOfAnyType') and PASSWORD.encode() not in text
    assert os.stat(args['dest']).st_mode & 0o777 == 0o600
    for r in runs:
        assert_no_secret(r.raw, [PASSWORD])
    info = run_module(tpd_info, {'tpd_file': args['dest'], 'protection_password': PASSWORD})
    assert (info['key_storage'], info['cryptographic_mode'], info['password_scheme'], info['problems']) == \
        ('hsm', 2, 'v2', [])
    assert info['slc_spki_sha256'] == migration['keys']['adrms2019']['spki'] and info['key_container'] == 'adrms2019'
    assert [t['name'] for t in info['templates']] == ['Confidential', 'Internal']
    # the same TPD asked with another password scheme is not this file
    r = run_module(tpd_export, dict(args, password_scheme='v1'))
    assert r.failed and 'exists with another password scheme v2; it is never overwritten' in r['msg']
    r = run_module(tpd_export, dict(args, templates=['Confidential']))
    assert r.failed and 'exists with another templates; it is never overwritten' in r['msg']


def test_tpd_export_v1_and_a_legacy_key(migration):
    m = migration
    args = dict(_export(m, 'adrms2012', 'a2222222-2222-4333-8444-555555555555'), password_scheme='v1')
    assert run_module(tpd_export, args)['changed']
    info = run_module(tpd_info, {'tpd_file': args['dest'], 'protection_password': PASSWORD})
    assert (info['password_scheme'], info['cryptographic_mode'], info['slc_key_size'], info['problems']) == \
        ('v1', 1, 1024, [])
    assert info['slc_spki_sha256'] == m['keys']['adrms2012']['spki']


@pytest.mark.bad_input
def test_tpd_export_refuses_a_name_it_cannot_write(migration):
    r = run_module(tpd_export, dict(_export(migration, 'adrms2019', 'b2222222-2222-4333-8444-555555555555'),
                                    templates=['HR; Finance']))
    assert r.failed and "template name 'HR; Finance' cannot be written as AD RMS writes names" in r['msg']


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
    r = run_module(tpd_import, dict(base, expect_spki_sha256=m['keys']['adrms2012']['spki']))
    wanted = 'is key %s, not %s (expect_spki_sha256)' % (m['keys']['adrms2019']['spki'], m['keys']['adrms2012']['spki'])
    assert r.failed and wanted in r['msg']
    # a software-protected TPD carries its key: a package given with it is a mistake
    soft = rsa.generate_private_key(65537, 2048)
    path = os.path.join(m['base'], 'soft-tpd.xml')
    with open(path, 'wb') as f:
        f.write(independent(soft, 'd2222222-2222-4333-8444-555555555555'))
    r = run_module(tpd_import, dict(base, tpd_file=path))
    assert r.failed and 'carries its own (software-protected) key' in r['msg']
    # a TPD with a problem is refused here, before the tenant is asked
    keys = run_module(tenant_key_info, m['conn'])['keys']
    with open(path, 'wb') as f:
        f.write(independent(soft, 'd3333333-2222-4333-8444-555555555555', csp_type=1))
    r = run_module(tpd_import, dict(base, tpd_file=path, hsm_key_file=None))
    assert r.failed and 'cannot be imported: CSP type 1 (PROV_RSA_FULL) is not allowed' in r['msg']
    assert run_module(tenant_key_info, m['conn'])['keys'] == keys


def test_tpd_import_of_an_independent_software_export(migration):
    """An export built by hand from the format's description goes through tpd_import and the tenant's API."""
    m = migration
    soft = rsa.generate_private_key(65537, 2048)
    path = os.path.join(m['base'], 'independent-tpd.xml')
    with open(path, 'wb') as f:
        f.write(independent(soft, 'f1111111-2222-4333-8444-555555555555', scheme='v1', encoding='utf-16'))
    args = dict(m['conn'], tpd_file=path, protection_password=PASSWORD, active=False)
    runs = four_way(tpd_import, args)
    assert [r['changed'] for r in runs] == [True, True, False, False]
    assert runs[1]['slc_spki_sha256'] == ind.spki_sha256(soft) == runs[1]['key']['SpkiSha256']
    assert runs[1]['key']['Status'] == 'Archived' and runs[1]['key']['KeyType'] == 'Microsoft-managed'
    for r in runs:
        assert_no_secret(r.raw, [PASSWORD, ADMIN, str(soft.private_numbers().d)])
