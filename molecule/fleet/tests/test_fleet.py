# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Three offline workstations, one online workstation, three tenants: each tenant has its own key."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import re
import subprocess
import sys

import pytest

from conftest import files_holding, read_json

TENANT = '/var/lib/keyceremony/tenant'
BYOK_TENANT = '/opt/keyceremony-byok/bin/byok-tenant'
FLEET = {'byok-fl-off1': ('contoso', '11111111-aaaa-4bbb-8ccc-000000000001', 'key_simple_contosokey'),
         'byok-fl-off2': ('fabrikam', '22222222-aaaa-4bbb-8ccc-000000000002', 'key_simple_fabrikamkey'),
         'byok-fl-off3': ('northwind', '33333333-aaaa-4bbb-8ccc-000000000003', 'key_simple_northwindkey')}


@pytest.fixture(scope='module')
def generated(hosts):
    """{offline host: the fingerprint of the key it generated, read in its own container}"""
    return dict((name, read_json(hosts[name], '/var/lib/keyceremony/world/' + key)['spki_sha256'])
                for name, (_t, _i, key) in FLEET.items())


def keys_of(hosts, tenant_id):
    return json.loads(hosts['byok-fl-tenant'].check_output('%s keys --data-dir %s --tenant-id %s'
                                                           % (BYOK_TENANT, TENANT, tenant_id)))['keys']


@pytest.mark.parametrize('offline', sorted(FLEET))
def test_each_tenant_has_its_own_key_active(hosts, generated, offline):
    _name, tenant_id, _key = FLEET[offline]
    keys = keys_of(hosts, tenant_id)
    active = [k for k in keys if k['Status'] == 'Active']
    assert len(active) == 1 and active[0]['SpkiSha256'] == generated[offline]
    assert active[0]['KeyType'] == 'Customer-managed (BYOK)'
    # no other workstation's key reached this tenant
    others = set(generated.values()) - {generated[offline]}
    assert not others & set(k['SpkiSha256'] for k in keys)


def test_three_distinct_worlds_and_keys(hosts, generated):
    worlds = [read_json(hosts[name], '/var/lib/keyceremony/world/world.json')['world_id'] for name in FLEET]
    assert len(set(worlds)) == 3 and len(set(generated.values())) == 3


def test_a_package_for_the_wrong_tenant_stops_the_play(hosts, controller, generated):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(os.environ['MOLECULE_PROJECT_DIRECTORY'], '.collections'),
               ANSIBLE_NOCOLOR='1', ANSIBLE_FORCE_COLOR='0')
    out = subprocess.run([os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'),
                          '-i', os.path.join(controller, 'inventory'),
                          os.path.join(os.environ['MOLECULE_SCENARIO_DIRECTORY'], 'wrong_tenant.yml'),
                          # a run of the online side alone: the key's fingerprint is given, as read aloud
                          '-e', 'online_workstation_key_spki_sha256=%s' % generated['byok-fl-off1']],
                         capture_output=True, text=True, env=env, check=False)
    text = ' '.join(re.sub(r'\x1b\[[0-9;]*m', '', out.stdout + out.stderr).split())
    assert out.returncode == 2, text[-3000:]
    assert ('the package was made for tenant %s; this tenant is %s' % (FLEET['byok-fl-off1'][1], FLEET['byok-fl-off2'][1])
            in text)
    # the failure is in fabrikam's journal, and fabrikam still has its own key only
    journal = hosts['byok-fl-online'].file('/var/lib/keyceremony/online/fabrikam/journal.jsonl').content_string
    last = json.loads(journal.splitlines()[-1])
    assert last['module'] == 'tenant_key' and last['outcome'] == 'failed' and 'made for tenant' in last['error']
    keys = keys_of(hosts, FLEET['byok-fl-off2'][1])
    assert generated['byok-fl-off1'] not in [k['SpkiSha256'] for k in keys]


def test_no_secret_outside_its_place(hosts):
    tenant = hosts['byok-fl-tenant']
    admin = read_json(tenant, TENANT + '.admin-%s.json' % FLEET['byok-fl-off2'][1])['admin_password']
    assert files_holding(tenant, admin) == [TENANT + '.admin-%s.json' % FLEET['byok-fl-off2'][1]]
    for host in hosts.values():
        for pin in ('fleet-card-pin-1', 'fleet-card-pin-2', 'fleet-card-pin-3'):
            assert files_holding(host, pin) == []
