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
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.keyceremony.byok.plugins.module_utils._journal import Journal


def main():
    module = AnsibleModule(argument_spec={'path': {'type': 'path', 'required': True}}, supports_check_mode=True)
    records, intact, problem = Journal(module.params['path']).read()
    module.exit_json(changed=False, records=records, intact=intact, problem=problem)


if __name__ == '__main__':
    main()
