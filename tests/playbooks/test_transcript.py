# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The ceremony transcript (the common role's transcript tasks) of a journal an interrupted step left."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import hashlib
import json
import os
import re
import subprocess
import sys

import pytest

from ansible_collections.keyceremony.byok.plugins.module_utils._journal import Journal
from ansible_collections.keyceremony.byok.plugins.module_utils._words import to_words

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ANSIBLE_PLAYBOOK = os.path.join(os.path.dirname(sys.executable), 'ansible-playbook')
PLAY = '''
- name: Render the transcript
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Transcript
      ansible.builtin.include_role:
        name: keyceremony.byok.common
        tasks_from: transcript
'''


@pytest.mark.skipif(not os.path.exists(ANSIBLE_PLAYBOOK), reason='needs the venv of make setup')
def test_a_repaired_journal_shows_in_the_transcript(tmp_path):
    journal = Journal(str(tmp_path / 'world' / 'journal.jsonl'))
    os.makedirs(os.path.dirname(journal.path))
    journal.append('hsm_key', 'changed', {'ident': 'k'}, result={'spki_sha256': 'ab' * 32})
    fragment = b'{"asked":{"ident":"k"},"hash":"77'
    with open(journal.path, 'ab') as f:
        f.write(fragment)  # the next step was killed mid-write
    journal.append('key_acl', 'changed', {'ident': 'k'}, result={'kek_kid': 'kek-na-1'})
    playbook = tmp_path / 'transcript.yml'
    playbook.write_text(PLAY)
    dest = tmp_path / 'transcript.md'
    extra = tmp_path / 'vars.json'
    extra.write_text(json.dumps({'_common_journals': [journal.path], '_common_transcript_dest': str(dest),
                                 '_common_transcript_title': 'Interrupted rehearsal'}))
    env = dict(os.environ, HOME=str(tmp_path / 'home'), ANSIBLE_CONFIG=os.path.join(REPO_ROOT, 'ansible.cfg'),
               ANSIBLE_NOCOLOR='1')
    out = subprocess.run([ANSIBLE_PLAYBOOK, '-c', 'local', '-e', 'ansible_python_interpreter=%s' % sys.executable,
                          '-e', '@%s' % extra, str(playbook)], capture_output=True, text=True, env=env, cwd=REPO_ROOT,
                         check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    text = dest.read_text()
    assert '| 2 | intact |' in text
    # the steps name the inventory's host (the machine's own name in brackets when it differs)
    assert re.search(r'\| 1 \| \S+ \| localhost( \(\S+\))? \| ', text), text
    assert ('**an earlier step was cut off mid-record: %d bytes of its unfinished line removed (SHA-256 `%s`)**'
            % (len(fragment), hashlib.sha256(fragment).hexdigest())) in text
    assert os.stat(str(dest)).st_mode & 0o777 == 0o600
    # the sheet ends with the head the witnesses sign, which journal_info finds again with expect_head
    head = journal.read()[0][-1]['hash']
    grouped = ' '.join(head[i:i + 8] for i in range(0, 64, 8))
    words = ' '.join(to_words(bytes.fromhex(head)))
    tail = text[text.index('## Journal heads: read aloud, then sign'):]
    assert '  - head: `%s`' % grouped in tail and '  - words: %s' % words in tail and tail.index('## Witnesses') > 0


CEREMONY_PLAY = '''
- name: The sheet of the hosts present
  hosts: "{{ pattern }}"
  gather_facts: false
  tasks:
    - name: Transcript
      ansible.builtin.import_role:
        name: keyceremony.byok.common
        tasks_from: transcript
      vars:
        _common_journals: ["{{ journal }}"]
        _common_ceremony: byok_over_internet
'''


@pytest.mark.bad_input
@pytest.mark.skipif(not os.path.exists(ANSIBLE_PLAYBOOK), reason='needs the venv of make setup')
def test_a_sheet_that_marks_a_mismatch_stops_the_play_and_a_missing_host_leaves_no_sheet(tmp_path):
    key, planted = 'ab' * 32, 'cd' * 32
    journals = {}
    for host in ('offline-ws', 'online-ws'):
        os.makedirs(str(tmp_path / host))
        journals[host] = Journal(str(tmp_path / host / 'journal.jsonl'))
        journals[host].append('ceremony_preflight', 'verified', {'ceremony': 'byok_over_internet', 'activate': True},
                              result={'ceremony': 'byok_over_internet', 'activate': True})
    journals['offline-ws'].append('hsm_key', 'changed', {'ident': 'k'}, result={'spki_sha256': key})
    journals['online-ws'].append('tenant_key', 'changed', {'spki_sha256': planted}, result={'spki_sha256': planted})
    inventory = tmp_path / 'inventory.json'
    inventory.write_text(json.dumps({'all': {'children': dict(
        (group, {'hosts': {host: {'ansible_connection': 'local', 'ansible_python_interpreter': sys.executable,
                                  'journal': journals[host].path}}})
        for group, host in (('offline', 'offline-ws'), ('online', 'online-ws')))}}))
    playbook = tmp_path / 'sheet.yml'
    playbook.write_text(CEREMONY_PLAY)
    env = dict(os.environ, HOME=str(tmp_path / 'home'), ANSIBLE_CONFIG=os.path.join(REPO_ROOT, 'ansible.cfg'),
               ANSIBLE_NOCOLOR='1')

    def play(dest, pattern='online:offline', *more):
        out = subprocess.run([ANSIBLE_PLAYBOOK, '-i', str(inventory), '-e', 'pattern=%s' % pattern,
                              '-e', '_common_transcript_dest=%s' % dest] + list(more) + [str(playbook)],
                             capture_output=True, text=True, env=env, cwd=REPO_ROOT, check=False)
        return out.returncode, ' '.join((out.stdout + out.stderr).split())

    # the check before the irreversible step: nothing written, the play stops
    code, out = play(tmp_path / 'checked.md', 'online:offline', '-e', '_common_transcript_check=true')
    assert code == 2 and 'Before the irreversible step, the witness sheet %s marks 2 value(s) MISMATCH: two ' \
        'different values where the ceremony has one' % (tmp_path / 'checked.md') in out, out[-3000:]
    assert not (tmp_path / 'checked.md').exists()
    # the sheet of the run: written, for the witnesses to see, and the play stops
    code, out = play(tmp_path / 'sheet.md')
    assert code == 2 and 'The witness sheet %s marks 2 value(s) MISMATCH' % (tmp_path / 'sheet.md') in out, out[-3000:]
    assert '**MISMATCH**' in (tmp_path / 'sheet.md').read_text()
    # a run without the offline workstation writes no sheet, says why, and goes on
    code, out = play(tmp_path / 'partial.md', 'online')
    assert code == 0 and 'No witness sheet is written for this run: offline-ws did not get here' in out, out[-3000:]
    assert not (tmp_path / 'partial.md').exists()
