# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The rehearsal tenant service's data folder: the cloud's half of the ceremony, for real.

    DIR/                          0700
      softhsm2.conf, tokens/      the service's SoftHSM2, one token per tenant
      tls/ca.pem                  the CA clients pin (public); ca.key, server.pem, server.key (0600)
      tenant.db                   SQLite (WAL): tenants, administrators, sessions, keys, TPDs
      tenants/<tenant id>/
        tenant.json               token, root and attestation key fingerprints, KEKs, world hash
        credentials.json          the tenant token's SO and user PINs (0600; the service's own secrets)
        toolset/<region>/         BYOK-KEK-pkg-<region>-1 and BYOK-SecurityWorld-pkg-<region>-1, signed once

Every key is generated inside the tenant's token and never leaves it: the vendor root and the
attestation key sign, the per-region KEKs only unwrap, the Microsoft-managed key signs and
decrypts. ``init`` builds in ``DIR.partial`` and renames it when whole, so an interrupted
``init`` leaves no half service behind. HSM work is serialised by one lock: PKCS#11 login
state is per token and per process. A change to a tenant's keys (the HSM import and the
database record that follows it) also holds the tenant's ``change.lock`` (flock), so that two
requests, or the service and ``byok-tenant receive``, cannot both import the same key or both
report it as new.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import json
import os
import secrets
import shutil
import socket
import threading
import uuid
from contextlib import contextmanager

from ansible_collections.keyceremony.byok.plugins.module_utils import _byok, _kek, _tpd
from ansible_collections.keyceremony.byok.plugins.module_utils._crypto import hash_password, spki_der_from_pem
from ansible_collections.keyceremony.byok.plugins.module_utils._errors import ByokError
from ansible_collections.keyceremony.byok.plugins.module_utils._files import (
    canonical_json, ensure_private_dir, file_sha256, locked, read_json, sha256_hex, write_private_file, write_private_json)
from ansible_collections.keyceremony.byok.plugins.module_utils._hsm import SO, USER, Hsm, constant, pss_sha256
from ansible_collections.keyceremony.byok.plugins.module_utils._keys import describe_key, generate_rsa_pair
from ansible_collections.keyceremony.byok.tenant import pki
from ansible_collections.keyceremony.byok.tenant.store import Store

TENANT_FORMAT = 'keyceremony.byok/rehearsal-tenant/1'
ROOT_LABEL = 'vendor-root'
ATTESTATION_LABEL = 'kek-attestation'
MICROSOFT_LABEL = 'microsoft-managed-1'
SIGNING_PRIVATE = [('CKA_EXTRACTABLE', False), ('CKA_SIGN', True), ('CKA_DECRYPT', False), ('CKA_UNWRAP', False),
                   ('CKA_DERIVE', False), ('CKA_DESTROYABLE', False)]
SIGNING_PUBLIC = [('CKA_VERIFY', True), ('CKA_ENCRYPT', False), ('CKA_WRAP', False)]
KEK_PRIVATE = [('CKA_EXTRACTABLE', False), ('CKA_SIGN', False), ('CKA_DECRYPT', False), ('CKA_UNWRAP', True),
               ('CKA_DERIVE', False), ('CKA_DESTROYABLE', False)]
KEK_PUBLIC = [('CKA_VERIFY', False), ('CKA_ENCRYPT', False), ('CKA_WRAP', False)]
TENANT_KEY_PRIVATE = [('CKA_EXTRACTABLE', False), ('CKA_SIGN', True), ('CKA_DECRYPT', True), ('CKA_UNWRAP', False),
                      ('CKA_DERIVE', False), ('CKA_DESTROYABLE', False)]
TENANT_KEY_PUBLIC = [('CKA_VERIFY', True), ('CKA_ENCRYPT', True), ('CKA_WRAP', False)]
KEK_SIZE = 3072
SIGNING_SIZE = 3072
KEK_ATTRIBUTES = ('extractable', 'never_extractable', 'sensitive', 'always_sensitive', 'local', 'unwrap',
                  'decrypt', 'sign')
HSM_LOCK = threading.RLock()


def now():
    return datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


def kek_label(region):
    return 'kek-%s-1' % region


def toolset_names(region):
    return 'BYOK-KEK-pkg-%s-1' % region, 'BYOK-SecurityWorld-pkg-%s-1' % region


def imported_key_label(spki_sha256):
    return 'byok-%s' % spki_sha256[:32]


@contextmanager
def service_hsm(conf, pkcs11_module=None):
    """The service's SoftHSM2: SOFTHSM2_CONF is set only while the library initialises."""
    with HSM_LOCK:
        old = os.environ.get('SOFTHSM2_CONF')
        os.environ['SOFTHSM2_CONF'] = conf
        try:
            hsm = Hsm(pkcs11_module)
        finally:
            if old is None:
                del os.environ['SOFTHSM2_CONF']
            else:
                os.environ['SOFTHSM2_CONF'] = old
        with hsm:
            yield hsm


class Service(object):
    """A tenant service folder."""

    def __init__(self, data_dir, pkcs11_module=None):
        self.dir = os.path.abspath(data_dir)
        self.pkcs11_module = pkcs11_module
        self.conf = os.path.join(self.dir, 'softhsm2.conf')
        self.ca_path = os.path.join(self.dir, 'tls', pki.CA_NAME)
        if not os.path.isfile(os.path.join(self.dir, 'tenant.db')):
            raise ByokError('%s is not a rehearsal tenant service (no tenant.db); create one with byok-tenant init'
                            % self.dir)
        self.store = Store(os.path.join(self.dir, 'tenant.db'))

    def record_urls(self, listen, keyvault_listen=None):
        """Where ``serve`` listens, for ``info``: serve.json (public; rewritten by each serve)."""
        def url(address):
            host, port = address
            host = '127.0.0.1' if host in ('0.0.0.0', '') else host
            return 'https://%s:%d' % ('[%s]' % host if ':' in host else host, port)
        write_private_json(os.path.join(self.dir, 'serve.json'), {
            'tenant_url': url(listen), 'authority': url(listen),
            'keyvault_url': url(keyvault_listen) if keyvault_listen else None})

    def urls(self):
        path = os.path.join(self.dir, 'serve.json')
        return read_json(path, 'serve record') if os.path.isfile(path) else {}

    def tenant_ids(self):
        return [r['tenant_id'] for r in self.store.read('SELECT tenant_id FROM tenants ORDER BY created')]

    def tenant(self, tenant_id=None):
        ids = self.tenant_ids()
        if tenant_id is None:
            if len(ids) != 1:
                raise ByokError('the service in %s has %d tenants (%s); say which with --tenant-id'
                                % (self.dir, len(ids), ', '.join(ids)))
            tenant_id = ids[0]
        if tenant_id not in ids:
            raise ByokError('tenant %s is not served from %s' % (tenant_id, self.dir))
        return Tenant(self, tenant_id)


class Tenant(object):
    """One tenant of a service: its token, toolset and keys."""

    def __init__(self, service, tenant_id=None):
        if not isinstance(service, Service):
            # Tenant(data_dir[, tenant_id]): the service's only (or named) tenant
            tenant = Service(service).tenant(tenant_id)
            service, tenant_id = tenant.service, tenant.tenant_id
        self.service = service
        self.tenant_id = tenant_id
        self.dir = os.path.join(service.dir, 'tenants', tenant_id)
        self.record = read_json(os.path.join(self.dir, 'tenant.json'), 'tenant record')
        if self.record.get('format') != TENANT_FORMAT:
            raise ByokError('%s/tenant.json is not a rehearsal tenant record' % self.dir)

    def credentials(self):
        return read_json(os.path.join(self.dir, 'credentials.json'), 'tenant credentials')

    @contextmanager
    def changing(self):
        """Hold the tenant's change lock: one key import (HSM, then database) at a time.

        The thread lock serialises this process; the flock on ``change.lock`` serialises
        processes sharing the folder. Not re-entrant: callers take it once.
        """
        with HSM_LOCK, locked(self.dir, 'change.lock'):
            yield

    @contextmanager
    def session(self, rw=False):
        with service_hsm(self.service.conf, self.service.pkcs11_module) as hsm:
            with hsm.session(self.record['token_label'], login=USER, pin=self.credentials()['user_pin'], rw=rw,
                             who="the tenant's user PIN") as s:
                yield s

    def info(self):
        r = self.record
        return {
            'tenant_id': self.tenant_id,
            'root_hash': r['root_hash'],
            'root_hash_grouped': _kek.group_hash(r['root_hash']),
            'world_hash': r['world_hash'],
            'regions': sorted(r['keks']),
            'keks': dict((region, {'kid': k['kid'], 'spki_sha256': k['spki_sha256']}) for region, k in r['keks'].items()),
            'data_dir': self.service.dir,
            'ca_path': self.service.ca_path,
            'keyvault_client_ids': [a['client_id'] for a in self.service.store.apps(self.tenant_id)],
            'tenant_url': self.service.urls().get('tenant_url'),
            'authority': self.service.urls().get('authority'),
            'keyvault_url': self.service.urls().get('keyvault_url'),
        }

    def toolset_files(self, region):
        """{'kek_package': bytes, 'security_world_package': bytes} of a region, the same bytes every time."""
        if region not in self.record['keks']:
            raise ByokError('region %r is unknown; this tenant has %s' % (region, ', '.join(sorted(self.record['keks']))))
        out = {}
        for kind, name in zip(('kek_package', 'security_world_package'), toolset_names(region)):
            with open(os.path.join(self.dir, 'toolset', region, name), 'rb') as f:
                out[kind] = f.read()
        return out

    def toolset(self, region, out):
        files = self.toolset_files(region)
        ensure_private_dir(out)
        paths = {}
        for (kind, data), name in zip(sorted(files.items()), toolset_names(region)):
            dest = os.path.join(out, name)
            write_private_file(dest, data)
            paths[kind] = dest
        return {'region': region, 'root_hash': self.record['root_hash'],
                'root_hash_grouped': _kek.group_hash(self.record['root_hash']),
                'kek_package': paths['kek_package'], 'security_world_package': paths['security_world_package'],
                'kek_package_sha256': file_sha256(paths['kek_package']),
                'security_world_package_sha256': file_sha256(paths['security_world_package'])}

    def keks(self):
        return dict((k['kid'], {'spki_sha256': k['spki_sha256'], 'size': k['size'], 'label': k['label']})
                    for k in self.record['keks'].values())

    def receive(self, data, active=True):
        """Check a transfer package, import its key, record it; returns what the tenant now holds.

        The HSM import comes first and is idempotent (a key already on the token is not imported
        again), so a crash before the database commit is healed by sending the package again.
        Both happen under the change lock: of several requests with the same package, exactly one
        imports and reports the key as new.
        """
        with self.changing():
            return self._receive(data, active)

    def _receive(self, data, active):
        pkg = _byok.parse_package(data)
        keks = self.keks()
        kid, ciphertext = _byok.check_binding(pkg, self.tenant_id, keks)
        binding = pkg['binding']
        with self.session(rw=True) as s:
            kek_private = s.find_one(keks[kid]['label'], 'CKO_PRIVATE_KEY')
            if kek_private is None:
                raise ByokError('KEK %s is missing from the tenant token' % kid)
            label = imported_key_label(binding['spki_sha256'])
            handle, spki, imported = _byok.unwrap_package(
                s, kek_private, pkg, ciphertext, keks[kid]['size'] // 8, imported_private_template(label),
                already=lambda spki_hash: s.find_one(imported_key_label(spki_hash), 'CKO_PRIVATE_KEY'))
        row, created = self.service.store.add_key(self.tenant_id, {
            'key_type': 'Customer-managed (BYOK)', 'spki_sha256': spki, 'friendly_name': binding['key_friendly_name'],
            'hsm_label': label, 'source': 'byok'}, active)
        return {'spki_sha256': spki, 'tenant_id': self.tenant_id, 'key_friendly_name': binding['key_friendly_name'],
                'kek_kid': kid, 'key_label': label, 'imported': imported or created, 'key': row}

    def import_tpd(self, data, password, hsm_key_package, active, friendly_name=None, key_vault_key_url=None):
        """Import-AadrmTpd (Import-AipServiceTpd): open the export as AD RMS writes it and check it, bring its key into
        the HSM (or find it in the tenant's Key Vault), record both.

        Returns {'created', 'tpd', 'key'}; a TPD imported before gives created=False and changes nothing.
        """
        tpd = _tpd.check_importable(_tpd.read_tpd(data, password))
        if hsm_key_package and key_vault_key_url:
            raise ByokError('give the TPD\'s key as an HSM key package or as a Key Vault key URL, not both')
        with self.changing():
            return self._import_tpd(tpd, hsm_key_package, active, friendly_name, key_vault_key_url)

    def _import_tpd(self, tpd, hsm_key_package, active, friendly_name, key_vault_key_url=None):
        existing = self.service.store.tpd(self.tenant_id, tpd['tpd_id'])
        if existing is not None:
            key = self.service.store.key(self.tenant_id, existing['key_identifier'])
            _tpd.check_held(tpd, key['spki_sha256'] if key else None, existing['key_identifier'])
            return {'created': False, 'tpd': existing, 'key': key}
        name = friendly_name or tpd['display_name']
        if tpd['key_storage'] == 'hsm' and key_vault_key_url:
            vault_key, _warnings = self.vault_key_for_rms(key_vault_key_url)
            if not _tpd.matches_slc(tpd, vault_key['spki_sha256']):
                raise ByokError('Key Vault key %s is key %s, but the TPD\'s Server Licensor Certificate is key %s'
                                % (key_vault_key_url, vault_key['spki_sha256'], tpd['slc_spki_sha256']))
            key = dict(self._keyvault_key_row(vault_key, key_vault_key_url), source='tpd', friendly_name=name)
        elif tpd['key_storage'] == 'hsm':
            if not hsm_key_package:
                raise ByokError('TPD %s keeps its key in an HSM (%s, key container %r): give the HSM key package (the '
                                'transfer package of that key) with it'
                                % (tpd['tpd_id'], tpd['csp_name'] or 'no CSP named', tpd['key_container']))
            pkg = _byok.parse_package(hsm_key_package)
            if not _tpd.matches_slc(tpd, pkg['binding'].get('spki_sha256')):
                raise ByokError('the HSM key package holds key %s, but the TPD\'s Server Licensor Certificate is key %s'
                                % (pkg['binding'].get('spki_sha256'), tpd['slc_spki_sha256']))
            got = self._receive(hsm_key_package, active=False)
            if got['spki_sha256'] != tpd['slc_spki_sha256']:  # what the HSM holds now, not what the binding said
                raise ByokError('the HSM key package brought key %s, not the TPD\'s key %s'
                                % (got['spki_sha256'], tpd['slc_spki_sha256']))
            key = {'key_type': 'Customer-managed (BYOK)', 'spki_sha256': got['spki_sha256'], 'friendly_name': name,
                   'hsm_label': got['key_label'], 'source': 'tpd'}
        else:
            # the CryptoAPI blob, converted in memory to the key's numbers, goes into the token as a sensitive,
            # never-extractable key; it is written nowhere in the clear
            label = imported_key_label(tpd['slc_spki_sha256'])
            with self.session(rw=True) as s:
                if s.find_one(label, 'CKO_PRIVATE_KEY') is None:
                    import_software_key(s, label, tpd['private_key'])
            # a software-protected AD RMS key becomes a Microsoft-managed key in the cloud
            key = {'key_type': 'Microsoft-managed', 'spki_sha256': tpd['slc_spki_sha256'], 'friendly_name': name,
                   'hsm_label': label, 'source': 'tpd'}
        tpd_row, key_row, created = self.service.store.add_tpd(self.tenant_id, dict(tpd, friendly_name=name), key, active)
        return {'created': created, 'tpd': tpd_row, 'key': key_row}

    def vault_key_for_rms(self, url):
        """Use-AipServiceKeyVaultKey's checks of a key in this tenant's Key Vault: (vault key row, warnings)."""
        from ansible_collections.keyceremony.byok.plugins.module_utils import _keyvault
        origin, name, version = _keyvault.parse_kid(url, what='key_vault_key_url')
        served = self.service.urls().get('keyvault_url')
        if served and origin.rsplit(':', 1)[-1] != served.rsplit(':', 1)[-1]:
            raise ByokError('%s is not a key of the rehearsal\'s Key Vault (%s): the rehearsal\'s RMS service reads '
                            'keys from its own vault only' % (url, served))
        row = self.service.store.vault_key(self.tenant_id, name, version)
        if row is None:
            raise ByokError('this tenant\'s Key Vault has no key %s version %s: import the .byok file first '
                            '(keyvault_byok_import), and give the versioned key URL it returned' % (name, version))
        ops = set(json.loads(row['key_ops']))
        missing = [op for op in _keyvault.RMS_REQUIRED_OPS if op not in ops]
        if missing:
            raise ByokError('Key Vault key %s does not permit %s; the RMS service needs decrypt, sign, unwrapKey and '
                            'wrapKey on its tenant key (a KEK, which permits import alone, can never be one)'
                            % (url, ', '.join(missing)))
        if not row['enabled']:
            raise ByokError('Key Vault key %s is disabled' % url)
        size = int.from_bytes(_keyvault.unb64url(row['n'], 'n'), 'big').bit_length()
        warnings = []
        if size == 1024:
            warnings.append('Key Vault key %s is RSA 1024: accepted for a legacy AD RMS key (cryptographic mode 1) only; '
                            'use RSA 2048 for any new key' % url)
        elif size != 2048:
            raise ByokError('Key Vault key %s is RSA %d: Azure Information Protection takes RSA 2048 (recommended) or '
                            '1024 tenant keys only; import a 2048-bit key for the RMS service' % (url, size))
        return row, warnings

    @staticmethod
    def _keyvault_key_row(vault_key, url):
        return {'key_type': 'Customer-managed (BYOK, Azure Key Vault)', 'spki_sha256': vault_key['spki_sha256'],
                'friendly_name': vault_key['name'], 'hsm_label': vault_key['hsm_label'], 'source': 'keyvault',
                'key_vault_key_url': url}

    def use_keyvault_key(self, url, active):
        """Use-AipServiceKeyVaultKey -KeyVaultKeyUrl (and, with ``active``, Set-AipServiceKeyProperties -Active).

        Returns {'created', 'changed', 'key', 'warnings'}; a key the tenant already holds (by its fingerprint, whatever
        the URL it came by) is not added again.
        """
        vault_key, warnings = self.vault_key_for_rms(url)
        activated = False
        with self.changing():
            row, created = self.service.store.add_key(self.tenant_id, self._keyvault_key_row(vault_key, url), active)
            if active and row['status'] != 'Active':
                row, activated = self.service.store.activate(self.tenant_id, row['key_identifier'])
        return {'created': created, 'changed': created or activated, 'key': row, 'warnings': warnings}

    def sign_with(self, hsm_label, data):
        """RSA-PSS/SHA-256 signature by a key of the tenant, and its public key (PEM)."""
        with self.session() as s:
            handle = s.find_one(hsm_label, 'CKO_PRIVATE_KEY')
            if handle is None:
                raise ByokError('the tenant token has no key %s' % hsm_label)
            signature = s.sign('signing the possession challenge', handle, data, pss_sha256())
            desc = describe_key(s, hsm_label)
        return signature, desc['public_key_pem'], desc['spki_sha256']


def imported_private_template(label):
    """An imported tenant key: usable by the tenant, never extractable again."""
    return [('CKA_CLASS', 'CKO_PRIVATE_KEY'), ('CKA_KEY_TYPE', 'CKK_RSA'), ('CKA_TOKEN', True), ('CKA_PRIVATE', True),
            ('CKA_LABEL', label), ('CKA_ID', label.encode('ascii')), ('CKA_SENSITIVE', True),
            ('CKA_EXTRACTABLE', False), ('CKA_SIGN', True), ('CKA_DECRYPT', True), ('CKA_UNWRAP', False),
            ('CKA_DERIVE', False), ('CKA_DESTROYABLE', False)]


def import_software_key(session, label, components):
    """A software-protected TPD's key (its CKA_* values), into the tenant's token: sensitive and never extractable."""
    pairs = [(name, _int_bytes(value)) for name, value in components.items()]
    session.create('importing the TPD key %s' % label, [
        ('CKA_CLASS', constant('CKO_PRIVATE_KEY')), ('CKA_KEY_TYPE', constant('CKK_RSA')), ('CKA_TOKEN', True),
        ('CKA_PRIVATE', True), ('CKA_LABEL', label), ('CKA_ID', label.encode('ascii')), ('CKA_SENSITIVE', True),
        ('CKA_EXTRACTABLE', False), ('CKA_SIGN', True), ('CKA_DECRYPT', True), ('CKA_UNWRAP', False),
        ('CKA_DERIVE', False), ('CKA_DESTROYABLE', False)] + pairs)


def _int_bytes(value):
    return value.to_bytes((value.bit_length() + 7) // 8, 'big')


def _write_conf(folder):
    write_private_file(os.path.join(folder, 'softhsm2.conf'),
                       'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n'
                       % os.path.join(folder, 'tokens'))


def init(data_dir, tenant_id=None, pkcs11_module=None, regions=_kek.REGIONS, admin_user=None, admin_password=None,
         server_names=()):
    """Create a service with its first tenant in ``data_dir`` (absent or empty); returns the tenant's info,
    with the administrator's password shown this once."""
    data_dir = os.path.abspath(data_dir)
    if os.path.exists(data_dir) and (not os.path.isdir(data_dir) or os.listdir(data_dir)):
        raise ByokError('%s already exists and is not empty; byok-tenant init never overwrites a tenant: choose a new '
                        'folder' % data_dir)
    tenant_id = _byok.check_tenant_id(tenant_id) if tenant_id else str(uuid.uuid4())
    partial = data_dir + '.partial'
    if os.path.exists(partial):
        shutil.rmtree(partial)
    ensure_private_dir(os.path.join(partial, 'tokens'))
    _write_conf(partial)
    names = list(server_names) or []
    for default in ('localhost', '127.0.0.1', socket.gethostname()):
        if default not in names:
            names.append(default)
    pki.make_pki(os.path.join(partial, 'tls'), names)
    Store(os.path.join(partial, 'tenant.db'))
    info = add_tenant(Service(partial, pkcs11_module), tenant_id, regions, admin_user, admin_password)
    if os.path.isdir(data_dir):
        os.rmdir(data_dir)
    os.rename(partial, data_dir)
    _write_conf(data_dir)
    info.update(data_dir=data_dir, ca_path=os.path.join(data_dir, 'tls', pki.CA_NAME))
    return info


def add_tenant(service, tenant_id=None, regions=_kek.REGIONS, admin_user=None, admin_password=None):
    """A new tenant in a service: its token, keys, toolset, first (Microsoft-managed) key and administrator."""
    tenant_id = _byok.check_tenant_id(tenant_id) if tenant_id else str(uuid.uuid4())
    if tenant_id in service.tenant_ids():
        raise ByokError('tenant %s already exists in %s' % (tenant_id, service.dir))
    admin_user = admin_user or 'admin@%s' % tenant_id
    if service.store.admin(admin_user):
        raise ByokError('administrator %s already exists; choose another --admin-user' % admin_user)
    admin_password = admin_password or secrets.token_urlsafe(18)
    folder = os.path.join(service.dir, 'tenants', tenant_id)
    # the token is named by the whole tenant ID (32 hex digits, the most a label holds)
    label = tenant_id.replace('-', '')
    with service_hsm(service.conf, service.pkcs11_module) as hsm:
        slot, so_pin = _tenant_slot(hsm, service, folder, label)
        ensure_private_dir(folder)
        creds = {'so_pin': so_pin, 'user_pin': secrets.token_urlsafe(24)}
        write_private_json(os.path.join(folder, 'credentials.json'), creds)
        created = now()
        token = hsm.init_token(slot, label, creds['so_pin'])
        with hsm.session(label, login=SO, pin=creds['so_pin'], who="the tenant's SO PIN") as s:
            s.init_user_pin(creds['user_pin'])
        with hsm.session(label, login=USER, pin=creds['user_pin'], rw=True, who="the tenant's user PIN") as s:
            root = generate_rsa_pair(s, ROOT_LABEL, SIGNING_SIZE, 65537, SIGNING_PRIVATE, SIGNING_PUBLIC)
            att = generate_rsa_pair(s, ATTESTATION_LABEL, SIGNING_SIZE, 65537, SIGNING_PRIVATE, SIGNING_PUBLIC)
            keks = dict((region, generate_rsa_pair(s, kek_label(region), KEK_SIZE, 65537, KEK_PRIVATE, KEK_PUBLIC))
                        for region in regions)
            microsoft = generate_rsa_pair(s, MICROSOFT_LABEL, 2048, 65537, TENANT_KEY_PRIVATE, TENANT_KEY_PUBLIC)
            root_der = spki_der_from_pem(root['public_key_pem'])
            att_der = spki_der_from_pem(att['public_key_pem'])
            root_hash = sha256_hex(root_der)
            world_hash = sha256_hex(canonical_json({'format': 'keyceremony.byok/cloud-world/1', 'tenant_id': tenant_id,
                                                    'token_serial': token.serial, 'root_hash': root_hash}))
            sign_att = _signer(s, ATTESTATION_LABEL)
            attestation = _kek.attestation_certificate(_signer(s, ROOT_LABEL), att_der, created)
            record_keks = {}
            for region, desc in keks.items():
                kek_der = spki_der_from_pem(desc['public_key_pem'])
                attrs = dict((name, desc['attributes'][name]) for name in KEK_ATTRIBUTES)
                kek_pkg = _kek.build_kek_package(region, kek_der, attrs, world_hash, attestation, sign_att, root_der,
                                                 created)
                world_pkg = _kek.build_world_package(region, world_hash, 'SoftHSM2 (rehearsal tenant %s)' % tenant_id,
                                                     attestation, sign_att, root_der, created)
                region_dir = os.path.join(folder, 'toolset', region)
                ensure_private_dir(region_dir)
                kek_name, world_name = toolset_names(region)
                write_private_file(os.path.join(region_dir, kek_name), _byok.serialize(kek_pkg))
                write_private_file(os.path.join(region_dir, world_name), _byok.serialize(world_pkg))
                record_keks[region] = {'kid': kek_pkg['kek']['kid'], 'label': kek_label(region),
                                       'spki_sha256': sha256_hex(kek_der), 'size': desc['size']}
    write_private_json(os.path.join(folder, 'tenant.json'), {
        'format': TENANT_FORMAT, 'tenant_id': tenant_id, 'token_label': label, 'token_serial': token.serial,
        'root_hash': root_hash, 'attestation_key_spki_sha256': sha256_hex(att_der), 'world_hash': world_hash,
        'keks': record_keks, 'created': created})
    # the database row comes last: a tenant is served only once its folder and token are whole
    service.store.add_tenant(tenant_id, admin_user, hash_password(admin_password, secrets.token_bytes(16)), {
        'key_type': 'Microsoft-managed', 'spki_sha256': microsoft['spki_sha256'], 'friendly_name': None,
        'hsm_label': MICROSOFT_LABEL, 'source': 'microsoft'})
    from ansible_collections.keyceremony.byok.tenant.keyvault import new_app
    client_id, client_secret = new_app(service.store, tenant_id)
    info = Tenant(service, tenant_id).info()
    info.update(admin_user=admin_user, admin_password=admin_password, client_id=client_id, client_secret=client_secret)
    return info


def _tenant_slot(hsm, service, folder, label):
    """(slot, SO PIN) for a new tenant's token: a free slot and a fresh PIN, or the token an interrupted
    add-tenant left behind (its folder holds the SO PIN), which is initialised again from empty."""
    left = hsm.find_token(label, required=False)
    if left is None:
        return hsm.free_slot(), secrets.token_urlsafe(24)
    creds_path = os.path.join(folder, 'credentials.json')
    if not os.path.isfile(creds_path):
        raise ByokError('the service\'s HSM already holds a token labelled %s (serial %s) that belongs to no tenant '
                        'folder: remove it from %s/tokens, or choose another tenant ID' % (label, left.serial, service.dir))
    # never served (the database has no row for it): nothing on it is anybody's key yet
    return left.slot, read_json(creds_path, 'tenant credentials')['so_pin']


def _signer(session, label):
    handle = session.find_one(label, 'CKO_PRIVATE_KEY')
    return lambda data: session.sign('signing with %s' % label, handle, data, pss_sha256())
