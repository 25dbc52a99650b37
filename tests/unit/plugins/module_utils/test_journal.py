# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The ceremony journal's hash chain: any edit, reorder or removal is detected."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import pytest

from ansible_collections.keyceremony.byok.plugins.module_utils._journal import Journal, public_options


@pytest.fixture
def journal(tmp_path):
    j = Journal(str(tmp_path / 'journal.jsonl'))
    j.append('security_world', 'changed', {'token_label': 'w'}, result={'world_id': 'abc'})
    j.append('hsm_key', 'changed', {'ident': 'k'}, result={'spki_sha256': '00' * 32})
    j.append('key_acl', 'failed', {'ident': 'k'}, error='1 administrator card(s) given')
    return j


def test_a_fresh_journal_is_intact(journal):
    records, intact, problem = journal.read()
    assert intact and problem is None and [r['seq'] for r in records] == [1, 2, 3]
    assert records[2]['error'].startswith('1 administrator') and records[1]['prev'] == records[0]['hash']
    assert os.stat(journal.path).st_mode & 0o777 == 0o600


def test_editing_any_byte_is_detected(journal):
    data = open(journal.path, 'rb').read()
    for i in range(len(data)):
        if data[i:i + 1] == b'\n':
            continue
        edited = data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1:]
        with open(journal.path, 'wb') as f:
            f.write(edited)
        assert journal.read()[1] is False, 'an edit at byte %d went unnoticed' % i
    with open(journal.path, 'wb') as f:
        f.write(data)
    assert journal.read()[1] is True


@pytest.mark.parametrize('mutate', [
    lambda lines: [lines[1], lines[0], lines[2]],
    lambda lines: [lines[0], lines[2]],
    lambda lines: lines[:2],
    lambda lines: lines[1:],
    lambda lines: lines + [lines[2]],
])
def test_reordering_and_removing_is_detected(journal, mutate):
    lines = open(journal.path, 'rb').read().splitlines(True)
    with open(journal.path, 'wb') as f:
        f.write(b''.join(mutate(lines)))
    assert journal.read()[1] is False


def test_missing_journal_with_a_head_is_detected(journal):
    os.unlink(journal.path)
    assert journal.read()[1] is False


def test_no_journal_in_a_missing_folder(tmp_path):
    assert Journal(str(tmp_path / 'nowhere' / 'j.jsonl')).append('m', 'failed', {}) is None


def test_secret_options_are_left_out():
    spec = {'token_label': {'type': 'str'}, 'admin_cards': {'type': 'list', 'options': {
        'path': {'type': 'path'}, 'pin': {'type': 'str', 'no_log': True}}}, 'password': {'type': 'str', 'no_log': True}}
    params = {'token_label': 'w', 'admin_cards': [{'path': '/c1', 'pin': 'secret-1'}], 'password': 'secret-2'}
    assert public_options(spec, params) == {'token_label': 'w', 'admin_cards': [{'path': '/c1'}]}


def test_an_append_cut_off_before_its_head_is_healed_by_the_next(journal, monkeypatch):
    """Killed after its line was on disk and before the head was: the next append brings the head
    up to that record instead of forking the chain with a second record 4."""
    from ansible_collections.keyceremony.byok.plugins.module_utils import _journal
    real = _journal.write_private_json

    def killed(path, obj, **kwargs):
        raise KeyboardInterrupt('killed')
    monkeypatch.setattr(_journal, 'write_private_json', killed)
    with pytest.raises(KeyboardInterrupt):
        journal.append('transfer_package', 'changed', {'ident': 'k'})
    monkeypatch.setattr(_journal, 'write_private_json', real)
    assert journal.read()[1] is False  # the head lags until the next append
    journal.append('transfer_package', 'changed', {'ident': 'k'})
    records, intact, problem = journal.read()
    assert intact, problem
    assert [r['seq'] for r in records] == [1, 2, 3, 4, 5] and 'repaired' not in records[4]


def test_an_unterminated_fragment_is_removed_and_accounted_for(journal):
    """A line cut off mid-write was never a record: the next append removes it and says so."""
    import hashlib
    fragment = b'{"asked":{"ident":"k"},"hash":"12'
    with open(journal.path, 'ab') as f:
        f.write(fragment)
    assert journal.read()[1] is False
    journal.append('transfer_package', 'changed', {'ident': 'k'})
    records, intact, problem = journal.read()
    assert intact, problem
    assert [r['seq'] for r in records] == [1, 2, 3, 4]
    assert records[3]['repaired'] == {'removed_fragment_bytes': len(fragment),
                                      'removed_fragment_sha256': hashlib.sha256(fragment).hexdigest()}


def test_a_removed_last_record_is_not_healed_away(journal):
    lines = open(journal.path, 'rb').read().splitlines(True)
    with open(journal.path, 'wb') as f:
        f.write(b''.join(lines[:2]))
    journal.append('transfer_package', 'changed', {'ident': 'k'})
    records, intact, problem = journal.read()
    assert not intact and 'out of sequence' in problem


def test_a_whole_last_record_without_its_line_end_is_kept_not_cut(journal):
    with open(journal.path, 'rb') as f:
        data = f.read()
    with open(journal.path, 'wb') as f:
        f.write(data.rstrip(b'\n'))
    assert journal.heal('hsm_key', {}) is None
    records, intact, problem = journal.read()
    assert intact and len(records) == 3, problem
    journal.append('transfer_package', 'changed', {})
    assert journal.read()[1] and len(journal.read()[0]) == 4


def test_a_cut_off_append_is_healed_and_recorded_before_the_next_run(journal):
    with open(journal.path, 'ab') as f:
        f.write(b'{"asked":{},"hash":"77')
    record = journal.heal('hsm_key', {'ident': 'k'})
    assert record['outcome'] == 'repaired' and record['repaired']['removed_fragment_bytes'] == 22
    records, intact, problem = journal.read()
    assert intact and len(records) == 4, problem


@pytest.mark.bad_input
def test_a_file_that_is_not_a_journal_is_never_healed_or_appended_to(tmp_path):
    from ansible_collections.keyceremony.byok.plugins.module_utils._errors import ByokError
    notes = tmp_path / 'notes.md'
    notes.write_bytes(b'# my notes\nthe last line without an end')
    for call in (lambda j: j.heal('hsm_key', {}), lambda j: j.append('hsm_key', 'changed', {})):
        with pytest.raises(ByokError, match='is not a ceremony journal'):
            call(Journal(str(notes)))
    assert notes.read_bytes() == b'# my notes\nthe last line without an end'


@pytest.mark.bad_input
def test_a_journal_that_is_a_link_is_refused(journal, tmp_path):
    from ansible_collections.keyceremony.byok.plugins.module_utils._errors import ByokError
    link = tmp_path / 'link.jsonl'
    os.symlink(journal.path, str(link))
    with pytest.raises(ByokError, match='is a symbolic link'):
        Journal(str(link)).append('hsm_key', 'changed', {})


def test_a_first_append_cut_off_is_healed_not_refused(tmp_path):
    j = Journal(str(tmp_path / 'journal.jsonl'))
    with open(j.path, 'wb') as f:
        f.write(b'{"asked":{},"hash":"0')
    record = j.heal('hsm_key', {})
    assert record['outcome'] == 'repaired' and record['seq'] == 1
    records, intact, problem = j.read()
    assert intact and len(records) == 1, problem
