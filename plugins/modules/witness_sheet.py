#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: witness_sheet
short_description: Write the witnesses' sheet of a ceremony from its journals
version_added: 0.1.0
description:
  - Writes the ceremony transcript the witnesses read aloud and sign, as Markdown (O(dest)) and as HTML with print
    styles (the same name with C(.html)), from the journals of every host as M(keyceremony.byok.journal_info) read them.
    The roles run it on the controller, at the end of every ceremony playbook.
  - "The sheet holds: the ceremony at hand only (O(scope)); every fingerprint, hash and identifier once, in groups of 8
    hex digits, with every place it was asked for or found, and V(match), V(recorded once) or V(MISMATCH); the inputs
    a later run corrected, as corrected; every step, failed and verified ones too, with the inventory's host name;
    each journal's head hash and its PGP words, to sign."
  - A sheet whose Markdown or HTML exists is never written over (the witnesses may have signed either); move both away
    to write it anew. Both are created exclusively, never through a symbolic link.
  - A preflight record of another ceremony inside this one, or a journal with no record of it, is put at the top of
    the sheet as a warning; records are never dropped for it.
  - No secret can reach the sheet; the journals hold none.
author:
  - keyceremony.byok maintainers (!UNKNOWN)
extends_documentation_fragment:
  - keyceremony.byok.attributes
  - keyceremony.byok.attributes.CHANGES
options:
  journals:
    description:
      - The journals, each a mapping with C(host) (the inventory name), C(path), and what
        M(keyceremony.byok.journal_info) returned for it (C(records), C(intact), C(problem), C(head_grouped),
        C(head_words)).
    type: list
    elements: dict
    required: true
  title:
    description:
      - The sheet's title line.
    type: str
    required: true
  dest:
    description:
      - The Markdown file to write (mode C(0600), in a folder that only its owner may write). The HTML goes next to
        it, with C(.html) in place of C(.md).
    type: path
    required: true
  ceremony:
    description:
      - The ceremony the sheet is for, as the playbook's preflight names it (for example C(byok_over_internet)). Without
        it, the latest preflight record of any journal names it, which a planted record could choose.
    type: str
  scope:
    description:
      - V(ceremony) the ceremony at hand; the first preflight record of the latest run's ceremony after another
        ceremony or after a verified possession proof. V(all) every record, each ceremony in turn (the rehearsal's
        three ceremonies on one sheet).
    type: str
    choices: [ceremony, all]
    default: ceremony
seealso:
  - module: keyceremony.byok.journal_info
  - module: keyceremony.byok.ceremony_preflight
'''

EXAMPLES = r'''
- name: Read the journal
  keyceremony.byok.journal_info:
    path: /var/lib/keyceremony/world/journal.jsonl
  register: journal

- name: Write the witnesses' sheet on the controller
  keyceremony.byok.witness_sheet:
    journals:
      - "{{ journal | combine({'host': inventory_hostname, 'path': '/var/lib/keyceremony/world/journal.jsonl'}) }}"
    title: Generate and transfer the tenant key over the Internet
    dest: /media/transfer/ceremony-transcript.md
  delegate_to: localhost
'''

RETURN = r'''
dest:
  description: The Markdown sheet.
  returned: always
  type: str
  sample: /media/transfer/ceremony-transcript.md
html:
  description: The HTML sheet, to print.
  returned: always
  type: str
  sample: /media/transfer/ceremony-transcript.html
kept:
  description: True when the sheet (its Markdown or its HTML) existed and was left as it is.
  returned: always
  type: bool
  sample: false
ceremony:
  description: The ceremony the sheet covers, as its preflight named it (null without any preflight record).
  returned: always
  type: str
  sample: byok_over_internet
mismatches:
  description: How many values the sheet marks MISMATCH (two values side by side where one is expected).
  returned: always
  type: int
  sample: 0
sheet_warnings:
  description: What the sheet puts at its top as a warning (a preflight of another ceremony inside this one, a journal
    with no record of it).
  returned: always
  type: list
  elements: str
  sample: []
steps:
  description: How many records the sheet shows.
  returned: always
  type: int
  sample: 23
'''

import errno
import os

from ansible_collections.keyceremony.byok.plugins.module_utils._errors import ByokError
from ansible_collections.keyceremony.byok.plugins.module_utils._files import write_private_file
from ansible_collections.keyceremony.byok.plugins.module_utils._module import run
from ansible_collections.keyceremony.byok.plugins.module_utils._witness import html, markdown, sheet

from ansible.module_utils.basic import AnsibleModule


def work(module):
    p = module.params
    for j in p['journals']:
        missing = [k for k in ('host', 'path', 'records') if k not in j]
        if missing:
            raise ByokError('a journal given lacks %s: give what journal_info returned, with host and path'
                            % ', '.join(missing))
        j.setdefault('intact', True)
        for k in ('problem', 'head_grouped', 'head_words'):
            j.setdefault(k, None)
    md_path = p['dest']
    if '..' in md_path.split(os.sep) or not os.path.isabs(md_path):
        raise ByokError('dest %s must be an absolute path without .. in it' % md_path)
    s = sheet(p['journals'], p['title'], everything=p['scope'] == 'all', ceremony=p['ceremony'])
    html_path = (md_path[:-3] if md_path.endswith('.md') else md_path) + '.html'
    result = {'dest': md_path, 'html': html_path, 'ceremony': s['ceremony'], 'mismatches': s['mismatches'],
              'steps': len(s['steps']), 'kept': False, 'changed': False, 'sheet_warnings': s['warnings']}
    if os.path.lexists(md_path) or os.path.lexists(html_path):
        result['kept'] = True  # signed, perhaps: never written over
        return result
    result['changed'] = True
    if module.check_mode:
        return result
    # the HTML first, the Markdown last, each created exclusively: a sheet that exists is never replaced
    for path, text in ((html_path, html(s)), (md_path, markdown(s))):
        try:
            write_private_file(path, text, exclusive=True)
        except (IOError, OSError) as e:
            raise ByokError('cannot write %s: %s%s' % (path, e.strerror, '; move it (and the other half of the sheet) '
                                                       'away to write it anew' if e.errno == errno.EEXIST else ''))
    return result


def main():
    module = AnsibleModule(argument_spec={
        'journals': {'type': 'list', 'elements': 'dict', 'required': True},
        'title': {'type': 'str', 'required': True},
        'dest': {'type': 'path', 'required': True},
        'scope': {'type': 'str', 'choices': ['ceremony', 'all'], 'default': 'ceremony'},
        'ceremony': {'type': 'str'},
    }, supports_check_mode=True)
    run(module, work)


if __name__ == '__main__':
    main()
