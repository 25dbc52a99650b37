# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""_keyvault: the .byok file, key identifiers and the KEK check, without a vault."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from ansible_collections.keyceremony.byok.plugins.module_utils import _keyvault
from ansible_collections.keyceremony.byok.plugins.module_utils._errors import ByokError

KID = 'https://contoso-byok.vault.azure.net/keys/contoso-kek/0f8b2b3ac64c4c63a52b6d13a0d2ab65'


@pytest.fixture(scope='module')
def kek_key():
    return rsa.generate_private_key(65537, 2048)


def bundle(key, **change):
    numbers = key.public_key().public_numbers()
    jwk = {'kid': KID, 'kty': 'RSA-HSM', 'key_ops': ['import'], 'n': _keyvault.uint_b64url(numbers.n),
           'e': _keyvault.uint_b64url(numbers.e)}
    jwk.update(change)
    return {'key': jwk, 'attributes': {'enabled': True, 'created': 1764300000}}


def pin(key):
    numbers = key.public_key().public_numbers()
    return _keyvault.spki_sha256_of(numbers.n, numbers.e)


def test_a_sound_kek_passes_as_bundle_and_as_bare_jwk(kek_key):
    got = _keyvault.check_kek(bundle(kek_key), pin(kek_key))
    assert got['result'] == 'SUCCESS' and got['kek_kid'] == KID and got['kek_size'] == 2048
    grouped = _keyvault.group(pin(kek_key)).upper()
    assert _keyvault.check_kek(bundle(kek_key)['key'], grouped)['kek_spki_sha256'] == pin(kek_key)


@pytest.mark.parametrize('change,checks', [
    ({'kty': 'RSA'}, ['kty RSA-HSM']),
    ({'key_ops': ['import', 'decrypt']}, ['key_ops exactly import']),
    ({'key_ops': []}, ['key_ops exactly import']),
    ({'kid': 'https://contoso-byok.vault.azure.net/keys/contoso-kek'}, ['versioned key URL']),
    ({'kid': 'http://contoso-byok.vault.azure.net/keys/contoso-kek/0f8b2b3ac64c4c63a52b6d13a0d2ab65'},
     ['versioned key URL']),
    ({'kty': 'RSA', 'key_ops': ['sign']}, ['kty RSA-HSM', 'key_ops exactly import']),
])
def test_each_failed_check_is_named(kek_key, change, checks):
    with pytest.raises(_keyvault.KekCheckError) as e:
        _keyvault.check_kek(bundle(kek_key, **change), pin(kek_key))
    assert e.value.checks == checks
    for name in checks:
        assert 'check "%s" failed' % name in str(e.value)


@pytest.mark.bad_input
def test_another_kek_than_the_pinned_one(kek_key):
    other = rsa.generate_private_key(65537, 2048)
    with pytest.raises(_keyvault.KekCheckError) as e:
        _keyvault.check_kek(bundle(other), pin(kek_key))
    assert e.value.checks == ['fingerprint'] and 'not the KEK the online workstation showed' in str(e.value)


def test_size_and_exponent(kek_key):
    small = rsa.generate_private_key(65537, 1024)
    with pytest.raises(_keyvault.KekCheckError) as e:
        _keyvault.check_kek(bundle(small), pin(small))
    assert e.value.checks == ['size 2048-4096']
    odd = rsa.generate_private_key(3, 2048)
    with pytest.raises(_keyvault.KekCheckError) as e:
        _keyvault.check_kek(bundle(odd), pin(odd))
    assert e.value.checks == ['public exponent 65537']


@pytest.mark.parametrize('value,msg', [('abc', 'got 3 digits'), ('a' * 40, 'SHA-1'), ('zz' * 32, 'characters other')])
def test_the_pin_must_be_a_sha256(kek_key, value, msg):
    with pytest.raises(ByokError) as e:
        _keyvault.check_kek(bundle(kek_key), value)
    assert msg in str(e.value) and 'kek_spki_sha256' in str(e.value)


def test_neither_bundle_nor_jwk(kek_key):
    with pytest.raises(ByokError) as e:
        _keyvault.check_kek({'value': []}, pin(kek_key))
    assert 'neither a Key Vault key bundle' in str(e.value)


def test_byok_round_trip_and_exact_fields():
    ct = bytes(range(256)) * 3
    doc = _keyvault.build_byok(KID, ct, 'generator text')
    data = _keyvault.serialize(doc)
    assert sorted(json.loads(data)) == ['ciphertext', 'generator', 'header', 'schema_version']
    parsed, got = _keyvault.parse_byok(data)
    assert got == ct and parsed == doc
    assert '=' not in doc['ciphertext'] and '+' not in doc['ciphertext'] and '/' not in doc['ciphertext']


@pytest.mark.bad_input
@pytest.mark.parametrize('edit,msg', [
    (lambda d: d.update(binding={}), 'does not define: binding'),
    (lambda d: d.update(schema_version='2.0.0'), 'schema_version'),
    (lambda d: d['header'].update(alg='RSA-OAEP'), 'the header must be exactly'),
    (lambda d: d['header'].update(extra=1), 'the header must be exactly'),
    (lambda d: d['header'].update(kid='BYOK-KEK-NA-1-0011223344556677'), 'header.kid'),
    (lambda d: d.update(ciphertext='not base64url!'), 'not base64url'),
    (lambda d: d.update(ciphertext='AAAA'), 'too short'),
    (lambda d: d.update(generator=5), 'generator must be text'),
])
def test_byok_refusals(edit, msg):
    doc = _keyvault.build_byok(KID, b'\1' * 400, 'g')
    edit(doc)
    with pytest.raises(_keyvault.KeyVaultFormatError) as e:
        _keyvault.parse_byok(json.dumps(doc).encode())
    assert msg in str(e.value)


@pytest.mark.bad_input
def test_a_rehearsal_transfer_package_is_not_a_byok_file():
    with pytest.raises(_keyvault.KeyVaultFormatError) as e:
        _keyvault.parse_byok(b'{"schema_version": "1.0.0", "header": {}, "binding": {}, "binding_signature": {}}')
    assert 'binding, binding_signature' in str(e.value)


@pytest.mark.parametrize('kid,ok', [
    (KID, True),
    ('https://127.0.0.1:8444/keys/k-1/' + 'a' * 32, True),
    ('https://v.vault.azure.net/keys/k/' + 'A' * 32, False),
    ('https://v.vault.azure.net/keys/k_1/' + 'a' * 32, False),
    ('https://v.vault.azure.net/secrets/k/' + 'a' * 32, False),
    ('https://v.vault.azure.net/keys/k/' + 'a' * 32 + '?x=1', False),
])
def test_key_identifiers(kid, ok):
    if ok:
        assert _keyvault.parse_kid(kid)[2] == kid[-32:]
    else:
        with pytest.raises(_keyvault.KeyVaultFormatError):
            _keyvault.parse_kid(kid)


@pytest.mark.parametrize('url,ok', [('https://v.vault.azure.net', True), ('https://v.vault.azure.net/', True),
                                    ('http://v.vault.azure.net', False), ('https://v.vault.azure.net/keys', False)])
def test_vault_urls(url, ok):
    if ok:
        assert _keyvault.check_vault_url(url) == 'https://v.vault.azure.net'
    else:
        with pytest.raises(_keyvault.KeyVaultFormatError):
            _keyvault.check_vault_url(url)


def test_scopes():
    assert _keyvault.default_scope('https://v.vault.azure.net') == 'https://vault.azure.net/.default'
    assert _keyvault.default_scope('https://h.managedhsm.azure.net') == 'https://managedhsm.azure.net/.default'


def test_the_client_needs_credentials():
    with pytest.raises(_keyvault.KeyVaultError) as e:
        _keyvault.KeyVaultClient('https://v.vault.azure.net', tenant='t', client_id='c')
    assert 'give either access_token' in str(e.value)


@pytest.mark.bad_input
def test_an_even_exponent_is_refused_not_crashed(kek_key):
    with pytest.raises(_keyvault.KekCheckError) as e:
        _keyvault.check_kek(bundle(kek_key, e=_keyvault.uint_b64url(4)), pin(kek_key))
    assert e.value.checks == ['RSA public key'] and 'too small or even' in str(e.value)


@pytest.mark.bad_input
def test_a_trailing_newline_is_not_a_key_identifier():
    with pytest.raises(_keyvault.KeyVaultFormatError):
        _keyvault.parse_kid(KID + '\n')
    with pytest.raises(_keyvault.KeyVaultError):
        _keyvault.bearer_token('a' * 20 + '\nX-Injected: 1', 'given')
    assert _keyvault.bearer_token(' ' + 'a' * 20 + '\n', 'given') == 'a' * 20
