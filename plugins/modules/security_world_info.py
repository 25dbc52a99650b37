#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: security_world_info
short_description: Report a security world, its token and its keys
version_added: 0.1.0
description:
  - The equivalent of nCipher C(nkminfo).
  - Reports the world descriptor, the token (label, serial, initialised, free space when the HSM tells it) and the keys
    in it. Needs no administrator card; the keys are listed with the world's module credential.
  - Reports whether the ceremony journal's hash chain is intact.
  - Never reports a secret. When O(world_dir) holds no world, returns RV(exists=false) and changes nothing.
author:
  - keyceremony.byok maintainers (!UNKNOWN)
extends_documentation_fragment:
  - keyceremony.byok.world
  - keyceremony.byok.world.TOKEN
  - keyceremony.byok.attributes
  - keyceremony.byok.attributes.INFO_MODULE
seealso:
  - module: keyceremony.byok.security_world
  - module: keyceremony.byok.hsm_key_info
'''

EXAMPLES = r'''
- name: Read the world before the ceremony
  keyceremony.byok.security_world_info:
    world_dir: /var/lib/keyceremony/world
  environment:
    SOFTHSM2_CONF: /var/lib/keyceremony/softhsm2.conf
  register: info

- name: Stop when there is no world yet
  ansible.builtin.assert:
    that: info.exists
    fail_msg: Create the security world first (keyceremony.byok.security_world).
'''

RETURN = r'''
exists:
  description: Whether O(world_dir) holds a finished world.
  returned: always
  type: bool
  sample: true
unfinished:
  description: Whether O(world_dir) holds an interrupted world creation that M(keyceremony.byok.security_world) can finish.
  returned: always
  type: bool
  sample: false
world:
  description: The world descriptor (no secret). Empty when there is no world.
  returned: always
  type: dict
  contains:
    world_id:
      description: The world's id.
      type: str
      sample: 5f0c2d8e9a4b41c3b1f7e2a9d6c3b0a1
    token_label:
      description: Label of the world's token.
      type: str
      sample: contoso-world
    token_serial:
      description: Serial of the world's token.
      type: str
      sample: 3f9a1c0e5b2d7a64
    acs_quorum:
      description: The card quorum C(K/N).
      type: str
      sample: "2/3"
    cipher_suite:
      description: How the cards are protected.
      type: str
      sample: argon2id-aes256gcm
    created:
      description: When the world was created (UTC, ISO 8601).
      type: str
      sample: "2026-11-22T09:30:00Z"
    cards:
      description: Card numbers, paths at creation and fingerprints.
      type: list
      elements: dict
      sample: [{"card": 1, "path": "/media/card1/contoso-world.card", "fingerprint": "0c1f5e0d..."}]
token:
  description: What the PKCS#11 library says of the world's token; V(null) when there is no world.
  returned: always
  type: dict
  contains:
    label:
      description: Token label.
      type: str
      sample: contoso-world
    serial:
      description: Token serial number.
      type: str
      sample: 3f9a1c0e5b2d7a64
    manufacturer:
      description: Token manufacturer.
      type: str
      sample: SoftHSM project
    model:
      description: Token model.
      type: str
      sample: SoftHSM v2
    firmware:
      description: Token firmware version.
      type: str
      sample: "2.6"
    initialized:
      description: Whether the token is initialised.
      type: bool
      sample: true
    user_pin_initialized:
      description: Whether the token has a user PIN (the module credential).
      type: bool
      sample: true
    free_private_memory:
      description: Free private memory in bytes; V(null) when the HSM does not tell.
      type: int
      sample: null
    free_public_memory:
      description: Free public memory in bytes; V(null) when the HSM does not tell.
      type: int
      sample: null
journal_records:
  description: How many records the ceremony journal C(journal.jsonl) of the world holds.
  returned: always
  type: int
  sample: 5
journal_intact:
  description:
    - Whether the journal's hash chain holds; false when any record was edited, reordered or removed.
    - Also true for a world with no journal yet.
  returned: always
  type: bool
  sample: true
journal_problem:
  description: What breaks the chain (the first record that does not fit), or V(null) when it is intact.
  returned: always
  type: str
  sample: record 3 was edited (its hash does not match)
keys:
  description: The key pairs on the token, by key name.
  returned: always
  type: list
  elements: dict
  contains:
    key_name:
      description: The key's name and token label, C(key_<app>_<ident>).
      type: str
      sample: key_simple_contosokey
    size:
      description: RSA modulus size in bits.
      type: int
      sample: 2048
    spki_sha256:
      description: SHA-256 of the DER SubjectPublicKeyInfo, in hex.
      type: str
      sample: 9b1c6f3e...
    recorded:
      description: Whether the world has a key record for it.
      type: bool
      sample: true
'''

import os

from ansible_collections.keyceremony.byok.plugins.module_utils._hsm import Hsm
from ansible_collections.keyceremony.byok.plugins.module_utils._journal import JOURNAL_NAME, Journal
from ansible_collections.keyceremony.byok.plugins.module_utils._keys import KeyRecord, describe_key, list_key_labels
from ansible_collections.keyceremony.byok.plugins.module_utils._module import TOKEN_ARG, WORLD_ARGS, new_module, run, spec
from ansible_collections.keyceremony.byok.plugins.module_utils._world import World, WorldContext


def work(module):
    p = module.params
    world = World(p['world_dir'])
    records, intact, problem = Journal(os.path.join(world.dir, JOURNAL_NAME)).read()
    result = {'changed': False, 'exists': world.exists(), 'unfinished': world.pending(),
              'world': {}, 'token': None, 'keys': [],
              'journal_records': len(records), 'journal_intact': intact, 'journal_problem': problem}
    if not result['exists']:
        return result
    result['world'] = world.public_descriptor()
    with Hsm(p['pkcs11_module']) as hsm:
        ctx = WorldContext(hsm, p['world_dir'], p['token_label'])
        result['token'] = ctx.token.to_dict()
        with ctx.user_session() as session:
            for label in list_key_labels(session):
                desc = describe_key(session, label)
                result['keys'].append({
                    'key_name': label,
                    'size': desc['size'],
                    'spki_sha256': desc['spki_sha256'],
                    'recorded': desc['app_name'] is not None and KeyRecord(world.dir, label).exists(),
                })
    return result


def main():
    module = new_module(spec(WORLD_ARGS, TOKEN_ARG))
    module.params['world_dir'] = os.path.abspath(module.params['world_dir'])
    run(module, work)


if __name__ == '__main__':
    main()
