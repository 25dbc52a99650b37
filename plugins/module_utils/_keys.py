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

from ansible_collections.keyceremony.byok.plugins.module_utils._crypto import (
    public_key_info, rsa_public_numbers, spki_der_from_pem, verify_pss_sha256)
from ansible_collections.keyceremony.byok.plugins.module_utils._errors import HsmError, HsmKeyError
from ansible_collections.keyceremony.byok.plugins.module_utils._files import read_json, write_private_json
from ansible_collections.keyceremony.byok.plugins.module_utils._hsm import (
    SO, USER, attribute_template, constant, mechanism, pss_sha256)
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
    'copyable': False,
    'destroyable': False,
}

# What a key must show to be adopted as the tenant key without ``adopt_imported``: born in this
# HSM, never readable, never exportable but under a key the security officer trusted, and with
# attributes nobody can have changed since.
PROVENANCE = (
    ('local', True, 'it was not generated inside this HSM (CKA_LOCAL is false: it was imported or unwrapped, so '
                    'someone outside the HSM may know it)'),
    ('always_sensitive', True, 'it was readable at some time (CKA_ALWAYS_SENSITIVE is false)'),
    ('modifiable', False, 'its attributes can be changed (CKA_MODIFIABLE is true), so what they say now need not '
                          'be what they were: it may have been exportable under any key before'),
)


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


def describe_key(session, label):
    """Everything public about the key pair ``label``, or None when no such key exists."""
    private = session.find_one(label, 'CKO_PRIVATE_KEY', 'private keys')
    public = session.find_one(label, 'CKO_PUBLIC_KEY', 'public keys')
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


def provenance_problems(desc):
    """Why a key cannot be trusted as one the HSM generated and never let out; empty when it can.

    A key that is not extractable now may have been before (C_SetAttributeValue can turn CKA_EXTRACTABLE off):
    unless it was never extractable, it must be extractable under a trusted key only.
    """
    a = desc['attributes']
    problems = [why for name, want, why in PROVENANCE if a[name] is not want]
    if not a['never_extractable'] and not (a['extractable'] and a['wrap_with_trusted']):
        problems.append('it was extractable at some time (CKA_NEVER_EXTRACTABLE is false) and is not now limited to '
                        'trusted wrapping keys, so it may have been wrapped out under any key')
    return problems


def exposure_problems(desc):
    """How a key can leave the HSM in a form someone can read, now: never acceptable, adopted or not."""
    a = desc['attributes']
    problems = []
    if not a['sensitive']:
        problems.append('its private parts can be read (CKA_SENSITIVE is false)')
    if a['extractable'] and not a['wrap_with_trusted']:
        problems.append('it can be wrapped under any key, not only a trusted one (CKA_EXTRACTABLE without '
                        'CKA_WRAP_WITH_TRUSTED)')
    return problems


def merged(*lists):
    """Template pairs, a later pair replacing an earlier one of the same attribute (order kept)."""
    out = {}
    for pairs in lists:
        for name, value in pairs:
            out.pop(name, None)
            out[name] = value
    return list(out.items())


def generate_rsa_pair(session, label, size, public_exponent, private_pairs, public_pairs, action=None):
    """Generate an RSA pair inside the HSM with the given usage attributes; returns describe_key()."""
    common = [('CKA_KEY_TYPE', constant('CKK_RSA')), ('CKA_TOKEN', True), ('CKA_LABEL', label),
              ('CKA_ID', label.encode('ascii'))]
    public_template = attribute_template(merged([('CKA_CLASS', constant('CKO_PUBLIC_KEY'))] + common + [
        ('CKA_PRIVATE', False), ('CKA_MODULUS_BITS', size), ('CKA_PUBLIC_EXPONENT', tuple(_int_to_bytes(public_exponent))),
        ('CKA_MODIFIABLE', False)], public_pairs))
    private_template = attribute_template(merged([('CKA_CLASS', constant('CKO_PRIVATE_KEY'))] + common + [
        ('CKA_PRIVATE', True), ('CKA_SENSITIVE', True)], private_pairs))
    session.call(action or 'generating RSA %d key %r' % (size, label), session.raw.generateKeyPair,
                 public_template, private_template, mecha=mechanism('CKM_RSA_PKCS_KEY_PAIR_GEN'))
    return describe_key(session, label)


# The tenant key: sign and decrypt, exportable only under a trusted key, never changed, copied or deleted
# (a C_CopyObject duplicate could not be destroyed either, and its label would then block every step). Its public
# half is private too, so that no session without login can see or touch it, and it cannot be destroyed.
TENANT_KEY_PRIVATE = [('CKA_EXTRACTABLE', True), ('CKA_WRAP_WITH_TRUSTED', True), ('CKA_SIGN', True),
                      ('CKA_DECRYPT', True), ('CKA_UNWRAP', False), ('CKA_DERIVE', False), ('CKA_COPYABLE', False),
                      ('CKA_MODIFIABLE', False), ('CKA_DESTROYABLE', False)]
TENANT_KEY_PUBLIC = [('CKA_VERIFY', True), ('CKA_ENCRYPT', True), ('CKA_WRAP', False), ('CKA_PRIVATE', True),
                     ('CKA_COPYABLE', False), ('CKA_DESTROYABLE', False)]


def generate_rsa(session, label, size, public_exponent):
    """Generate the tenant key inside the HSM, re-read it and check it; returns describe_key()."""
    desc = generate_rsa_pair(session, label, size, public_exponent, TENANT_KEY_PRIVATE, TENANT_KEY_PUBLIC)
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


# ---------------------------------------------------------------- transfer ACLs (ModifyAcls)

def transfer_names(app_name, ident, kek_kid):
    """Labels of the objects the transfer needs, in the nCipher style."""
    return {
        'key': key_name(app_name, ident),
        'copy': key_name(app_name, 'xferacl_' + ident),
        'package_key': key_name(app_name, 'xferwrap_' + ident),
        'kek': 'kek_' + kek_kid,
    }


# The reduced-permission copy: no use at all, exportable only under a trusted key.
# (SoftHSM2 2.6.1 refuses CKA_MODIFIABLE=false in an unwrap template and never lets it be set
# afterwards, so the copy stays modifiable; packaging re-checks its attributes every time.)
COPY_REQUIRED = {
    'sign': False,
    'decrypt': False,
    'unwrap': False,
    'derive': False,
    'sensitive': True,
    'extractable': True,
    'wrap_with_trusted': True,
    'copyable': False,
    'destroyable': False,
}


def _copy_template(label):
    return [('CKA_CLASS', constant('CKO_PRIVATE_KEY')), ('CKA_KEY_TYPE', constant('CKK_RSA')), ('CKA_TOKEN', True),
            ('CKA_PRIVATE', True), ('CKA_LABEL', label), ('CKA_ID', label.encode('ascii')),
            ('CKA_SENSITIVE', True), ('CKA_EXTRACTABLE', True), ('CKA_WRAP_WITH_TRUSTED', True),
            ('CKA_SIGN', False), ('CKA_SIGN_RECOVER', False), ('CKA_DECRYPT', False), ('CKA_UNWRAP', False),
            ('CKA_DERIVE', False), ('CKA_COPYABLE', False), ('CKA_DESTROYABLE', False)]


def _aes_template(label, token, wrap, unwrap, extractable):
    return [('CKA_CLASS', constant('CKO_SECRET_KEY')), ('CKA_KEY_TYPE', constant('CKK_AES')), ('CKA_VALUE_LEN', 32),
            ('CKA_TOKEN', token), ('CKA_PRIVATE', False), ('CKA_TRUSTED', True), ('CKA_LABEL', label),
            ('CKA_WRAP', wrap), ('CKA_UNWRAP', unwrap), ('CKA_ENCRYPT', False), ('CKA_DECRYPT', False),
            ('CKA_SIGN', False), ('CKA_VERIFY', False), ('CKA_DERIVE', False), ('CKA_SENSITIVE', True),
            ('CKA_EXTRACTABLE', extractable), ('CKA_WRAP_WITH_TRUSTED', extractable)] + (
        [('CKA_MODIFIABLE', False), ('CKA_COPYABLE', False), ('CKA_DESTROYABLE', False)] if token else [])


def _kek_template(label, kid, modulus, exponent):
    return [('CKA_CLASS', constant('CKO_PUBLIC_KEY')), ('CKA_KEY_TYPE', constant('CKK_RSA')), ('CKA_TOKEN', True),
            ('CKA_PRIVATE', False), ('CKA_LABEL', label), ('CKA_ID', kid.encode('ascii')),
            ('CKA_MODULUS', _int_to_bytes(modulus)), ('CKA_PUBLIC_EXPONENT', _int_to_bytes(exponent)),
            ('CKA_TRUSTED', True), ('CKA_WRAP', True), ('CKA_ENCRYPT', False), ('CKA_VERIFY', False),
            ('CKA_VERIFY_RECOVER', False), ('CKA_DERIVE', False), ('CKA_MODIFIABLE', False), ('CKA_COPYABLE', False),
            ('CKA_DESTROYABLE', False)]


def check_copy(desc, original, name):
    if desc['spki_sha256'] != original['spki_sha256']:
        raise HsmKeyError('%s exists but is not a copy of %s (fingerprint %s, not %s)'
                          % (desc['label'], name, desc['spki_sha256'], original['spki_sha256']))
    wrong = ['%s=%s' % (k, desc['attributes'][k]) for k, v in sorted(COPY_REQUIRED.items()) if desc['attributes'][k] is not v]
    if wrong:
        raise HsmKeyError('the transfer copy %s has %s; it must have no use and be exportable only under a trusted '
                          'key. It was changed after the ACL step: do not package it, investigate' % (desc['label'], ', '.join(wrong)))


def check_package_key(session, handle, label):
    a = session.attributes(handle, ['CKA_TRUSTED', 'CKA_WRAP', 'CKA_UNWRAP', 'CKA_DECRYPT', 'CKA_EXTRACTABLE',
                                    'CKA_WRAP_WITH_TRUSTED', 'CKA_TOKEN', 'CKA_VALUE_LEN'])
    if not (a['CKA_TRUSTED'] and a['CKA_WRAP'] and not a['CKA_UNWRAP'] and not a['CKA_DECRYPT']
            and a['CKA_WRAP_WITH_TRUSTED'] and a['CKA_TOKEN'] and a['CKA_VALUE_LEN'] == 32):
        raise HsmKeyError('the package key %s is not the trusted, wrap-only AES-256 key the ACL step makes' % label)


def check_kek_object(session, handle, label, kek):
    modulus, exponent = session.rsa_public_numbers(handle)
    trusted = session.attributes(handle, ['CKA_TRUSTED', 'CKA_WRAP'])
    if (modulus, exponent) != (kek['kek_modulus'], kek['kek_public_exponent']):
        raise HsmKeyError('token object %s is not KEK %s (another public key carries its label)' % (label, kek['kek_kid']))
    if not (trusted['CKA_TRUSTED'] and trusted['CKA_WRAP']):
        raise HsmKeyError('KEK object %s is not marked trusted for wrapping; run keyceremony.byok.key_acl with the '
                          'admin cards' % label)


def check_recorded_key(session, world_dir, names, original):
    """The key under the label is the one hsm_key recorded, with the provenance it recorded, and no other private key
    on the token carries its modulus but its transfer copy.

    Without this, whoever holds the user PIN could relabel a modifiable (adopted) key and plant one they know under
    its name, or relabel the proved copy and plant another under the copy's name, between two steps.
    """
    record = KeyRecord(world_dir, names['key'])
    if not record.exists():
        raise HsmKeyError('the world has no key record %s; the key on the token was not made or adopted by '
                          'keyceremony.byok.hsm_key: run it first' % record.path)
    rec = record.read()
    if rec.get('spki_sha256') != original['spki_sha256']:
        raise HsmKeyError('key %s on token %r has fingerprint %s, but hsm_key recorded %s for it: another key was put '
                          'under its label. Do not prepare or package it; investigate'
                          % (names['key'], session.token.label, original['spki_sha256'], rec.get('spki_sha256')))
    problems = exposure_problems(original) + ([] if rec.get('imported') else provenance_problems(original))
    if problems:
        raise HsmKeyError('key %s on token %r is not the key hsm_key checked: %s'
                          % (names['key'], session.token.label, '; '.join(problems)))
    modulus, _exponent = rsa_public_numbers(spki_der_from_pem(original['public_key_pem']))
    found = session.find(attribute_template([('CKA_CLASS', constant('CKO_PRIVATE_KEY')),
                                             ('CKA_MODULUS', _int_to_bytes(modulus))]))
    labels = sorted(session.attributes(obj, ['CKA_LABEL'])['CKA_LABEL'] for obj in found)
    others = [label for label in labels if label not in (names['key'], names['copy'])]
    if others or len(labels) != len(set(labels)):
        raise HsmKeyError('private keys with the modulus of %s are on token %r under the labels %s; only the key and '
                          'its transfer copy %s may carry it. Someone with the user PIN relabelled or planted one: do '
                          'not prepare or package the key; investigate'
                          % (names['key'], session.token.label, ', '.join(labels), names['copy']))


def acl_state(session, app_name, ident, kek, world_dir):
    """What exists of the transfer ACL for (key, KEK); raises when something is wrong, not just missing."""
    names = transfer_names(app_name, ident, kek['kek_kid'])
    original = describe_key(session, names['key'])
    if original is None:
        raise HsmKeyError('token %r has no key %s; generate or adopt it with keyceremony.byok.hsm_key first'
                          % (session.token.label, names['key']))
    check_recorded_key(session, world_dir, names, original)
    copy = describe_key(session, names['copy'])
    if copy is not None:
        check_copy(copy, original, names['key'])
    package_key = session.find_one(names['package_key'], 'CKO_SECRET_KEY', 'package keys')
    if package_key is not None:
        check_package_key(session, package_key, names['package_key'])
    kek_object = session.find_one(names['kek'], 'CKO_PUBLIC_KEY', 'KEK objects')
    if kek_object is not None:
        check_kek_object(session, kek_object, names['kek'], kek)
    todo = []
    if kek_object is None:
        todo.append('import KEK %s as a trusted wrap-only key' % kek['kek_kid'])
    if package_key is None:
        todo.append('create the trusted wrap-only package key %s' % names['package_key'])
    if copy is None:
        todo.append('create the reduced-permission copy %s' % names['copy'])
    state = {'copy': copy, 'package_key': package_key, 'kek': kek_object,
             'key_handle': session.find_one(names['key'], 'CKO_PRIVATE_KEY'),
             'copy_handle': session.find_one(names['copy'], 'CKO_PRIVATE_KEY') if copy else None}
    return names, original, todo, state


def modify_acls(ctx, so_pin, names, kek, todo_state, original, check_mode=False):
    """Make what acl_state() found missing and prove the copy, in one session (first as SO, then as user), after
    RFC 5649's known-answer test in a user session of its own.

    The copy is made by wrapping the key under an AES key that the SO marks trusted and that
    lives only in this session (it can wrap and unwrap), then unwrapping it with the reduced
    attributes. The session key vanishes when the session closes, on every path, so the user
    PIN alone never has a trusted key that can unwrap.

    A copy found on the token is never trusted for its label and public half alone: anyone with
    the user PIN can create a private key object with the key's modulus and any other private
    exponent. prove_copy() checks its private half under the quorum, every time. In check mode
    nothing is made on the token; a copy that exists is still proved (with session objects only).
    """
    copy_session_label = 'xfercopy-session'
    user_pin, who = ctx.world.user_pin(), "the world's module credential"

    def session_key(s):
        return s.find(attribute_template([('CKA_LABEL', copy_session_label), ('CKA_TOKEN', False)]))[0]

    def make_trusted_objects(s):
        if todo_state['kek'] is None:
            s.create('importing KEK %s as trusted' % kek['kek_kid'],
                     _kek_template(names['kek'], kek['kek_kid'], kek['kek_modulus'], kek['kek_public_exponent']))
        if todo_state['package_key'] is None:
            s.generate_key('creating the package key %s' % names['package_key'],
                           _aes_template(names['package_key'], token=True, wrap=True, unwrap=False, extractable=True))

    # RFC 5649 as this library offers it, checked (known-answer test) in a user session before the quorum's objects
    # are made; a mechanism is the same in every session
    with ctx.user_session() as us:
        kwp = us.aes_key_wrap_pad(unwrap=True)
    with ctx.so_session(so_pin) as s:
        s.generate_key('creating the session key for the copy',
                       _aes_template(copy_session_label, token=False, wrap=True, unwrap=True, extractable=False))
        if todo_state['copy'] is not None:
            # a copy found on the token is proved before anything is made for it
            s.login(USER, user_pin, who)
            prove_copy(s, session_key(s), names, original, kwp)
            if not check_mode and (todo_state['kek'] is None or todo_state['package_key'] is None):
                s.login(SO, so_pin, 'the security officer PIN rebuilt from the admin cards')
                make_trusted_objects(s)
            return
        if check_mode:
            return
        make_trusted_objects(s)
        s.login(USER, user_pin, who)
        copy_key = session_key(s)
        key = s.find_one(names['key'], 'CKO_PRIVATE_KEY')
        wrapped = s.wrap('wrapping %s under the session key' % names['key'], copy_key, key, kwp)
        s.unwrap('making the reduced-permission copy %s' % names['copy'], copy_key, wrapped,
                 _copy_template(names['copy']), kwp)
        check_copy(describe_key(s, names['copy']), describe_key(s, names['key']), names['key'])
        prove_copy(s, copy_key, names, original, kwp)


def _probe_template():
    """A session object that may sign and nothing else: what prove_copy() unwraps the copy as."""
    return [('CKA_CLASS', constant('CKO_PRIVATE_KEY')), ('CKA_KEY_TYPE', constant('CKK_RSA')), ('CKA_TOKEN', False),
            ('CKA_PRIVATE', True), ('CKA_SENSITIVE', True), ('CKA_EXTRACTABLE', False), ('CKA_SIGN', True),
            ('CKA_DECRYPT', False), ('CKA_UNWRAP', False), ('CKA_DERIVE', False)]


def prove_copy(session, session_key, names, original, kwp):
    """The transfer copy's private half is the key's: it signs a fresh challenge that the key's public half verifies.

    The copy (sign=false) is wrapped under the trusted session key and unwrapped as a session object that may sign;
    the object is destroyed on every path. Raises HsmKeyError naming the copy when it is not the key.
    """
    copy = session.find_one(names['copy'], 'CKO_PRIVATE_KEY')
    try:
        wrapped = session.wrap('wrapping the transfer copy %s to prove it' % names['copy'], session_key, copy, kwp)
        probe = session.unwrap('opening the transfer copy %s to prove it' % names['copy'], session_key, wrapped,
                               _probe_template(), kwp)
    except HsmError as e:
        raise HsmKeyError('the transfer copy %s cannot be wrapped and opened as a whole RSA private key (%s), as a copy '
                          'of %s can: it fails the pairwise-consistency test, someone with the user PIN planted it. Do '
                          'not package it; investigate, then make the world anew from a trusted backup'
                          % (names['copy'], e.ckr, names['key']))
    try:
        challenge = os.urandom(32)
        reason = None
        try:
            signature = session.sign('proving the transfer copy %s' % names['copy'], probe, challenge, pss_sha256())
        except HsmError as e:
            signature, reason = None, e.ckr
        spki = spki_der_from_pem(original['public_key_pem'])
        if signature is None or not verify_pss_sha256(spki, signature, challenge):
            raise HsmKeyError('the transfer copy %s has the public key of %s but its private half is not that key\'s '
                              '(it fails the pairwise-consistency test%s): someone with the user PIN planted it. Do '
                              'not package it; investigate, then make the world anew from a trusted backup'
                              % (names['copy'], names['key'], ': ' + reason if reason else ''))
    finally:
        session.destroy('removing the proved copy', probe)
