# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""playbooks/rehearsal.yml as `make demo` runs it, in a folder of the test's own: run it twice."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import re
import socket
import subprocess
import sys

import pytest

from ansible_collections.keyceremony.byok.tests.unit.helpers import free_port

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PLAYBOOK = os.path.join(REPO_ROOT, 'playbooks', 'rehearsal.yml')
ANSIBLE_PLAYBOOK = os.path.join(os.path.dirname(sys.executable), 'ansible-playbook')


def play(tmp_path):
    env = dict(os.environ, HOME=str(tmp_path / 'home'), ANSIBLE_CONFIG=os.path.join(REPO_ROOT, 'ansible.cfg'),
               ANSIBLE_NOCOLOR='1')
    env.pop('SOFTHSM2_CONF', None)
    out = subprocess.run([ANSIBLE_PLAYBOOK, PLAYBOOK, '-e', 'rehearsal_dir=%s' % (tmp_path / 'demo'),
                          '-e', 'rehearsal_listen=127.0.0.1:%d' % play.port,
                          '-e', 'rehearsal_keyvault_listen=127.0.0.1:%d' % play.keyvault_port],
                         capture_output=True, text=True, env=env, cwd=REPO_ROOT, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    # make demo's output is clean: no warning of Ansible's, the collection's or the tenant's
    assert 'WARNING' not in out.stdout + out.stderr, [x for x in (out.stdout + out.stderr).splitlines() if 'WARNING' in x]
    return out.stdout


def changed_tasks(output):
    tasks, current = [], None
    for line in output.splitlines():
        m = re.match(r'^TASK \[(.*)\] \*+$', line)
        if m:
            current = m.group(1)
        elif line.startswith('changed:'):
            tasks.append(current)
    return tasks


@pytest.mark.skipif(not os.path.exists(ANSIBLE_PLAYBOOK), reason='needs the venv of make setup')
def test_rehearsal_twice(tmp_path):
    play.port = free_port()
    play.keyvault_port = free_port()
    first = play(tmp_path)
    second = play(tmp_path)
    assert re.search(r'localhost\s+: ok=\d+\s+changed=\d+\s+unreachable=0\s+failed=0', first)
    # a second run changes nothing but starting and stopping the rehearsal tenant
    assert changed_tasks(second) == ['keyceremony.byok.rehearsal_tenant : Start it in the background (it outlives the play)',
                                     'keyceremony.byok.rehearsal_tenant : Stop the service']
    record = json.load(open(str(tmp_path / 'demo' / 'world' / 'key_simple_contosokey')))
    migrated = json.load(open(str(tmp_path / 'demo' / 'world' / 'key_mscapi_adrms2019')))
    keyvault = json.load(open(str(tmp_path / 'demo' / 'world' / 'key_simple_contosokv')))
    byok = json.load(open(str(tmp_path / 'demo' / 'keyvault' / 'ContosoKeyVault.byok')))
    assert sorted(byok) == ['ciphertext', 'generator', 'header', 'schema_version']
    for run in (first, second):
        # the BYOK key was uploaded, then superseded by the AD RMS key the migration brought, then by the key
        # brought into Key Vault
        flat = ' '.join(run.split())
        assert re.search(r'BYOK fingerprint +%s' % record['spki_sha256'], run)
        assert re.search(r'BYOK key +key_simple_contosokey: RSA 2048, Archived in the tenant', run)
        assert re.search(r'Fingerprint +generated +%s' % keyvault['spki_sha256'], run)
        assert re.search(r'Migrated key +key_mscapi_adrms2019: RSA 2048, TPDs 7d3c2b1a-0f9e-4d8c-8b7a-6f5e4d3c2b1a, '
                         r'7d3c2b1a-0f9e-4d8c-8b7a-6f5e4d3c2b1b, Archived in the tenant', flat)
        kid = re.search(r'Key Vault key +(https://127\.0\.0\.1:%d/keys/contoso-rms-key/[0-9a-f]{32})' % play.keyvault_port,
                        run).group(1)
        assert byok['header']['kid'] in flat and byok['header']['kid'].startswith(
            'https://127.0.0.1:%d/keys/contoso-kek/' % play.keyvault_port)
        assert re.search(r'Fingerprint +HSM +%s \(key_simple_contosokv\)' % keyvault['spki_sha256'], flat)
        assert re.search(r'Fingerprint +Key Vault +%s' % keyvault['spki_sha256'], flat)
        assert 'RMS step Use-AipServiceKeyVaultKey -KeyVaultKeyUrl "%s"' % kid in flat
    assert 'upload=True migration=True keyvault=True' in ' '.join(first.split())
    assert 'Changed this run world=False key=False acl=False package=False upload=False migration=False ' \
        'keyvault=False' in ' '.join(second.split())
    transcript = open(str(tmp_path / 'demo' / 'transfer' / 'ceremony-transcript.md')).read()
    assert record['spki_sha256'] in transcript and migrated['spki_sha256'] in transcript
    assert keyvault['spki_sha256'] in transcript and 'keyvault_byok_import' in transcript
    assert transcript.count('| intact |') == 2 and 'tpd_import' in transcript
    # the three ceremonies, each with its own values, all of them matching
    for ceremony in ('byok_over_internet', 'migrate_adrms_hsm', 'byok_azure_key_vault'):
        assert '### Ceremony %s, from ' % ceremony in transcript
    assert 'MISMATCH' not in transcript and (tmp_path / 'demo' / 'transfer' / 'ceremony-transcript.html').exists()
    admin = json.load(open(str(tmp_path / 'demo' / 'tenant.admin.json')))
    assert admin['admin_password'] not in first and admin['admin_password'] not in second
    for port in (play.port, play.keyvault_port):
        with socket.socket() as s:
            assert s.connect_ex(('127.0.0.1', port)) != 0, 'the tenant service was left running'
    for run in (first, second):
        assert 'Match            YES' in run and 'Possession       verified=True' in run
        assert re.search(r'Fingerprint +active +%s' % keyvault['spki_sha256'], run)
    pins = [open(str(tmp_path / 'demo' / 'pins' / name)).read().strip() for name in ('card1', 'card2', 'card3', 'tpd')]
    for pin in pins + [admin['client_secret']]:
        assert pin not in first and pin not in second
    assert re.search(r'Journal +\d+ records, intact=True', first)
    assert re.search(r'Journal +\d+ records, intact=True', second)
    assert os.stat(str(tmp_path / 'demo' / 'tenant.admin.json')).st_mode & 0o777 == 0o600
    for name in ('pins', 'cards', 'world', 'tokens', 'tenant', 'media', 'transfer', 'migration', 'keyvault', 'backup',
                 'online'):
        assert os.stat(str(tmp_path / 'demo' / name)).st_mode & 0o777 == 0o700
