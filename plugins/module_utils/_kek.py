# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The regional BYOK toolset: the KEK package and the security-world package.

Both ends use this file: the vendor side (``byok-tenant toolset``) builds the packages with
signers whose keys live in its HSM, the offline workstation verifies them in software against
the root hash the operator pinned out of band. The trust chain is:

    root key (its SPKI SHA-256 is the pinned root hash)
      signs -> attestation key certificate (names the attestation key by SPKI SHA-256)
        signs -> KEK attestation (names the KEK by SPKI SHA-256, its HSM attributes, the world)
        signs -> security-world statement (names the cloud's world by hash)

Every signed statement is canonical JSON signed with RSA-PSS/SHA-256 (PS256); every check has
a name, and a failure says which check failed and why.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import datetime
import hashlib
import json

from ansible_collections.keyceremony.byok.plugins.module_utils import _crypto
from ansible_collections.keyceremony.byok.plugins.module_utils._values import group_hash  # noqa: F401 pylint: disable=unused-import
from ansible_collections.keyceremony.byok.plugins.module_utils._errors import ByokError
from ansible_collections.keyceremony.byok.plugins.module_utils._files import canonical_json

KEK_FORMAT = 'keyceremony.byok/kek-package/1'
WORLD_PACKAGE_FORMAT = 'keyceremony.byok/security-world-package/1'
KEK_ATTESTATION = 'keyceremony.byok/kek-attestation/1'
WORLD_STATEMENT = 'keyceremony.byok/security-world-statement/1'
ATTESTATION_CERT = 'keyceremony.byok/attestation-key-certificate/1'

REGIONS = ('NA', 'EU', 'AP')

# What an attestation must say of the KEK for the world to trust it.
KEK_REQUIRED = {
    'extractable': False,
    'never_extractable': True,
    'sensitive': True,
    'local': True,
    'unwrap': True,
}


class KekPackageError(ByokError):
    """A check of the KEK or security-world package failed."""

    def __init__(self, check, why):
        super(KekPackageError, self).__init__('KEK package check "%s" failed: %s' % (check, why))
        self.check = check


def b64e(data):
    return base64.b64encode(data).decode('ascii')


def b64d(text, what):
    try:
        return base64.b64decode(text.encode('ascii'), validate=True)
    except (ValueError, AttributeError, TypeError):
        raise KekPackageError('format', '%s is not valid base64' % what)


def spki_sha256(spki_der):
    return hashlib.sha256(spki_der).hexdigest()


def normalize_root_hash(text):
    """Accept the pinned root hash with or without spaces or colons; SHA-256 only."""
    return _crypto.normalize_sha256(text, 'root_hash', 'the vendor root', 'ask the vendor for it')


# ---------------------------------------------------------------- building (vendor side)

def signed(statement, signer):
    """{'statement': ..., 'signature': b64} with ``signer(bytes) -> signature`` (PS256)."""
    return {'statement': statement, 'signature': b64e(signer(canonical_json(statement)))}


TIME_FORMAT = '%Y-%m-%dT%H:%M:%SZ'
CERTIFICATE_YEARS = 10
CLOCK_SKEW = datetime.timedelta(minutes=5)
# what the attestation key must be certified for, by the chain it is checked in
PURPOSE = {'KEK package': 'kek-attestation', 'security-world package': 'security-world-statement'}
MIN_KEK_BITS = 2048
KEK_EXPONENT = 65537


def _time(text):
    try:
        return datetime.datetime.strptime(text, TIME_FORMAT).replace(tzinfo=datetime.timezone.utc)
    except (TypeError, ValueError):
        return None


def attestation_certificate(root_signer, attestation_spki_der, issued, valid_until=None):
    if valid_until is None:
        start = _time(issued)
        valid_until = start.replace(year=start.year + CERTIFICATE_YEARS, day=min(start.day, 28)).strftime(TIME_FORMAT)
    return {
        'public_key': b64e(attestation_spki_der),
        'certificate': signed({
            'format': ATTESTATION_CERT,
            'attestation_key_spki_sha256': spki_sha256(attestation_spki_der),
            'purpose': ['kek-attestation', 'security-world-statement'],
            'issued': issued,
            'valid_until': valid_until,
        }, root_signer),
    }


def _check_certificate(cert, what, now=None):
    """The attestation key certificate is for this chain's purpose and valid now (with five minutes of skew)."""
    purposes = cert.get('purpose')
    if not isinstance(purposes, list) or PURPOSE[what] not in purposes:
        raise KekPackageError('attestation key certificate', 'the root certifies the attestation key in the %s for %s, '
                              'not for %s' % (what, purposes, PURPOSE[what]))
    now = now or datetime.datetime.now(datetime.timezone.utc)
    issued, until = _time(cert.get('issued')), _time(cert.get('valid_until'))
    if issued is None or until is None or until <= issued:
        raise KekPackageError('attestation key certificate', 'the attestation key certificate in the %s has no valid '
                              'period (issued %r, valid_until %r); ask the provider for a current toolset'
                              % (what, cert.get('issued'), cert.get('valid_until')))
    if now + CLOCK_SKEW < issued:
        raise KekPackageError('attestation key certificate', 'the attestation key certificate in the %s is issued %s, '
                              'in the future: check this workstation\'s clock (it reads %s)'
                              % (what, cert['issued'], now.strftime(TIME_FORMAT)))
    if now - CLOCK_SKEW > until:
        raise KekPackageError('attestation key certificate', 'the attestation key certificate in the %s expired on %s; '
                              'ask the provider for a current toolset (or check this workstation\'s clock, it reads '
                              '%s)' % (what, cert['valid_until'], now.strftime(TIME_FORMAT)))


def kek_id(region, kek_spki_der, generation=1):
    return 'BYOK-KEK-%s-%d-%s' % (region, generation, spki_sha256(kek_spki_der)[:16])


def build_kek_package(region, kek_spki_der, kek_attributes, world_hash, attestation, attestation_signer,
                      root_spki_der, issued, generation=1):
    """The regional KEK package. ``kek_attributes`` are read from the HSM by the caller."""
    kid = kek_id(region, kek_spki_der, generation)
    statement = {
        'format': KEK_ATTESTATION,
        'kid': kid,
        'region': region,
        'kek_spki_sha256': spki_sha256(kek_spki_der),
        'generated_in_hsm': bool(kek_attributes.get('local')),
        'attributes': kek_attributes,
        'world_hash': world_hash,
        'issued': issued,
    }
    return {
        'format': KEK_FORMAT,
        'region': region,
        'kek': {'kid': kid, 'public_key': b64e(kek_spki_der)},
        'attestation': signed(statement, attestation_signer),
        'attestation_key': attestation,
        'root': {'public_key': b64e(root_spki_der)},
    }


def build_world_package(region, world_hash, hsm_description, attestation, attestation_signer, root_spki_der, issued):
    statement = {
        'format': WORLD_STATEMENT,
        'region': region,
        'world_hash': world_hash,
        'hsm': hsm_description,
        'issued': issued,
    }
    return {
        'format': WORLD_PACKAGE_FORMAT,
        'region': region,
        'world': signed(statement, attestation_signer),
        'attestation_key': attestation,
        'root': {'public_key': b64e(root_spki_der)},
    }


# ---------------------------------------------------------------- verifying (offline side)

def _load(data, what, fmt):
    try:
        obj = json.loads(data.decode('utf-8'))
    except (ValueError, UnicodeDecodeError):
        raise KekPackageError('format', '%s is not a complete JSON document (truncated or not a package)' % what)
    if not isinstance(obj, dict) or obj.get('format') != fmt:
        raise KekPackageError('format', '%s is not a %s' % (what, fmt))
    return obj


def _field(obj, path, what):
    cur = obj
    for part in path.split('.'):
        if not isinstance(cur, dict) or part not in cur:
            raise KekPackageError('format', '%s has no %s' % (what, path))
        cur = cur[part]
    return cur


def _verify_signature(spki_der, signed_obj, check, what):
    if not _crypto.verify_pss_sha256(spki_der, b64d(_field(signed_obj, 'signature', what), what + ' signature'),
                                     canonical_json(_field(signed_obj, 'statement', what))):
        raise KekPackageError(check, 'the signature of the %s does not verify' % what)
    return signed_obj['statement']


def _verify_chain(pkg, what, pinned):
    """Root pinned -> attestation key certified by it. Returns the attestation key's SPKI DER."""
    root_der = b64d(_field(pkg, 'root.public_key', what), what + ' root key')
    root_hash = spki_sha256(root_der)
    if root_hash != pinned:
        raise KekPackageError('root', 'the %s is signed under root %s, not under the pinned root %s; check the '
                              'root hash you were given out of band, and where this package came from'
                              % (what, group_hash(root_hash), group_hash(pinned)))
    att_der = b64d(_field(pkg, 'attestation_key.public_key', what), what + ' attestation key')
    cert = _verify_signature(root_der, _field(pkg, 'attestation_key.certificate', what),
                             'attestation key certificate', 'attestation key certificate in the ' + what)
    if cert.get('format') != ATTESTATION_CERT or cert.get('attestation_key_spki_sha256') != spki_sha256(att_der):
        raise KekPackageError('attestation key certificate', 'the root\'s certificate in the %s names another '
                              'attestation key than the one the package carries' % what)
    _check_certificate(cert, what)
    return att_der, root_hash


def verify_toolset(kek_package, world_package, root_hash):
    """Verify both packages (bytes) against the pinned root hash; returns what the world may trust.

    Checks, in order: format, root (pinned), attestation key certificate, KEK attestation
    signature, attestation covers exactly this KEK, KEK non-exportable, world package
    signature, world hash, region.
    """
    pinned = normalize_root_hash(root_hash)
    kek = _load(kek_package, 'KEK package', KEK_FORMAT)
    world = _load(world_package, 'security-world package', WORLD_PACKAGE_FORMAT)

    att_der, root = _verify_chain(kek, 'KEK package', pinned)
    statement = _verify_signature(att_der, _field(kek, 'attestation', 'KEK package'), 'KEK attestation signature',
                                  'KEK attestation')
    kek_der = b64d(_field(kek, 'kek.public_key', 'KEK package'), 'KEK public key')
    kek_hash = spki_sha256(kek_der)
    kid = _field(kek, 'kek.kid', 'KEK package')
    if statement.get('format') != KEK_ATTESTATION or statement.get('kek_spki_sha256') != kek_hash \
            or statement.get('kid') != kid:
        raise KekPackageError('attestation covers this KEK', 'the attestation is for KEK %s (%s), but the package '
                              'carries KEK %s (%s)' % (statement.get('kid'), statement.get('kek_spki_sha256'), kid, kek_hash))
    attrs = statement.get('attributes') or {}
    wrong = ['%s=%s' % (k, attrs.get(k)) for k, v in sorted(KEK_REQUIRED.items()) if attrs.get(k) is not v]
    if wrong or statement.get('generated_in_hsm') is not True:
        raise KekPackageError('KEK non-exportable', 'the attestation says the KEK %s (needed: generated in the HSM, '
                              'extractable=False, never_extractable=True, sensitive=True, local=True, unwrap=True); '
                              'a KEK that could leave its HSM must never be trusted'
                              % (', '.join(wrong) or 'was not generated in the HSM'))

    world_att_der, world_root = _verify_chain(world, 'security-world package', pinned)
    world_statement = _verify_signature(world_att_der, _field(world, 'world', 'security-world package'),
                                        'world package signature', 'security-world statement')
    if world_statement.get('format') != WORLD_STATEMENT or world_statement.get('world_hash') != statement.get('world_hash'):
        raise KekPackageError('world hash', 'the KEK belongs to world %s but the security-world package describes '
                              'world %s; use the two files of the same toolset'
                              % (statement.get('world_hash'), world_statement.get('world_hash')))
    region = kek.get('region')
    if region not in REGIONS or statement.get('region') != region or world_statement.get('region') != region \
            or world.get('region') != region:
        raise KekPackageError('region', 'the packages disagree on the region (KEK package %s, attestation %s, '
                              'security-world package %s)' % (region, statement.get('region'), world_statement.get('region')))
    try:
        modulus, exponent = _crypto.rsa_public_numbers(kek_der)
    except ValueError:
        raise KekPackageError('KEK strength', 'the KEK public key in the KEK package is not an RSA public key')
    if modulus.bit_length() < MIN_KEK_BITS or exponent != KEK_EXPONENT:
        raise KekPackageError('KEK strength', 'KEK %s is RSA %d with public exponent %d; a KEK must be RSA %d or more '
                              'with exponent %d' % (kid, modulus.bit_length(), exponent, MIN_KEK_BITS, KEK_EXPONENT))
    return {
        'result': 'SUCCESS',
        'kek_kid': kid,
        'region': region,
        'kek_spki_sha256': kek_hash,
        'kek_size': modulus.bit_length(),
        'kek_modulus': modulus,
        'kek_public_exponent': exponent,
        'world_hash': statement['world_hash'],
        'root_hash': root,
        'root_hash_grouped': group_hash(root),
        'attestation_issued': statement.get('issued'),
    }


def read_and_verify(kek_path, world_path, root_hash):
    """verify_toolset() on two files, with errors that name the file that cannot be read."""
    blobs = []
    for path, what in ((kek_path, 'KEK package'), (world_path, 'security-world package')):
        try:
            with open(path, 'rb') as f:
                blobs.append(f.read())
        except IOError as e:
            raise ByokError('cannot read the %s %s: %s' % (what, path, e.strerror))
    return verify_toolset(blobs[0], blobs[1], root_hash)
