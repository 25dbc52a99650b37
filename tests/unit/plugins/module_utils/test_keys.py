# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The tenant key's private half never leaves the HSM in the clear: checked on a real SoftHSM2."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.keyceremony.byok.plugins.module_utils import _keys
from ansible_collections.keyceremony.byok.plugins.module_utils._crypto import public_key_info
from ansible_collections.keyceremony.byok.plugins.module_utils._errors import HsmError, HsmKeyError
from ansible_collections.keyceremony.byok.plugins.module_utils._hsm import Hsm, attribute_template, constant, mechanism
from ansible_collections.keyceremony.byok.plugins.module_utils._world import WorldContext
from ansible_collections.keyceremony.byok.tests.unit.helpers import copy_object, plant_private_key


@pytest.fixture
def tenant_key(world):
    with Hsm() as hsm:
        with WorldContext(hsm, world.dir).user_session(rw=True) as s:
            desc = _keys.generate_rsa(s, 'key_simple_k1', 2048, 65537)
    return world, desc


def _private_handle(s, label):
    return s.find(attribute_template([('CKA_LABEL', label), ('CKA_CLASS', constant('CKO_PRIVATE_KEY'))]))[0]


def test_generated_key_attributes(tenant_key):
    desc = tenant_key[1]
    assert desc['size'] == 2048 and desc['public_exponent'] == 65537
    for name, want in _keys.REQUIRED_PRIVATE.items():
        assert desc['attributes'][name] is want, name
    assert desc['attributes']['never_extractable'] is False
    assert desc['attributes']['unwrap'] is False


def test_private_exponent_cannot_be_read(tenant_key):
    world = tenant_key[0]
    with Hsm() as hsm:
        with WorldContext(hsm, world.dir).user_session() as s:
            handle = _private_handle(s, 'key_simple_k1')
            assert s.raw_attribute_rv(handle, 'CKA_PRIVATE_EXPONENT') == 'CKR_ATTRIBUTE_SENSITIVE'
            assert s.raw_attribute_rv(handle, 'CKA_PRIME_1') == 'CKR_ATTRIBUTE_SENSITIVE'
            assert s.attributes(handle, ['CKA_PRIVATE_EXPONENT'])['CKA_PRIVATE_EXPONENT'] is None


def test_wrapping_under_an_untrusted_key_fails(tenant_key):
    world = tenant_key[0]
    with Hsm() as hsm:
        with WorldContext(hsm, world.dir).user_session(rw=True) as s:
            aes = s.call('generating a session AES key', s.raw.generateKey, attribute_template([
                ('CKA_CLASS', constant('CKO_SECRET_KEY')), ('CKA_KEY_TYPE', constant('CKK_AES')),
                ('CKA_VALUE_LEN', 32), ('CKA_TOKEN', False), ('CKA_WRAP', True)]),
                mecha=mechanism('CKM_AES_KEY_GEN'))
            with pytest.raises(HsmError) as e:
                s.call('wrapping key_simple_k1', s.raw.wrapKey, aes, _private_handle(s, 'key_simple_k1'),
                       mecha=mechanism('CKM_AES_KEY_WRAP_PAD'))
    assert e.value.ckr == 'CKR_KEY_NOT_WRAPPABLE'
    assert 'only leave the HSM wrapped under a key that the security officer marked trusted' in str(e.value)


def test_the_key_cannot_be_deleted_or_loosened(tenant_key):
    world = tenant_key[0]
    with Hsm() as hsm:
        with WorldContext(hsm, world.dir).user_session(rw=True) as s:
            handle = _private_handle(s, 'key_simple_k1')
            with pytest.raises(HsmError, match='CKR_ACTION_PROHIBITED'):
                s.call('destroying the key', s.raw.destroyObject, handle)
            with pytest.raises(HsmError, match='CKR_ACTION_PROHIBITED'):
                s.call('changing the key', s.raw.setAttributeValue, handle,
                       attribute_template([('CKA_WRAP_WITH_TRUSTED', False)]))
            assert _keys.describe_key(s, 'key_simple_k1')['attributes']['wrap_with_trusted'] is True


def test_no_part_of_the_key_without_login(tenant_key):
    # the public half is private too: a session without a PIN sees nothing of the key, so cannot delete it
    world, desc = tenant_key
    with Hsm() as hsm:
        with hsm.session(world.token_label, rw=True) as s:
            assert not s.find(attribute_template([('CKA_LABEL', 'key_simple_k1')]))
        with WorldContext(hsm, world.dir).user_session(rw=True) as s:
            pub = s.find_one('key_simple_k1', 'CKO_PUBLIC_KEY')
            n = int.from_bytes(bytes(s.attributes(pub, ['CKA_MODULUS'])['CKA_MODULUS']), 'big')
            assert s.attributes(pub, ['CKA_PRIVATE', 'CKA_DESTROYABLE'])['CKA_PRIVATE'] is True
            with pytest.raises(HsmError, match='CKR_ACTION_PROHIBITED'):
                s.destroy('destroying the public half', pub)
    assert public_key_info(n, 65537)[1] == desc['spki_sha256']


def test_the_key_cannot_be_copied(tenant_key):
    # a C_CopyObject duplicate could not be destroyed and its label would block every later step
    world = tenant_key[0]
    with Hsm() as hsm:
        with WorldContext(hsm, world.dir).user_session(rw=True) as s:
            assert copy_object(hsm, s, _private_handle(s, 'key_simple_k1')) == 'CKR_ACTION_PROHIBITED'
            assert copy_object(hsm, s, s.find_one('key_simple_k1', 'CKO_PUBLIC_KEY')) == 'CKR_ACTION_PROHIBITED'
            assert len(s.find(attribute_template([('CKA_LABEL', 'key_simple_k1')]))) == 2
            # the control: the same call copies an object that allows it
            aes = s.generate_key('a copyable session key', [
                ('CKA_CLASS', constant('CKO_SECRET_KEY')), ('CKA_KEY_TYPE', constant('CKK_AES')), ('CKA_VALUE_LEN', 32),
                ('CKA_TOKEN', False), ('CKA_LABEL', 'control')])
            assert copy_object(hsm, s, aes) == 'CKR_OK'


def test_provenance_of_a_generated_and_a_planted_key(tenant_key):
    world, desc = tenant_key
    assert _keys.provenance_problems(desc) == []
    with Hsm() as hsm:
        with WorldContext(hsm, world.dir).user_session(rw=True) as s:
            plant_private_key(s, 'key_simple_planted')
            planted = _keys.describe_key(s, 'key_simple_planted')
    problems = _keys.provenance_problems(planted)
    assert any('CKA_LOCAL is false' in p for p in problems) and any('CKA_ALWAYS_SENSITIVE' in p for p in problems)


def test_spki_fingerprint_matches_cryptography(tenant_key):
    import hashlib
    from cryptography.hazmat.primitives import serialization
    desc = tenant_key[1]
    key = serialization.load_pem_public_key(desc['public_key_pem'].encode())
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert hashlib.sha256(der).hexdigest() == desc['spki_sha256']


@pytest.mark.bad_input
@pytest.mark.parametrize('args,msg', [
    (('EC', 2048, 65537, 'module'), 'tenant keys are RSA'),
    (('RSA', 2048, 65537, 'ocs'), 'only module protection is'),
    (('RSA', 1536, 65537, 'module'), 'size 1536 is not supported'),
    (('RSA', 2048, 3, 'module'), 'public_exponent 3 must be odd'),
    (('RSA', 2048, 65538, 'module'), 'must be odd'),
])
def test_refused_key_specs(args, msg):
    with pytest.raises(HsmKeyError, match=msg):
        _keys.check_key_spec(*args)


def test_legacy_size_warns():
    assert 'legacy AD RMS' in _keys.check_key_spec('RSA', 1024, 65537, 'module')[0]
    assert _keys.check_key_spec('RSA', 4096, 65537, 'module') == []


@pytest.mark.bad_input
@pytest.mark.parametrize('app,ident', [('Simple', 'k'), ('simple', 'K1'), ('simple', 'a b'), ('simple', ''),
                                       ('simple', 'x' * 65), ('1app', 'k'), ('simple', '../x')])
def test_refused_key_names(app, ident):
    with pytest.raises(HsmKeyError):
        _keys.check_key_names(app, ident)
