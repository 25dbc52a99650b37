# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""playbooks/byok_over_internet.yml on two hosts of this machine (online, offline) against a real tenant."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import hashlib
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import time

import pytest

from ansible_collections.keyceremony.byok.tenant import datadir
from ansible_collections.keyceremony.byok.tests.unit.helpers import STRATEGIES, TenantServer, strategy_env

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ANSIBLE_PLAYBOOK = os.path.join(os.path.dirname(sys.executable), 'ansible-playbook')
pytestmark = pytest.mark.skipif(not os.path.exists(ANSIBLE_PLAYBOOK), reason='needs the venv of make setup')


def play(tmp_path, playbook, inventory, extra, *more, **kw):
    env = dict(os.environ, HOME=str(tmp_path / 'home'), ANSIBLE_CONFIG=os.path.join(REPO_ROOT, 'ansible.cfg'),
               ANSIBLE_NOCOLOR='1', **strategy_env(kw.get('strategy', 'linear')))
    env.pop('SOFTHSM2_CONF', None)
    out = subprocess.run([ANSIBLE_PLAYBOOK, '-i', inventory, os.path.join(REPO_ROOT, 'playbooks', playbook),
                          '-e', '@' + extra] + list(more), capture_output=True, text=True, env=env, cwd=REPO_ROOT,
                         check=False)
    return out.returncode, out.stdout + out.stderr


def two_hosts(tmp_path):
    """An inventory of two local hosts, online-ws and offline-ws, the offline one with folders under tmp_path."""
    inventory = tmp_path / 'inventory.yml'
    python = sys.executable
    inventory.write_text(json.dumps({'all': {'children': {
        'online': {'hosts': {'online-ws': {'ansible_connection': 'local', 'ansible_python_interpreter': python}}},
        'offline': {'hosts': {'offline-ws': {
            'ansible_connection': 'local', 'ansible_python_interpreter': python,
            'offline_workstation_softhsm_dir': str(tmp_path / 'offline'),
            'offline_workstation_world_dir': str(tmp_path / 'offline' / 'world'),
            'offline_workstation_media_dir': str(tmp_path / 'offline' / 'media'),
            'offline_workstation_backup_dir': str(tmp_path / 'offline' / 'backup'),
            'offline_workstation_key_ident': 'contosokey',
            'offline_workstation_key_friendly_name': 'ContosoBYOK'}}}}}}))
    return inventory


def _keyvault_b64(text):
    from ansible_collections.keyceremony.byok.plugins.module_utils._keyvault import unb64url
    return unb64url(text, 'value')


def recap(output, host):
    m = re.search(r'%s\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)' % host, output)
    return dict(zip(('ok', 'changed', 'unreachable', 'failed'), map(int, m.groups())))


@pytest.mark.parametrize('strategy', STRATEGIES)
def test_byok_over_internet(tmp_path, strategy):
    password = 'ceremony-admin-password-3'
    info = datadir.init(str(tmp_path / 'tenant'), admin_password=password)
    server = TenantServer(info['data_dir']).start()
    try:
        inventory = two_hosts(tmp_path)
        pins = ['first-card-pin-1', 'second-card-pin-2', 'third-card-pin-3']
        extra = tmp_path / 'vars.json'
        extra.write_text(json.dumps({
            'byok_transfer_dir': str(tmp_path / 'transfer'),
            'byok_tenant_url': server.url, 'byok_tenant_admin_user': info['admin_user'],
            'byok_tenant_admin_password': password, 'byok_tenant_ca_path': info['ca_path'],
            'byok_root_hash': info['root_hash_grouped'],
            'byok_admin_cards': [{'path': str(tmp_path / 'cards' / ('card%d' % i)), 'pin': pin}
                                 for i, pin in enumerate(pins, 1)],
            'byok_acl_cards': [2, 3],
            'online_workstation_work_dir': str(tmp_path / 'online')}))
        (tmp_path / 'transfer').mkdir()
        good = json.loads(extra.read_text())

        def with_vars(**change):
            data = dict(good, **change)
            for k in [k for k, v in change.items() if v is None]:
                del data[k]
            extra.write_text(json.dumps(data))
        journal = tmp_path / 'offline' / 'world' / 'journal.jsonl'

        # bad input: each run stops at its step with the module's message, and the journal says so
        server.stop()
        code, out = play(tmp_path, 'byok_over_internet.yml', str(inventory), str(extra), strategy=strategy)
        assert code == 2 and 'cannot reach the tenant at' in out
        online_journal = [json.loads(x) for x in open(str(tmp_path / 'online' / 'journal.jsonl'))]
        assert online_journal[-1]['outcome'] == 'failed' and online_journal[-1]['module'] == 'tenant_info'
        server.start()
        # a missing variable: the preflight stops every host before anything is touched (the online prepare does not
        # run again), names it, and journals the failure where a journal is kept already
        with_vars(byok_root_hash=None)
        before_online = (tmp_path / 'online' / 'journal.jsonl').read_text()
        code, out = play(tmp_path, 'byok_over_internet.yml', str(inventory), str(extra), strategy=strategy)
        flat = ' '.join(out.split())
        assert code == 2 and 'not set: byok_root_hash' in flat and 'nothing was changed' in flat, flat[-3000:]
        assert 'TASK [keyceremony.byok.online_workstation' not in out and 'TASK [keyceremony.byok.offline_workstation' not in out
        online_journal = [json.loads(x) for x in open(str(tmp_path / 'online' / 'journal.jsonl'))]
        assert (tmp_path / 'online' / 'journal.jsonl').read_text().startswith(before_online)
        assert len(online_journal) == before_online.count('\n') + 1
        assert (online_journal[-1]['module'], online_journal[-1]['outcome']) == ('ceremony_preflight', 'failed')
        assert 'not set: byok_root_hash' in online_journal[-1]['error']
        assert not journal.exists()  # the offline host keeps no journal yet: nothing is made for the record
        with_vars(byok_root_hash='ab' * 32)
        code, out = play(tmp_path, 'byok_over_internet.yml', str(inventory), str(extra), strategy=strategy)
        assert code == 2 and 'KEK package check "root" failed' in out
        records = [json.loads(x) for x in open(str(journal))]
        assert (records[-1]['module'], records[-1]['outcome']) == ('kek_package_verify', 'failed')
        world_id = json.load(open(str(tmp_path / 'offline' / 'world' / 'world.json')))['world_id']
        # too few cards for the ACL step: refused before anything is touched, naming the variable to change
        with_vars(byok_acl_cards=[2])
        before = open(str(journal)).read()
        code, out = play(tmp_path, 'byok_over_internet.yml', str(inventory), str(extra), strategy=strategy)
        assert code == 2 and 'byok_acl_cards must name at least 2 different cards' in ' '.join(out.split())
        after = [json.loads(x) for x in open(str(journal))]
        assert open(str(journal)).read().startswith(before) and len(after) == before.count('\n') + 1
        assert (after[-1]['module'], after[-1]['outcome']) == ('ceremony_preflight', 'failed')

        # a typo in the tenant ID given by hand: the offline side refuses it before the HSM is touched, naming both
        typo = info['tenant_id'][:-1] + ('0' if info['tenant_id'][-1] != '0' else '1')
        with_vars(offline_workstation_tenant_id=typo)
        code, out = play(tmp_path, 'byok_over_internet.yml', str(inventory), str(extra), strategy=strategy)
        assert code == 2 and ('offline_workstation_tenant_id is %s, but the online workstation read %s'
                              % (typo, info['tenant_id'])) in ' '.join(out.split()), out[-3000:]

        # fixed: it completes, without a new world or key, and stops before the upload as a successful end: the package
        # is ready, a transcript is rendered, and the summary says how to go on
        with_vars()
        code, out = play(tmp_path, 'byok_over_internet.yml', str(inventory), str(extra), strategy=strategy)
        assert code == 0, out[-3000:]
        flat = ' '.join(out.split())
        assert 'Nothing was uploaded.' in flat and 'run the same command again with: -e byok_activate=true' in flat
        assert 'Package %s/KeyTransferPackage-ContosoBYOK.byok' % (tmp_path / 'transfer') in flat
        checksum_line = open(str(tmp_path / 'transfer' / 'KeyTransferPackage-ContosoBYOK.byok.sha256')).read()
        package_sha256 = checksum_line.split()[0]
        # as sha256sum writes it (sha256sum -c reads it back)
        assert checksum_line == '%s  KeyTransferPackage-ContosoBYOK.byok\n' % package_sha256, repr(checksum_line)
        before_upload = tmp_path / 'transfer' / ('ceremony-transcript-before-upload-%s.md' % package_sha256[:12])
        assert before_upload.exists() and 'stopped before the upload' in before_upload.read_text()
        assert 'Transcript %s' % before_upload in flat
        assert not (tmp_path / 'transfer' / 'ceremony-transcript.md').exists()
        # what the ceremony puts on the media is private, the toolset too
        for root, dirs, files in os.walk(str(tmp_path / 'transfer')):
            assert os.stat(root).st_mode & 0o777 == 0o700 or root == str(tmp_path / 'transfer'), root
            for name in files:
                assert os.stat(os.path.join(root, name)).st_mode & 0o777 == 0o600, name
        assert re.search(r'Journal offline-ws: \d+ records, head [0-9a-f]{8}( [0-9a-f]{8}){7}', flat), flat[-3000:]
        assert json.load(open(str(tmp_path / 'offline' / 'world' / 'world.json')))['world_id'] == world_id
        records = [json.loads(x) for x in open(str(journal))]
        # made once: later runs record what they found (outcome verified), never a second world or key
        assert [(r['module'], r['outcome']) for r in records].count(('security_world', 'changed')) == 1
        assert [(r['module'], r['outcome']) for r in records].count(('hsm_key', 'changed')) == 1
        assert os.path.exists(str(tmp_path / 'transfer' / 'KeyTransferPackage-ContosoBYOK.byok'))
        offline = json.load(open(str(tmp_path / 'transfer' / 'offline-offline-ws.json')))
        assert offline['tenant_id'] == info['tenant_id']
        status, keys = server.request('GET', '/tenants/%s/keys' % info['tenant_id'],
                                      token=server.connect(info['admin_user'], password))
        assert all(k['SpkiSha256'] != offline['spki_sha256'] for k in keys)

        # the online side alone (another run): the key's fingerprint must be given, the media is not trusted for it
        with_vars(byok_activate=True)
        code, out = play(tmp_path, 'byok_over_internet.yml', str(inventory), str(extra), '--limit', 'online-ws', strategy=strategy)
        assert code == 2 and "The key's fingerprint is not pinned" in ' '.join(out.split()), out[-3000:]
        # a package changed on the way from the offline side is refused before anything is sent
        with_vars(byok_activate=True, online_workstation_key_spki_sha256=offline['spki_sha256'])
        carried = tmp_path / 'transfer' / 'KeyTransferPackage-ContosoBYOK.byok'
        good_bytes = carried.read_bytes()
        carried.write_bytes(good_bytes.replace(b'"tenant_id"', b'"tenant_id" ', 1))
        code, out = play(tmp_path, 'byok_over_internet.yml', str(inventory), str(extra), '--limit', 'online-ws', strategy=strategy)
        assert code == 2 and 'it changed on the way' in out, out[-3000:]
        online_journal = [json.loads(x) for x in open(str(tmp_path / 'online' / 'journal.jsonl'))]
        assert (online_journal[-1]['module'], online_journal[-1]['outcome']) == ('tenant_key', 'failed')
        status, keys = server.request('GET', '/tenants/%s/keys' % info['tenant_id'],
                                      token=server.connect(info['admin_user'], password))
        assert all(k['SpkiSha256'] != offline['spki_sha256'] for k in keys)
        carried.write_bytes(good_bytes)
        with_vars(byok_activate=True)

        code, out = play(tmp_path, 'byok_over_internet.yml', str(inventory), str(extra), strategy=strategy)
        assert code == 0, out[-3000:]
        flat = ' '.join(out.split())
        assert 'Match YES' in flat and 'Possession verified=True' in flat
        grouped = ' '.join(offline['spki_sha256'][i:i + 8] for i in range(0, 64, 8))
        assert 'Fingerprint generated %s' % grouped in flat and 'Fingerprint active %s' % grouped in flat
        # the workstation check runs once per host and run, though the online role runs twice
        checks = re.findall(r'TASK \[keyceremony\.byok\.(?:common : Check the Python|offline_workstation : Check the '
                            r'workstation)[^\n]*\n(ok|skipping): \[(\S+)\]', out)
        assert sorted(checks) == [('ok', 'offline-ws'), ('ok', 'online-ws')], checks
        assert re.findall(r'TASK \[Preflight \(the online side needs no HSM\)\][^\n]*\n(\w+)', out) \
            == ['included', 'skipping'], 'the second run of the online role checks the workstation again'
        assert recap(out, 'online-ws')['changed'] > 0 and recap(out, 'offline-ws')['changed'] == 0
        code, again = play(tmp_path, 'byok_over_internet.yml', str(inventory), str(extra), strategy=strategy)
        assert code == 0, again[-3000:]
        assert recap(again, 'online-ws')['changed'] == 0 and recap(again, 'offline-ws')['changed'] == 0
        status, keys = server.request('GET', '/tenants/%s/keys' % info['tenant_id'],
                                      token=server.connect(info['admin_user'], password))
        active = [k for k in keys if k['Status'] == 'Active']
        assert len(active) == 1 and active[0]['SpkiSha256'] == offline['spki_sha256']
        for text in (out, again):
            for secret in pins + [password]:
                assert secret not in text
        assert len(keys) == 2
        transcript = open(str(tmp_path / 'transfer' / 'ceremony-transcript.md')).read()
        assert '| online-ws' in transcript and '| offline-ws' in transcript and 'BROKEN' not in transcript
        assert offline['spki_sha256'] in transcript and '| kek_package_verify | failed | KEK package check "root" failed' in transcript
        for secret in pins + [password]:
            assert secret not in transcript
            # nor in any journal: the preflight records which variables are set, never a value that holds a secret
            for path in (journal, tmp_path / 'online' / 'journal.jsonl'):
                assert secret not in path.read_text()
        witness_sheet(tmp_path, transcript, offline, info)
    finally:
        server.stop()


def grouped(value):
    return ' '.join(value[i:i + 8] for i in range(0, 64, 8))


def witness_sheet(tmp_path, transcript, offline, info):
    """The activation run's sheet: the verifications that succeeded, each value once with its comparisons, the heads;
    its HTML rendered by a real browser (headless Chromium, from Debian's packages)."""
    values = transcript[transcript.index('## Fingerprints'):transcript.index('## Steps')]
    for value in (offline['spki_sha256'], info['root_hash'], offline['package_sha256']):
        assert values.count(grouped(value)) == 1, (value, values)
        row = [line for line in values.splitlines() if grouped(value) in line][0]
        assert row.endswith('| **match** |'), row
    assert '| Tenant ID | `%s` |' % info['tenant_id'] in values
    # the typo shows as an input given no more, not as a current value
    typo = info['tenant_id'][:-1] + ('0' if info['tenant_id'][-1] != '0' else '1')
    assert 'Tenant ID, input given no more: `%s` at offline-ws ceremony_preflight tenant_id' % typo in values
    assert 'MISMATCH' not in transcript
    for step in ('| ceremony_preflight | verified |', '| kek_package_verify | verified | kek_kid: ',
                 '| tenant_key_info | verified | possession.algorithm: PS256; possession.key_identifier: '):
        assert step in transcript, step
    # the root hash pinned (typed grouped) and found, compared
    root_row = [line for line in values.splitlines() if grouped(info['root_hash']) in line][0]
    assert 'kek_package_verify asked root_hash' in root_row and 'kek_package_verify root_hash' in root_row
    html_path = tmp_path / 'transfer' / 'ceremony-transcript.html'
    html = html_path.read_text()
    assert html.count(grouped(offline['spki_sha256'])) == 1 and '&#10003; match' in html and '@media print' in html
    heads = re.findall(r'  - head: `([0-9a-f ]{71})`', transcript)
    assert len(heads) == 2 and all(head in html for head in heads)
    chromium = shutil.which('chromium')
    assert chromium, 'headless Chromium is missing: make setup installs it (the Debian package chromium)'
    shot = tmp_path / 'ceremony-transcript.png'
    started = time.time()
    out = subprocess.run([chromium, '--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars',
                          '--window-size=1280,2600', '--screenshot=%s' % shot, html_path.as_uri()],
                         capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0 and shot.exists(), out.stderr[-2000:]
    png = shot.read_bytes()
    assert png[:8] == b'\x89PNG\r\n\x1a\n' and struct.unpack('>II', png[16:24]) == (1280, 2600)
    assert len(png) > 100000  # a page of text and tables, not a blank one
    dom = subprocess.run([chromium, '--headless', '--no-sandbox', '--disable-gpu', '--dump-dom', html_path.as_uri()],
                         capture_output=True, text=True, timeout=120, check=False).stdout
    assert 'Journal heads: read aloud, then sign' in dom and grouped(offline['spki_sha256']) in dom
    print('witness sheet rendered by Chromium in %.1f s: %s' % (time.time() - started, shot))


@pytest.mark.parametrize('strategy', STRATEGIES)
def test_byok_azure_key_vault(tmp_path, strategy):
    """The Key Vault ceremony on two hosts of this machine against the rehearsal's Key Vault and tenant."""
    password = 'ceremony-admin-password-5'
    info = datadir.init(str(tmp_path / 'tenant'), admin_password=password)
    server = TenantServer(info['data_dir'], keyvault=True).start()
    try:
        inventory = two_hosts(tmp_path)
        pins = ['first-card-pin-7', 'second-card-pin-8', 'third-card-pin-9']
        extra = tmp_path / 'vars.json'
        good = {
            'byok_transfer_dir': str(tmp_path / 'transfer'),
            'byok_vault_url': server.keyvault_url, 'byok_vault_tenant': info['tenant_id'],
            'byok_vault_client_id': info['client_id'], 'byok_vault_secret': info['client_secret'],
            'byok_vault_authority': server.url, 'byok_vault_ca_path': info['ca_path'],
            'byok_keyvault_kek_name': 'contoso-kek', 'byok_keyvault_key_name': 'contoso-rms-key',
            'byok_tenant_url': server.url, 'byok_tenant_admin_user': info['admin_user'],
            'byok_tenant_admin_password': password, 'byok_tenant_ca_path': info['ca_path'],
            'byok_admin_cards': [{'path': str(tmp_path / 'cards' / ('card%d' % i)), 'pin': pin}
                                 for i, pin in enumerate(pins, 1)],
            'byok_acl_cards': [1, 3],
            'online_workstation_work_dir': str(tmp_path / 'online')}
        (tmp_path / 'transfer').mkdir()
        secrets = pins + [password, info['client_secret']]

        def run(*more, **change):
            extra.write_text(json.dumps(dict(good, **change)))
            code, out = play(tmp_path, 'byok_azure_key_vault.yml', str(inventory), str(extra), *more, strategy=strategy)
            for secret in secrets:
                assert secret not in out, 'a secret reached the output'
            return code, out
        journal = tmp_path / 'offline' / 'world' / 'journal.jsonl'

        # a fingerprint read aloud that is not the KEK's: the offline side stops before the HSM is touched for it
        code, out = run(byok_kek_spki_sha256="ab" * 32)
        assert code == 2 and 'check "fingerprint" failed' in out, out[-3000:]
        records = [json.loads(x) for x in open(str(journal))]
        assert (records[-1]['module'], records[-1]['outcome']) == ('keyvault_kek_verify', 'failed')
        assert not os.path.exists(str(tmp_path / 'transfer' / 'ContosoBYOK.byok'))

        # without byok_activate the flow ends cleanly: the key is in the vault and used by the tenant, archived
        code, out = run()
        assert code == 0, out[-3000:]
        flat = ' '.join(out.split())
        assert 'the fingerprint the online play showed in this run is pinned' in flat
        offline = json.load(open(str(tmp_path / 'transfer' / 'offline-offline-ws.json')))
        assert offline['format'] == 'keyvault' and offline['package'] == 'ContosoBYOK.byok'
        assert offline['tenant_id'] is None and offline['kek_kid'].startswith(server.keyvault_url + '/keys/contoso-kek/')
        assert re.search(r'Fingerprint HSM %s' % offline['spki_sha256'], flat)
        assert re.search(r'Fingerprint Key Vault %s' % offline['spki_sha256'], flat) and 'Match YES' in flat
        assert 'Active no: run again with -e byok_activate=true' in flat
        token = server.connect(info['admin_user'], password)
        keys = server.request('GET', '/tenants/%s/keys' % info['tenant_id'], token=token)[1]
        mine = [k for k in keys if k['SpkiSha256'] == offline['spki_sha256']]
        assert len(mine) == 1 and mine[0]['Status'] == 'Archived' and mine[0]['KeyVaultKeyUrl']

        # a .byok changed on the way is refused before anything is sent
        carried = tmp_path / 'transfer' / 'ContosoBYOK.byok'
        good_bytes = carried.read_bytes()
        carried.write_bytes(good_bytes + b'\n')
        code, out = run('--limit', 'online-ws', byok_activate=True, online_workstation_key_spki_sha256=offline['spki_sha256'])
        assert code == 2 and 'it changed on the way' in out, out[-3000:]
        # a key planted on the media (the KEK is public), with a record that names it: refused by the pin
        from ansible_collections.keyceremony.byok.plugins.module_utils._keyvault import spki_sha256_of
        from ansible_collections.keyceremony.byok.tests.tenant.test_keyvault_sdk import software_byok
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        planted_key = rsa.generate_private_key(65537, 2048)
        kek_doc = json.load(open(str(tmp_path / 'transfer' / 'contoso-kek.kek.json')))['key']

        class Kek(object):
            pass
        kek = Kek()
        kek.id, kek.key = kek_doc['kid'], Kek()
        kek.key.n, kek.key.e = _keyvault_b64(kek_doc['n']), _keyvault_b64(kek_doc['e'])
        planted = software_byok(kek, planted_key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                                               serialization.NoEncryption()))
        carried.write_bytes(planted)
        record = tmp_path / 'transfer' / 'offline-offline-ws.json'
        good_record = record.read_text()
        numbers = planted_key.public_key().public_numbers()
        record.write_text(json.dumps(dict(offline, spki_sha256=spki_sha256_of(numbers.n, numbers.e),
                                          package_sha256=hashlib.sha256(planted).hexdigest())))
        code, out = run('--limit', 'online-ws', byok_activate=True, online_workstation_key_spki_sha256=offline['spki_sha256'])
        assert code == 2 and 'the media holds another key' in ' '.join(out.split()), out[-3000:]
        record.write_text(good_record)
        carried.write_bytes(good_bytes)
        token = server.connect(info['admin_user'], password)
        keys = server.request('GET', '/tenants/%s/keys' % info['tenant_id'], token=token)[1]
        assert all(k['SpkiSha256'] != spki_sha256_of(numbers.n, numbers.e) for k in keys)

        code, out = run(byok_activate=True)
        assert code == 0, out[-3000:]
        assert recap(out, 'offline-ws')['changed'] == 0
        keys = server.request('GET', '/tenants/%s/keys' % info['tenant_id'], token=token)[1]
        active = [k for k in keys if k['Status'] == 'Active']
        assert len(active) == 1 and active[0]['SpkiSha256'] == offline['spki_sha256']
        assert active[0]['KeyType'] == 'Customer-managed (BYOK, Azure Key Vault)'
        code, again = run(byok_activate=True)
        assert code == 0 and recap(again, 'online-ws')['changed'] == 0 and recap(again, 'offline-ws')['changed'] == 0
        transcript = open(str(tmp_path / 'transfer' / 'ceremony-transcript.md')).read()
        assert 'keyvault_byok_import' in transcript and 'keyvault_kek' in transcript
        assert offline['spki_sha256'] in transcript and 'BROKEN' not in transcript
        for secret in secrets:
            assert secret not in transcript
    finally:
        server.stop()


@pytest.mark.bad_input
@pytest.mark.parametrize('playbook,missing', [
    ('byok_over_internet.yml', 'byok_admin_cards, byok_root_hash, byok_tenant_admin_password, byok_tenant_admin_user, '
                               'byok_tenant_ca_path, byok_tenant_url, byok_transfer_dir'),
    ('migrate_adrms_hsm.yml', 'byok_admin_cards, byok_adrms_key_ident, byok_root_hash, byok_tenant_admin_password, '
                              'byok_tenant_admin_user, byok_tenant_ca_path, byok_tenant_url, byok_tpds, byok_transfer_dir'),
    ('byok_azure_key_vault.yml', 'byok_admin_cards, byok_transfer_dir, byok_vault_secret or byok_vault_access_token, '
                                 'byok_vault_url'),
    ('byok_fleet.yml', 'byok_admin_cards, byok_tenant (one of byok_tenants), byok_tenants, byok_transfer_dir'),
])
@pytest.mark.parametrize('strategy', STRATEGIES)
def test_every_ceremony_playbook_checks_its_inputs_first(tmp_path, playbook, missing, strategy):
    """Nothing given: the first play stops every host, naming every variable, before any role runs."""
    inventory = two_hosts(tmp_path)
    extra = tmp_path / 'vars.json'
    extra.write_text(json.dumps({'online_workstation_work_dir': str(tmp_path / 'online')}))
    code, out = play(tmp_path, playbook, str(inventory), str(extra), strategy=strategy)
    flat = ' '.join(out.split())
    assert code == 2, flat[-3000:]
    # Mitogen's strategy ran (ansible-core 2.19 says so of any strategy plugin not its own)
    assert (strategy == 'mitogen_linear') == ('strategy plugins not included in ansible.builtin are deprecated' in flat)
    # the offline host names the card list too; each host names what it needs
    assert 'not set: %s' % missing in flat, flat[-3000:]
    assert 'TASK [keyceremony.byok.online_workstation' not in out and 'TASK [keyceremony.byok.offline_workstation' not in out
    assert recap(out, 'online-ws')['failed'] == 1 and recap(out, 'offline-ws')['failed'] == 1
    assert not os.path.exists(str(tmp_path / 'online')) and not os.path.exists(str(tmp_path / 'offline'))
