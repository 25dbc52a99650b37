# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Keys in the HSM: generation (private part born and kept inside), inspection, and the key
record file ``<world_dir>/key_<app>_<ident>`` (the nCipher kmdata name users know).

A key is found by its CKA_LABEL, which is its key name. Nothing here deletes or replaces a key.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import re

from ansible_collections.keyceremony.byok.plugins.module_utils._crypto import public_key_info
from ansible_collections.keyceremony.byok.plugins.module_utils._errors import HsmKeyError
from ansible_collections.keyceremony.byok.plugins.module_utils._files import read_json, write_private_json
from ansible_collections.keyceremony.byok.plugins.module_utils._hsm import attribute_template, constant, mechanism
from ansible_collections.keyceremony.byok.plugins.module_utils._world import utcnow

KEY_RECORD_FORMAT = 'keyceremony.byok/key/1'
RSA_SIZES = (1024, 2048, 3072, 4096)
LEGACY_SIZES = (1024,)
IDENT_RE = re.compile(r'^[a-z0-9_-]{1,64}$')
APP_RE = re.compile(r'^[a-z][a-z0-9]{0,31}$')

# The attributes that decide how a private key may be used and whether it may leave the HSM.
USAGE_ATTRIBUTES = (
    ('sign', 'CKA_SIGN'),
    ('decrypt', 'CKA_DECRYPT'),
    ('unwrap', 'CKA_UNWRAP'),
    ('derive', 'CKA_DERIVE'),
    ('extractable', 'CKA_EXTRACTABLE'),
    ('sensitive', 'CKA_SENSITIVE'),
    ('wrap_with_trusted', 'CKA_WRAP_WITH_TRUSTED'),
    ('never_extractable', 'CKA_NEVER_EXTRACTABLE'),
    ('always_sensitive', 'CKA_ALWAYS_SENSITIVE'),
    ('local', 'CKA_LOCAL'),
    ('modifiable', 'CKA_MODIFIABLE'),
    ('copyable', 'CKA_COPYABLE'),
    ('destroyable', 'CKA_DESTROYABLE'),
    ('private', 'CKA_PRIVATE'),
)

# What generation asks for and then re-reads: a key that is only ever exportable wrapped
# under a key the security officer trusted, and that no session can delete or loosen.
REQUIRED_PRIVATE = {
    'sensitive': True,
    'extractable': True,
    'wrap_with_trusted': True,
    'always_sensitive': True,
    'local': True,
    'private': True,
    'modifiable': False,
    'destroyable': False,
}


def key_name(app_name, ident):
    return 'key_%s_%s' % (app_name, ident)


def check_key_names(app_name, ident):
    if not APP_RE.match(app_name or ''):
        raise HsmKeyError('app_name %r must be lower-case letters and digits, starting with a letter '
                          '(for example simple, or mscapi for AD RMS keys)' % (app_name,))
    if not IDENT_RE.match(ident or ''):
        raise HsmKeyError('ident %r must be 1 to 64 lower-case letters, digits, "-" or "_"' % (ident,))


def check_key_spec(key_type, size, public_exponent, protect):
    """Refuse what the ceremony cannot do; returns warnings for what it does only for legacy."""
    warnings = []
    if key_type != 'RSA':
        raise HsmKeyError('type %r is not supported; tenant keys are RSA' % (key_type,))
    if protect != 'module':
        raise HsmKeyError('protect=%s is not supported: only module protection is (protect=module), as the '
                          'cloud tenant key must be usable without an operator card set' % (protect,))
    if size not in RSA_SIZES:
        raise HsmKeyError('size %s is not supported; choose 2048 (the default), 3072 or 4096 (1024 only to '
                          'migrate a legacy AD RMS key)' % (size,))
    if size in LEGACY_SIZES:
        warnings.append('RSA %d is accepted only to migrate a legacy AD RMS key (cryptographic mode 1); '
                        'generate 2048 or more for any new key' % size)
    if public_exponent % 2 == 0 or not 65537 <= public_exponent < 2 ** 256:
        raise HsmKeyError('public_exponent %s must be odd and between 65537 and 2^256; keep the default 65537'
                          % (public_exponent,))
    return warnings


def _int_to_bytes(value):
    return value.to_bytes((value.bit_length() + 7) // 8, 'big')


def _find_one(session, label, cls):
    found = session.find(attribute_template([('CKA_LABEL', label), ('CKA_CLASS', constant(cls))]))
    if len(found) > 1:
        raise HsmKeyError('%d objects of class %s carry the label %r on token %r; key labels must be unique'
                          % (len(found), cls, label, session.token.label))
    return found[0] if found else None


def describe_key(session, label):
    """Everything public about the key pair ``label``, or None when no such key exists."""
    private = _find_one(session, label, 'CKO_PRIVATE_KEY')
    public = _find_one(session, label, 'CKO_PUBLIC_KEY')
    if private is None and public is None:
        return None
    if private is None:
        raise HsmKeyError('token %r has a public key %r but no private key of that name (or the session cannot '
                          'see it); the key is incomplete' % (session.token.label, label))
    names = ['CKA_KEY_TYPE', 'CKA_MODULUS', 'CKA_PUBLIC_EXPONENT', 'CKA_ID'] + [cka for name, cka in USAGE_ATTRIBUTES]
    attrs = session.attributes(private, names)
    if attrs['CKA_KEY_TYPE'] != constant('CKK_RSA'):
        raise HsmKeyError('key %r on token %r is not an RSA key' % (label, session.token.label))
    modulus = int.from_bytes(bytes(attrs['CKA_MODULUS']), 'big')
    exponent = int.from_bytes(bytes(attrs['CKA_PUBLIC_EXPONENT']), 'big')
    if public is not None:
        pub = session.attributes(public, ['CKA_MODULUS', 'CKA_PUBLIC_EXPONENT'])
        if (int.from_bytes(bytes(pub['CKA_MODULUS']), 'big'), int.from_bytes(bytes(pub['CKA_PUBLIC_EXPONENT']), 'big')) \
                != (modulus, exponent):
            raise HsmKeyError('the public and private halves of key %r on token %r do not match'
                              % (label, session.token.label))
    pem, spki = public_key_info(modulus, exponent)
    desc = {
        'label': label,
        'type': 'RSA',
        'size': modulus.bit_length(),
        'public_exponent': exponent,
        'public_key_pem': pem,
        'spki_sha256': spki,
        'has_public_object': public is not None,
        'attributes': dict((k, attrs[a]) for k, a in USAGE_ATTRIBUTES),
    }
    m = re.match(r'^key_([a-z][a-z0-9]*)_([a-z0-9_-]+)$', label)
    desc['app_name'], desc['ident'] = (m.group(1), m.group(2)) if m else (None, None)
    return desc


def list_key_labels(session):
    """Labels of every private key the session sees, sorted."""
    labels = set()
    for obj in session.find(attribute_template([('CKA_CLASS', constant('CKO_PRIVATE_KEY'))])):
        labels.add(session.attributes(obj, ['CKA_LABEL'])['CKA_LABEL'])
    return sorted(labels)


def export_risks(desc):
    """Ways an existing (adopted) key could leave the HSM other than under a trusted key."""
    a = desc['attributes']
    risks = []
    if not a['sensitive']:
        risks.append('it is not sensitive (its private parts can be read)')
    if a['extractable'] and not a['wrap_with_trusted']:
        risks.append('it can be wrapped under any key, not only a trusted one')
    return risks


def generate_rsa(session, label, size, public_exponent):
    """Generate the pair inside the HSM, re-read it and check it; returns describe_key()."""
    exp_bytes = tuple(_int_to_bytes(public_exponent))
    common = [('CKA_KEY_TYPE', constant('CKK_RSA')), ('CKA_TOKEN', True), ('CKA_LABEL', label),
              ('CKA_ID', label.encode('ascii'))]
    public_template = attribute_template([('CKA_CLASS', constant('CKO_PUBLIC_KEY'))] + common + [
        ('CKA_PRIVATE', False), ('CKA_MODULUS_BITS', size), ('CKA_PUBLIC_EXPONENT', exp_bytes),
        ('CKA_VERIFY', True), ('CKA_ENCRYPT', True), ('CKA_WRAP', False), ('CKA_MODIFIABLE', False),
    ])
    private_template = attribute_template([('CKA_CLASS', constant('CKO_PRIVATE_KEY'))] + common + [
        ('CKA_PRIVATE', True), ('CKA_SENSITIVE', True), ('CKA_EXTRACTABLE', True), ('CKA_WRAP_WITH_TRUSTED', True),
        ('CKA_SIGN', True), ('CKA_DECRYPT', True), ('CKA_UNWRAP', False), ('CKA_DERIVE', False),
        ('CKA_COPYABLE', True), ('CKA_MODIFIABLE', False), ('CKA_DESTROYABLE', False),
    ])
    session.call('generating RSA %d key %r' % (size, label), session.raw.generateKeyPair,
                 public_template, private_template, mecha=mechanism('CKM_RSA_PKCS_KEY_PAIR_GEN'))
    desc = describe_key(session, label)
    problems = []
    if desc['size'] != size:
        problems.append('modulus is %d bits, not %d' % (desc['size'], size))
    if desc['public_exponent'] != public_exponent:
        problems.append('public exponent is %d, not %d' % (desc['public_exponent'], public_exponent))
    for name, want in REQUIRED_PRIVATE.items():
        if desc['attributes'][name] is not want:
            problems.append('%s is %s, not %s' % (name, desc['attributes'][name], want))
    if problems:
        raise HsmKeyError('the HSM generated key %r but it is not what was asked: %s. Do not use this key or this '
                          'PKCS#11 library for the ceremony' % (label, '; '.join(problems)))
    return desc


class KeyRecord(object):
    """``<world_dir>/key_<app>_<ident>``: what the world knows of a key (no secret in it)."""

    def __init__(self, world_dir, name):
        self.path = os.path.join(world_dir, name)

    def exists(self):
        return os.path.isfile(self.path)

    def read(self):
        rec = read_json(self.path, 'key record')
        if rec.get('format') != KEY_RECORD_FORMAT:
            raise HsmKeyError('%s is not a key record of this collection' % self.path)
        return rec

    def write(self, record):
        write_private_json(self.path, dict(record, format=KEY_RECORD_FORMAT))


def make_record(descriptor, desc, app_name, ident, plain_name, protect, adopted):
    return {
        'key_name': key_name(app_name, ident),
        'app_name': app_name,
        'ident': ident,
        'plain_name': plain_name,
        'type': desc['type'],
        'size': desc['size'],
        'public_exponent': desc['public_exponent'],
        'protect': protect,
        'world_id': descriptor['world_id'],
        'token_label': descriptor['token_label'],
        'token_serial': descriptor['token_serial'],
        'spki_sha256': desc['spki_sha256'],
        'public_key_pem': desc['public_key_pem'],
        'adopted': adopted,
        'recorded': utcnow(),
    }
