# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Azure Key Vault BYOK: the ``.byok`` file, the Key Exchange Key (KEK), key identifiers, and the
REST client with Azure AD client credentials. Both ends use this file: the offline workstation
(KEK check, ``.byok`` writer), the online workstation's modules (client, ``.byok`` reader) and the
rehearsal's Key Vault (``.byok`` reader, KEK and key bundles).

The ``.byok`` file is Azure's "BYOK specification" exactly, and nothing else:

    {"schema_version": "1.0.0",
     "header": {"kid": <the KEK's versioned key identifier>, "alg": "dir", "enc": "CKM_RSA_AES_KEY_WRAP"},
     "ciphertext": <base64url of RSA-OAEP-SHA1(aes key) || AES-KWP(PKCS#8 private key)>,
     "generator": <tool and version; source HSM>}

It carries no binding of ours: Key Vault binds the key to the KEK (only the vault holding the KEK's
private half can open it), and the offline side pins the KEK by its fingerprint, read aloud.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import json
import re
import ssl

from urllib.error import HTTPError, URLError
from urllib.parse import quote, urlencode, urlsplit

from ansible_collections.keyceremony.byok.plugins.module_utils import _crypto
from ansible_collections.keyceremony.byok.plugins.module_utils._byok import b64url
from ansible_collections.keyceremony.byok.plugins.module_utils._errors import ByokError
from ansible_collections.keyceremony.byok.plugins.module_utils._kek import group_hash as group
from ansible_collections.keyceremony.byok.plugins.module_utils._files import sha256_hex

SCHEMA_VERSION = '1.0.0'
ENC = 'CKM_RSA_AES_KEY_WRAP'
BYOK_FIELDS = ('schema_version', 'header', 'ciphertext', 'generator')
API_VERSION = '7.4'
VAULT_SCOPE = 'https://vault.azure.net/.default'
MANAGED_HSM_SCOPE = 'https://managedhsm.azure.net/.default'
DEFAULT_AUTHORITY = 'https://login.microsoftonline.com'
KEK_SIZES = (2048, 3072, 4096)
KEK_OPS = ['import']
# What the RMS service needs of a key it is pointed at (Use-AipServiceKeyVaultKey).
RMS_KEY_OPS = ['decrypt', 'encrypt', 'sign', 'unwrapKey', 'verify', 'wrapKey']
RMS_REQUIRED_OPS = ('decrypt', 'sign', 'unwrapKey', 'wrapKey')
KEY_OPS = ('encrypt', 'decrypt', 'sign', 'verify', 'wrapKey', 'unwrapKey', 'import', 'export')
NAME_RE = re.compile(r'^[0-9A-Za-z-]{1,127}\Z')
TOKEN_RE = re.compile(r'^[A-Za-z0-9._~+/=-]{16,16384}\Z')
KID_RE = re.compile(r'^(https://[^/?#\s]+)/keys/([0-9A-Za-z-]{1,127})(?:/([0-9a-f]{32}))?\Z')


class KeyVaultFormatError(ByokError):
    """A ``.byok`` file, a KEK file or a key identifier is not what Key Vault defines."""


class KekCheckError(ByokError):
    """The KEK failed one or more named checks."""

    def __init__(self, failed):
        super(KekCheckError, self).__init__('the Key Vault KEK is refused: %s' % '; '.join(
            'check "%s" failed: %s' % item for item in failed))
        self.checks = [name for name, _why in failed]


def unb64url(text, what):
    if not isinstance(text, str) or not re.match(r'^[A-Za-z0-9_-]*={0,2}\Z', text):
        raise KeyVaultFormatError('%s is not base64url' % what)
    try:
        return base64.urlsafe_b64decode((text.rstrip('=') + '=' * (-len(text.rstrip('=')) % 4)).encode('ascii'))
    except (ValueError, TypeError):
        raise KeyVaultFormatError('%s is not base64url' % what)


def uint_b64url(value):
    return b64url(value.to_bytes((value.bit_length() + 7) // 8, 'big'))


# ---------------------------------------------------------------- key identifiers

def parse_kid(kid, versioned=True, what='key identifier'):
    """'https://<vault>/keys/<name>/<version>' -> (vault origin, name, version or None)."""
    m = KID_RE.match(kid or '') if isinstance(kid, str) else None
    if not m or (versioned and not m.group(3)):
        raise KeyVaultFormatError('%s %r is not a %sKey Vault key URL (https://<vault>/keys/<name>/<32 hex digits '
                                  'version>)' % (what, kid, 'versioned ' if versioned else ''))
    return m.group(1), m.group(2), m.group(3)


def check_key_name(name):
    if not NAME_RE.match(name or ''):
        raise KeyVaultFormatError('Key Vault key name %r must be 1 to 127 letters, digits and "-"' % (name,))
    return name


def check_vault_url(url):
    """The vault's origin, https only, without a path: Key Vault key identifiers have none."""
    parts = urlsplit(url or '')
    if parts.scheme != 'https' or not parts.netloc or parts.path not in ('', '/') or parts.query or parts.fragment:
        raise KeyVaultFormatError('vault_url %r must be the vault\'s https:// origin without a path, for example '
                                  'https://contoso-byok.vault.azure.net' % (url,))
    return 'https://' + parts.netloc.lower()


def default_scope(vault_url):
    host = urlsplit(vault_url).hostname or ''
    return MANAGED_HSM_SCOPE if host.endswith('.managedhsm.azure.net') else VAULT_SCOPE


# ---------------------------------------------------------------- keys (JWK and key bundles)

def jwk_of(doc):
    """The JWK of a key bundle (what ``GET key`` returns and ``az keyvault key show`` prints) or a bare JWK."""
    if isinstance(doc, dict) and isinstance(doc.get('key'), dict):
        return doc['key']
    if isinstance(doc, dict) and 'kty' in doc:
        return doc
    raise KeyVaultFormatError('the file is neither a Key Vault key bundle ({"key": {...}}) nor a JWK ({"kty": ...})')


def rsa_numbers(jwk, what='the key'):
    """(modulus, exponent) of an RSA JWK."""
    if not isinstance(jwk.get('n'), str) or not isinstance(jwk.get('e'), str):
        raise KeyVaultFormatError('%s has no RSA public key (n and e)' % what)
    n = int.from_bytes(unb64url(jwk['n'], '%s n' % what), 'big')
    e = int.from_bytes(unb64url(jwk['e'], '%s e' % what), 'big')
    if n < 2 ** 512 or e < 3 or n % 2 == 0 or e % 2 == 0:
        raise KeyVaultFormatError('%s has no usable RSA public key (its modulus or exponent is too small or even)' % what)
    return n, e


def spki_sha256_of(modulus, exponent):
    return sha256_hex(_crypto.spki_der(modulus, exponent))


def describe_bundle(bundle):
    """What the modules report of a key bundle: kid, kty, key_ops, size, spki_sha256, enabled."""
    jwk = jwk_of(bundle)
    n, e = rsa_numbers(jwk, 'key %s' % jwk.get('kid'))
    return {'kid': jwk.get('kid'), 'kty': jwk.get('kty'), 'key_ops': list(jwk.get('key_ops') or []),
            'size': n.bit_length(), 'public_exponent': e, 'spki_sha256': spki_sha256_of(n, e),
            'enabled': (bundle.get('attributes') or {}).get('enabled') if isinstance(bundle, dict) else None}


# ---------------------------------------------------------------- the KEK (offline check)

def check_kek(doc, pinned):
    """Every check of a Key Vault KEK, all reported at once; returns what the world may trust.

    There is no attestation chain for a Key Vault KEK: the fingerprint the online workstation
    showed, compared out of band, is the trust anchor.
    """
    pin = _crypto.normalize_sha256(pinned, 'kek_spki_sha256')
    jwk = jwk_of(doc)
    failed = []
    kty = jwk.get('kty')
    if kty != 'RSA-HSM':
        failed.append(('kty RSA-HSM', 'kty is %r; %s' % (kty, 'a plain RSA key is a software key, which Key Vault '
                                                              'keeps outside its HSMs' if kty == 'RSA' else
                                                              'a KEK must be an RSA-HSM key')))
    ops = jwk.get('key_ops')
    if not isinstance(ops, list) or sorted(ops) != KEK_OPS:
        failed.append(('key_ops exactly import', 'key_ops is %r; a KEK must permit import and nothing else' % (ops,)))
    try:
        modulus, exponent = rsa_numbers(jwk, 'the KEK')
    except KeyVaultFormatError as e:
        failed.append(('RSA public key', str(e)))
        raise KekCheckError(failed)
    size = modulus.bit_length()
    if size not in KEK_SIZES:
        failed.append(('size 2048-4096', 'the KEK is %d bits; Key Vault KEKs are 2048, 3072 or 4096' % size))
    if exponent != 65537:
        failed.append(('public exponent 65537', 'the public exponent is %d' % exponent))
    kid = jwk.get('kid')
    try:
        parse_kid(kid, what='kid')
    except KeyVaultFormatError as e:
        failed.append(('versioned key URL', str(e)))
    fingerprint = spki_sha256_of(modulus, exponent)
    if fingerprint != pin:
        failed.append(('fingerprint', 'the KEK\'s fingerprint is %s, not the pinned %s: this is not the KEK the online '
                                      'workstation showed' % (group(fingerprint), group(pin))))
    if failed:
        raise KekCheckError(failed)
    return {'result': 'SUCCESS', 'kek_kid': kid, 'kek_size': size, 'kek_spki_sha256': fingerprint,
            'kek_modulus': modulus, 'kek_public_exponent': exponent}


def read_kek_file(path, pinned):
    try:
        with open(path, 'rb') as f:
            data = f.read()
    except IOError as e:
        raise ByokError('cannot read kek_file %s: %s' % (path, e.strerror))
    try:
        doc = json.loads(data.decode('utf-8'))
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise KeyVaultFormatError('kek_file %s is not JSON (the output of az keyvault key show, or the KEK file '
                                  'keyvault_kek wrote)' % path)
    return check_kek(doc, pinned)


# ---------------------------------------------------------------- the .byok file

def build_byok(kek_kid, ciphertext, generator):
    parse_kid(kek_kid, what='the KEK kid')
    return {'schema_version': SCHEMA_VERSION, 'header': {'kid': kek_kid, 'alg': 'dir', 'enc': ENC},
            'ciphertext': b64url(ciphertext), 'generator': generator}


def serialize(doc):
    return json.dumps(doc, indent=2).encode('utf-8') + b'\n'


def parse_byok(data):
    """Bytes -> (doc, ciphertext bytes); anything that is not exactly Azure's BYOK file is refused."""
    try:
        doc = json.loads(data.decode('utf-8-sig'))
    except (ValueError, UnicodeDecodeError, AttributeError, RecursionError):
        raise KeyVaultFormatError('the .byok file is not complete JSON (truncated or damaged)')
    if not isinstance(doc, dict):
        raise KeyVaultFormatError('the .byok file is not a JSON object')
    extra = sorted(set(doc) - set(BYOK_FIELDS))
    if extra:
        raise KeyVaultFormatError('the .byok file has fields Azure\'s BYOK specification does not define: %s (a '
                                  'transfer package of the rehearsal tenant is not a Key Vault .byok file)'
                                  % ', '.join(extra))
    if doc.get('schema_version') != SCHEMA_VERSION:
        raise KeyVaultFormatError('schema_version %r is not %s' % (doc.get('schema_version'), SCHEMA_VERSION))
    header = doc.get('header')
    if not isinstance(header, dict) or set(header) != set(('kid', 'alg', 'enc')) or header.get('alg') != 'dir' \
            or header.get('enc') != ENC:
        raise KeyVaultFormatError('the header must be exactly {"kid": ..., "alg": "dir", "enc": "%s"}' % ENC)
    parse_kid(header['kid'], what='header.kid')
    if not isinstance(doc.get('generator', ''), str):
        raise KeyVaultFormatError('generator must be text')
    ciphertext = unb64url(doc.get('ciphertext'), 'the ciphertext')
    if len(ciphertext) < 256 + 24:
        raise KeyVaultFormatError('the ciphertext is %d bytes, too short for a wrapped key' % len(ciphertext))
    return doc, ciphertext


# ---------------------------------------------------------------- the REST client

class KeyVaultError(ByokError):
    """Key Vault or the token endpoint refused a call, or could not be reached."""

    def __init__(self, msg, status=None, code=None):
        super(KeyVaultError, self).__init__(msg)
        self.status = status
        self.code = code


def _http(url, method, data, headers, ca_path, validate_certs, timeout, action, where):
    from ansible.module_utils.urls import open_url
    try:
        resp = open_url(url, data=data, method=method, headers=headers, validate_certs=validate_certs,
                        ca_path=ca_path, timeout=timeout, follow_redirects='none')
        return resp.getcode(), resp.read()
    except HTTPError as e:
        return e.code, e.read()
    except URLError as e:
        reason = getattr(e, 'reason', e)
        if isinstance(reason, ssl.SSLError) or 'CERTIFICATE_VERIFY_FAILED' in str(reason):
            raise KeyVaultError('TLS verification of %s failed (%s): its certificate is not issued by a CA in ca_path '
                                '%s (or the system\'s CAs when ca_path is not given)' % (where, reason, ca_path))
        raise KeyVaultError('cannot reach %s for %s: %s' % (where, action, reason))
    except ssl.SSLError as e:
        raise KeyVaultError('TLS with %s failed: %s; check ca_path %s' % (where, e, ca_path))
    except OSError as e:
        raise KeyVaultError('cannot reach %s for %s: %s' % (where, action, e))
    except ValueError as e:
        # its text can hold the request's headers, the bearer token among them: never shown
        raise KeyVaultError('cannot send %s to %s: the request was refused before it left (%s)'
                            % (action, where, type(e).__name__))


def bearer_token(token, source):
    """A bearer token as it may go in a header, or a refusal that never shows it."""
    token = (token or '').strip()
    if not TOKEN_RE.match(token):
        raise KeyVaultError('the access token %s is not a bearer token (empty, too long, or characters a token cannot '
                            'have); give the token alone, for example from az account get-access-token --query '
                            'accessToken -o tsv' % source)
    return token


def _json(raw):
    try:
        return json.loads(raw.decode('utf-8')) if raw else None
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None


def _error_of(body):
    """(code, message) of Key Vault's {"error": {"code", "message"}} or Azure AD's {"error", "error_description"}."""
    if isinstance(body, dict):
        err = body.get('error')
        if isinstance(err, dict):
            return err.get('code'), err.get('message')
        if isinstance(err, str):
            return err, (body.get('error_description') or '').split('\r\n')[0]
    return None, None


class KeyVaultClient(object):
    """Key Vault's data plane over HTTPS with a bearer token from Azure AD (client credentials) or given."""

    def __init__(self, vault_url, tenant=None, client_id=None, secret=None, authority=DEFAULT_AUTHORITY,
                 access_token=None, ca_path=None, validate_certs=True, timeout=60, scope=None):
        self.vault_url = check_vault_url(vault_url)
        self.tenant = tenant
        self.client_id = client_id
        self._secret = secret
        self.authority = (authority or DEFAULT_AUTHORITY).rstrip('/')
        self._token = bearer_token(access_token, 'given as access_token') if access_token else None
        self.ca_path = ca_path
        self.validate_certs = validate_certs
        self.timeout = timeout
        self.scope = scope or default_scope(self.vault_url)
        if not access_token and not (tenant and client_id and secret):
            raise KeyVaultError('give either access_token, or tenant, client_id and secret (an application\'s client '
                                'credentials) to reach Key Vault')
        if not self.authority.startswith('https://'):
            raise KeyVaultError('authority %r must be an https:// URL' % (authority,))

    def token(self):
        if self._token is None:
            url = '%s/%s/oauth2/v2.0/token' % (self.authority, quote(self.tenant, safe=''))
            data = urlencode({'grant_type': 'client_credentials', 'client_id': self.client_id,
                              'client_secret': self._secret, 'scope': self.scope})
            status, raw = _http(url, 'POST', data, {'Content-Type': 'application/x-www-form-urlencoded',
                                                    'Accept': 'application/json'},
                                self.ca_path, self.validate_certs, self.timeout, 'a token', self.authority)
            body = _json(raw)
            if status != 200 or not isinstance(body, dict) or not isinstance(body.get('access_token'), str):
                code, message = _error_of(body)
                why = message or code or 'no reason given'
                raise KeyVaultError('Azure AD (%s) refused a token for client %s in tenant %s: %s (HTTP %s); check '
                                    'tenant, client_id and secret' % (self.authority, self.client_id, self.tenant, why,
                                                                      status), status, code)
            self._token = bearer_token(body['access_token'], 'from %s' % self.authority)
        return self._token

    def call(self, method, path, body=None, action=None, missing_ok=False):
        """JSON of a Key Vault call; None for a 404 when ``missing_ok``."""
        action = action or '%s %s' % (method, path)
        sep = '&' if '?' in path else '?'
        url = '%s%s%sapi-version=%s' % (self.vault_url, path, sep, API_VERSION)
        headers = {'Accept': 'application/json', 'Authorization': 'Bearer %s' % self.token()}
        data = None
        if body is not None:
            data = json.dumps(body)
            headers['Content-Type'] = 'application/json'
        status, raw = _http(url, method, data, headers, self.ca_path, self.validate_certs, self.timeout, action,
                            self.vault_url)
        got = _json(raw)
        if status == 404 and missing_ok:
            return None
        if not 200 <= status < 300:
            code, message = _error_of(got)
            hint = {401: '; the token was refused: check the credentials and that they are for this vault\'s tenant',
                    403: '; the application lacks a Key Vault permission (keys/create, import, get) or role for this'}
            raise KeyVaultError('Key Vault %s refused %s: %s%s (HTTP %s%s)' % (
                self.vault_url, action, message or 'no reason given', hint.get(status, ''), status,
                ', ' + code if code else ''), status, code)
        if got is None:
            raise KeyVaultError('Key Vault %s answered %s with something that is not JSON' % (self.vault_url, action))
        return got

    def get_key(self, name, version=None):
        path = '/keys/%s' % quote(name, safe='') + ('/%s' % version if version else '')
        return self.call('GET', path, action='get key %s' % name, missing_ok=True)

    def create_key(self, name, body):
        return self.call('POST', '/keys/%s/create' % quote(name, safe=''), body, action='create key %s' % name)

    def import_key(self, name, body):
        return self.call('PUT', '/keys/%s' % quote(name, safe=''), body, action='import key %s' % name)

    def update_key(self, name, version, body):
        return self.call('PATCH', '/keys/%s/%s' % (quote(name, safe=''), version), body,
                         action='update key %s version %s' % (name, version))


def client_from_params(params):
    return KeyVaultClient(params['vault_url'], params.get('tenant'), params.get('client_id'), params.get('secret'),
                          params.get('authority'), params.get('access_token'), params.get('ca_path'),
                          params.get('validate_certs', True))
