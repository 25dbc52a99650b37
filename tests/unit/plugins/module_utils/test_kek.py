# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""KEK and security-world packages: the chain to the pinned root, and every way it can be wrong.

Forged packages are built with software keys and the same builder the tenant uses; a real
toolset from a tenant's HSM is checked too.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from ansible_collections.keyceremony.byok.plugins.module_utils import _kek
from ansible_collections.keyceremony.byok.plugins.module_utils._errors import ByokError
from ansible_collections.keyceremony.byok.tenant import datadir

GOOD_ATTRS = {'extractable': False, 'never_extractable': True, 'sensitive': True, 'always_sensitive': True,
              'local': True, 'unwrap': True, 'decrypt': False, 'sign': False}
ISSUED = '2026-11-22T00:00:00Z'


class SoftKey(object):
    def __init__(self, bits=2048):
        self.key = rsa.generate_private_key(65537, bits)
        self.spki = self.key.public_key().public_bytes(serialization.Encoding.DER,
                                                       serialization.PublicFormat.SubjectPublicKeyInfo)
        self.hash = _kek.spki_sha256(self.spki)

    def sign(self, data):
        return self.key.sign(data, padding.PSS(padding.MGF1(hashes.SHA256()), 32), hashes.SHA256())


@pytest.fixture(scope='module')
def keys():
    return dict((name, SoftKey()) for name in ('root', 'att', 'kek', 'other_root', 'other_att', 'other_kek'))


def toolset(keys, root='root', att='att', kek='kek', attrs=None, world='w' * 64, world_of_world=None, region='NA',
            world_region=None, attestation=None):
    attestation = attestation or _kek.attestation_certificate(keys[root].sign, keys[att].spki, ISSUED)
    kek_pkg = _kek.build_kek_package(region, keys[kek].spki, attrs or GOOD_ATTRS, world, attestation, keys[att].sign,
                                     keys[root].spki, ISSUED)
    world_pkg = _kek.build_world_package(world_region or region, world_of_world or world, 'test HSM', attestation,
                                         keys[att].sign, keys[root].spki, ISSUED)
    return json.dumps(kek_pkg).encode(), json.dumps(world_pkg).encode()


def test_a_good_toolset(keys):
    kek, world = toolset(keys)
    r = _kek.verify_toolset(kek, world, keys['root'].hash)
    assert r['result'] == 'SUCCESS' and r['region'] == 'NA' and r['kek_spki_sha256'] == keys['kek'].hash
    assert r['kek_kid'] == 'BYOK-KEK-NA-1-' + keys['kek'].hash[:16] and r['world_hash'] == 'w' * 64


@pytest.mark.bad_input
@pytest.mark.parametrize('bits,exponent,msg', [
    (1024, 65537, 'RSA 1024 with public exponent 65537'), (2048, 3, 'RSA 2048 with public exponent 3')])
def test_a_weak_kek_is_refused(keys, bits, exponent, msg):
    weak = SoftKey(bits)
    if exponent != 65537:
        n = weak.key.public_key().public_numbers().n
        weak.spki = rsa.RSAPublicNumbers(exponent, n).public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    kek, world = toolset(dict(keys, weak=weak), kek='weak')
    with pytest.raises(ByokError, match='KEK package check "KEK strength" failed') as e:
        _kek.verify_toolset(kek, world, keys['root'].hash)
    assert msg in str(e.value) and 'RSA 2048 or more with exponent 65537' in str(e.value)


def _certificate(keys, **statement):
    """An attestation key certificate with some fields replaced, signed by the real root."""
    cert = _kek.attestation_certificate(keys['root'].sign, keys['att'].spki, ISSUED)
    body = dict(cert['certificate']['statement'], **statement)
    return dict(cert, certificate=_kek.signed(dict((k, v) for k, v in body.items() if v is not None), keys['root'].sign))


@pytest.mark.bad_input
@pytest.mark.parametrize('statement,msg', [
    ({'purpose': ['security-world-statement']}, 'not for kek-attestation'),
    ({'purpose': None}, 'not for kek-attestation'),
    ({'valid_until': '2026-11-23T00:00:00Z'}, 'expired on 2026-11-23T00:00:00Z'),
    ({'issued': '2099-01-01T00:00:00Z', 'valid_until': '2109-01-01T00:00:00Z'}, 'in the future'),
    ({'valid_until': None}, 'has no valid period'),
    ({'valid_until': '2026-11-21T00:00:00Z'}, 'has no valid period'),
])
def test_the_attestation_certificate_purpose_and_validity(keys, statement, msg):
    kek, world = toolset(keys, attestation=_certificate(keys, **statement))
    with pytest.raises(ByokError, match='check "attestation key certificate" failed') as e:
        _kek.verify_toolset(kek, world, keys['root'].hash)
    assert msg in str(e.value)


def test_a_certificate_is_valid_for_ten_years(keys):
    cert = _kek.attestation_certificate(keys['root'].sign, keys['att'].spki, ISSUED)['certificate']['statement']
    assert cert['valid_until'] == '2036-11-22T00:00:00Z'


def test_root_hash_forms(keys):
    kek, world = toolset(keys)
    grouped = _kek.group_hash(keys['root'].hash)
    assert len(grouped.split()) == 8
    for form in (grouped, grouped.upper(), keys['root'].hash, ':'.join(grouped.split())):
        assert _kek.verify_toolset(kek, world, form)['result'] == 'SUCCESS'


@pytest.mark.bad_input
def test_sha1_root_hash_is_refused(keys):
    kek, world = toolset(keys)
    with pytest.raises(ByokError, match='SHA-1'):
        _kek.verify_toolset(kek, world, '59178a47 de508c3f 291277ee 184f46c4 f1d9c639')


@pytest.mark.bad_input
@pytest.mark.parametrize('value', ['', 'xyz', '12' * 31])
def test_malformed_root_hash(keys, value):
    kek, world = toolset(keys)
    with pytest.raises(ByokError, match='root_hash'):
        _kek.verify_toolset(kek, world, value)


@pytest.mark.bad_input
def test_wrong_pinned_root_hash(keys):
    kek, world = toolset(keys)
    with pytest.raises(_kek.KekPackageError) as e:
        _kek.verify_toolset(kek, world, keys['other_root'].hash)
    assert e.value.check == 'root' and 'not under the pinned root' in str(e.value)


@pytest.mark.parametrize('root, part, swapped_in, check', [
    # a forger re-signs the whole chain under their own root but keeps the real root's key in the package
    ('other_root', 'root', 'root', 'attestation key certificate'),
    ('root', 'kek', 'other_kek', 'attestation covers this KEK'),
    ('root', 'attestation_key', 'other_att', 'attestation key certificate'),
])
def test_a_swapped_key_breaks_the_chain(keys, root, part, swapped_in, check):
    kek, world = toolset(keys, root=root)
    pkg = json.loads(kek.decode())
    pkg[part]['public_key'] = _kek.b64e(keys[swapped_in].spki)
    with pytest.raises(_kek.KekPackageError) as e:
        _kek.verify_toolset(json.dumps(pkg).encode(), world, keys['root'].hash)
    assert e.value.check == check


@pytest.mark.parametrize('change', [{'extractable': True}, {'never_extractable': False}, {'local': False},
                                    {'sensitive': False}, {'unwrap': False}])
def test_exportable_kek(keys, change):
    kek, world = toolset(keys, attrs=dict(GOOD_ATTRS, **change))
    with pytest.raises(_kek.KekPackageError) as e:
        _kek.verify_toolset(kek, world, keys['root'].hash)
    assert e.value.check == 'KEK non-exportable' and '%s=%s' % list(change.items())[0] in str(e.value)


@pytest.mark.bad_input
def test_edited_attestation_statement(keys):
    kek, world = toolset(keys)
    pkg = json.loads(kek.decode())
    pkg['attestation']['statement']['attributes']['extractable'] = False
    pkg['attestation']['statement']['issued'] = '2030-01-01T00:00:00Z'
    with pytest.raises(_kek.KekPackageError) as e:
        _kek.verify_toolset(json.dumps(pkg).encode(), world, keys['root'].hash)
    assert e.value.check == 'KEK attestation signature'


@pytest.mark.bad_input
def test_world_of_another_cloud(keys):
    kek, world = toolset(keys, world_of_world='x' * 64)
    with pytest.raises(_kek.KekPackageError) as e:
        _kek.verify_toolset(kek, world, keys['root'].hash)
    assert e.value.check == 'world hash'


def test_world_package_signature(keys):
    kek, world = toolset(keys)
    pkg = json.loads(world.decode())
    pkg['world']['statement']['hsm'] = 'edited'
    with pytest.raises(_kek.KekPackageError) as e:
        _kek.verify_toolset(kek, json.dumps(pkg).encode(), keys['root'].hash)
    assert e.value.check == 'world package signature'


def test_regions_must_agree(keys):
    kek, world = toolset(keys, world_region='EU')
    with pytest.raises(_kek.KekPackageError) as e:
        _kek.verify_toolset(kek, world, keys['root'].hash)
    assert e.value.check == 'region'


@pytest.mark.bad_input
@pytest.mark.parametrize('which', [0, 1])
def test_truncated_packages(keys, which):
    files = list(toolset(keys))
    files[which] = files[which][:len(files[which]) // 2]
    with pytest.raises(_kek.KekPackageError) as e:
        _kek.verify_toolset(files[0], files[1], keys['root'].hash)
    assert e.value.check == 'format' and 'truncated' in str(e.value)


def test_swapped_files(keys):
    kek, world = toolset(keys)
    with pytest.raises(_kek.KekPackageError, match='is not a keyceremony.byok/kek-package/1'):
        _kek.verify_toolset(world, kek, keys['root'].hash)


def test_a_real_tenant_toolset(softhsm, tmp_path):
    info = datadir.init(str(tmp_path / 'tenant'), regions=('EU',))
    ts = datadir.Tenant(info['data_dir']).toolset('EU', str(tmp_path / 'out'))
    r = _kek.read_and_verify(ts['kek_package'], ts['security_world_package'], info['root_hash_grouped'])
    assert r['kek_kid'] == info['keks']['EU']['kid'] and r['world_hash'] == info['world_hash']
    assert r['kek_size'] == 3072
    with pytest.raises(ByokError, match='cannot read the KEK package'):
        _kek.read_and_verify(str(tmp_path / 'missing'), ts['security_world_package'], info['root_hash'])
