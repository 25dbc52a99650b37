#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: key_acl
short_description: Prepare a key for transfer under the card quorum (ModifyAcls)
version_added: 0.1.0
description:
  - The equivalent of C(KeyTransferRemote.exe -ModifyAcls), the one step of the transfer that needs the administrator
    card set.
  - Verifies the KEK package again against O(root_hash) - or, for Azure Key Vault, checks the KEK in O(kek_file) against
    its pinned fingerprint O(kek_spki_sha256) as M(keyceremony.byok.keyvault_kek_verify) does (a world never trusts an
    unverified KEK) - then rebuilds the security officer (SO) PIN from at least K of O(admin_cards).
  - As SO, in one session, imports the KEK public key as a trusted, wrap-only token object C(kek_<kid>).
  - As SO, creates the package key C(key_<app>_xferwrap_<ident>), an AES-256 token key marked trusted that can wrap
    but never unwrap, encrypt or decrypt, and that can itself leave the HSM only wrapped under a trusted key (the KEK).
  - As SO, creates an AES-256 session key marked trusted that can wrap and unwrap; it is used once and is gone when
    the session closes.
  - Then, in the same session as user (the world's module credential), wraps the key under that session key and
    unwraps it as the reduced-permission copy C(key_<app>_xferacl_<ident>) (nCipher's C(xferacl_<ident>)) with no use
    at all (no sign, decrypt, unwrap, derive), not copyable, not destroyable, sensitive, and exportable only under a
    trusted key.
  - Afterwards M(keyceremony.byok.transfer_package) can package the copy without cards, as in the vendor's
    procedure, and only for KEKs trusted here.
  - Every run, under the quorum, proves that the copy's private half is the key's before anything trusts it; the copy
    is wrapped under the trusted session key and unwrapped as a session object that may sign, which signs a fresh
    random challenge that the key's public half must verify. A copy planted by someone holding the user PIN (the
    key's modulus with another private exponent, labelled as the copy) is refused, named, and never packaged.
  - The KEK object and the package key are neither copyable nor destroyable, so no session, with or without a PIN,
    can undo this step.
  - Idempotent; in check mode the cards and the KEK package are still checked and an existing copy is still proved
    (with session objects only), but nothing is written. Fewer than K cards, a wrong card PIN, a card of another
    world, a KEK package that fails verification or an unknown key fail before the token is touched.
author:
  - keyceremony.byok maintainers (!UNKNOWN)
extends_documentation_fragment:
  - keyceremony.byok.world
  - keyceremony.byok.world.TOKEN
  - keyceremony.byok.world.KEY_NAME
  - keyceremony.byok.world.ADMIN_CARDS
  - keyceremony.byok.toolset.OR_KEY_VAULT
  - keyceremony.byok.attributes
  - keyceremony.byok.attributes.CHANGES
options:
  ident:
    description:
      - The ident of the key to prepare for transfer (the key C(key_<app_name>_<ident>) must exist).
    type: str
    required: true
  admin_cards:
    description:
      - At least K cards of the world, each with its PIN. Each card is checked (this world, unaltered, not given twice,
        right PIN) before any of them is used.
    required: true
notes:
  - Holds the world's lock (C(<world_dir>/.lock)) while it reads the token and changes the ACLs, so two runs on one
    world at once (two terminals, two playbooks) never both make the transfer copy; the second waits, then finds the
    copy the first made. Check mode takes no lock.
  - Why a session key for the copy. SoftHSM2 lets a key marked C(CKA_WRAP_WITH_TRUSTED) be wrapped only by a key the
    SO marked C(CKA_TRUSTED), and only the SO can set that; but the SO cannot see the user's private keys. So the SO
    makes a trusted session key, the same session then logs in as user and makes the copy with it. A token key that
    could both wrap and unwrap under trust would let anyone with the module credential unwrap the tenant key as
    extractable; a session key cannot outlive this step, even if the run is killed.
  - Why a token package key. Packaging needs a trusted key to wrap the copy, and must not need the cards. The package
    key can only wrap; what it wraps can only be read by the holder of a trusted KEK's private key, the cloud HSM.
  - SoftHSM2 2.6.1 refuses C(CKA_MODIFIABLE=false) when unwrapping and never allows setting it later, so the copy
    stays modifiable in SoftHSM2; its sensitive and trusted-only export attributes cannot be weakened anyway, and
    M(keyceremony.byok.transfer_package) refuses a copy whose attributes changed.
seealso:
  - module: keyceremony.byok.kek_package_verify
  - module: keyceremony.byok.transfer_package
  - module: keyceremony.byok.security_world
'''

EXAMPLES = r'''
- name: Modify the ACLs of the tenant key with two of the three cards (the rehearsal tenant's toolset)
  keyceremony.byok.key_acl:
    world_dir: /var/lib/keyceremony/world
    ident: contosokey
    kek_package: /media/transfer/BYOK-KEK-pkg-NA-1
    security_world_package: /media/transfer/BYOK-SecurityWorld-pkg-NA-1
    root_hash: "{{ vendor_root_hash }}"
    admin_cards:
      - path: /media/card1/contoso.card
        pin: "{{ card1_pin }}"
      - path: /media/card3/contoso.card
        pin: "{{ card3_pin }}"
  environment:
    SOFTHSM2_CONF: /var/lib/keyceremony/softhsm2.conf

- name: The same for an Azure Key Vault KEK, pinned by the fingerprint read aloud from the online workstation
  keyceremony.byok.key_acl:
    world_dir: /var/lib/keyceremony/world
    ident: contosokey
    kek_file: /media/transfer/contoso-kek.kek.json
    kek_spki_sha256: "{{ kek_fingerprint_read_aloud }}"
    admin_cards: "{{ two_of_the_cards }}"
  environment:
    SOFTHSM2_CONF: /var/lib/keyceremony/softhsm2.conf
'''

RETURN = r'''
key_name:
  description: The key prepared for transfer.
  returned: success
  type: str
  sample: key_simple_contosokey
copy_name:
  description: The reduced-permission copy (label and key record name).
  returned: success
  type: str
  sample: key_simple_xferacl_contosokey
package_key:
  description: Label of the trusted, wrap-only package key.
  returned: success
  type: str
  sample: key_simple_xferwrap_contosokey
kek_kid:
  description: The KEK now trusted by the world for this transfer.
  returned: success
  type: str
  sample: BYOK-KEK-NA-1-3f9a1c0e5b2d7a64
kek_spki_sha256:
  description: The trusted KEK's fingerprint.
  returned: success
  type: str
  sample: 2b7e151628aed2a6abf7158809cf4f3c762e7160f38b4da56a784d9045190cfe
spki_sha256:
  description: Fingerprint of the key (and of its copy, the same key).
  returned: success
  type: str
  sample: 9b1c6f3e2d4a5b6c7d8e9f00112233445566778899aabbccddeeff0011223344
actions:
  description: What was done, or in check mode what would be done; empty when all was in place.
  returned: success
  type: list
  elements: str
  sample: ["import KEK BYOK-KEK-NA-1-3f9a1c0e5b2d7a64 as a trusted wrap-only key"]
'''

import os

from ansible_collections.keyceremony.byok.plugins.module_utils._hsm import Hsm
from ansible_collections.keyceremony.byok.plugins.module_utils._keys import (
    KeyRecord, acl_state, check_key_names, describe_key, make_record, modify_acls)
from ansible_collections.keyceremony.byok.plugins.module_utils._module import (
    ADMIN_CARDS_ARG, KEK_SOURCE_ARGS, KEK_SOURCE_RULES, KEY_NAME_ARGS, TOKEN_ARG, WORLD_ARGS, new_module, run, spec,
    verified_kek)
from ansible_collections.keyceremony.byok.plugins.module_utils._world import World, WorldContext, recover_so_pin


def work(module):
    p = module.params
    check_key_names(p['app_name'], p['ident'])
    kek = verified_kek(p)
    so_pin = recover_so_pin(p['world_dir'], p['admin_cards'])
    # the lock is taken before the library is loaded: loading and listing the tokens read the token's files
    world = World(p['world_dir'])
    world.descriptor()
    with world.changing(module.check_mode):
        with Hsm(p['pkcs11_module']) as hsm:
            ctx = WorldContext(hsm, p['world_dir'], p['token_label'])
            with ctx.user_session() as session:
                names, original, todo, state = acl_state(session, p['app_name'], p['ident'], kek, ctx.world.dir)
            # every run proves the copy under the quorum, also when nothing is to be made and in check mode
            modify_acls(ctx, so_pin, names, kek, state, original, check_mode=module.check_mode)
            record = KeyRecord(ctx.world.dir, names['copy'])
            previous = record.read() if record.exists() else {}
            # the record is written when the token changed, and also when a run killed after the token changed left
            # it missing or without this KEK
            record_todo = kek['kek_kid'] not in previous.get('trusted_keks', [])
            if (todo or record_todo) and not module.check_mode:
                with ctx.user_session() as session:
                    copy = describe_key(session, names['copy'])
                rec = make_record(ctx.descriptor, copy, p['app_name'], 'xferacl_' + p['ident'],
                                  'transfer copy of ' + names['key'], 'module', adopted=False)
                rec['copy_of'] = names['key']
                rec['trusted_keks'] = sorted(set(previous.get('trusted_keks', [])) | set([kek['kek_kid']]))
                record.write(rec)
            if record_todo and not todo:
                todo = ['record the transfer copy %s for KEK %s' % (names['copy'], kek['kek_kid'])]
    return {
        'changed': bool(todo),
        'key_name': names['key'],
        'copy_name': names['copy'],
        'package_key': names['package_key'],
        'kek_kid': kek['kek_kid'],
        'kek_spki_sha256': kek['kek_spki_sha256'],
        'spki_sha256': original['spki_sha256'],
        'actions': todo,
    }


def main():
    module = new_module(spec(WORLD_ARGS, TOKEN_ARG, KEY_NAME_ARGS, KEK_SOURCE_ARGS, ADMIN_CARDS_ARG,
                             ident={'type': 'str', 'required': True},
                             admin_cards=dict(ADMIN_CARDS_ARG['admin_cards'], required=True)),
                        rules=[KEK_SOURCE_RULES])
    module.params['world_dir'] = os.path.abspath(module.params['world_dir'])
    run(module, work, journal_as='key_acl', journal_fields=('key_name', 'copy_name', 'kek_kid', 'kek_spki_sha256', 'spki_sha256', 'actions'))


if __name__ == '__main__':
    main()
