#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: security_world
short_description: Create a security world guarded by a K-of-N administrator card set
version_added: 0.1.0
description:
  - The equivalent of nCipher C(new-world --initialize --acs-quorum=K/N) on a PKCS#11 HSM.
  - Initialises a free token with O(token_label), a random security officer (SO) PIN and a random user PIN.
  - Splits the SO PIN into N shares of which any K rebuild it (Shamir's scheme over GF(256)) and writes each share
    to its administrator card file, encrypted under that card's PIN with a memory-hard key derivation (Argon2id by
    default) and an AEAD. Every privileged step later (marking the KEK trusted, the reduced-permission copy) needs K
    cards and their PINs; the SO PIN itself is never stored or shown.
  - Keeps the user PIN in O(world_dir) as the world's module credential (mode C(0600)), so module-protected keys can
    be used with no card, as in nCipher.
  - Writes the world descriptor C(world.json) last (world id, token label and serial, quorum, card fingerprints,
    cipher suite, creation time). Before touching the token it records an unfinished-world file, so an interrupted
    run leaves no world or one that the next run with the same options finishes; never a token without its cards.
  - Idempotent. An existing world that matches the options is reported with C(changed=false); one that does
    not (other token, quorum, cipher suite or cards) is an error, and so is a token with O(token_label) that is not
    this world. Nothing is ever overwritten.
author:
  - keyceremony.byok maintainers (!UNKNOWN)
extends_documentation_fragment:
  - keyceremony.byok.world
  - keyceremony.byok.world.ADMIN_CARDS
  - keyceremony.byok.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details: Shows the world before and after (ids, quorum, card fingerprints), never a PIN.
  idempotent:
    support: full
options:
  token_label:
    description:
      - Label of the token to initialise for the world (at most 32 bytes). It must not exist yet, unless it is the
        token of the world already in O(world_dir). The label is written blank-padded to 32 bytes, as PKCS#11
        requires, so tools that compare the whole field (p11-kit's URI matching among them) find the token.
      - Or an RFC 7512 PKCS#11 URI (C(pkcs11:token=contoso-world;serial=...)) as C(p11tool --list-tokens) prints it.
        Its C(token) attribute is the label; its C(serial), C(manufacturer) and C(model) are checks the token must
        pass. A URI with a serial can only name an existing world's token, as the HSM chooses a new token's serial.
    type: str
    required: true
  acs_quorum:
    description:
      - The administrator card set quorum C(K/N), for example C(2/3); N is the number of cards (1 to 64), K the
        number needed to act as security officer (1 to N).
    type: str
    default: "2/3"
  admin_cards:
    description:
      - Exactly N cards when creating the world, each with a card path that does not exist yet and a PIN of at least
        8 characters.
      - For an existing world, the cards are optional; when given, each path must hold one of the world's cards
        (checked by fingerprint, so a card mounted elsewhere is still recognised).
  cipher_suite:
    description:
      - How the card files are protected (key derivation from the card PIN, then AEAD), recorded in the world.
      - V(argon2id-aes256gcm) uses Argon2id (64 MiB, 3 passes, 4 lanes) and AES-256-GCM.
      - V(argon2id-chacha20poly1305) uses the same Argon2id with ChaCha20-Poly1305.
      - V(scrypt-aes256gcm) uses scrypt (N=2^17, r=8, p=1), for platforms whose cryptography library lacks Argon2id.
    type: str
    default: argon2id-aes256gcm
    choices: [argon2id-aes256gcm, argon2id-chacha20poly1305, scrypt-aes256gcm]
  state:
    description:
      - Only V(present) exists. A security world is never removed by this module.
    type: str
    default: present
    choices: [present]
notes:
  - Give each card holder's PIN from Ansible Vault or a no-echo prompt; the PINs are never logged.
  - Card files are written exclusively (an existing file is never replaced), with mode C(0600); a missing card folder
    is created with mode C(0700).
  - Back up O(world_dir) together with the token's files; without the module credential the keys cannot be used.
seealso:
  - module: keyceremony.byok.security_world_info
  - module: keyceremony.byok.hsm_key
'''

EXAMPLES = r'''
- name: Create a 2-of-3 security world on a SoftHSM2 token
  keyceremony.byok.security_world:
    token_label: contoso-world
    world_dir: /var/lib/keyceremony/world
    acs_quorum: "2/3"
    admin_cards:
      - path: /media/card1/contoso-world.card
        pin: "{{ vault_card1_pin }}"
      - path: /media/card2/contoso-world.card
        pin: "{{ vault_card2_pin }}"
      - path: /media/card3/contoso-world.card
        pin: "{{ vault_card3_pin }}"
  environment:
    SOFTHSM2_CONF: /var/lib/keyceremony/softhsm2.conf
  register: world

- name: Show the world id that the witnesses record
  ansible.builtin.debug:
    msg: "World {{ world.world_id }} on token serial {{ world.token_serial }}"
'''

RETURN = r'''
world_id:
  description: The world's id (32 hex digits). V(null) in check mode when the world is still to be created.
  returned: success
  type: str
  sample: 5f0c2d8e9a4b41c3b1f7e2a9d6c3b0a1
token_label:
  description: Label of the world's token.
  returned: success
  type: str
  sample: contoso-world
token_serial:
  description: Serial number of the world's token. V(null) in check mode when the world is still to be created.
  returned: success
  type: str
  sample: 3f9a1c0e5b2d7a64
acs_quorum:
  description: The card quorum C(K/N).
  returned: success
  type: str
  sample: "2/3"
cipher_suite:
  description: How the cards are protected.
  returned: success
  type: str
  sample: argon2id-aes256gcm
world_file:
  description: Path of the world descriptor.
  returned: success
  type: str
  sample: /var/lib/keyceremony/world/world.json
cards:
  description: The administrator cards, without any secret.
  returned: success
  type: list
  elements: dict
  contains:
    card:
      description: The card's number, 1 to N.
      type: int
      sample: 1
    path:
      description: Where the card file was written.
      type: str
      sample: /media/card1/contoso-world.card
    fingerprint:
      description: SHA-256 of the card file, as recorded in the world. V(null) in check mode before creation.
      type: str
      sample: 0c1f5e0d0b7b6a1e9cbb7b1c8e4d0a2f9f1e3d5c7b9a8e6d4c2b0a1f3e5d7c9b
actions:
  description: What was done, or in check mode what would be done. Empty when nothing changes.
  returned: success
  type: list
  elements: str
  sample: ["create world folder /var/lib/keyceremony/world", "write 3 admin cards (quorum 2/3)", "initialise token 'contoso-world'"]
'''

import os

from ansible_collections.keyceremony.byok.plugins.module_utils._hsm import Hsm
from ansible_collections.keyceremony.byok.plugins.module_utils._module import (
    ADMIN_CARDS_ARG, WORLD_ARGS, new_module, run, spec)
from ansible_collections.keyceremony.byok.plugins.module_utils._world import (
    DEFAULT_CIPHER_SUITE, CIPHER_SUITES, WorldSpec, ensure_world, summarize)


def work(module):
    p = module.params
    want = WorldSpec(p['world_dir'], p['token_label'], p['acs_quorum'], p['admin_cards'], p['cipher_suite'])
    with Hsm(p['pkcs11_module']) as hsm:
        changed, desc, actions = ensure_world(hsm, want, check_mode=module.check_mode)
    if desc is not None:
        result = summarize(desc, want.world)
    else:
        result = {
            'world_id': None, 'token_label': want.token_label, 'token_serial': None,
            'acs_quorum': want.acs_quorum, 'cipher_suite': want.cipher_suite,
            'world_file': want.world.descriptor_path,
            'cards': [{'card': i + 1, 'path': c['path'], 'fingerprint': None} for i, c in enumerate(want.cards)],
        }
    result.update(changed=changed, actions=actions)
    if module._diff:
        after = dict((k, result[k]) for k in ('world_id', 'token_label', 'token_serial', 'acs_quorum', 'cards'))
        result['diff'] = {'before': after if not changed else {}, 'after': after}
    return result


def main():
    module = new_module(spec(
        WORLD_ARGS, ADMIN_CARDS_ARG,
        token_label={'type': 'str', 'required': True, 'no_log': False},
        acs_quorum={'type': 'str', 'default': '2/3'},
        cipher_suite={'type': 'str', 'default': DEFAULT_CIPHER_SUITE, 'choices': sorted(CIPHER_SUITES)},
        state={'type': 'str', 'default': 'present', 'choices': ['present']},
    ))
    module.params['world_dir'] = os.path.abspath(module.params['world_dir'])
    run(module, work, journal_as='security_world', journal_fields=('world_id', 'token_label', 'token_serial', 'acs_quorum', 'cards', 'actions'))


if __name__ == '__main__':
    main()
