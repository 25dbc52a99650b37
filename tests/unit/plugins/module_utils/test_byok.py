# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The transfer package end to end on real SoftHSM2 tokens: the offline world and the tenant."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import hashlib
import json
import os

import pytest
from cryptography.hazmat.primitives import keywrap, serialization

from ansible_collections.keyceremony.byok.plugins.module_utils import _byok
from ansible_collections.keyceremony.byok.plugins.module_utils._errors import ByokError, HsmError
from ansible_collections.keyceremony.byok.plugins.module_utils._hsm import Hsm, attribute_template, constant, mechanism, oaep_sha1
from ansible_collections.keyceremony.byok.plugins.module_utils._world import WorldContext
from ansible_collections.keyceremony.byok.tenant import datadir
from ansible_collections.keyceremony.byok.tests.unit.helpers import build_chain, software_package

TENANT_A = '3f2a8b1c-5d6e-4f70-8a9b-0c1d2e3f4a5b'
TENANT_B = '9e8d7c6b-5a49-4382-a716-f5e4d3c2b1a0'


@pytest.fixture(scope='module')
def chain(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        c = build_chain(tmp_path_factory.mktemp('chain'), mp, (TENANT_A, TENANT_B))
        yield c


def _tenant(chain, i=0):
    return datadir.Tenant(chain.tenants[i]['data_dir'])


def _token_keys(tenant):
    with tenant.session() as s:
        return len(s.find(attribute_template([('CKA_CLASS', constant('CKO_PRIVATE_KEY'))])))


def _edit(data, fn):
    pkg = json.loads(data.decode())
    fn(pkg)
    return json.dumps(pkg).encode()


def test_round_trip_gives_the_same_key(chain):
    got = _tenant(chain).receive(chain.package_bytes)
    assert got['spki_sha256'] == chain.key['spki_sha256'] == chain.package['spki_sha256']
    assert got['tenant_id'] == TENANT_A and got['kek_kid'] == chain.package['kek_kid']
    again = _tenant(chain).receive(chain.package_bytes)
    assert again['imported'] is False and again['key_label'] == got['key_label']
    with _tenant(chain).session() as s:
        handle = s.find_one(got['key_label'], 'CKO_PRIVATE_KEY')
        a = s.attributes(handle, ['CKA_SENSITIVE', 'CKA_EXTRACTABLE', 'CKA_SIGN'])
        assert a == {'CKA_SENSITIVE': True, 'CKA_EXTRACTABLE': False, 'CKA_SIGN': True}
        assert s.raw_attribute_rv(handle, 'CKA_PRIVATE_EXPONENT') == 'CKR_ATTRIBUTE_SENSITIVE'


def test_package_format_is_the_azure_byok_shape(chain):
    pkg = json.loads(chain.package_bytes.decode())
    assert pkg['schema_version'] == '1.0.0'
    assert pkg['header'] == {'kid': chain.package['kek_kid'], 'alg': 'dir', 'enc': 'CKM_RSA_AES_KEY_WRAP'}
    assert set(pkg) == {'schema_version', 'header', 'ciphertext', 'generator', 'binding', 'binding_signature'}
    assert '=' not in pkg['ciphertext'] and '+' not in pkg['ciphertext'] and '/' not in pkg['ciphertext']
    assert os.stat(chain.package['path']).st_mode & 0o777 == 0o600


def _software_pkcs8(chain):
    """Independently of our unwrap code: the tenant's KEK opens the AES key, cryptography does AES-KWP."""
    pkg = json.loads(chain.package_bytes.decode())
    ct = base64.urlsafe_b64decode(pkg['ciphertext'] + '=' * (-len(pkg['ciphertext']) % 4))
    tenant = _tenant(chain)
    kek = tenant.record['keks']['NA']
    oaep, kwp = ct[:kek['size'] // 8], ct[kek['size'] // 8:]
    with tenant.session(rw=True) as s:
        # A test-only AES key that may be read: the KEK may unwrap into any template its token allows.
        aes = s.unwrap('unwrapping for the test', s.find_one(kek['label'], 'CKO_PRIVATE_KEY'), oaep, [
            ('CKA_CLASS', constant('CKO_SECRET_KEY')), ('CKA_KEY_TYPE', constant('CKK_AES')), ('CKA_TOKEN', False),
            ('CKA_SENSITIVE', False), ('CKA_EXTRACTABLE', True)], oaep_sha1())
        aes_value = bytes(s.attributes(aes, ['CKA_VALUE'])['CKA_VALUE'])
    payload = keywrap.aes_key_unwrap_with_padding(aes_value, kwp)
    # DER length of the outer SEQUENCE, then at most 7 zero bytes of SoftHSM2 padding
    n = payload[1] & 0x7F
    total = 2 + n + int.from_bytes(payload[2:2 + n], 'big')
    assert len(payload) - total <= 7 and payload[total:] == b'\0' * (len(payload) - total)
    return payload[:total]


def test_independent_unwrap_with_cryptography(chain):
    key = serialization.load_der_private_key(_software_pkcs8(chain), None)
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert hashlib.sha256(der).hexdigest() == chain.key['spki_sha256']


@pytest.mark.bad_input
def test_refusals_leave_the_tenant_token_unchanged(chain):
    tenant_b = _tenant(chain, 1)
    before = _token_keys(tenant_b)
    with pytest.raises(ByokError, match='made for tenant %s; this tenant is %s' % (TENANT_A, TENANT_B)):
        tenant_b.receive(chain.package_bytes)
    assert _token_keys(tenant_b) == before


@pytest.mark.bad_input
@pytest.mark.parametrize('edit,msg', [
    (lambda p: p['header'].update(kid='BYOK-KEK-NA-1-0000000000000000'), 'the header was edited'),
    (lambda p: (p['header'].update(kid='BYOK-KEK-EU-1-x'), p['binding'].update(kek_kid='BYOK-KEK-EU-1-x'),
                p['binding']['header'].update(kid='BYOK-KEK-EU-1-x')), 'which this tenant does not hold'),
    (lambda p: p['binding'].update(tenant_id=TENANT_B), 'made for tenant %s' % TENANT_B),
    (lambda p: p['binding'].update(key_friendly_name='Other'), 'binding signature does not verify'),
    (lambda p: p['binding'].update(created='2020-01-01T00:00:00Z'), 'binding signature does not verify'),
    (lambda p: p['binding'].update(spki_sha256='00' * 32), 'the binding declares'),
    (lambda p: p['binding_signature'].update(value=p['binding_signature']['value'][::-1]), 'binding signature does not verify'),
    (lambda p: p.pop('binding'), 'has no tenant binding'),
    (lambda p: p.update(schema_version='2.0.0'), 'schema_version'),
    (lambda p: p['header'].update(enc='RSA-OAEP'), 'the header must be'),
])
def test_edited_packages_are_refused(chain, edit, msg):
    tenant = _tenant(chain)
    before = _token_keys(tenant)
    with pytest.raises(ByokError, match=msg):
        tenant.receive(_edit(chain.package_bytes, edit))
    assert _token_keys(tenant) == before


def _flip(chain, where, fix_hash):
    def edit(p):
        ct = bytearray(base64.urlsafe_b64decode(p['ciphertext'] + '=' * (-len(p['ciphertext']) % 4)))
        ct[where(len(ct))] ^= 0x01
        p['ciphertext'] = base64.urlsafe_b64encode(bytes(ct)).rstrip(b'=').decode()
        if fix_hash:
            p['binding']['ciphertext_sha256'] = hashlib.sha256(bytes(ct)).hexdigest()
    return _edit(chain.package_bytes, edit)


@pytest.mark.bad_input
@pytest.mark.parametrize('where,fix_hash,msg', [
    (lambda n: 10, False, 'ciphertext does not match the signed binding'),
    (lambda n: 10, True, 'does not open with KEK'),
    (lambda n: n - 5, True, 'the wrapped key does not open'),
])
def test_bit_flips_are_refused(chain, where, fix_hash, msg):
    tenant = _tenant(chain)
    before = _token_keys(tenant)
    with pytest.raises(ByokError, match=msg):
        tenant.receive(_flip(chain, where, fix_hash))
    assert _token_keys(tenant) == before


@pytest.mark.bad_input
@pytest.mark.parametrize('cut', [2, 100, 2000])
def test_truncated_files_are_refused(chain, cut):
    with pytest.raises(ByokError, match='not a complete transfer package'):
        _tenant(chain).receive(chain.package_bytes[:-cut])


@pytest.mark.bad_input
def test_truncated_ciphertext_is_refused(chain):
    def edit(p):
        ct = base64.urlsafe_b64decode(p['ciphertext'] + '=' * (-len(p['ciphertext']) % 4))[:300]
        p['ciphertext'] = base64.urlsafe_b64encode(ct).rstrip(b'=').decode()
        p['binding']['ciphertext_sha256'] = hashlib.sha256(ct).hexdigest()
    with pytest.raises(ByokError, match='too short for KEK'):
        _tenant(chain).receive(_edit(chain.package_bytes, edit))


def test_the_copy_cannot_leave_under_an_untrusted_key(chain):
    with Hsm() as hsm:
        with WorldContext(hsm, chain.world_dir).user_session(rw=True) as s:
            copy_handle = s.find_one('key_simple_xferacl_contosokey', 'CKO_PRIVATE_KEY')
            assert s.raw_attribute_rv(copy_handle, 'CKA_PRIVATE_EXPONENT') == 'CKR_ATTRIBUTE_SENSITIVE'
            aes = s.generate_key('an untrusted AES key', [
                ('CKA_CLASS', constant('CKO_SECRET_KEY')), ('CKA_KEY_TYPE', constant('CKK_AES')), ('CKA_VALUE_LEN', 32),
                ('CKA_TOKEN', False), ('CKA_WRAP', True)])
            with pytest.raises(HsmError) as e:
                s.wrap('wrapping the copy', aes, copy_handle, mechanism('CKM_AES_KEY_WRAP_PAD'))
            assert e.value.ckr == 'CKR_KEY_NOT_WRAPPABLE'
            # nor can the user PIN unwrap with the package key, or mark anything trusted
            with pytest.raises(HsmError) as e:
                s.generate_key('a key marked trusted by the user', [
                    ('CKA_CLASS', constant('CKO_SECRET_KEY')), ('CKA_KEY_TYPE', constant('CKK_AES')),
                    ('CKA_VALUE_LEN', 32), ('CKA_TOKEN', False), ('CKA_TRUSTED', True), ('CKA_WRAP', True)])
            assert e.value.ckr == 'CKR_ATTRIBUTE_READ_ONLY'
            a = s.attributes(s.find_one('key_simple_xferwrap_contosokey', 'CKO_SECRET_KEY'),
                             ['CKA_UNWRAP', 'CKA_DECRYPT', 'CKA_TRUSTED', 'CKA_EXTRACTABLE', 'CKA_WRAP_WITH_TRUSTED'])
            assert a == {'CKA_UNWRAP': False, 'CKA_DECRYPT': False, 'CKA_TRUSTED': True, 'CKA_EXTRACTABLE': True,
                         'CKA_WRAP_WITH_TRUSTED': True}
            # the SO's session key for the copy died with its session
            assert not s.find(attribute_template([('CKA_LABEL', 'xfercopy-session')]))


# ---------------------------------------------------------------- SoftHSM2's padding

@pytest.mark.parametrize('zeros', [0, 3, 7])
def test_the_softhsm_padding_is_accepted(chain, zeros):
    tenant = _tenant(chain, 1)
    data, spki = software_package(tenant, trailing=b'\0' * zeros)
    assert tenant.receive(data)['spki_sha256'] == spki


@pytest.mark.parametrize('trailing', [b'', b'\0', b'\0' * 7])
def test_software_parser_accepts_the_padding(trailing):
    der = bytes([0x30, 0x82, 0x00, 0x03, 1, 2, 3])
    assert _byok.pkcs8_from_kwp_payload(der + trailing) == der


@pytest.mark.bad_input
@pytest.mark.parametrize('trailing', [b'\0' * 8, b'\x01', b'\0\0\x01', b'AAAAAAAAAAAAAAAA'])
def test_software_parser_refuses_anything_else(trailing):
    der = bytes([0x30, 0x82, 0x00, 0x03, 1, 2, 3])
    with pytest.raises(ByokError, match='after the PKCS#8'):
        _byok.pkcs8_from_kwp_payload(der + trailing)


@pytest.mark.bad_input
@pytest.mark.parametrize('payload', [b'', b'\x31\x01\x00', b'\x30\x85\x00\x00\x00\x00\x01', b'\x30\x10\x00'])
def test_software_parser_refuses_malformed_der(payload):
    with pytest.raises(ByokError):
        _byok.pkcs8_from_kwp_payload(payload)


@pytest.mark.parametrize('value', ['not-a-guid', '3f2a8b1c5d6e4f708a9b0c1d2e3f4a5b', '', None])
def test_tenant_ids_must_be_guids(value):
    with pytest.raises(ByokError, match='is not a GUID'):
        _byok.check_tenant_id(value)


def test_tenant_id_is_normalised():
    assert _byok.check_tenant_id(' 3F2A8B1C-5D6E-4F70-8A9B-0C1D2E3F4A5B ') == TENANT_A


@pytest.mark.parametrize('value', ['', '../x', 'a/b', 'x' * 65, '.hidden', 'sp ace'])
def test_friendly_names(value):
    with pytest.raises(ByokError, match='key_friendly_name'):
        _byok.check_friendly_name(value)
