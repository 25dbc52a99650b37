#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: ceremony_preflight
short_description: Check a ceremony's inputs before anything is touched
version_added: 0.1.0
description:
  - The first task of every ceremony playbook, on every host. It checks the inputs only, and reports every problem at
    once, each naming the variable to change; it needs nothing beyond Python, touches no HSM and reaches no tenant.
  - "Checks: required variables set and not empty (O(required), O(given)); the card list against the quorum
    K/N (all N cards, each with a path of its own; the ACL cards K or more different numbers from 1 to N); the form of
    the values typed from out of band (O(root_hash) and O(kek_spki_sha256) are SHA-256 values, O(tenant_id) a GUID);
    the key size against what the target takes (O(key_target))."
  - With O(journal), the run is recorded in that ceremony journal, only when its folder exists (a first run makes
    nothing here); a failure with its problems, a success (outcome C(verified)) with O(ceremony) and O(activate). The
    witnesses' sheet starts the ceremony at hand at its first such record (see C(docs/ceremony.md)).
author:
  - keyceremony.byok maintainers (!UNKNOWN)
extends_documentation_fragment:
  - keyceremony.byok.attributes
  - keyceremony.byok.attributes.INFO_MODULE
options:
  ceremony:
    description:
      - The ceremony this run belongs to, as the playbook names it (for example C(byok_over_internet)). Recorded in the
        journal; a run of another ceremony on the same hosts starts a new witness sheet.
    type: str
    default: ''
  activate:
    description:
      - Whether this run is the one that makes the key active (recorded in the journal).
    type: bool
    default: false
  journal:
    description:
      - The host's ceremony journal. Written only when its folder exists already and holds something (an empty world
        folder stays empty, as a restore needs it), and never in check mode.
    type: path
  create_journal:
    description:
      - Create O(journal) (and its folder, mode C(0700)) when it is missing or its folder is empty, so that the first
        run of a ceremony on fresh hosts starts its journal with this record. For rehearsals; never for a world
        folder that a restore is to fill (a restore refuses a folder that holds anything).
    type: bool
    default: false
  required:
    description:
      - Variables that must be set and not empty, as a mapping of the name to show to the value. Only for values that
        are no secret and hold none (they are recorded in the journal); for anything else use O(given). An undefined
        variable is given as V(null), for example C("{{ byok_root_hash | default(none) }}").
    type: dict
    default: {}
  given:
    description:
      - Variables that must be set and not empty, as a mapping of the name to show to whether it is (a boolean). Their
        values never reach the module, so this is the one for secrets and for anything that holds one (a card list
        with PINs, a list of TPDs with their passwords).
    type: dict
    default: {}
  quorum:
    description:
      - The card quorum K/N. With it, O(card_paths) and O(acl_cards) are checked against it.
    type: str
  card_paths:
    description:
      - The path of each card of the set, in the order the cards are numbered (their PINs are not given here).
    type: list
    elements: raw
    default: []
  acl_cards:
    description:
      - The card numbers presented for the ACL step (empty means the first K).
    type: list
    elements: raw
    default: []
  root_hash:
    description:
      - The vendor root hash as typed; checked for its form (64 hex digits, spaces and colons allowed).
    type: str
  kek_spki_sha256:
    description:
      - The Key Vault KEK fingerprint as typed; checked for its form.
    type: str
  tenant_id:
    description:
      - A tenant ID given by hand; checked for its form (a GUID).
    type: str
  private_folders:
    description:
      - Folders a later step writes the ceremony's files to. Each one that exists must belong to this user (or root)
        and not be writable by others; a missing one is made 0700 by the step that needs it.
    type: list
    elements: path
    default: []
  media_tenant_id:
    description:
      - The tenant ID the online workstation read from the tenant (C(tenant.json) on the transfer media). When
        O(tenant_id) is given too, the two must be the same tenant.
    type: str
  key_size:
    description:
      - The size of the tenant key the ceremony makes or adopts.
    type: int
  key_target:
    description:
      - Where the key goes, which decides the sizes allowed. V(rms) a BYOK tenant key (RSA 2048); V(adrms) an AD RMS
        key migrated (RSA 1024 or 2048); V(keyvault) a key imported into Azure Key Vault for the RMS service (RSA 2048).
    type: str
    choices: [rms, adrms, keyvault]
  variable_names:
    description:
      - The names to show for O(card_paths), O(acl_cards), O(root_hash), O(kek_spki_sha256), O(tenant_id) and
        O(key_size), as the playbook's user knows them (for example C(byok_admin_cards)).
    type: dict
    default: {}
seealso:
  - module: keyceremony.byok.journal_info
  - module: keyceremony.byok.workstation_info
'''

EXAMPLES = r'''
- name: Check the inputs on every host before anything is touched
  keyceremony.byok.ceremony_preflight:
    ceremony: byok_over_internet
    activate: "{{ byok_activate | default(false) | bool }}"
    journal: /var/lib/keyceremony/world/journal.jsonl
    required:
      byok_transfer_dir: "{{ byok_transfer_dir | default(none) }}"
      byok_tenant_url: "{{ byok_tenant_url | default(none) }}"
    given:
      byok_tenant_admin_password: "{{ byok_tenant_admin_password | default('') | length > 0 }}"
      byok_admin_cards: "{{ byok_admin_cards | default([]) | length > 0 }}"
    quorum: 2/3
    card_paths: "{{ byok_admin_cards | default([]) | map(attribute='path', default='') | list }}"
    acl_cards: "{{ byok_acl_cards | default([]) }}"
    root_hash: "{{ byok_root_hash | default(omit) }}"
    key_size: 2048
    key_target: rms
    variable_names:
      card_paths: byok_admin_cards
      acl_cards: byok_acl_cards
      root_hash: byok_root_hash
'''

RETURN = r'''
ceremony:
  description: The ceremony checked, as given.
  returned: success
  type: str
  sample: byok_over_internet
activate:
  description: Whether this run is the one that makes the key active, as given.
  returned: success
  type: bool
  sample: false
journalled:
  description: Whether the run was recorded in O(journal) (a failure is recorded the same way, and says so in its message).
  returned: success
  type: bool
  sample: true
'''

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.keyceremony.byok.plugins.module_utils._errors import ByokError
from ansible_collections.keyceremony.byok.plugins.module_utils._module import run
from ansible_collections.keyceremony.byok.plugins.module_utils._preflight import check


class PreflightError(ByokError):
    pass


def work(module):
    problems = check(module.params)
    if problems:
        raise PreflightError('the inputs need a change before the ceremony can start, and nothing was changed (this '
                             'failure alone is recorded, in the journal of a host that keeps one): %s. Change them and run '
                             'again.' % '; '.join('(%d) %s' % (i, p) for i, p in enumerate(problems, 1)))
    return {'changed': False, 'ceremony': module.params['ceremony'], 'activate': module.params['activate'],
            'journalled': bool(module.params['journal']) and not module.check_mode}


def main():
    module = AnsibleModule(argument_spec={
        'ceremony': {'type': 'str', 'default': ''},
        'activate': {'type': 'bool', 'default': False},
        'journal': {'type': 'path'},
        'create_journal': {'type': 'bool', 'default': False},
        'required': {'type': 'dict', 'default': {}},
        'given': {'type': 'dict', 'default': {}},
        'quorum': {'type': 'str'},
        'card_paths': {'type': 'list', 'elements': 'raw', 'default': []},
        'acl_cards': {'type': 'list', 'elements': 'raw', 'default': []},
        'root_hash': {'type': 'str', 'no_log': False},
        'kek_spki_sha256': {'type': 'str', 'no_log': False},
        'tenant_id': {'type': 'str'},
        'media_tenant_id': {'type': 'str'},
        'private_folders': {'type': 'list', 'elements': 'path', 'default': []},
        'key_size': {'type': 'int'},
        'key_target': {'type': 'str', 'choices': ['rms', 'adrms', 'keyvault']},
        'variable_names': {'type': 'dict', 'default': {}},
    }, supports_check_mode=True)
    # "changes nothing": a journal is written only where one is kept already, in a folder an earlier run filled (an
    # empty world folder stays empty: a restore needs it so)
    folder = os.path.dirname(os.path.abspath(module.params['journal'] or '.'))
    if module.params['journal'] and not module.params['create_journal'] \
            and not (os.path.isdir(folder) and os.listdir(folder)):
        module.params['journal'] = None
    run(module, work, journal_as='ceremony_preflight', journal_verified=True, journal_fields=('ceremony', 'activate'))


if __name__ == '__main__':
    main()
