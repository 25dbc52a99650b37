# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""journal_info: the head the witnesses sign, and a forged journal that is intact but does not lead to it."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json

import pytest

from ansible_collections.keyceremony.byok.plugins.module_utils._journal import GENESIS, Journal, record_hash
from ansible_collections.keyceremony.byok.plugins.modules import journal_info
from ansible_collections.keyceremony.byok.tests.unit.helpers import run_module


@pytest.fixture
def journal(tmp_path):
    j = Journal(str(tmp_path / 'journal.jsonl'))
    j.append('security_world', 'changed', {'token_label': 'w'}, result={'world_id': 'abc'})
    j.append('hsm_key', 'changed', {'ident': 'k'}, result={'spki_sha256': '11' * 32})
    j.append('key_acl', 'changed', {'ident': 'k'}, result={'kek_kid': 'BYOK-KEK-NA-1'})
    return j


def _forge(journal, seq, field, value):
    """What someone who can write the whole file does: edit record ``seq`` and rehash it and every record after."""
    records = [json.loads(line) for line in open(journal.path)]
    records[seq - 1]['result'][field] = value
    prev = records[seq - 2]['hash'] if seq > 1 else GENESIS
    for r in records[seq - 1:]:
        r['prev'] = prev
        r['hash'] = prev = record_hash(r)
    with open(journal.path, 'w') as f:
        f.write(''.join(json.dumps(r, sort_keys=True, separators=(',', ':')) + '\n' for r in records))
    with open(journal.head_path, 'w') as f:
        json.dump({'records': len(records), 'hash': prev}, f)


def test_the_head_in_the_forms_witnesses_sign(journal):
    r = run_module(journal_info, {'path': journal.path})
    last = r['records'][-1]['hash']
    assert r['intact'] and r['head'] == last
    assert r['head_grouped'].replace(' ', '') == last and len(r['head_grouped'].split()) == 8
    assert len(r['head_words'].split()) == 32
    empty = run_module(journal_info, {'path': journal.path + '.none'})
    assert empty['head'] == GENESIS and empty['intact']
    assert run_module(journal_info, {'path': journal.path + '.none', 'expect_head': GENESIS})['expect_head_record'] == 0


@pytest.mark.parametrize('form', ['head', 'head_grouped', 'head_words'])
def test_the_signed_head_is_found_after_more_records(journal, form):
    signed = run_module(journal_info, {'path': journal.path})[form]
    journal.append('transfer_package', 'changed', {'ident': 'k'}, result={'sha256': '22' * 32})
    for text in (signed, signed.upper(), '  %s\n' % signed):
        r = run_module(journal_info, {'path': journal.path, 'expect_head': text})
        assert not r.failed and r['expect_head_record'] == 3 and len(r['records']) == 4


@pytest.mark.bad_input
def test_a_rewritten_journal_is_intact_but_does_not_lead_to_the_signed_head(journal):
    signed = run_module(journal_info, {'path': journal.path})['head_grouped']
    _forge(journal, 2, 'spki_sha256', '66' * 32)  # the tenant key's fingerprint, swapped for a planted key's
    plain = run_module(journal_info, {'path': journal.path})
    assert plain['intact'], 'the chain has no key: a whole rewrite passes it, which is why the head is signed'
    r = run_module(journal_info, {'path': journal.path, 'expect_head': signed})
    assert r.failed and 'no longer leads to the head signed on the witness sheet (%s)' % signed in r['msg']
    assert 'rewritten after the sheet was signed' in r['msg']


def test_a_broken_chain_cannot_lead_anywhere(journal):
    signed = run_module(journal_info, {'path': journal.path})['head']
    lines = open(journal.path).read().splitlines(True)
    with open(journal.path, 'w') as f:
        f.write(''.join(lines[:1] + lines[2:]))
    r = run_module(journal_info, {'path': journal.path, 'expect_head': signed})
    assert r.failed and 'hash chain is broken' in r['msg']


@pytest.mark.bad_input
@pytest.mark.parametrize('text,msg', [
    ('abc', 'neither 64 hex digits nor the 32 PGP words'),
    ('aardvark adroitness', 'has 2 PGP words; a journal head has 32'),
    ('adroitness aardvark', 'word 1, \'adroitness\', is not a PGP word for its place (a word was dropped or two were swapped)'),
])
def test_a_malformed_expected_head(journal, text, msg):
    r = run_module(journal_info, {'path': journal.path, 'expect_head': text})
    assert r.failed and msg in r['msg']
