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
            threading.Event().wait(1.5)
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
