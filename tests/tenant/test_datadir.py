# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The tenant's change lock: one key import (HSM, then database) at a time, across threads and processes."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import subprocess
import sys
import threading
import time

import pytest

from ansible_collections.keyceremony.byok.plugins.module_utils._hsm import attribute_template
from ansible_collections.keyceremony.byok.tenant import datadir
from ansible_collections.keyceremony.byok.tests.unit.helpers import software_package


@pytest.fixture(scope='module')
def tenant(tmp_path_factory):
    info = datadir.init(str(tmp_path_factory.mktemp('tenant') / 'data'), admin_password='change-lock-admin-pw')
    return datadir.Tenant(info['data_dir'])


def token_objects(tenant, label):
    with tenant.session() as s:
        return len(s.find(attribute_template([('CKA_LABEL', label)])))


def test_the_same_package_twice_at_once_is_new_only_once(tenant, monkeypatch):
    """The first request is held between its HSM import and its database record; the second
    arrives in that gap. Without the lock both imported the key and both called it new."""
    data, spki = software_package(tenant, 'twice-at-once')
    store = tenant.service.store
    real_add_key = store.add_key
    first_in_gap, calls = threading.Event(), []

    def add_key(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            first_in_gap.set()
            # long enough for the second request to import and record, were it not held back
            time.sleep(1.5)
        return real_add_key(*args, **kwargs)
    monkeypatch.setattr(store, 'add_key', add_key)
    results = {}

    def request(name):
        results[name] = tenant.receive(data)
    first = threading.Thread(target=request, args=('first',))
    first.start()
    assert first_in_gap.wait(60)
    second = threading.Thread(target=request, args=('second',))
    second.start()
    first.join(60)
    second.join(60)
    assert results['first']['imported'] is True
    assert results['second']['imported'] is False
    assert results['second']['key']['key_identifier'] == results['first']['key']['key_identifier']
    assert [k['spki_sha256'] for k in store.keys(tenant.tenant_id)].count(spki) == 1
    # one object under the key's label: it was imported once
    assert token_objects(tenant, datadir.imported_key_label(spki)) == 1


HOLDER = '''
import sys
from ansible_collections.keyceremony.byok.plugins.module_utils._hsm import attribute_template
from ansible_collections.keyceremony.byok.tenant import datadir
tenant = datadir.Tenant(sys.argv[1])
with tenant.changing():
    print('held', flush=True)
    sys.stdin.read()
'''


def test_another_process_holding_the_lock_holds_back_an_import(tenant):
    """`byok-tenant receive` beside a running service: the flock keeps their imports apart."""
    data, spki = software_package(tenant, 'other-process')
    holder = subprocess.Popen([sys.executable, '-c', HOLDER, tenant.service.dir], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
    try:
        assert holder.stdout.readline() == b'held\n'
        results = {}
        importer = threading.Thread(target=lambda: results.update(tenant.receive(data)))
        importer.start()
        importer.join(2)
        assert importer.is_alive(), 'the import went ahead while another process held the change lock'
        assert tenant.service.store.key_by_spki(tenant.tenant_id, spki) is None
        holder.stdin.close()
        assert holder.wait(30) == 0
        importer.join(60)
        assert not importer.is_alive() and results['imported'] is True
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
    assert os.stat(os.path.join(tenant.dir, 'change.lock')).st_mode & 0o777 == 0o600


def tokens_labelled(service, label):
    with datadir.service_hsm(service.conf, service.pkcs11_module) as hsm:
        return [t for t in hsm.tokens() if t.initialized and t.label == label]


def test_an_interrupted_add_tenant_can_be_run_again(tenant, monkeypatch):
    """Cut off after its token was made: the retry starts that token again from empty, rather than
    failing on two tokens with one label, and the tenant is then whole."""
    service = tenant.service
    new_id = '0b1c2d3e-4f50-4617-8829-3a4b5c6d7e8f'
    label = new_id.replace('-', '')
    real = datadir.generate_rsa_pair
    made = []

    def cut_off(*args, **kwargs):
        made.append(real(*args, **kwargs))
        if len(made) == 3:
            raise KeyboardInterrupt('power cut')
        return made[-1]
    monkeypatch.setattr(datadir, 'generate_rsa_pair', cut_off)
    with pytest.raises(KeyboardInterrupt):
        datadir.add_tenant(service, new_id, admin_password='retry-admin-pw')
    monkeypatch.undo()
    assert new_id not in service.tenant_ids()
    assert len(tokens_labelled(service, label)) == 1
    info = datadir.add_tenant(service, new_id, admin_password='retry-admin-pw')
    assert new_id in service.tenant_ids() and info['tenant_id'] == new_id
    assert len(tokens_labelled(service, label)) == 1
    added = datadir.Tenant(service, new_id)
    with added.session() as s:
        # the leftover keys are gone: one root, one attestation key, a KEK per region, one first key
        privates = s.find(attribute_template([('CKA_CLASS', datadir.constant('CKO_PRIVATE_KEY'))]))
        assert len(privates) == 3 + len(added.record['keks'])
    data, spki = software_package(added, 'after-the-retry')
    assert added.receive(data)['imported'] is True


def test_a_token_of_no_tenant_is_named_not_reused(tenant):
    service = tenant.service
    stray = '5a6b7c8d-9e0f-4a1b-8c2d-3e4f5a6b7c8d'
    with datadir.service_hsm(service.conf, service.pkcs11_module) as hsm:
        hsm.init_token(hsm.free_slot(), stray.replace('-', ''), 'stray-so-pin-1')
    with pytest.raises(datadir.ByokError, match='already holds a token labelled %s .* belongs to no tenant folder'
                       % stray.replace('-', '')):
        datadir.add_tenant(service, stray)
    assert stray not in service.tenant_ids()


def test_tenant_ids_that_share_their_first_digits_get_tokens_of_their_own(tenant):
    service = tenant.service
    ids = ['7c7c7c7c-0000-4000-8000-00000000000%d' % i for i in (1, 2)]
    for tid in ids:
        datadir.add_tenant(service, tid, admin_password='shared-prefix-pw')
    for tid in ids:
        got = datadir.Tenant(service, tid)
        assert len(tokens_labelled(service, got.record['token_label'])) == 1
        signature, pem, spki = got.sign_with(datadir.MICROSOFT_LABEL, b'which token?')
        assert spki == service.store.active_key(tid)['spki_sha256']
