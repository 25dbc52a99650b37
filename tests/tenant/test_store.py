# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The tenant database beside other users of it: a second Store in this process and another process."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import subprocess
import sys

from ansible_collections.keyceremony.byok.tenant.store import Store

COUNT_TENANTS = 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM tenants").fetchone()[0])'


def first_key(n):
    return {'key_type': 'Microsoft-managed', 'spki_sha256': '%064x' % n, 'friendly_name': None,
            'hsm_label': 'microsoft-managed-1', 'source': 'microsoft'}


def tenants_seen_by_another_process(path):
    return int(subprocess.run([sys.executable, '-c', COUNT_TENANTS, path], capture_output=True, text=True,
                              check=True).stdout)


def test_a_second_store_does_not_cost_the_first_its_locks(tmp_path):
    """Opening the database again in the same process (the tests and init do) used to close a descriptor
    of it, which dropped SQLite's locks: the next process to close its connection then took itself
    for the last user, checkpointed and removed the WAL under this process, and this process's
    later commits went to the removed file - acknowledged, and lost."""
    path = str(tmp_path / 'tenant.db')
    first = Store(path)
    first.add_tenant('tenant-1', 'admin@1', 'hash', first_key(1))
    Store(path)  # a second Store on the same file, while the first is open
    assert tenants_seen_by_another_process(path) == 1  # another process opens and closes a connection
    assert os.path.exists(path + '-wal'), 'the WAL was removed while this process still had the database open'
    first.add_tenant('tenant-2', 'admin@2', 'hash', first_key(2))
    assert tenants_seen_by_another_process(path) == 2
    assert first.read('PRAGMA integrity_check') == [{'integrity_check': 'ok'}]


def test_the_database_is_private(tmp_path):
    path = str(tmp_path / 'tenant.db')
    store = Store(path)
    store.add_tenant('tenant-1', 'admin@1', 'hash', first_key(1))
    for name in (path, path + '-wal', path + '-shm'):
        assert os.stat(name).st_mode & 0o777 == 0o600, name
