# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""After byok_over_internet.yml and migrate_adrms_hsm.yml on three containers."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os

import pytest

from conftest import files_holding, read_json

TENANT = '/var/lib/keyceremony/tenant'
BYOK_TENANT = '/opt/keyceremony-byok/bin/byok-tenant'
WORLD = '/var/lib/keyceremony/world'
PINS = ['ceremony-card-pin-1', 'ceremony-card-pin-2', 'ceremony-card-pin-3']


@pytest.fixture(scope='module')
def keys(hosts):
    return json.loads(hosts['byok-cer-tenant'].check_output('%s keys --data-dir %s' % (BYOK_TENANT, TENANT)))


def _record(controller, folder):
    with open(os.path.join(controller, folder, 'offline-byok-cer-offline.json')) as f:
        return json.load(f)


def _key_in_world(hosts, key_name):
    return read_json(hosts['byok-cer-offline'], '%s/%s' % (WORLD, key_name))


def test_the_active_key_is_the_one_generated_in_the_offline_container(hosts, controller, keys):
    migrated = _record(controller, 'migration')
    assert migrated['key_name'] == 'key_mscapi_adrms2019'
    # the fingerprint the offline container's own key record holds, read there
    assert _key_in_world(hosts, 'key_mscapi_adrms2019')['spki_sha256'] == migrated['spki_sha256']
    active = [k for k in keys['keys'] if k['Status'] == 'Active']
    assert len(active) == 1 and active[0]['SpkiSha256'] == migrated['spki_sha256']


def test_the_byok_key_is_there_archived_since_the_migration(hosts, controller, keys):
    byok = _record(controller, 'transfer')
    assert byok['key_name'] == 'key_simple_contosokey'
    assert _key_in_world(hosts, 'key_simple_contosokey')['spki_sha256'] == byok['spki_sha256']
    mine = [k for k in keys['keys'] if k['SpkiSha256'] == byok['spki_sha256']]
    assert len(mine) == 1 and mine[0]['Status'] == 'Archived' and mine[0]['KeyType'] == 'Customer-managed (BYOK)'
    assert keys['tenant_id'] == byok['tenant_id']


def test_both_tpds_imported_the_first_one_active(hosts):
    tenant = hosts['byok-cer-tenant']
    out = tenant.check_output("python3 -c \"import sqlite3, json; db = sqlite3.connect('%s/tenant.db'); "
                              "print(json.dumps(db.execute('SELECT tpd_id FROM tpds ORDER BY tpd_id').fetchall()))\""
                              % TENANT)
    assert [row[0] for row in json.loads(out)] == ['5a1f0c3e-7b2d-4e6f-8a9b-0c1d2e3f4a5b',
                                                   '5a1f0c3e-7b2d-4e6f-8a9b-0c1d2e3f4a5c']


def test_the_migrated_tpds_are_ad_rms_exports_of_the_hsm_key(controller):
    """The files on the transfer media are in the format AD RMS writes, opened here with the standard library and
    cryptography alone (the v2 password key, AES-128-CBC with the fixed IV), not with the collection's reader."""
    import base64
    import hashlib
    import re
    from cryptography.hazmat.primitives import padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    key = hashlib.sha256('ceremony-tpd-password'.encode('utf-16-le')).digest()[:16]
    for name in ('contoso-tpd-2019.xml', 'contoso-tpd-2016.xml'):
        with open(os.path.join(controller, 'migration', name), 'rb') as f:
            data = f.read()
        assert data.startswith(b'<?xml version="1.0" encoding="utf-8"?>\n<ArrayOfAnyType ')
        assert b'xsi:type="EncryptedTrustedDocDomain"' in data and b'<m_strKeyData />' in data  # the key stays in the HSM
        blob = base64.b64decode(re.search(rb'<m_strTrustedDocDomainInfo>([^<]+)<', data).group(1))
        decryptor = Cipher(algorithms.AES(key), modes.CBC(bytes(range(1, 17)))).decryptor()
        unpadder = padding.PKCS7(128).unpadder()
        inner = unpadder.update(decryptor.update(blob) + decryptor.finalize()) + unpadder.finalize()
        assert b'xsi:type="TrustedDocDomain"' in inner and b'<strKeyContainerName>adrms2019<' in inner
        assert b'&lt;OBJECT type="Server-Licensor-Certificate"&gt;' in inner and b'Rehearsal SLC' in inner


def test_the_transcript_on_the_controller(controller):
    with open(os.path.join(controller, 'transfer', 'ceremony-transcript.md')) as f:
        text = f.read()
    for step in ('security_world', 'hsm_key', 'key_acl', 'transfer_package', 'byok_toolset', 'tenant_key'):
        assert step in text
    assert text.count('| intact |') == 2  # the offline and the online journal, each chain checked
    assert 'the ceremony byok_over_internet' in text and 'MISMATCH' not in text
    assert '| ceremony_preflight | verified |' in text and '| tenant_key_info | verified |' in text


def test_the_migration_sheet_holds_the_migration_only(controller):
    # the migration ran on the hosts of the BYOK ceremony: its sheet leaves the BYOK ceremony's records out
    byok = _record(controller, 'transfer')
    with open(os.path.join(controller, 'migration', 'ceremony-transcript.md')) as f:
        text = f.read()
    migrated = _record(controller, 'migration')
    assert 'the ceremony migrate_adrms_hsm' in text and 'earlier records of other ceremonies are left out' in text
    assert byok['spki_sha256'] not in text and ' '.join(byok['spki_sha256'][i:i + 8] for i in range(0, 64, 8)) not in text
    assert ' '.join(migrated['spki_sha256'][i:i + 8] for i in range(0, 64, 8)) in text
    assert 'MISMATCH' not in text and 'WARNING' not in text and 'tpd_import' in text and 'hsm_key' in text
    assert os.path.exists(os.path.join(controller, 'migration', 'ceremony-transcript.html'))


def test_no_secret_on_any_container(hosts, controller):
    offline, online = hosts['byok-cer-offline'], hosts['byok-cer-online']
    for pin in PINS + ['ceremony-tpd-password']:
        for host in hosts.values():
            assert files_holding(host, pin) == []
    admin = read_json(hosts['byok-cer-tenant'], TENANT + '.admin.json')['admin_password']
    assert files_holding(hosts['byok-cer-tenant'], admin) == [TENANT + '.admin.json']
    assert files_holding(online, admin) == [] and files_holding(offline, admin) == []
    user_pin = read_json(offline, WORLD + '/module_credential.json')['user_pin']
    holding = files_holding(offline, user_pin)
    assert WORLD + '/module_credential.json' in holding
    assert all(path.endswith('/world/module_credential.json') for path in holding)
    for host in hosts.values():
        assert host.run('find /root/.ansible/tmp -mindepth 1 2>/dev/null').stdout.strip() == ''
