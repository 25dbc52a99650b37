# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The transfer package (``KeyTransferPackage-<name>.byok``): both ends, one format.

Wrapping is CKM_RSA_AES_KEY_WRAP done in two steps, because SoftHSM2 2.6.1 lacks the one-call
mechanism: an AES-256 key wraps the private key as PKCS#8 with CKM_AES_KEY_WRAP_PAD (RFC 5649),
and the KEK wraps that AES key with RSA-OAEP (SHA-1, MGF1-SHA-1). The ciphertext is
``OAEP(aes) || KWP(pkcs8)``, byte-compatible with Azure Key Vault's BYOK files:

    {"schema_version": "1.0.0",
     "header": {"kid": <KEK id>, "alg": "dir", "enc": "CKM_RSA_AES_KEY_WRAP"},
     "ciphertext": <base64url>, "generator": <text>,
     "binding": {tenant_id, key_friendly_name, spki_sha256, kek_kid, kek_spki_sha256,
                 ciphertext_sha256, header, schema_version, created},
     "binding_signature": {"alg": "PS256", "value": <base64url>}}

The binding is signed inside the sending HSM with the key being transferred; the receiver checks
the signature with the public half of the key it unwrapped. So a package made for tenant A is
refused by tenant B, an edited header or binding is refused, and the signature proves the sender
held the key. (SoftHSM2 2.6.1 refuses an OAEP label on wrap, so the label cannot carry it.)
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import datetime
import hashlib
import json
import os
import re

from ansible_collections.keyceremony.byok.plugins.module_utils import _crypto
from ansible_collections.keyceremony.byok.plugins.module_utils._errors import ByokError, HsmError
from ansible_collections.keyceremony.byok.plugins.module_utils._files import canonical_json
from ansible_collections.keyceremony.byok.plugins.module_utils._values import GUID_RE, check_tenant_id  # noqa: F401 pylint: disable=unused-import

SCHEMA_VERSION = '1.0.0'
ENC = 'CKM_RSA_AES_KEY_WRAP'
BINDING_FORMAT = 'keyceremony.byok/transfer-binding/1'
FRIENDLY_RE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$')
# SoftHSM2 2.6.1 zero-pads the PKCS#8 to a multiple of 8 before KWP.
SOFTHSM_PADDING_MAX = 7


def _pkcs11():
    """The HSM's mechanisms and constants, imported on first use: the tenant side reads packages without PyKCS11."""
    from ansible_collections.keyceremony.byok.plugins.module_utils import _hsm
    return _hsm


class TransferPackageError(ByokError):
    """A transfer package is refused; the message says which check and why."""


def package_file_name(key_friendly_name):
    return 'KeyTransferPackage-%s.byok' % key_friendly_name


def check_friendly_name(name):
    if not FRIENDLY_RE.match(name or ''):
        raise ByokError('key_friendly_name %r must be 1 to 64 letters, digits, ".", "-" or "_", starting with a letter '
                        'or digit (it becomes the file name KeyTransferPackage-<name>.byok)' % (name,))
    return name


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b'=').decode('ascii')


def unb64url(text, what):
    try:
        return base64.urlsafe_b64decode((text + '=' * (-len(text) % 4)).encode('ascii'))
    except (ValueError, TypeError, AttributeError):
        raise TransferPackageError('the %s of the transfer package is not valid base64url' % what)


# ---------------------------------------------------------------- sender

def wrap_key(session, copy_key, package_key, kek_object, kek_kid):
    """CKM_RSA_AES_KEY_WRAP in two steps inside the HSM: ``OAEP(aes) || KWP(pkcs8)``.

    The one wrapping of the collection: the rehearsal's transfer package and Key Vault's .byok
    file carry the same ciphertext.
    """
    oaep = session.wrap('wrapping the package key under KEK %s' % kek_kid, kek_object, package_key, _pkcs11().oaep_sha1())
    return oaep + key_wrapped(session, copy_key, package_key)


def key_wrapped(session, copy_key, package_key):
    """``KWP(pkcs8)``, the second part of the ciphertext. RFC 5649 is deterministic and the package key and the copy
    are token objects, so the same key always gives the same bytes: a file can be recognised by them."""
    return session.wrap('wrapping the transfer copy under the package key', package_key, copy_key,
                        session.aes_key_wrap_pad())


def build_package(session, copy_key, package_key, kek_object, signing_key, kek, tenant_id, friendly_name,
                  spki_sha256, generator):
    """Wrap ``copy_key`` for ``kek`` inside the HSM and bind the result; returns the package dict.

    ``kek`` is what verify_toolset() returned. ``signing_key`` is the original of the copy: it
    signs the binding, which proves possession of the key being sent.
    """
    ciphertext = wrap_key(session, copy_key, package_key, kek_object, kek['kek_kid'])
    header = {'kid': kek['kek_kid'], 'alg': 'dir', 'enc': ENC}
    binding = {
        'format': BINDING_FORMAT,
        'schema_version': SCHEMA_VERSION,
        'header': header,
        'tenant_id': tenant_id,
        'key_friendly_name': friendly_name,
        'spki_sha256': spki_sha256,
        'kek_kid': kek['kek_kid'],
        'kek_spki_sha256': kek['kek_spki_sha256'],
        'ciphertext_sha256': hashlib.sha256(ciphertext).hexdigest(),
        'created': datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ'),
    }
    signature = session.sign('signing the package binding with the key being transferred', signing_key,
                             canonical_json(binding), _pkcs11().pss_sha256())
    return {
        'schema_version': SCHEMA_VERSION,
        'header': header,
        'ciphertext': b64url(ciphertext),
        'generator': generator,
        'binding': binding,
        'binding_signature': {'alg': 'PS256', 'value': b64url(signature)},
    }


def serialize(package):
    return json.dumps(package, sort_keys=True, indent=2).encode('utf-8') + b'\n'


# ---------------------------------------------------------------- receiver

def parse_package(data):
    """Bytes -> package dict, refusing anything that is not a whole transfer package."""
    try:
        pkg = json.loads(data.decode('utf-8'))
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise TransferPackageError('the file is not a complete transfer package (not valid JSON: truncated or '
                                   'damaged)')
    if not isinstance(pkg, dict):
        raise TransferPackageError('the file is not a transfer package')
    if pkg.get('schema_version') != SCHEMA_VERSION:
        raise TransferPackageError('schema_version %r is not supported (expected %s)'
                                   % (pkg.get('schema_version'), SCHEMA_VERSION))
    header = pkg.get('header')
    if not isinstance(header, dict) or header.get('alg') != 'dir' or header.get('enc') != ENC \
            or not isinstance(header.get('kid'), str):
        raise TransferPackageError('the header must be {"kid": ..., "alg": "dir", "enc": "%s"}' % ENC)
    binding = pkg.get('binding')
    sig = pkg.get('binding_signature')
    if not isinstance(binding, dict) or binding.get('format') != BINDING_FORMAT:
        raise TransferPackageError('the package has no tenant binding; it was not made by this collection and '
                                   'cannot be checked for its tenant')
    if not isinstance(sig, dict) or sig.get('alg') != 'PS256' or not isinstance(sig.get('value'), str):
        raise TransferPackageError('the package has no PS256 binding signature')
    if not isinstance(pkg.get('ciphertext'), str):
        raise TransferPackageError('the package has no ciphertext')
    return pkg


def check_binding(pkg, tenant_id, keks):
    """The checks that need no HSM. ``keks``: {kid: {'spki_sha256', 'size'}} of the receiving tenant.

    Returns (kek kid, ciphertext bytes).
    """
    binding, header = pkg['binding'], pkg['header']
    if binding.get('header') != header or binding.get('kek_kid') != header['kid'] \
            or binding.get('schema_version') != pkg['schema_version']:
        raise TransferPackageError('the header (kid %s) does not match the signed binding (kid %s): the header '
                                   'was edited' % (header['kid'], binding.get('kek_kid')))
    if binding.get('tenant_id') != tenant_id:
        raise TransferPackageError('the package was made for tenant %s; this tenant is %s. Make a package for this '
                                   'tenant with its own tenant ID' % (binding.get('tenant_id'), tenant_id))
    kid = header['kid']
    if kid not in keks:
        raise TransferPackageError('the package is wrapped under KEK %s, which this tenant does not hold (its KEKs: '
                                   '%s); download this tenant\'s toolset and package again' % (kid, ', '.join(sorted(keks))))
    if binding.get('kek_spki_sha256') != keks[kid]['spki_sha256']:
        raise TransferPackageError('the binding names KEK %s with fingerprint %s, but this tenant\'s KEK %s has %s'
                                   % (kid, binding.get('kek_spki_sha256'), kid, keks[kid]['spki_sha256']))
    ciphertext = unb64url(pkg['ciphertext'], 'ciphertext')
    if hashlib.sha256(ciphertext).hexdigest() != binding.get('ciphertext_sha256'):
        raise TransferPackageError('the ciphertext does not match the signed binding: it was altered or truncated')
    if len(ciphertext) < keks[kid]['size'] // 8 + 24:
        raise TransferPackageError('the ciphertext is too short for KEK %s: the package is truncated' % kid)
    return kid, ciphertext


AES_SESSION_KEY = [
    ('CKA_CLASS', 'CKO_SECRET_KEY'), ('CKA_KEY_TYPE', 'CKK_AES'), ('CKA_TOKEN', False), ('CKA_PRIVATE', True),
    ('CKA_SENSITIVE', True), ('CKA_EXTRACTABLE', False), ('CKA_UNWRAP', True), ('CKA_ENCRYPT', False),
    ('CKA_DECRYPT', False), ('CKA_WRAP', False),
]


def unwrap_package(session, kek_private, pkg, ciphertext, key_size_bytes, private_template, already=None):
    """Unwrap a transfer package inside the receiving HSM, check the key against the binding, import it.

    See unwrap_checked(); the check here is the binding: fingerprint and signature.
    Returns (handle, spki_sha256, imported).
    """
    binding = pkg['binding']

    def check_binding_signature(spki, spki_hash):
        if spki_hash != binding.get('spki_sha256'):
            raise TransferPackageError('the key inside has fingerprint %s but the binding declares %s: the binding was '
                                       'edited' % (spki_hash, binding.get('spki_sha256')))
        signature = unb64url(pkg['binding_signature']['value'], 'binding signature')
        if not _crypto.verify_pss_sha256(spki, signature, canonical_json(binding)):
            raise TransferPackageError('the binding signature does not verify with the transferred key: the binding '
                                       '(tenant, name, fingerprint or KEK) was edited after the package was made')
    return unwrap_checked(session, kek_private, pkg['header']['kid'], ciphertext, key_size_bytes, private_template,
                          check_binding_signature, already)


def unwrap_checked(session, kek_private, kid, ciphertext, key_size_bytes, private_template, check=None, already=None,
                   error=TransferPackageError):
    """Unwrap ``OAEP(aes) || KWP(pkcs8)`` inside the receiving HSM, prove the key, then import it.

    The key is first unwrapped as a session object (a probe); ``check(spki_der, spki_sha256)``
    may refuse it, then it is proved: its private half must sign a fresh random challenge that
    its public half verifies (a PKCS#8 with a real modulus and any other private exponent is
    refused). Only then is it unwrapped again as a token object with
    ``private_template``; a refused key leaves nothing on the token. ``already(spki_sha256)``
    returns the handle of a key imported before, which is then not imported again.
    Returns (handle, spki_sha256, imported).
    """
    oaep, kwp = ciphertext[:key_size_bytes], ciphertext[key_size_bytes:]
    try:
        aes = session.unwrap('unwrapping the package key with KEK %s' % kid, kek_private, oaep,
                             resolve(AES_SESSION_KEY), _pkcs11().oaep_sha1())
    except HsmError as e:
        raise error('the ciphertext does not open with KEK %s: the file is damaged or was not made for this KEK (%s)'
                    % (kid, e.ckr))
    try:
        checking = [(n, v) for n, v in private_template
                    if n not in ('CKA_TOKEN', 'CKA_LABEL', 'CKA_ID', 'CKA_DESTROYABLE', 'CKA_SIGN')]
        checking += [('CKA_TOKEN', False), ('CKA_DESTROYABLE', True), ('CKA_SIGN', True)]
        kwp_mechanism = session.aes_key_wrap_pad(unwrap=True)
        try:
            probe = session.unwrap('unwrapping the transferred key', aes, kwp, resolve(checking), kwp_mechanism)
        except HsmError as e:
            raise error('the wrapped key does not open: the file is damaged, or what it wraps is not an RSA private key '
                        '(%s)' % e.ckr)
        try:
            modulus, exponent = session.rsa_public_numbers(probe)
            try:
                spki = _crypto.spki_der(modulus, exponent)
            except ValueError as e:
                raise error('the transferred key is not a usable RSA key (%s)' % e)
            spki_hash = hashlib.sha256(spki).hexdigest()
            if check is not None:
                check(spki, spki_hash)
            challenge = os.urandom(32)
            try:
                signature = session.sign('proving the transferred key', probe, challenge, _pkcs11().pss_sha256())
            except HsmError as e:
                raise error('the transferred key cannot sign a challenge (%s): it is not a whole RSA private key'
                            % e.ckr)
            if not _crypto.verify_pss_sha256(spki, signature, challenge):
                raise error('the transferred key fails its pairwise-consistency test: its private half does not '
                            'belong to its public key %s (a planted or damaged key)' % spki_hash)
        finally:
            session.destroy('removing the checked copy', probe)
        handle = already(spki_hash) if already else None
        imported = handle is None
        if imported:
            handle = session.unwrap('importing the transferred key', aes, kwp, resolve(private_template),
                                    kwp_mechanism)
    finally:
        session.destroy('removing the package key', aes)
    return handle, spki_hash, imported


def resolve(pairs):
    """Template pairs whose values may name constants ('CKO_SECRET_KEY') -> PyKCS11 values."""
    return [(n, _pkcs11().constant(v) if isinstance(v, str) and v.startswith(('CKO_', 'CKK_')) else v) for n, v in pairs]


def pkcs8_from_kwp_payload(payload):
    """The PKCS#8 inside an unwrapped KWP payload, for receivers that parse it in software.

    Accepts exactly a DER SEQUENCE followed by at most 7 zero bytes (SoftHSM2 2.6.1 zero-pads
    the PKCS#8 to a multiple of 8 before KWP), and nothing else.
    """
    if len(payload) < 2 or payload[0] != 0x30:
        raise TransferPackageError('the unwrapped payload is not a DER SEQUENCE')
    first = payload[1]
    if first < 0x80:
        total = 2 + first
    else:
        count = first & 0x7F
        if count == 0 or count > 4 or len(payload) < 2 + count:
            raise TransferPackageError('the unwrapped payload has a malformed DER length')
        total = 2 + count + int.from_bytes(payload[2:2 + count], 'big')
    trailing = payload[total:]
    if total > len(payload):
        raise TransferPackageError('the unwrapped payload is shorter than its DER length')
    if len(trailing) > SOFTHSM_PADDING_MAX or trailing.strip(b'\0'):
        raise TransferPackageError('the unwrapped payload has %d byte(s) after the PKCS#8 that are not the up to %d '
                                   'zero bytes of SoftHSM2\'s padding' % (len(trailing), SOFTHSM_PADDING_MAX))
    return payload[:total]


def possession_message(tenant_id, challenge):
    """What the active key signs to prove possession: bound to the tenant and the caller's challenge.

    Shared by the tenant service (which signs) and tenant_key_info (which verifies); kept here, away
    from the HTTPS client, so that the service needs no Ansible on its host.
    """
    return b'keyceremony.byok/possession/1\0' + tenant_id.encode('ascii') + b'\0' + challenge
