# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The rehearsal's Azure Key Vault: Key Vault's data plane and Azure AD's client-credentials token
endpoint, spoken closely enough that Azure's own client libraries (azure-keyvault-keys,
azure-identity) work against it unmodified.

One vault per tenant: the bearer token selects it, and a token of tenant A never sees tenant B's
keys. Keys live in the tenant's SoftHSM2 token: a KEK (``key_ops`` exactly ``import``) is generated
inside and can only unwrap; an imported key is unwrapped inside with the KEK its ``.byok`` names,
proved (pairwise-consistency signature), and is never extractable. Versions, operations and
attributes are in the service's SQLite database. Errors have Key Vault's shape,
``{"error": {"code": ..., "message": ...}}``; the token endpoint's have Azure AD's,
``{"error": ..., "error_description": ...}``.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import re
import secrets
import time
import uuid
from urllib.parse import parse_qs

from ansible_collections.keyceremony.byok.plugins.module_utils import _byok, _keyvault
from ansible_collections.keyceremony.byok.plugins.module_utils._crypto import hash_password, rsa_public_numbers, verify_password
from ansible_collections.keyceremony.byok.plugins.module_utils._errors import ByokError
from ansible_collections.keyceremony.byok.plugins.module_utils._keys import generate_rsa_pair
from ansible_collections.keyceremony.byok.tenant.store import well_formed_token

TOKEN_TTL = 3600
AUDIENCES = {_keyvault.VAULT_SCOPE: 'vault', _keyvault.MANAGED_HSM_SCOPE: 'managedhsm'}
# A secret checked for an unknown client (and by Connect for an unknown user) too, so that the answer takes as long
# as for a known one; made once, when the service starts.
_DUMMY = {}


def dummy_hash():
    if 'hash' not in _DUMMY:
        _DUMMY['hash'] = hash_password('not a secret of anybody', b'\0' * 16)
    return _DUMMY['hash']


# Key Vault's key operations -> the PKCS#11 usage they need on the private key.
OP_ATTRIBUTES = {'sign': 'CKA_SIGN', 'decrypt': 'CKA_DECRYPT', 'unwrapKey': 'CKA_UNWRAP'}
RSA_KTYS = ('RSA', 'RSA-HSM')
SIZES = (2048, 3072, 4096)


class VaultError(ByokError):
    """A refusal with Key Vault's status and error code."""

    def __init__(self, status, code, message):
        super(VaultError, self).__init__(message)
        self.status = status
        self.code = code


def bad(message):
    return VaultError(400, 'BadParameter', message)


def check_api_version(value):
    """Key Vault's api-version: 7.4 and newer, or a dated version from 2025 on (what the SDK sends)."""
    if not value:
        raise VaultError(400, 'MissingApiVersionParameter', 'The api-version query parameter (?api-version=) is '
                                                            'required for all requests')
    m = re.match(r'^7\.(\d+)(-preview)?$', value)
    dated = re.match(r'^(\d{4})-\d{2}-\d{2}(-preview)?$', value)
    if not ((m and int(m.group(1)) >= 4) or (dated and int(dated.group(1)) >= 2025)):
        raise bad('The specified version (%s) is not recognized. Consider using the latest supported version '
                  '(%s); the rehearsal serves 7.4 and newer' % (value, _keyvault.API_VERSION))
    return value


# ---------------------------------------------------------------- Azure AD: client credentials

def new_app(store, tenant_id):
    """A client (application) of the tenant's vault; returns (client_id, client_secret), the secret shown once."""
    client_id = str(uuid.uuid4())
    secret = secrets.token_urlsafe(30)
    store.add_app(client_id, tenant_id, hash_password(secret, secrets.token_bytes(16)))
    return client_id, secret


MAX_SECRET = 1024  # bytes of a client secret (ours are 40 characters): a longer one is refused before any hash


def token_error(status, error, description):
    """(status, JSON) of a refusal, as Azure AD answers."""
    return status, {'error': error, 'error_description': description,
                    'error_codes': [], 'timestamp': time.strftime('%Y-%m-%d %H:%M:%SZ', time.gmtime())}


def token_request(body):
    """POST /{tenant}/oauth2/v2.0/token, read: (form, None) or (None, the refusal to send). Costs no hash."""
    try:
        form = dict((k, v[0]) for k, v in parse_qs(body.decode('utf-8', 'replace'), keep_blank_values=True,
                                                   max_num_fields=32).items())
    except ValueError:
        return None, token_error(400, 'invalid_request', 'The token request must be a form of at most 32 fields.')
    if form.get('grant_type') != 'client_credentials':
        return None, token_error(400, 'unsupported_grant_type', 'The rehearsal authority grants client_credentials only.')
    scope = form.get('scope', '')
    if scope not in AUDIENCES:
        return None, token_error(400, 'invalid_scope', 'The scope %r is not valid here: ask for %s (or %s for a Managed '
                                 'HSM).' % (scope[:128], _keyvault.VAULT_SCOPE, _keyvault.MANAGED_HSM_SCOPE))
    if len(form.get('client_secret', '').encode('utf-8')) > MAX_SECRET:
        return None, token_error(400, 'invalid_request', 'The client_secret is longer than %d bytes: send the secret '
                                 'the application was given.' % MAX_SECRET)
    return form, None


def issue_token(store, tenant_id, form):
    """A token for a form token_request accepted: (status, JSON) as Azure AD answers. One password hash, whether
    the client is known or not, so that an unknown client costs (and takes) what a known one does."""
    client_id, secret = form.get('client_id', ''), form.get('client_secret', '')
    app = store.app(client_id) if client_id else None
    good = verify_password(secret, app['secret_hash'] if app else dummy_hash()) and app is not None
    if not good:
        return token_error(401, 'invalid_client', 'Invalid client secret provided, or the client %r is not known to '
                                                  'this authority.' % client_id[:64])
    if app['tenant_id'] != tenant_id:
        return token_error(400, 'unauthorized_client', 'The application %s was not found in the directory %s.'
                           % (client_id, tenant_id[:64]))
    token = secrets.token_urlsafe(32)
    expires = int(time.time()) + TOKEN_TTL
    store.add_access_token(token, client_id, tenant_id, AUDIENCES[form['scope']], expires)
    return 200, {'token_type': 'Bearer', 'expires_in': TOKEN_TTL, 'ext_expires_in': TOKEN_TTL, 'access_token': token}


def openid_configuration(base, tenant_id):
    """What MSAL reads to find the token endpoint of an authority it does not know."""
    root = '%s/%s' % (base, tenant_id)
    return {
        'issuer': root + '/v2.0',
        'token_endpoint': root + '/oauth2/v2.0/token',
        'authorization_endpoint': root + '/oauth2/v2.0/authorize',
        'device_authorization_endpoint': root + '/oauth2/v2.0/devicecode',
        'jwks_uri': root + '/discovery/v2.0/keys',
        'response_types_supported': ['code', 'id_token', 'code id_token', 'id_token token'],
        'token_endpoint_auth_methods_supported': ['client_secret_post'],
        'grant_types_supported': ['client_credentials'],
        'tenant_region_scope': None,
    }


def tenant_of_token(store, authorization):
    """The tenant a bearer token of the vault audience belongs to, or None."""
    if not authorization or not authorization.startswith('Bearer '):
        return None
    token = authorization[7:].strip()
    row = store.access_token(token) if well_formed_token(token) else None
    if row is None or row['audience'] != 'vault' or row['expires'] <= int(time.time()):
        return None
    return row['tenant_id']


# ---------------------------------------------------------------- the vault of one tenant

def _key_label(name, version):
    return 'kv-%s-%s' % (name, version)


def bundle(origin, row):
    """A key bundle as Key Vault returns it."""
    out = {
        'key': {'kid': '%s/keys/%s/%s' % (origin, row['name'], row['version']), 'kty': row['kty'],
                'key_ops': json.loads(row['key_ops']), 'n': row['n'], 'e': row['e']},
        'attributes': {'enabled': bool(row['enabled']), 'created': row['created'], 'updated': row['updated'],
                       'recoveryLevel': 'Recoverable+Purgeable', 'recoverableDays': 90, 'exportable': False},
    }
    tags = json.loads(row['tags'])
    if tags:
        out['tags'] = tags
    return out


def item(origin, row, versioned=False):
    """A key item of a list: kid without (or with) its version, attributes, tags; no key material."""
    b = bundle(origin, row)
    kid = b['key']['kid'] if versioned else '%s/keys/%s' % (origin, row['name'])
    out = {'kid': kid, 'attributes': b['attributes']}
    if 'tags' in b:
        out['tags'] = b['tags']
    return out


def _check_ops(ops, default):
    if ops is None:
        return list(default)
    if not isinstance(ops, list) or not all(isinstance(o, str) for o in ops):
        raise bad('key_ops must be a list of operations')
    unknown = sorted(set(ops) - set(_keyvault.KEY_OPS))
    if unknown:
        raise bad('Invalid key operation(s): %s' % ', '.join(unknown))
    if 'import' in ops and len(set(ops)) != 1:
        raise bad('A key with the import operation (a Key Exchange Key) cannot have any other operation: %s'
                  % ', '.join(sorted(set(ops))))
    return sorted(set(ops))


def _attributes(body):
    attrs = body.get('attributes') or {}
    if not isinstance(attrs, dict):
        raise bad('attributes must be an object')
    if attrs.get('exportable'):
        raise bad('The rehearsal vault does not make exportable keys (a release policy is out of its scope)')
    tags = body.get('tags') or {}
    if not isinstance(tags, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in tags.items()) \
            or len(tags) > 15:
        raise bad('tags must be an object of at most 15 string values')
    return attrs.get('enabled', True) is not False, tags


def _private_template(label, ops):
    usage = [(cka, op in ops) for op, cka in sorted(OP_ATTRIBUTES.items())]
    return [('CKA_CLASS', 'CKO_PRIVATE_KEY'), ('CKA_KEY_TYPE', 'CKK_RSA'), ('CKA_TOKEN', True), ('CKA_PRIVATE', True),
            ('CKA_LABEL', label), ('CKA_ID', label.encode('ascii')), ('CKA_SENSITIVE', True),
            ('CKA_EXTRACTABLE', False), ('CKA_DERIVE', False), ('CKA_DESTROYABLE', False)] + usage


class Vault(object):
    """The Key Vault of one tenant of the service; ``origin`` is the https origin clients reach it at."""

    def __init__(self, tenant, origin):
        self.tenant = tenant
        self.store = tenant.service.store
        self.origin = origin

    def _row(self, name, version, spki_sha256, n, e, kty, ops, label, enabled, tags):
        now = int(time.time())
        row = {'tenant_id': self.tenant.tenant_id, 'name': name, 'version': version, 'kty': kty,
               'key_ops': json.dumps(ops), 'n': _keyvault.uint_b64url(n), 'e': _keyvault.uint_b64url(e),
               'spki_sha256': spki_sha256, 'hsm_label': label, 'enabled': int(enabled), 'created': now, 'updated': now,
               'tags': json.dumps(tags, sort_keys=True)}
        self.store.add_vault_key(row)
        return row

    def create(self, name, body):
        """POST /keys/{name}/create: a new key (or a new version), generated inside the tenant's token."""
        self._name(name)
        kty = body.get('kty')
        if kty not in RSA_KTYS:
            raise bad('The rehearsal vault creates RSA and RSA-HSM keys; kty %r is not one of them' % (kty,))
        size = body.get('key_size') or 2048
        if size not in SIZES:
            raise bad('key_size %r is not supported: 2048, 3072 or 4096' % (size,))
        if body.get('public_exponent') not in (None, 65537):
            raise bad('public_exponent must be 65537')
        ops = _check_ops(body.get('key_ops'), ('encrypt', 'decrypt', 'sign', 'verify', 'wrapKey', 'unwrapKey'))
        enabled, tags = _attributes(body)
        version = uuid.uuid4().hex
        label = _key_label(name, version)
        private = [(cka, op in ops) for op, cka in sorted(OP_ATTRIBUTES.items())]
        if ops == ['import']:
            private = [('CKA_UNWRAP', True), ('CKA_SIGN', False), ('CKA_DECRYPT', False)]
        private += [('CKA_EXTRACTABLE', False), ('CKA_DERIVE', False), ('CKA_DESTROYABLE', False)]
        public = [('CKA_VERIFY', 'verify' in ops), ('CKA_ENCRYPT', 'encrypt' in ops), ('CKA_WRAP', 'wrapKey' in ops)]
        with self.tenant.changing():
            with self.tenant.session(rw=True) as s:
                desc = generate_rsa_pair(s, label, size, 65537, private, public,
                                         action='generating Key Vault key %s (RSA %d)' % (name, size))
                n, e = s.rsa_public_numbers(s.find_one(label, 'CKO_PRIVATE_KEY'))
            row = self._row(name, version, desc['spki_sha256'], n, e, kty, ops, label, enabled, tags)
        return bundle(self.origin, row)

    def get(self, name, version=None):
        row = self.store.vault_key(self.tenant.tenant_id, name, version)
        if row is None:
            raise VaultError(404, 'KeyNotFound', 'A key with (name/id) %s%s was not found in this key vault. If you '
                             'recently deleted this key you may be able to recover it using the correct recovery '
                             'command.' % (name, '/' + version if version else ''))
        return row

    def update(self, name, version, body):
        """PATCH /keys/{name}/{version}: enable or disable a key version, or change its tags."""
        row = self.get(name, version)
        attrs = body.get('attributes') or {}
        if not isinstance(attrs, dict) or (set(attrs) - {'enabled'}) or body.get('key_ops') is not None:
            raise bad('The rehearsal vault updates a key version\'s attributes.enabled and tags only')
        if attrs.get('enabled') is not None and not isinstance(attrs['enabled'], bool):
            raise bad('attributes.enabled must be true or false')
        enabled = row['enabled'] if attrs.get('enabled') is None else attrs['enabled']
        tags = json.loads(row['tags'])
        if body.get('tags') is not None:
            _enabled, tags = _attributes({'tags': body['tags']})
        self.store.update_vault_key(self.tenant.tenant_id, name, version, enabled, json.dumps(tags, sort_keys=True),
                                    int(time.time()))
        return bundle(self.origin, self.get(name, version))

    def list(self, name=None):
        if name is not None:
            rows = self.store.vault_keys(self.tenant.tenant_id, name)
            if not rows:
                self.get(name)
            return {'value': [item(self.origin, r, versioned=True) for r in rows], 'nextLink': None}
        return {'value': [item(self.origin, r) for r in self.store.vault_keys(self.tenant.tenant_id)], 'nextLink': None}

    def import_key(self, name, body):
        """PUT /keys/{name}: a BYOK import (``key_hsm``), unwrapped inside with the KEK its header names."""
        self._name(name)
        jwk = body.get('key')
        if not isinstance(jwk, dict):
            raise bad('The request has no key (a JSON Web Key)')
        if 'key_hsm' not in jwk:
            raise bad('The rehearsal vault imports keys only as BYOK (key_hsm, an HSM-protected key transferred with '
                      'a .byok file); a key in plain JWK form (d, p, q, ...) is not accepted')
        if jwk.get('kty') != 'RSA-HSM':
            raise bad('A key_hsm import must have kty RSA-HSM, not %r' % (jwk.get('kty'),))
        ops = _check_ops(jwk.get('key_ops'), ('encrypt', 'decrypt', 'sign', 'verify', 'wrapKey', 'unwrapKey'))
        if 'import' in ops:
            raise bad('An imported key cannot have the import operation')
        enabled, tags = _attributes(body)
        try:
            data = _keyvault.unb64url(jwk['key_hsm'], 'key_hsm')
            doc, ciphertext = _keyvault.parse_byok(data)
            origin, kek_name, kek_version = _keyvault.parse_kid(doc['header']['kid'], what='the .byok header kid')
        except ByokError as e:
            raise bad('key_hsm is not a BYOK transfer blob: %s' % e)
        if origin.lower() != self.origin.lower():
            raise bad('The .byok file names KEK %s of another vault; this vault is %s' % (doc['header']['kid'], self.origin))
        kek = self.store.vault_key(self.tenant.tenant_id, kek_name, kek_version)
        if kek is None:
            raise bad('The .byok file names KEK %s, which this vault does not hold' % doc['header']['kid'])
        if json.loads(kek['key_ops']) != ['import']:
            raise bad('Key %s is not a Key Exchange Key: its key_ops are %s, not exactly [import]'
                      % (doc['header']['kid'], ', '.join(json.loads(kek['key_ops']))))
        if not kek['enabled']:
            raise bad('The KEK %s is disabled' % doc['header']['kid'])
        kek_size = int.from_bytes(_keyvault.unb64url(kek['n'], 'KEK n'), 'big').bit_length()
        version = uuid.uuid4().hex
        label = _key_label(name, version)
        with self.tenant.changing():
            with self.tenant.session(rw=True) as s:
                kek_private = s.find_one(kek['hsm_label'], 'CKO_PRIVATE_KEY')
                if kek_private is None:
                    raise VaultError(500, 'InternalError', 'KEK %s is missing from the tenant token' % kek_name)
                try:
                    handle, spki, imported = _byok.unwrap_checked(
                        s, kek_private, doc['header']['kid'], ciphertext, (kek_size + 7) // 8,
                        _byok.resolve(_private_template(label, ops)), check=_importable, error=VaultBadParameter)
                except VaultBadParameter as e:
                    raise bad('The .byok file was refused: %s. Nothing was stored' % e)
                n, e = s.rsa_public_numbers(handle)
            row = self._row(name, version, spki, n, e, 'RSA-HSM', ops, label, enabled, tags)
        return bundle(self.origin, row)

    @staticmethod
    def _name(name):
        if not _keyvault.NAME_RE.match(name or ''):
            raise bad('The key name %r is not valid: 1 to 127 letters, digits and dashes' % (name,))


class VaultBadParameter(ByokError):
    """A .byok file that does not open, does not prove its key, or is damaged."""


def _importable(spki_der, spki_sha256):
    """The key a .byok file holds, checked before it is stored: a size Key Vault imports."""
    size = rsa_public_numbers(spki_der)[0].bit_length()
    if size not in SIZES:
        raise VaultBadParameter('the transferred key is RSA %d; Key Vault imports RSA 2048, 3072 or 4096' % size)
