# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The rehearsal tenant's durable state in SQLite: tenants, administrators, sessions, keys, TPDs.

WAL journal and synchronous=FULL: a change is acknowledged only once its transaction is on
disk, and a killed process loses nothing it acknowledged. Every change is one transaction.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import hashlib
import os
import sqlite3
import threading
import uuid
from contextlib import contextmanager

SCHEMA = """
CREATE TABLE IF NOT EXISTS tenants (
    tenant_id TEXT PRIMARY KEY,
    rms_service_id TEXT NOT NULL,
    created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS admins (
    user TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(tenant_id),
    password_hash TEXT NOT NULL,
    created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    token_sha256 TEXT PRIMARY KEY,
    user TEXT NOT NULL REFERENCES admins(user),
    tenant_id TEXT NOT NULL REFERENCES tenants(tenant_id),
    created TEXT NOT NULL,
    expires TEXT NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS keys (
    key_identifier TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(tenant_id),
    key_type TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('Active', 'Archived')),
    creation_time TEXT NOT NULL,
    spki_sha256 TEXT NOT NULL,
    friendly_name TEXT,
    hsm_label TEXT NOT NULL,
    source TEXT NOT NULL,
    key_vault_key_url TEXT,
    UNIQUE (tenant_id, spki_sha256)
);
CREATE UNIQUE INDEX IF NOT EXISTS one_active_key ON keys (tenant_id) WHERE status = 'Active';
CREATE TABLE IF NOT EXISTS tpds (
    tenant_id TEXT NOT NULL REFERENCES tenants(tenant_id),
    tpd_id TEXT NOT NULL,
    display_name TEXT NOT NULL,
    friendly_name TEXT,
    cryptographic_mode INTEGER NOT NULL,
    key_identifier TEXT NOT NULL REFERENCES keys(key_identifier),
    imported TEXT NOT NULL,
    PRIMARY KEY (tenant_id, tpd_id)
);
CREATE TABLE IF NOT EXISTS apps (
    client_id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(tenant_id),
    secret_hash TEXT NOT NULL,
    created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS access_tokens (
    token_sha256 TEXT PRIMARY KEY,
    client_id TEXT NOT NULL REFERENCES apps(client_id),
    tenant_id TEXT NOT NULL REFERENCES tenants(tenant_id),
    audience TEXT NOT NULL,
    expires INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS vault_keys (
    tenant_id TEXT NOT NULL REFERENCES tenants(tenant_id),
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    kty TEXT NOT NULL,
    key_ops TEXT NOT NULL,
    n TEXT NOT NULL,
    e TEXT NOT NULL,
    spki_sha256 TEXT NOT NULL,
    hsm_label TEXT NOT NULL,
    enabled INTEGER NOT NULL,
    created INTEGER NOT NULL,
    updated INTEGER NOT NULL,
    tags TEXT NOT NULL,
    PRIMARY KEY (tenant_id, name, version)
);
"""


def now():
    return datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%S.%fZ')


def token_hash(token):
    # the tokens the service gives are ASCII; whatever else a client sends hashes to a token of nobody
    return hashlib.sha256(token.encode('utf-8', 'surrogatepass')).hexdigest()


def well_formed_token(token):
    """Whether ``token`` (from an Authorization header, which HTTP carries as bytes) can be a token of the service:
    printable ASCII, at most 512 characters."""
    return bool(token) and len(token) <= 512 and token.isascii() and token.isprintable()


class Store(object):
    def __init__(self, path):
        self.path = path
        self._local = threading.local()
        # made 0600 before SQLite opens it: its -wal and -shm files take the database's mode. Only when
        # it is new: closing any descriptor of an open database drops this process's POSIX locks on it,
        # SQLite's included, and another process would then take itself for the last user of the WAL
        # and remove it under this one (https://www.sqlite.org/howtocorrupt.html, 2.2).
        try:
            os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:
            pass
        # executescript commits by itself: the schema is created in its own transaction
        self._db().executescript('BEGIN;' + SCHEMA + 'COMMIT;')
        # a database of an earlier version: the column Key Vault keys need
        if 'key_vault_key_url' not in [r['name'] for r in self.read('PRAGMA table_info(keys)')]:
            try:
                self._db().execute('ALTER TABLE keys ADD COLUMN key_vault_key_url TEXT')
            except sqlite3.OperationalError:
                pass  # another process added it meanwhile

    def _db(self):
        db = getattr(self._local, 'db', None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            db.row_factory = sqlite3.Row
            db.execute('PRAGMA journal_mode=WAL')
            db.execute('PRAGMA synchronous=FULL')
            db.execute('PRAGMA foreign_keys=ON')
            self._local.db = db
        return db

    @contextmanager
    def tx(self):
        """One immediate transaction: committed whole, or rolled back whole."""
        db = self._db()
        db.execute('BEGIN IMMEDIATE')
        try:
            yield db
        except BaseException:
            db.execute('ROLLBACK')
            raise
        db.execute('COMMIT')

    def read(self, sql, args=()):
        return [dict(r) for r in self._db().execute(sql, args).fetchall()]

    # ------------------------------------------------------------ tenants and admins

    def add_tenant(self, tenant_id, admin_user, password_hash, first_key):
        with self.tx() as db:
            db.execute('INSERT INTO tenants VALUES (?, ?, ?)', (tenant_id, str(uuid.uuid4()), now()))
            db.execute('INSERT INTO admins VALUES (?, ?, ?, ?)', (admin_user, tenant_id, password_hash, now()))
            _insert_key(db, tenant_id, first_key, 'Active')

    def tenant(self, tenant_id):
        rows = self.read('SELECT * FROM tenants WHERE tenant_id = ?', (tenant_id,))
        return rows[0] if rows else None

    def admin(self, user):
        rows = self.read('SELECT * FROM admins WHERE user = ?', (user,))
        return rows[0] if rows else None

    # ------------------------------------------------------------ sessions

    def open_session(self, token, user, tenant_id, expires):
        with self.tx() as db:
            db.execute('INSERT INTO sessions VALUES (?, ?, ?, ?, ?, 0)', (token_hash(token), user, tenant_id, now(), expires))

    def session(self, token):
        rows = self.read('SELECT * FROM sessions WHERE token_sha256 = ?', (token_hash(token),))
        return rows[0] if rows else None

    def revoke(self, token):
        with self.tx() as db:
            return db.execute('UPDATE sessions SET revoked = 1 WHERE token_sha256 = ? AND revoked = 0',
                              (token_hash(token),)).rowcount

    # ------------------------------------------------------------ keys

    def keys(self, tenant_id):
        return self.read('SELECT * FROM keys WHERE tenant_id = ? ORDER BY creation_time', (tenant_id,))

    def key_by_spki(self, tenant_id, spki):
        rows = self.read('SELECT * FROM keys WHERE tenant_id = ? AND spki_sha256 = ?', (tenant_id, spki))
        return rows[0] if rows else None

    def key(self, tenant_id, key_identifier):
        rows = self.read('SELECT * FROM keys WHERE tenant_id = ? AND key_identifier = ?', (tenant_id, key_identifier))
        return rows[0] if rows else None

    def active_key(self, tenant_id):
        rows = self.read("SELECT * FROM keys WHERE tenant_id = ? AND status = 'Active'", (tenant_id,))
        return rows[0] if rows else None

    def add_key(self, tenant_id, key, active):
        """Insert a key (Archived, or Active archiving the previous one); an existing fingerprint is returned as is.

        Returns (row, created).
        """
        with self.tx() as db:
            existing = db.execute('SELECT * FROM keys WHERE tenant_id = ? AND spki_sha256 = ?',
                                  (tenant_id, key['spki_sha256'])).fetchone()
            if existing is not None:
                return dict(existing), False
            if active:
                db.execute("UPDATE keys SET status = 'Archived' WHERE tenant_id = ? AND status = 'Active'", (tenant_id,))
            row = _insert_key(db, tenant_id, key, 'Active' if active else 'Archived')
        return row, True

    def activate(self, tenant_id, key_identifier):
        with self.tx() as db:
            row = db.execute('SELECT * FROM keys WHERE tenant_id = ? AND key_identifier = ?',
                             (tenant_id, key_identifier)).fetchone()
            if row is None:
                return None, False
            if row['status'] == 'Active':
                return dict(row), False
            db.execute("UPDATE keys SET status = 'Archived' WHERE tenant_id = ? AND status = 'Active'", (tenant_id,))
            db.execute("UPDATE keys SET status = 'Active' WHERE key_identifier = ?", (key_identifier,))
        return self.key(tenant_id, key_identifier), True

    # ------------------------------------------------------------ Key Vault: applications, tokens, keys

    def add_app(self, client_id, tenant_id, secret_hash):
        with self.tx() as db:
            db.execute('INSERT INTO apps VALUES (?, ?, ?, ?)', (client_id, tenant_id, secret_hash, now()))

    def app(self, client_id):
        rows = self.read('SELECT * FROM apps WHERE client_id = ?', (client_id,))
        return rows[0] if rows else None

    def apps(self, tenant_id):
        return self.read('SELECT client_id, created FROM apps WHERE tenant_id = ? ORDER BY created', (tenant_id,))

    def add_access_token(self, token, client_id, tenant_id, audience, expires):
        with self.tx() as db:
            db.execute('DELETE FROM access_tokens WHERE expires < ?', (int(expires) - 86400,))
            db.execute('INSERT INTO access_tokens VALUES (?, ?, ?, ?, ?)',
                       (token_hash(token), client_id, tenant_id, audience, int(expires)))

    def access_token(self, token):
        rows = self.read('SELECT * FROM access_tokens WHERE token_sha256 = ?', (token_hash(token),))
        return rows[0] if rows else None

    def add_vault_key(self, row):
        with self.tx() as db:
            db.execute('INSERT INTO vault_keys VALUES (:tenant_id, :name, :version, :kty, :key_ops, :n, :e, :spki_sha256, '
                       ':hsm_label, :enabled, :created, :updated, :tags)', row)

    def update_vault_key(self, tenant_id, name, version, enabled, tags, updated):
        with self.tx() as db:
            db.execute('UPDATE vault_keys SET enabled = ?, tags = ?, updated = ? WHERE tenant_id = ? AND name = ? AND '
                       'version = ?', (int(enabled), tags, updated, tenant_id, name, version))

    def vault_key(self, tenant_id, name, version=None):
        """A version of a vault key, the latest (the most recently created) when ``version`` is None."""
        if version:
            rows = self.read('SELECT * FROM vault_keys WHERE tenant_id = ? AND name = ? AND version = ?',
                             (tenant_id, name, version))
        else:
            rows = self.read('SELECT * FROM vault_keys WHERE tenant_id = ? AND name = ? ORDER BY created DESC, rowid DESC '
                             'LIMIT 1', (tenant_id, name))
        return rows[0] if rows else None

    def vault_keys(self, tenant_id, name=None):
        """The latest version of every key (``name`` None), or every version of one key, oldest first."""
        if name is not None:
            return self.read('SELECT * FROM vault_keys WHERE tenant_id = ? AND name = ? ORDER BY created, rowid',
                             (tenant_id, name))
        return self.read('SELECT * FROM vault_keys AS v WHERE tenant_id = ? AND rowid = (SELECT rowid FROM vault_keys '
                         'WHERE tenant_id = v.tenant_id AND name = v.name ORDER BY created DESC, rowid DESC LIMIT 1) '
                         'ORDER BY name', (tenant_id,))

    # ------------------------------------------------------------ TPDs

    def tpds(self, tenant_id):
        return self.read('SELECT * FROM tpds WHERE tenant_id = ? ORDER BY imported', (tenant_id,))

    def tpd(self, tenant_id, tpd_id):
        rows = self.read('SELECT * FROM tpds WHERE tenant_id = ? AND tpd_id = ?', (tenant_id, tpd_id))
        return rows[0] if rows else None

    def add_tpd(self, tenant_id, tpd, key, active):
        """Record a TPD with its key in one transaction. Returns (tpd row, key row, created)."""
        with self.tx() as db:
            existing = db.execute('SELECT * FROM tpds WHERE tenant_id = ? AND tpd_id = ?',
                                  (tenant_id, tpd['tpd_id'])).fetchone()
            if existing is not None:
                key_row = db.execute('SELECT * FROM keys WHERE key_identifier = ?', (existing['key_identifier'],)).fetchone()
                return dict(existing), dict(key_row), False
            key_row = db.execute('SELECT * FROM keys WHERE tenant_id = ? AND spki_sha256 = ?',
                                 (tenant_id, key['spki_sha256'])).fetchone()
            if key_row is None:
                if active:
                    db.execute("UPDATE keys SET status = 'Archived' WHERE tenant_id = ? AND status = 'Active'",
                               (tenant_id,))
                key_row = _insert_key(db, tenant_id, key, 'Active' if active else 'Archived')
            else:
                key_row = dict(key_row)
                if active and key_row['status'] != 'Active':
                    db.execute("UPDATE keys SET status = 'Archived' WHERE tenant_id = ? AND status = 'Active'",
                               (tenant_id,))
                    db.execute("UPDATE keys SET status = 'Active' WHERE key_identifier = ?", (key_row['key_identifier'],))
                    key_row['status'] = 'Active'
            db.execute('INSERT INTO tpds VALUES (?, ?, ?, ?, ?, ?, ?)',
                       (tenant_id, tpd['tpd_id'], tpd['display_name'], tpd.get('friendly_name'),
                        tpd['cryptographic_mode'], key_row['key_identifier'], now()))
            row = db.execute('SELECT * FROM tpds WHERE tenant_id = ? AND tpd_id = ?', (tenant_id, tpd['tpd_id'])).fetchone()
        return dict(row), key_row, True


def _insert_key(db, tenant_id, key, status):
    row = {
        'key_identifier': str(uuid.uuid4()),
        'tenant_id': tenant_id,
        'key_type': key['key_type'],
        'status': status,
        'creation_time': now(),
        'spki_sha256': key['spki_sha256'],
        'friendly_name': key.get('friendly_name'),
        'hsm_label': key['hsm_label'],
        'source': key['source'],
        'key_vault_key_url': key.get('key_vault_key_url'),
    }
    db.execute('INSERT INTO keys (key_identifier, tenant_id, key_type, status, creation_time, spki_sha256, friendly_name, '
               'hsm_label, source, key_vault_key_url) VALUES (:key_identifier, :tenant_id, :key_type, :status, '
               ':creation_time, :spki_sha256, :friendly_name, :hsm_label, :source, :key_vault_key_url)', row)
    return row


def key_view(row):
    """A key as the tenant API and `byok-tenant keys` show it (the names of Get-AadrmKeys)."""
    return {'KeyIdentifier': row['key_identifier'], 'KeyType': row['key_type'], 'Status': row['status'],
            'CreationTime': row['creation_time'], 'SpkiSha256': row['spki_sha256'], 'FriendlyName': row['friendly_name'],
            'KeyVaultKeyUrl': row.get('key_vault_key_url')}
