# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one place the collection imports ``cryptography``: key derivation from PINs, AEADs,
and public-key fingerprints. Software crypto here never touches a private key of the HSM."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import hashlib
import hmac
import traceback

from ansible_collections.keyceremony.byok.plugins.module_utils._errors import ByokError
from ansible_collections.keyceremony.byok.plugins.module_utils._values import normalize_sha256  # noqa: F401 pylint: disable=unused-import

try:
    from cryptography.exceptions import InvalidSignature, InvalidTag
    from cryptography.hazmat.primitives import hashes, padding as sym_padding, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicNumbers
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
    HAS_CRYPTOGRAPHY = True
    CRYPTOGRAPHY_IMPORT_ERROR = None
except ImportError:
    HAS_CRYPTOGRAPHY = False
    CRYPTOGRAPHY_IMPORT_ERROR = traceback.format_exc()

try:
    from cryptography.hazmat.primitives.kdf.argon2 import Argon2id
    HAS_ARGON2 = True
except ImportError:
    HAS_ARGON2 = False

ARGON2_MISSING = 'Argon2id needs cryptography 44 or later built with OpenSSL 3.2 or later'


# The most any writer of this collection asks of each KDF (the card files' Argon2id, 64 MiB, 3 passes, 4 lanes;
# scrypt N=2^17, r=8, p=1), and the least the KDF itself accepts. Parameters read from a file (a card, a TPD, a
# stored hash) outside these are refused before the KDF runs: a file must not choose what opening it costs.
KDF_LIMITS = {
    'argon2id': {'memory_cost': (8, 65536), 'iterations': (1, 3), 'lanes': (1, 4)},
    'scrypt': {'n': (2, 2 ** 17), 'r': (1, 8), 'p': (1, 1)},
}
MAX_SALT = 64


class KdfParamsError(ByokError):
    """Key-derivation parameters outside what this collection writes."""


def check_kdf_params(kdf, params, salt=b''):
    if kdf not in KDF_LIMITS:
        raise KdfParamsError('unknown key derivation %r' % (kdf,))
    if not isinstance(params, dict):
        raise KdfParamsError('the %s parameters are not a set of numbers' % kdf)
    for name, (low, high) in sorted(KDF_LIMITS[kdf].items()):
        value = params.get(name)
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise KdfParamsError('%s %s=%r is outside %d..%d, what this collection writes; the file was not made by '
                                 'it or was altered to make opening it costly' % (kdf, name, value, low, high))
    if kdf == 'argon2id' and params['memory_cost'] < 8 * params['lanes']:
        raise KdfParamsError('argon2id memory_cost=%d is less than 8 x lanes' % params['memory_cost'])
    if kdf == 'scrypt' and params['n'] & (params['n'] - 1):
        raise KdfParamsError('scrypt n=%d is not a power of two' % params['n'])
    if not 8 <= len(salt) <= MAX_SALT:
        raise KdfParamsError('the %s salt is %d bytes; 8 to %d are accepted' % (kdf, len(salt), MAX_SALT))


def derive_key(kdf, params, salt, secret):
    """32 bytes from ``secret`` (a PIN) with a memory-hard KDF described by ``params`` (checked first)."""
    check_kdf_params(kdf, params, salt)
    if kdf == 'argon2id':
        if not HAS_ARGON2:
            raise ByokError(ARGON2_MISSING)
        return Argon2id(salt=salt, length=32, iterations=params['iterations'], lanes=params['lanes'],
                        memory_cost=params['memory_cost']).derive(secret.encode('utf-8'))
    if kdf == 'scrypt':
        return Scrypt(salt=salt, length=32, n=params['n'], r=params['r'], p=params['p']).derive(secret.encode('utf-8'))
    raise ByokError('unknown key derivation %r' % (kdf,))


# Administrator passwords: Argon2id with RFC 9106's second recommended setting scaled to a
# login (19 MiB, 2 passes), as OWASP advises for interactive logins.
PASSWORD_KDF = {'memory_cost': 19456, 'iterations': 2, 'lanes': 1}


def hash_password(password, salt):
    """'argon2id$m$t$p$salt$hash' (hex) for storage; the password itself is never stored."""
    key = derive_key('argon2id', PASSWORD_KDF, salt, password)
    return 'argon2id$%d$%d$%d$%s$%s' % (PASSWORD_KDF['memory_cost'], PASSWORD_KDF['iterations'], PASSWORD_KDF['lanes'],
                                        salt.hex(), key.hex())


def verify_password(password, stored):
    try:
        name, m, t, p, salt, digest = stored.split('$')
        params = {'memory_cost': int(m), 'iterations': int(t), 'lanes': int(p)}
        key = derive_key(name, params, bytes.fromhex(salt), password)
    except (ValueError, ByokError):
        return False
    return hmac.compare_digest(key.hex(), digest)


def aead(name, key):
    if name == 'aes256gcm':
        return AESGCM(key)
    if name == 'chacha20poly1305':
        return ChaCha20Poly1305(key)
    raise ByokError('unknown cipher %r' % (name,))


class AuthenticationFailed(ByokError):
    """An AEAD tag did not verify: wrong key (PIN) or altered data; the caller says which file."""


def aead_open(name, key, nonce, data, associated_data):
    try:
        return aead(name, key).decrypt(nonce, data, associated_data)
    except InvalidTag:
        raise AuthenticationFailed('authentication failed')


def spki_der(modulus, exponent):
    """DER SubjectPublicKeyInfo of an RSA public key, from the numbers the HSM returned."""
    key = RSAPublicNumbers(exponent, modulus).public_key()
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def public_key_info(modulus, exponent):
    """(pem, spki_sha256) of an RSA public key, from the numbers the HSM returned."""
    key = RSAPublicNumbers(exponent, modulus).public_key()
    pem = key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return pem.decode('ascii'), hashlib.sha256(spki_der(modulus, exponent)).hexdigest()


def spki_der_from_pem(pem):
    key = serialization.load_pem_public_key(pem.encode('ascii'))
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _components(numbers):
    pub = numbers.public_numbers
    return {'CKA_MODULUS': pub.n, 'CKA_PUBLIC_EXPONENT': pub.e, 'CKA_PRIVATE_EXPONENT': numbers.d,
            'CKA_PRIME_1': numbers.p, 'CKA_PRIME_2': numbers.q, 'CKA_EXPONENT_1': numbers.dmp1,
            'CKA_EXPONENT_2': numbers.dmq1, 'CKA_COEFFICIENT': numbers.iqmp}


def rsa_private_checked(n, e, d, p, q, dp, dq, qinv):
    """The CKA_* values of an RSA private key given as its numbers (a CryptoAPI blob's), after the checks OpenSSL makes
    of a key (n = pq, the CRT values agree with d, ...). Raises ByokError for numbers that are no RSA key."""
    numbers = rsa.RSAPrivateNumbers(p, q, d, dp, dq, qinv, RSAPublicNumbers(e, n))
    try:
        numbers.private_key()
    except (ValueError, TypeError) as exc:
        raise ByokError('the numbers are not a consistent RSA private key (%s)' % exc)
    return _components(numbers)


def rsa_private_numbers(components):
    """The inverse of rsa_private_checked, for a writer: (n, e, d, p, q, dp, dq, qinv)."""
    c = components
    return (c['CKA_MODULUS'], c['CKA_PUBLIC_EXPONENT'], c['CKA_PRIVATE_EXPONENT'], c['CKA_PRIME_1'], c['CKA_PRIME_2'],
            c['CKA_EXPONENT_1'], c['CKA_EXPONENT_2'], c['CKA_COEFFICIENT'])


class PaddingError(ByokError):
    """CBC padding that does not verify: a wrong key, or altered or truncated data (CBC has no integrity)."""


def aes_cbc_encrypt(key, iv, plaintext):
    """AES-CBC with PKCS#7 padding (the AD RMS TPD export's cipher)."""
    padder = sym_padding.PKCS7(128).padder()
    data = padder.update(plaintext) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return encryptor.update(data) + encryptor.finalize()


def aes_cbc_decrypt(key, iv, ciphertext):
    """The inverse of aes_cbc_encrypt; PaddingError when the padding does not verify."""
    if not ciphertext or len(ciphertext) % 16:
        raise PaddingError('%d bytes are not a whole number of AES blocks' % len(ciphertext))
    decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    data = decryptor.update(ciphertext) + decryptor.finalize()
    unpadder = sym_padding.PKCS7(128).unpadder()
    try:
        return unpadder.update(data) + unpadder.finalize()
    except ValueError:
        raise PaddingError('the padding does not verify')


def _rsa_public_key(der):
    try:
        key = serialization.load_der_public_key(der)
    except ValueError:
        raise ByokError('not a DER SubjectPublicKeyInfo')
    if not isinstance(key, rsa.RSAPublicKey):
        raise ByokError('not an RSA public key')
    return key


def rsa_public_numbers(der):
    """(modulus, exponent) from a DER SubjectPublicKeyInfo."""
    numbers = _rsa_public_key(der).public_numbers()
    return numbers.n, numbers.e


PSS_SALT = 32


def verify_pss_sha256(spki, signature, data):
    """True when ``signature`` is an RSA-PSS/SHA-256 (salt 32) signature of ``data`` by ``spki`` (DER)."""
    try:
        key = _rsa_public_key(spki)
    except ByokError:
        return False
    try:
        key.verify(signature, data, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=PSS_SALT),
                   hashes.SHA256())
        return True
    except InvalidSignature:
        return False
