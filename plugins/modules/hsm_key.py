#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: hsm_key
short_description: Generate (or adopt) the tenant key inside the HSM
version_added: 0.1.0
description:
  - The equivalent of nCipher C(generatekey --generate simple type=RSA size=2048 protect=module ident=... plainname=...).
  - Generates an RSA key pair inside the HSM's token, logged in with the world's module credential (no card needed).
    The private key is a token object, private and C(CKA_SENSITIVE); it is C(CKA_EXTRACTABLE) only together with
    C(CKA_WRAP_WITH_TRUSTED), so it can only ever leave the HSM wrapped under a key the security officer marked
    trusted. It is also neither modifiable nor destroyable, so no session can loosen or delete it. The public key is
    readable without login.
  - Re-reads modulus, exponent and attributes from the HSM after generation and fails if any differs from what was
    asked.
  - Writes the key record C(key_<app_name>_<ident>) in O(world_dir) (mode C(0600)) with the public key and its
    fingerprint.
  - The private key is neither copyable nor destroyable; its public half is private (seen only after login) and not
    destroyable, so a session without a PIN can neither see nor delete any part of it.
  - Idempotent. A key with the same name and the same type, size and exponent is reported with C(changed=false);
    this is also how an existing key (for example an AD RMS C(mscapi) key in the same HSM) is adopted, writing its
    key record if it has none. The same name with other parameters is an error. A key is never replaced or deleted.
  - Every run is journalled in O(world_dir); a run that finds the key as it was records it too (outcome C(verified),
    with its fingerprint), so that the witness sheet of every run compares the key's fingerprint with the tenant's.
  - An existing key is adopted only when the HSM shows it was generated there and never readable
    (C(CKA_LOCAL), C(CKA_ALWAYS_SENSITIVE)), that it never left but under a trusted key (C(CKA_NEVER_EXTRACTABLE), or
    C(CKA_EXTRACTABLE) only with C(CKA_WRAP_WITH_TRUSTED)), and that nobody can have changed that since
    (C(CKA_MODIFIABLE) false). Anyone with the user PIN can import a key they know, or generate one, wrap it out and
    then turn C(CKA_EXTRACTABLE) off, and label it as the tenant key; such a key is refused, each failed condition
    named, unless O(adopt_imported=true).
  - A key that can be read or wrapped under any key now (not C(CKA_SENSITIVE), or C(CKA_EXTRACTABLE) without
    C(CKA_WRAP_WITH_TRUSTED)) is refused even with O(adopt_imported=true).
author:
  - keyceremony.byok maintainers (!UNKNOWN)
extends_documentation_fragment:
  - keyceremony.byok.world
  - keyceremony.byok.world.TOKEN
  - keyceremony.byok.world.KEY_NAME
  - keyceremony.byok.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details: Shows the key name, size and fingerprint before and after; never key material.
  idempotent:
    support: full
options:
  ident:
    description:
      - The key's identifier, 1 to 64 lower-case letters, digits, C(-) or C(_).
    type: str
    required: true
  plain_name:
    description:
      - A human name for the key, kept in the key record. Defaults to O(ident).
    type: str
  type:
    description:
      - Key type. Tenant keys are RSA.
    type: str
    default: RSA
    choices: [RSA]
  size:
    description:
      - RSA modulus size in bits. V(1024) is accepted, with a warning, only to migrate a legacy AD RMS key
        (cryptographic mode 1).
    type: int
    default: 2048
    choices: [1024, 2048, 3072, 4096]
  public_exponent:
    description:
      - RSA public exponent; odd and at least 65537.
    type: int
    default: 65537
  protect:
    description:
      - How the key is protected. Only V(module) is supported, as the cloud tenant key must be usable without an
        operator card set. Any other value (for example C(ocs)) fails.
    type: str
    default: module
  adopt_imported:
    description:
      - Adopt an existing key even though the HSM does not show it was generated inside it and never readable (for
        example an AD RMS key imported into this HSM for the migration). The module then warns, returns the reasons
        in RV(imported), and journals them. Give it on every run that adopts such a key; it never weakens the checks
        on a key this module generates.
    type: bool
    default: false
  state:
    description:
      - Only V(present) exists. Keys are never deleted by this collection.
    type: str
    default: present
    choices: [present]
notes:
  - Holds the world's lock (C(<world_dir>/.lock)) while it reads the token and writes the key record, so two runs
    on one world at once (two terminals, two playbooks) never both generate the key; the second waits, then finds
    the key the first made. Check mode takes no lock.
seealso:
  - module: keyceremony.byok.security_world
  - module: keyceremony.byok.hsm_key_info
'''

EXAMPLES = r'''
- name: Generate the tenant key (RSA 2048, module-protected)
  keyceremony.byok.hsm_key:
    world_dir: /var/lib/keyceremony/world
    ident: contosokey
    plain_name: Contoso tenant key 2026
  environment:
    SOFTHSM2_CONF: /var/lib/keyceremony/softhsm2.conf
  register: tenant_key

- name: Adopt the existing AD RMS key for an HSM-to-HSM migration
  keyceremony.byok.hsm_key:
    world_dir: /var/lib/keyceremony/world
    app_name: mscapi
    ident: adrms-slc-2019
    size: 2048
  environment:
    SOFTHSM2_CONF: /var/lib/keyceremony/softhsm2.conf

- name: Read the fingerprint aloud to the witnesses
  ansible.builtin.debug:
    msg: "{{ tenant_key.key_name }}: {{ tenant_key.spki_sha256 }}"
'''

RETURN = r'''
key_name:
  description: The nCipher key file name, C(key_<app_name>_<ident>); also the token label of the pair.
  returned: success
  type: str
  sample: key_simple_contosokey
label:
  description: The CKA_LABEL of the key pair on the token.
  returned: success
  type: str
  sample: key_simple_contosokey
size:
  description: RSA modulus size in bits, as read back from the HSM.
  returned: success
  type: int
  sample: 2048
public_exponent:
  description: The public exponent, as read back from the HSM.
  returned: success
  type: int
  sample: 65537
public_key_pem:
  description: The public key (SubjectPublicKeyInfo, PEM). V(null) in check mode when the key is still to be made.
  returned: success
  type: str
  sample: "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqh...\n-----END PUBLIC KEY-----\n"
spki_sha256:
  description: SHA-256 of the DER SubjectPublicKeyInfo, in hex; the key's fingerprint through the whole ceremony.
    V(null) in check mode when the key is still to be made.
  returned: success
  type: str
  sample: 9b1c6f3e2d4a5b6c7d8e9f00112233445566778899aabbccddeeff0011223344
adopted:
  description: Whether the key was adopted (it existed before this module first recorded it) rather than generated
    by this module.
  returned: success
  type: bool
  sample: false
imported:
  description: Why the HSM does not vouch for an adopted key's origin (empty for a key generated in the HSM and
    never readable); not empty only with O(adopt_imported=true).
  returned: success
  type: list
  elements: str
  sample: []
key_record:
  description: Path of the key record in O(world_dir).
  returned: success
  type: str
  sample: /var/lib/keyceremony/world/key_simple_contosokey
attributes:
  description: The private key's usage and export attributes as read from the HSM. Empty in check mode when the key
    is still to be made.
  returned: success
  type: dict
  sample: {"sign": true, "decrypt": true, "unwrap": false, "extractable": true, "sensitive": true, "wrap_with_trusted": true}
'''

import os

from ansible_collections.keyceremony.byok.plugins.module_utils._errors import HsmKeyError
from ansible_collections.keyceremony.byok.plugins.module_utils._hsm import Hsm
from ansible_collections.keyceremony.byok.plugins.module_utils._keys import (
    KeyRecord, check_key_names, check_key_spec, describe_key, exposure_problems, generate_rsa, key_name, make_record, provenance_problems)
from ansible_collections.keyceremony.byok.plugins.module_utils._module import (
    KEY_NAME_ARGS, TOKEN_ARG, WORLD_ARGS, new_module, run, spec)
from ansible_collections.keyceremony.byok.plugins.module_utils._world import World, WorldContext


def _compare(existing, p, name, token_label):
    wrong = []
    if existing['size'] != p['size']:
        wrong.append('size %d (asked %d)' % (existing['size'], p['size']))
    if existing['public_exponent'] != p['public_exponent']:
        wrong.append('public exponent %d (asked %d)' % (existing['public_exponent'], p['public_exponent']))
    if wrong:
        raise HsmKeyError('key %s already exists on token %r with %s; a key is never replaced: choose another ident, '
                          'or ask for the existing key\'s parameters' % (name, token_label, ', '.join(wrong)))


def work(module):
    p = module.params
    plain_name = p['plain_name'] or p['ident']
    imported = []
    check_key_names(p['app_name'], p['ident'])
    warnings = check_key_spec(p['type'], p['size'], p['public_exponent'], p['protect'])
    name = key_name(p['app_name'], p['ident'])
    # the lock is taken before the library is loaded: loading and listing the tokens read the token's files, which
    # another run may be writing
    world = World(p['world_dir'])
    world.descriptor()
    with world.changing(module.check_mode):
        with Hsm(p['pkcs11_module']) as hsm:
            ctx = WorldContext(hsm, p['world_dir'], p['token_label'])
            record = KeyRecord(ctx.world.dir, name)
            with ctx.user_session(rw=True) as session:
                existing = describe_key(session, name)
                if existing is not None:
                    _compare(existing, p, name, ctx.token_label)
                    exposed = exposure_problems(existing)
                    if exposed:
                        raise HsmKeyError('key %s on token %r can never be a ceremony key: %s'
                                          % (name, ctx.token_label, '; '.join(exposed)))
                    imported = provenance_problems(existing)
                    if imported and not p['adopt_imported']:
                        raise HsmKeyError('key %s on token %r cannot be adopted as a ceremony key: %s. A key planted by '
                                          'someone with the user PIN looks like this. If it is the AD RMS key of a '
                                          'migration, made outside this HSM on purpose, say so with adopt_imported=true'
                                          % (name, ctx.token_label, '; '.join(imported)))
                    if imported:
                        warnings.append('key %s is adopted although %s (adopt_imported=true); this is journalled'
                                        % (name, '; '.join(imported)))
                    desc, changed, adopted = existing, not record.exists(), True
                elif record.exists():
                    raise HsmKeyError('the world has a key record %s but token %r has no key %s; restore the token from '
                                      'the world backup instead of generating a new key' % (record.path, ctx.token_label, name))
                elif module.check_mode:
                    desc, changed, adopted = None, True, False
                else:
                    desc, changed, adopted = generate_rsa(session, name, p['size'], p['public_exponent']), True, False
            if desc is not None and record.exists():
                rec = record.read()
                if rec.get('spki_sha256') != desc['spki_sha256']:
                    raise HsmKeyError('key record %s names fingerprint %s but the token\'s key %s has %s; the record or '
                                      'the token was replaced' % (record.path, rec.get('spki_sha256'), name, desc['spki_sha256']))
                if rec.get('plain_name') != plain_name:
                    raise HsmKeyError('key %s was recorded with plain_name %r, not %r' % (name, rec.get('plain_name'), plain_name))
                adopted = rec.get('adopted') is True
            elif desc is not None and not module.check_mode:
                rec = make_record(ctx.descriptor, desc, p['app_name'], p['ident'], plain_name, p['protect'], adopted)
                rec['imported'] = imported
                record.write(rec)
    result = {
        'changed': changed,
        'adopted': adopted,
        'imported': imported,
        'key_name': name,
        'label': name,
        'size': desc['size'] if desc else p['size'],
        'public_exponent': desc['public_exponent'] if desc else p['public_exponent'],
        'public_key_pem': desc['public_key_pem'] if desc else None,
        'spki_sha256': desc['spki_sha256'] if desc else None,
        'key_record': record.path,
        'attributes': desc['attributes'] if desc else {},
        'warnings': warnings,
    }
    if module._diff:
        after = dict((k, result[k]) for k in ('key_name', 'size', 'spki_sha256'))
        result['diff'] = {'before': {} if changed and existing is None else after, 'after': after}
    return result


def main():
    module = new_module(spec(
        WORLD_ARGS, TOKEN_ARG, KEY_NAME_ARGS,
        ident={'type': 'str', 'required': True},
        plain_name={'type': 'str'},
        type={'type': 'str', 'default': 'RSA', 'choices': ['RSA']},
        size={'type': 'int', 'default': 2048, 'choices': [1024, 2048, 3072, 4096]},
        public_exponent={'type': 'int', 'default': 65537},
        protect={'type': 'str', 'default': 'module'},
        state={'type': 'str', 'default': 'present', 'choices': ['present']},
        adopt_imported={'type': 'bool', 'default': False},
    ))
    module.params['world_dir'] = os.path.abspath(module.params['world_dir'])
    run(module, work, journal_as='hsm_key', journal_verified=True,
        journal_fields=('key_name', 'size', 'public_exponent', 'spki_sha256', 'key_record', 'adopted', 'imported'))


if __name__ == '__main__':
    main()
