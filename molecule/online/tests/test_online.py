# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The online workstation's container and the rehearsal tenant's, after the online role ran."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os

import pytest

from conftest import files_holding, read_json

WORK = '/var/lib/keyceremony/online'
TENANT = '/var/lib/keyceremony/tenant'
BYOK_TENANT = '/opt/keyceremony-byok/bin/byok-tenant'


@pytest.fixture(scope='module')
def online(hosts):
    return hosts['byok-online']


@pytest.fixture(scope='module')
def tenant(hosts):
    return hosts['byok-tenant']


@pytest.fixture(scope='module')
def offline_record(controller):
    with open(os.path.join(controller, 'transfer', 'offline-localhost.json')) as f:
        return json.load(f)


def test_the_tenant_service_runs_from_its_installed_command(tenant):
    assert tenant.file(BYOK_TENANT).mode == 0o755
    pid = tenant.file(TENANT + '.pid').content_string.strip()
    assert BYOK_TENANT.encode() in tenant.file('/proc/%s/cmdline' % pid).content
    assert tenant.file(TENANT + '.admin.json').mode == 0o600


def test_the_active_key_is_the_one_generated_offline(tenant, offline_record):
    listed = json.loads(tenant.check_output('%s keys --data-dir %s' % (BYOK_TENANT, TENANT)))
    active = [k for k in listed['keys'] if k['Status'] == 'Active']
    assert len(active) == 1 and active[0]['KeyType'] == 'Customer-managed (BYOK)'
    assert active[0]['SpkiSha256'] == offline_record['spki_sha256']
    assert listed['tenant_id'] == offline_record['tenant_id']


def test_the_role_installed_the_missing_library_from_debian(online):
    # prepare took the image's cryptography away; the role installed Debian's package
    assert online.package('python3-cryptography').is_installed
    where = online.check_output('/usr/bin/python3 -c "import cryptography; print(cryptography.__file__)"')
    assert where.startswith('/usr/lib/python3/dist-packages/cryptography/')


def test_the_online_journal(online):
    records = [json.loads(line) for line in online.file(WORK + '/journal.jsonl').content_string.splitlines()]
    assert [r['module'] for r in records if r['outcome'] == 'changed'] == ['byok_toolset', 'tenant_key']
    assert all(r['prev'] == p['hash'] for p, r in zip(records, records[1:]))
    assert online.file(WORK).mode == 0o700 and online.file(WORK + '/journal.jsonl').mode == 0o600


def test_the_package_arrived_as_it_left(online, offline_record):
    package = online.file(WORK + '/' + offline_record['package'])
    assert package.mode == 0o600 and package.sha256sum == offline_record['package_sha256']


def test_no_administrator_password_on_the_workstation(online, tenant):
    password = read_json(tenant, TENANT + '.admin.json')['admin_password']
    assert files_holding(tenant, password) == [TENANT + '.admin.json']  # the one place it is kept
    assert files_holding(online, password) == []
    assert online.run('find /root/.ansible/tmp -mindepth 1 2>/dev/null').stdout.strip() == ''
