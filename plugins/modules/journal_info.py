#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: journal_info
short_description: Read a ceremony journal and check its hash chain
version_added: 0.1.0
description:
  - Reads a ceremony journal (the C(journal.jsonl) of a world, or the journal an online module was given) and reports
    its records and whether its hash chain holds - no record edited, reordered or removed.
  - The records hold no secret; the collection never writes one there.
  - The hash chain has no key. It detects accidental damage and edits by anyone who cannot rewrite the whole file (and
    its head file); someone who can rewrite both can make a forged journal that is intact. What makes a journal
    tamper-evident is the head hash the witnesses read aloud and sign at the end of the transcript (RV(head_grouped)
    and RV(head_words)); given later as O(expect_head), and the module fails when the journal no longer leads to it.
author:
  - keyceremony.byok maintainers (!UNKNOWN)
extends_documentation_fragment:
  - keyceremony.byok.attributes
  - keyceremony.byok.attributes.INFO_MODULE
options:
  path:
    description:
      - The journal file. A missing file is an empty, intact journal.
    type: path
    required: true
  expect_head:
    description:
      - The head signed on a witness sheet, as 64 hex digits in any grouping or case (RV(head_grouped)) or as its 32
        PGP words (RV(head_words)).
      - The module fails unless the chain is intact and one of its records has this hash; records appended since the
        sheet was signed are fine, a journal rewritten since (or another journal) is not. RV(expect_head_record)
        says which record it is.
    type: str
seealso:
  - module: keyceremony.byok.security_world_info
'''

EXAMPLES = r'''
- name: Read the offline journal for the transcript
  keyceremony.byok.journal_info:
    path: /var/lib/keyceremony/world/journal.jsonl
  register: journal

- name: Stop when it was tampered with
  ansible.builtin.assert:
    that: journal.intact
    fail_msg: "{{ journal.problem }}"

- name: Check the journal still leads to the head the witnesses signed last year
  keyceremony.byok.journal_info:
    path: /var/lib/keyceremony/world/journal.jsonl
    expect_head: "3a7bd3e2 360a3d29 eea436fc fb7e44c7 35d117c4 2d1c1835 420b6b99 42dd4f1b"
'''

RETURN = r'''
records:
  description: The records, oldest first.
  returned: always
  type: list
  elements: dict
  sample: [{"seq": 1, "time": "2026-11-22T09:30:14.123456Z", "host": "offline-ws-1", "module": "security_world",
            "outcome": "changed", "asked": {}, "result": {}, "prev": "0000...", "hash": "9f86..."}]
intact:
  description: Whether the hash chain holds.
  returned: always
  type: bool
  sample: true
problem:
  description: The first thing that breaks the chain, or V(null).
  returned: always
  type: str
  sample: record 3 was edited (its hash does not match)
head:
  description: The hash of the last record (64 zeros for an empty journal), in hex.
  returned: always
  type: str
  sample: 3a7bd3e2360a3d29eea436fcfb7e44c735d117c42d1c1835420b6b9942dd4f1b
head_grouped:
  description: RV(head) in groups of eight hex digits, as printed on the transcript for the witnesses to sign.
  returned: always
  type: str
  sample: 3a7bd3e2 360a3d29 eea436fc fb7e44c7 35d117c4 2d1c1835 420b6b99 42dd4f1b
head_words:
  description: RV(head) in the PGP word list, one word a byte, for reading aloud.
  returned: always
  type: str
  sample: cowbell paperweight spindle tomorrow ...
expect_head_record:
  description: With O(expect_head), the number of the record whose hash it is (0 for the empty journal).
  returned: when O(expect_head) is given
  type: int
  sample: 14
'''

import re

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.keyceremony.byok.plugins.module_utils._errors import ByokError
from ansible_collections.keyceremony.byok.plugins.module_utils._journal import (
    GENESIS, Journal, head_forms, leads_to, parse_head)


def main():
    module = AnsibleModule(argument_spec={'path': {'type': 'path', 'required': True},
                                          'expect_head': {'type': 'str'}}, supports_check_mode=True)
    records, intact, problem = Journal(module.params['path']).read()
    last = records[-1].get('hash') if records and isinstance(records[-1], dict) else None
    if not (isinstance(last, str) and re.match(r'^[0-9a-f]{64}$', last)):
        last = GENESIS
    result = dict(changed=False, records=records, intact=intact, problem=problem, **head_forms(last))
    if module.params['expect_head'] is not None:
        try:
            result['expect_head_record'] = leads_to(records, intact, problem, parse_head(module.params['expect_head']))
        except ByokError as e:
            module.fail_json(msg=str(e), **result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
