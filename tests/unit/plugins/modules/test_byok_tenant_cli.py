# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The byok-tenant command as make setup installs it."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import subprocess
import sys

import pytest

from ansible_collections.keyceremony.byok.tests.unit.helpers import build_chain

BYOK_TENANT = os.path.join(os.path.dirname(sys.executable), 'byok-tenant')
pytestmark = pytest.mark.skipif(not os.path.exists(BYOK_TENANT), reason='needs .venv/bin/byok-tenant (make setup)')


def cli(*args):
    out = subprocess.run([BYOK_TENANT] + list(args), capture_output=True, text=True, check=False)
    return out.returncode, out.stdout, out.stderr


@pytest.mark.bad_input
def test_init_refuses_an_existing_folder(tmp_path):
    (tmp_path / 't').mkdir()
    (tmp_path / 't' / 'precious').write_text('x')
    code, out, err = cli('init', '--data-dir', str(tmp_path / 't'))
    assert code == 1 and 'never overwrites a tenant' in err and out == ''
    assert (tmp_path / 't' / 'precious').read_text() == 'x'


@pytest.mark.bad_input
def test_init_refuses_a_bad_tenant_id(tmp_path):
    code, out, err = cli('init', '--data-dir', str(tmp_path / 't'), '--tenant-id', 'contoso')
    assert code == 1 and 'is not a GUID' in err and not os.path.exists(str(tmp_path / 't'))


def test_credentials_go_to_a_private_file_not_to_stdout(tmp_path):
    creds = tmp_path / 'keep' / 'admin.json'
    os.makedirs(str(creds.parent))
    code, out, err = cli('init', '--data-dir', str(tmp_path / 't'), '--credentials', str(creds))
    assert code == 0, err
    kept, shown = json.loads(creds.read_text()), json.loads(out)
    assert os.stat(str(creds)).st_mode & 0o777 == 0o600
    assert len(kept['admin_password']) >= 16 and kept['admin_password'] not in out and 'admin_password' not in shown
    assert len(kept['client_secret']) >= 32 and kept['client_secret'] not in out and 'client_secret' not in shown
    assert shown['client_id'] == kept['client_id'] and shown['keyvault_client_ids'] == [kept['client_id']]
    assert shown['credentials'] == str(creds) and shown['tenant_id'] == kept['tenant_id']
    assert dict(kept, credentials=str(creds)) == dict(shown, admin_password=kept['admin_password'],
                                                      client_secret=kept['client_secret'])
    more = tmp_path / 'keep' / 'second.json'
    code, out, err = cli('add-tenant', '--data-dir', str(tmp_path / 't'), '--credentials', str(more))
    second = json.loads(more.read_text())
    assert code == 0 and second['admin_password'] not in out and second['tenant_id'] != kept['tenant_id']
    assert second['client_secret'] not in out and second['client_id'] != kept['client_id']
    assert os.stat(str(more)).st_mode & 0o777 == 0o600


@pytest.mark.bad_input
def test_unknown_region_and_missing_tenant(tmp_path):
    code, out, err = cli('toolset', '--data-dir', str(tmp_path), '--region', 'XX', '--out', str(tmp_path / 'o'))
    assert code == 2 and 'invalid choice' in err
    code, out, err = cli('info', '--data-dir', str(tmp_path))
    assert code == 1 and 'is not a rehearsal tenant' in err


def test_the_whole_chain_through_the_command(tmp_path, monkeypatch):
    c = build_chain(tmp_path, monkeypatch)
    code, out, err = cli('info', '--data-dir', c.tenant['data_dir'])
    info = json.loads(out)
    assert code == 0 and info['tenant_id'] == c.tenant['tenant_id'] and len(info['root_hash']) == 64
    assert info['root_hash_grouped'].count(' ') == 7
    code, out, err = cli('receive', '--data-dir', c.tenant['data_dir'], '--package', c.package['path'])
    got = json.loads(out)
    assert code == 0, err
    assert got['spki_sha256'] == c.key['spki_sha256'] and got['imported'] is True
    assert got['key_friendly_name'] == 'ContosoBYOK' and got['kek_kid'] == c.package['kek_kid']
    truncated = tmp_path / 'truncated.byok'
    truncated.write_bytes(open(c.package['path'], 'rb').read()[:500])
    code, out, err = cli('receive', '--data-dir', c.tenant['data_dir'], '--package', str(truncated))
    assert code == 1 and out == '' and err.count('\n') == 1 and 'not a complete transfer package' in err
    creds = json.load(open(os.path.join(c.tenant['data_dir'], 'tenants', c.tenant['tenant_id'], 'credentials.json')))
    for text in (out, err):
        assert creds['so_pin'] not in text and creds['user_pin'] not in text
    for folder, dirs, files in os.walk(c.tenant['data_dir']):
        assert os.stat(folder).st_mode & 0o777 == 0o700, folder
        for name in files:
            want = 0o644 if name == 'ca.pem' else 0o600
            assert os.stat(os.path.join(folder, name)).st_mode & 0o777 == want, os.path.join(folder, name)
