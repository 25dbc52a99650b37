#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: hsm_key_info
short_description: List the keys of a security world with the attributes that decide use and export
version_added: 0.1.0
description:
  - The equivalent of nCipher C(nkminfo -k) and C(aclprint).
  - Lists every key pair on the world's token, or one key chosen by O(app_name) and O(ident), with its size,
    fingerprint and the attributes that decide how it may be used and whether it may leave the HSM.
  - Logs in with the world's module credential; needs no card. Reports no key material and no secret.
author:
  - keyceremony.byok maintainers (!UNKNOWN)
extends_documentation_fragment:
  - keyceremony.byok.world
  - keyceremony.byok.world.TOKEN
  - keyceremony.byok.world.KEY_NAME
  - keyceremony.byok.attributes
  - keyceremony.byok.attributes.INFO_MODULE
options:
  ident:
    description:
      - Report only the key C(key_<app_name>_<ident>). When not given, every key is reported.
      - A key that does not exist gives an empty RV(keys) list, not a failure.
    type: str
seealso:
  - module: keyceremony.byok.hsm_key
  - module: keyceremony.byok.security_world_info
'''

EXAMPLES = r'''
- name: Show how the tenant key may be used
  keyceremony.byok.hsm_key_info:
    world_dir: /var/lib/keyceremony/world
    ident: contosokey
  environment:
    SOFTHSM2_CONF: /var/lib/keyceremony/softhsm2.conf
  register: keyinfo

- name: The tenant key must only leave the HSM under a trusted key
  ansible.builtin.assert:
    that:
      - keyinfo.keys[0].attributes.sensitive
      - keyinfo.keys[0].attributes.wrap_with_trusted
'''

RETURN = r'''
keys:
  description: The key pairs, sorted by key name.
  returned: always
  type: list
  elements: dict
  contains:
    key_name:
      description: The key's name and token label.
      type: str
      sample: key_simple_contosokey
    app_name:
      description: The application part of the key name; V(null) for a key not named C(key_<app>_<ident>).
      type: str
      sample: simple
    ident:
      description: The ident part of the key name; V(null) for a key not named C(key_<app>_<ident>).
      type: str
      sample: contosokey
    plain_name:
      description: The human name from the key record; V(null) when the world has no record of the key.
      type: str
      sample: Contoso tenant key 2026
    type:
      description: Key type.
      type: str
      sample: RSA
    size:
      description: RSA modulus size in bits.
      type: int
      sample: 2048
    public_exponent:
      description: RSA public exponent.
      type: int
      sample: 65537
    spki_sha256:
      description: SHA-256 of the DER SubjectPublicKeyInfo, in hex.
      type: str
      sample: 9b1c6f3e2d4a5b6c7d8e9f00112233445566778899aabbccddeeff0011223344
    public_key_pem:
      description: The public key, PEM.
      type: str
      sample: "-----BEGIN PUBLIC KEY-----\n..."
    attributes:
      description:
        - The private key's attributes as the HSM reports them.
        - V(sign), V(decrypt), V(unwrap), V(derive) - what it may be used for.
        - V(extractable), V(sensitive), V(wrap_with_trusted), V(never_extractable), V(always_sensitive) - whether
          and how it may leave the HSM.
        - V(local) - generated inside the HSM; V(modifiable), V(copyable), V(destroyable), V(private).
      type: dict
      sample: {"sign": true, "decrypt": true, "unwrap": false, "derive": false, "extractable": true, "sensitive": true,
               "wrap_with_trusted": true, "never_extractable": false, "always_sensitive": true, "local": true,
               "modifiable": false, "copyable": false, "destroyable": false, "private": true}
'''

import os

from ansible_collections.keyceremony.byok.plugins.module_utils._hsm import Hsm
from ansible_collections.keyceremony.byok.plugins.module_utils._keys import (
    KeyRecord, check_key_names, describe_key, key_name, list_key_labels)
from ansible_collections.keyceremony.byok.plugins.module_utils._module import (
    KEY_NAME_ARGS, TOKEN_ARG, WORLD_ARGS, new_module, run, spec)
from ansible_collections.keyceremony.byok.plugins.module_utils._world import WorldContext


def work(module):
    p = module.params
    keys = []
    with Hsm(p['pkcs11_module']) as hsm:
        ctx = WorldContext(hsm, p['world_dir'], p['token_label'])
        with ctx.user_session() as session:
            if p['ident']:
                check_key_names(p['app_name'], p['ident'])
                labels = [key_name(p['app_name'], p['ident'])]
            else:
                labels = list_key_labels(session)
            for label in labels:
                desc = describe_key(session, label)
                if desc is None:
                    continue
                record = KeyRecord(ctx.world.dir, label) if desc['app_name'] else None
                desc['plain_name'] = record.read().get('plain_name') if record and record.exists() else None
                desc['key_name'] = desc.pop('label')
                desc.pop('has_public_object')
                keys.append(desc)
    return {'changed': False, 'keys': keys}


def main():
    module = new_module(spec(WORLD_ARGS, TOKEN_ARG, KEY_NAME_ARGS, ident={'type': 'str'}))
    module.params['world_dir'] = os.path.abspath(module.params['world_dir'])
    run(module, work)


if __name__ == '__main__':
    main()
