# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The rehearsal tenant service over real TLS with its SQLite database: refusals, isolation,
concurrency and durability."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import sqlite3
import ssl
import threading
import time
import urllib.error
import urllib.request

import pytest

from ansible_collections.keyceremony.byok.tenant import datadir
from ansible_collections.keyceremony.byok.tests.unit.helpers import TENANT_A, TENANT_B, TenantServer, software_package


def token(service, tenant=TENANT_A):
    return service.connect(*service.admins[tenant])


def keys(service, tenant=TENANT_A):
    status, got = service.request('GET', '/tenants/%s/keys' % tenant, token=token(service, tenant))
    assert status == 200, got
    return got


def test_a_fresh_tenant_has_one_microsoft_managed_key(service):
    got = keys(service, TENANT_B)
    assert len(got) == 1 and got[0]['KeyType'] == 'Microsoft-managed' and got[0]['Status'] == 'Active'


@pytest.mark.bad_input
def test_connect_refusals(service):
    user, password = service.admins[TENANT_A]
    for body in ({'user': user, 'password': 'wrong'}, {'user': 'nobody', 'password': password}):
        status, got = service.request('POST', '/connect', body)
        assert status == 401 and got['error'] == 'the user name or password is wrong'
        assert password not in json.dumps(got)


@pytest.mark.bad_input
@pytest.mark.parametrize('tok,msg', [(None, 'Connect first'), ('made-up-token', 'not known to this tenant service')])
def test_bad_tokens(service, tok, msg):
    status, got = service.request('GET', '/tenants/%s/keys' % TENANT_A, token=tok)
    assert status == 401 and msg in got['error']


def test_revoked_token(service):
    t = token(service)
    assert service.request('POST', '/disconnect', token=t)[0] == 200
    status, got = service.request('GET', '/tenants/%s/keys' % TENANT_A, token=t)
    assert status == 401 and 'disconnected' in got['error']


def test_expired_token(tmp_path):
    info = datadir.init(str(tmp_path / 'data'), admin_password='short-lived-session')
    server = TenantServer(info['data_dir'], session_ttl=1).start()
    try:
        t = server.connect(info['admin_user'], 'short-lived-session')
        time.sleep(2.1)
        status, got = server.request('GET', '/tenants/%s/keys' % info['tenant_id'], token=t)
        assert status == 401 and 'expired' in got['error']
    finally:
        assert server.stop()


@pytest.mark.bad_input
def test_one_tenant_can_do_nothing_to_another(service):
    t = token(service, TENANT_A)
    for method, path, body in (('GET', '/keys', None), ('GET', '/configuration', None), ('GET', '/toolset/NA', None),
                               ('POST', '/keys', {'package': '{}', 'active': True}),
                               ('POST', '/possession', {'challenge': 'AAAAAAAAAAAAAAAAAAAAAA=='})):
        status, got = service.request(method, '/tenants/%s%s' % (TENANT_B, path), body, token=t)
        assert status == 403 and 'can do nothing to tenant %s' % TENANT_B in got['error'], path
    b_key = keys(service, TENANT_B)[0]['KeyIdentifier']
    status, got = service.request('POST', '/tenants/%s/keys/%s/activate' % (TENANT_B, b_key), token=t)
    assert status == 403


@pytest.mark.bad_input
def test_malformed_json_and_missing_fields(service):
    t = token(service)
    status, got = service.request('POST', '/tenants/%s/keys' % TENANT_A, raw=b'{"package": ', token=t)
    assert status == 400 and 'not valid' in got['error']
    status, got = service.request('POST', '/tenants/%s/keys' % TENANT_A, {'active': True}, token=t)
    assert status == 400 and 'package' in got['error']


def _post_large(service, t, size, declare):
    import http.client
    conn = http.client.HTTPSConnection('127.0.0.1', service.port, context=service.context(), timeout=30)
    conn.putrequest('POST', '/api/v1/tenants/%s/keys' % TENANT_A)
    conn.putheader('Authorization', 'Bearer ' + t)
    conn.putheader('Content-Type', 'application/json')
    if declare:
        conn.putheader('Content-Length', str(size))
    else:
        conn.putheader('Transfer-Encoding', 'chunked')
    conn.endheaders()
    chunk = b'A' * 65536
    try:
        sent = 0
        while sent < size:
            conn.send(chunk if declare else b'%x\r\n%s\r\n' % (len(chunk), chunk))
            sent += len(chunk)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the service answered and closed before the body was all sent
    resp = conn.getresponse()
    return resp.status, json.loads(resp.read().decode())


@pytest.mark.bad_input
@pytest.mark.parametrize('declare', [True, False])
def test_a_body_over_10_mb(service, declare):
    t = token(service)
    before = keys(service)
    status, got = _post_large(service, t, 11 * 1024 * 1024, declare)
    assert status == 413 and '10 MB' in got['error']
    assert keys(service) == before


@pytest.mark.bad_input
def test_unknown_region(service):
    status, got = service.request('GET', '/tenants/%s/toolset/XX' % TENANT_A, token=token(service))
    assert status == 404 and "region 'XX' is unknown" in got['error']


@pytest.mark.bad_input
def test_truncated_and_foreign_packages_store_nothing(service):
    tenant = datadir.Tenant(service.data_dir, TENANT_A)
    data, spki = software_package(tenant, 'cut')
    before = keys(service)
    t = token(service)
    for package, msg in ((data[:len(data) // 2], 'not a complete transfer package'),
                         (software_package(datadir.Tenant(service.data_dir, TENANT_B), 'other')[0], 'made for tenant')):
        status, got = service.request('POST', '/tenants/%s/keys' % TENANT_A, {'package': package.decode(), 'active': True},
                                      token=t)
        assert status == 422 and msg in got['error']
    assert keys(service) == before


def test_tls_needs_the_tenant_ca(service, tmp_path):
    with pytest.raises(urllib.error.URLError) as e:
        urllib.request.urlopen(service.url + '/api/v1/health', context=ssl.create_default_context(), timeout=10)
    assert 'CERTIFICATE_VERIFY_FAILED' in str(e.value)


def test_api_description_is_published(service):
    with urllib.request.urlopen(service.url + '/openapi.json', context=service.context(), timeout=10) as resp:
        spec = json.loads(resp.read().decode())
    assert spec['openapi'].startswith('3.') and '/api/v1/tenants/{tenant_id}/keys' in spec['paths']


def test_upload_activate_and_the_way_back(service):
    tenant = datadir.Tenant(service.data_dir, TENANT_B)
    t = token(service, TENANT_B)
    first = keys(service, TENANT_B)[0]
    data, spki = software_package(tenant, 'byok-one')
    status, got = service.request('POST', '/tenants/%s/keys' % TENANT_B, {'package': data.decode(), 'active': True}, token=t)
    assert status == 200 and got['created'] and got['key']['Status'] == 'Active' and got['key']['SpkiSha256'] == spki
    status, again = service.request('POST', '/tenants/%s/keys' % TENANT_B, {'package': data.decode(), 'active': True}, token=t)
    assert status == 200 and not again['created'] and again['key']['KeyIdentifier'] == got['key']['KeyIdentifier']
    listed = dict((k['KeyIdentifier'], k['Status']) for k in keys(service, TENANT_B))
    assert listed == {first['KeyIdentifier']: 'Archived', got['key']['KeyIdentifier']: 'Active'}
    status, back = service.request('POST', '/tenants/%s/keys/%s/activate' % (TENANT_B, first['KeyIdentifier']), token=t)
    assert status == 200 and back['changed'] and back['key']['Status'] == 'Active'
    assert [k['Status'] for k in keys(service, TENANT_B)].count('Active') == 1


def test_twenty_clients_at_once(service):
    tenant = datadir.Tenant(service.data_dir, TENANT_A)
    packages = [software_package(tenant, 'concurrent-%d' % i) for i in range(5)]
    before = len(keys(service))
    results, errors = [], []

    def client(i):
        try:
            t = token(service)
            data, spki = packages[i % 5]
            status, got = service.request('POST', '/tenants/%s/keys' % TENANT_A, {'package': data.decode(), 'active': True},
                                          token=t)
            results.append((status, got['created'], spki))
            status, listed = service.request('GET', '/tenants/%s/keys' % TENANT_A, token=t)
            assert status == 200
        except Exception as e:  # reported below, with the thread's own error
            errors.append(repr(e))
    threads = [threading.Thread(target=client, args=(i,)) for i in range(20)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(120)
    assert not errors, errors
    assert [r[0] for r in results] == [200] * 20
    created = sorted(r[2] for r in results if r[1])
    assert created == sorted(p[1] for p in packages)
    after = keys(service)
    assert len(after) == before + 5
    assert len(set(k['SpkiSha256'] for k in after)) == len(after)
    assert [k['Status'] for k in after].count('Active') == 1


def test_kill_9_loses_nothing_acknowledged(tmp_path):
    info = datadir.init(str(tmp_path / 'data'), admin_password='durable-admin-pw')
    tenant = datadir.Tenant(info['data_dir'])
    packages = [software_package(tenant, 'durable-%d' % i) for i in range(12)]
    server = TenantServer(info['data_dir']).start()
    acknowledged = []

    def upload_loop():
        t = server.connect(info['admin_user'], 'durable-admin-pw')
        for data, spki in packages:
            try:
                status, got = server.request('POST', '/tenants/%s/keys' % info['tenant_id'],
                                             {'package': data.decode(), 'active': True}, token=t)
            except OSError:
                return
            if status == 200:
                acknowledged.append(spki)
    loop = threading.Thread(target=upload_loop)
    loop.start()
    deadline = time.time() + 120
    try:
        while len(acknowledged) < 4 and loop.is_alive() and time.time() < deadline:
            time.sleep(0.05)
        assert len(acknowledged) >= 4, 'the upload loop stopped after %d acknowledged keys' % len(acknowledged)
    finally:
        server.stop(kill=True)
    loop.join(60)
    assert server.proc.returncode == -9
    with sqlite3.connect(tenant.service.store.path) as db:
        assert db.execute('PRAGMA integrity_check').fetchone()[0] == 'ok'
    server.start()
    try:
        t = server.connect(info['admin_user'], 'durable-admin-pw')
        status, listed = server.request('GET', '/tenants/%s/keys' % info['tenant_id'], token=t)
        held = set(k['SpkiSha256'] for k in listed)
        assert set(acknowledged) <= held
        assert [k['Status'] for k in listed].count('Active') == 1
        # every key the database lists is really in the tenant's HSM
        with tenant.session() as s:
            for k in tenant.service.store.keys(info['tenant_id']):
                assert s.find_one(k['hsm_label'], 'CKO_PRIVATE_KEY') is not None, k
        # a package whose upload was cut off can simply be sent again
        for data, spki in packages:
            status, got = server.request('POST', '/tenants/%s/keys' % info['tenant_id'],
                                         {'package': data.decode(), 'active': True}, token=t)
            assert status == 200
        status, listed = server.request('GET', '/tenants/%s/keys' % info['tenant_id'], token=t)
        assert len(listed) == 13 and len(set(k['SpkiSha256'] for k in listed)) == 13
    finally:
        assert server.stop()


def test_the_published_api_description_is_current():
    import os
    from ansible_collections.keyceremony.byok.tenant import api
    from ansible_collections.keyceremony.byok.tests.unit.helpers import REPO_ROOT
    with open(os.path.join(REPO_ROOT, 'docs', 'tenant-openapi.json')) as f:
        published = json.load(f)
    assert published == json.loads(json.dumps(api.create_app(None).openapi())), \
        'docs/tenant-openapi.json is stale: regenerate it with byok-tenant openapi > docs/tenant-openapi.json'
