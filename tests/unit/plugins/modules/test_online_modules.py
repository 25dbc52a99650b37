# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The online modules against a real rehearsal tenant over TLS: four-way runs and refusals."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import hashlib
import os

import pytest

from ansible_collections.keyceremony.byok.plugins.module_utils._journal import Journal
from ansible_collections.keyceremony.byok.plugins.modules import byok_toolset, tenant_info, tenant_key, tenant_key_info
from ansible_collections.keyceremony.byok.tenant import datadir
from ansible_collections.keyceremony.byok.tests.unit.helpers import (
    TENANT_A, TenantServer, assert_no_secret, build_chain, four_way, free_port, run_module, software_package)

PASSWORD = 'tenant-admin-password-7'


@pytest.fixture(scope='module')
def served(tmp_path_factory):
    """The offline chain (world, key, ACL, package) and its tenant, served over HTTPS."""
    with pytest.MonkeyPatch.context() as mp:
        base = tmp_path_factory.mktemp('online')
        chain = build_chain(base, mp, (TENANT_A,), admin_password=PASSWORD)
        server = TenantServer(chain.tenant['data_dir']).start()
        chain.server = server
        chain.conn = {'tenant_url': server.url, 'admin_user': chain.tenant['admin_user'], 'admin_password': PASSWORD,
                      'ca_path': server.ca_path}
        yield chain
        server.stop()


def test_tenant_info_four_way(served):
    for r in four_way(tenant_info, served.conn):
        assert r['changed'] is False and r['bpos_id'] == TENANT_A
        assert list(r['configuration'])[0] == 'BPOSId' and r['configuration']['FunctionalState'] == 'Enabled'
        assert_no_secret(r.raw, [PASSWORD])


def test_byok_toolset_four_way(served, tmp_path):
    args = dict(served.conn, region='NA', dest=str(tmp_path / 'media'))
    first = run_module(byok_toolset, args, check_mode=True)
    assert first['changed'] and not os.path.exists(str(tmp_path / 'media'))
    check, real, check_again, again = four_way(byok_toolset, args)
    assert [r['changed'] for r in (check, real, check_again, again)] == [True, True, False, False]
    assert real['root_hash'] == served.tenant['root_hash']
    with open(real['kek_package'], 'rb') as f, open(served.toolset['kek_package'], 'rb') as g:
        assert f.read() == g.read()
    assert os.stat(real['kek_package']).st_mode & 0o777 == 0o600


def test_byok_toolset_replaces_a_changed_file(served, tmp_path):
    args = dict(served.conn, region='NA', dest=str(tmp_path))
    run_module(byok_toolset, args)
    with open(str(tmp_path / 'BYOK-KEK-pkg-NA-1'), 'a') as f:
        f.write('tampered')
    r = run_module(byok_toolset, args)
    assert r['changed'] and open(r['kek_package'], 'rb').read() == open(served.toolset['kek_package'], 'rb').read()


def test_tenant_key_upload_needs_force_then_four_way(served, tmp_path):
    journal = str(tmp_path / 'online' / 'journal.jsonl')
    with open(served.package['path'], 'rb') as f:
        recorded = hashlib.sha256(f.read()).hexdigest()
    args = dict(served.conn, key_file=served.package['path'], journal=journal, key_file_sha256=recorded.upper())
    refused = run_module(tenant_key, args)
    assert refused.failed and 'irreversible' in refused['msg'] and 'force=true' in refused['msg']
    before = run_module(tenant_key_info, served.conn)['keys']
    assert all(k['SpkiSha256'] != served.key['spki_sha256'] for k in before)
    check, real, check_again, again = four_way(tenant_key, dict(args, force=True))
    assert [r['changed'] for r in (check, real, check_again, again)] == [True, True, False, False]
    assert check['actions'] == ['upload KeyTransferPackage-ContosoBYOK.byok', 'make the key active']
    assert real['key']['Status'] == 'Active' and real['key']['SpkiSha256'] == served.key['spki_sha256']
    assert real['key']['KeyType'] == 'Customer-managed (BYOK)'
    records, intact, problem = Journal(journal).read()
    assert intact and [(r['module'], r['outcome']) for r in records] == [('tenant_key', 'failed'), ('tenant_key', 'changed')]
    assert_no_secret(open(journal).read(), [PASSWORD])
    info = run_module(tenant_key_info, dict(served.conn, challenge='a fresh challenge of the ceremony',
                                            expect_spki_sha256=served.key['spki_sha256']))
    assert info['possession'] == {'verified': True, 'key_identifier': real['key']['KeyIdentifier'],
                                  'spki_sha256': served.key['spki_sha256'], 'algorithm': 'PS256'}
    # back to the Microsoft-managed key: also irreversible, also needs force
    first = before[0]['KeyIdentifier']
    r = run_module(tenant_key, dict(served.conn, key_identifier=first))
    assert r.failed and 'irreversible' in r['msg']
    r = run_module(tenant_key, dict(served.conn, key_identifier=first, force=True))
    assert r['changed'] and r['key']['Status'] == 'Active'
    r = run_module(tenant_key_info, dict(served.conn, expect_spki_sha256=served.key['spki_sha256']))
    assert r.failed and 'not the expected' in r['msg']
    r = run_module(tenant_key, dict(served.conn, key_file=served.package['path'], force=True))
    assert r['changed'] and r['actions'] == ['make the key active']


def test_upload_archived_needs_no_force(served):
    data, spki = software_package(datadir.Tenant(served.tenant['data_dir']), 'archived-key')
    path = os.path.join(served.base, 'archived.byok')
    with open(path, 'wb') as f:
        f.write(data)
    r = run_module(tenant_key, dict(served.conn, key_file=path, active=False))
    assert r['changed'] and r['key']['Status'] == 'Archived' and r['key']['SpkiSha256'] == spki


def test_tenant_key_info_four_way(served):
    runs = four_way(tenant_key_info, dict(served.conn, challenge='sixteen bytes at least'))
    for r in runs:
        assert r['changed'] is False and r['possession']['verified'] is True
        assert r['active_key']['KeyIdentifier'] == r['possession']['key_identifier']


@pytest.mark.bad_input
@pytest.mark.parametrize('change,msg', [
    ({'admin_password': 'wrong-password'}, 'the user name or password is wrong (HTTP 401)'),
    ({'tenant_url': 'http://127.0.0.1:1'}, 'must be an https:// URL'),
    ({'ca_path': None}, 'TLS verification of'),
])
def test_connection_refusals(served, change, msg):
    r = run_module(tenant_info, dict(served.conn, **change))
    assert r.failed and msg in r['msg']
    assert 'wrong-password' not in r.raw and PASSWORD not in r.raw


@pytest.mark.bad_input
def test_another_ca_is_refused(served, tmp_path):
    other = datadir.init(str(tmp_path / 'other'))
    r = run_module(tenant_info, dict(served.conn, ca_path=other['ca_path']))
    assert r.failed and 'TLS verification of' in r['msg'] and 'not issued by the CA in ca_path' in r['msg']


def test_a_tenant_that_is_down(served):
    r = run_module(tenant_info, dict(served.conn, tenant_url='https://127.0.0.1:%d' % free_port()))
    assert r.failed and 'cannot reach the tenant at' in r['msg'] and 'is running' in r['msg']


@pytest.mark.bad_input
def test_tenant_key_refusals(served, tmp_path):
    bad = tmp_path / 'truncated.byok'
    bad.write_bytes(open(served.package['path'], 'rb').read()[:300])
    r = run_module(tenant_key, dict(served.conn, key_file=str(bad), force=True))
    assert r.failed and 'not a complete transfer package' in r['msg']
    with open(served.package['path'], 'rb') as f:
        real = f.read()
    r = run_module(tenant_key, dict(served.conn, key_file=served.package['path'], force=True,
                                    key_file_sha256=hashlib.sha256(real + b' ').hexdigest()))
    assert r.failed and 'it changed on the way' in r['msg'] and hashlib.sha256(real).hexdigest() in r['msg']
    r = run_module(tenant_key, dict(served.conn, key_file=served.package['path'], force=True, spki_sha256='00' * 32))
    assert r.failed and 'not the key 0000' in r['msg'] and 'bring the package again' in r['msg']
    r = run_module(tenant_key, dict(served.conn, key_identifier='00000000-0000-4000-8000-000000000000', force=True))
    assert r.failed and 'has no key 00000000-0000-4000-8000-000000000000' in r['msg']
    r = run_module(tenant_key, dict(served.conn, key_identifier='x', active=False))
    assert r.failed and 'cannot be made archived' in r['msg']
