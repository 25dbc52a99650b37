# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""ceremony_preflight: every problem of the inputs at once, naming the variable; journalled only where a journal is."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os

import pytest

from ansible_collections.keyceremony.byok.plugins.modules import ceremony_preflight
from ansible_collections.keyceremony.byok.tests.unit.helpers import run_module

NAMES = {'card_paths': 'byok_admin_cards', 'acl_cards': 'byok_acl_cards', 'root_hash': 'byok_root_hash',
         'tenant_id': 'offline_workstation_tenant_id', 'key_size': 'offline_workstation_key_size'}
GOOD = {'ceremony': 'byok_over_internet', 'required': {'byok_transfer_dir': '/media/transfer'},
        'given': {'byok_tenant_admin_password': True}, 'quorum': '2/3',
        'card_paths': ['/cards/1', '/cards/2', '/cards/3'], 'acl_cards': [2, 3],
        'root_hash': '97221E73 a655b2b5 9b4cbc30 b5187001 f21990ec 5e5e3178 a20c2cfa 6eb1a7c7',
        'tenant_id': '44f40634-b7cc-418a-83fe-2f0cc9b0207e', 'key_size': 2048, 'key_target': 'rms',
        'variable_names': NAMES}


def _world(tmp_path):
    """The world's folder as an earlier run left it (a preflight writes its journal only where something is kept)."""
    os.mkdir(str(tmp_path / 'world'), 0o700)
    (tmp_path / 'world' / 'world.json').write_text('{}')


def _run(tmp_path=None, **change):
    args = dict(GOOD, **change)
    if tmp_path is not None:
        args['journal'] = str(tmp_path / 'world' / 'journal.jsonl')
    return run_module(ceremony_preflight, args)


def test_good_inputs_pass_and_are_recorded_where_a_journal_is_kept(tmp_path):
    run = _run(tmp_path)
    assert not run.failed and run['journalled'] is False
    # the world's folder does not exist: a first run makes nothing, not even the folder
    assert not (tmp_path / 'world').exists()
    # an empty world folder (made for a restore) stays empty
    os.mkdir(str(tmp_path / 'world'), 0o700)
    assert _run(tmp_path)['journalled'] is False and os.listdir(str(tmp_path / 'world')) == []
    (tmp_path / 'world' / 'world.json').write_text('{}')
    run = _run(tmp_path, activate=True)
    assert not run.failed and run['ceremony'] == 'byok_over_internet' and run['journalled'] is True
    record = json.loads((tmp_path / 'world' / 'journal.jsonl').read_text().splitlines()[-1])
    assert (record['module'], record['outcome']) == ('ceremony_preflight', 'verified')
    assert record['result'] == {'ceremony': 'byok_over_internet', 'activate': True}


def test_check_mode_records_nothing(tmp_path):
    _world(tmp_path)
    args = dict(GOOD, journal=str(tmp_path / 'world' / 'journal.jsonl'))
    assert not run_module(ceremony_preflight, args, check_mode=True).failed
    assert not (tmp_path / 'world' / 'journal.jsonl').exists()


@pytest.mark.bad_input
@pytest.mark.parametrize('change,said', [
    ({'required': {'byok_transfer_dir': None, 'byok_tenant_url': '  '}}, 'not set: byok_tenant_url, byok_transfer_dir'),
    ({'given': {'byok_tenant_admin_password': False}}, 'not set: byok_tenant_admin_password'),
    ({'card_paths': ['/cards/1']}, 'byok_admin_cards must list all 3 cards of the quorum 2/3, and lists 1'),
    ({'card_paths': ['/cards/1', '', '/cards/3']}, 'byok_admin_cards: card 2 has no path'),
    ({'card_paths': ['/cards/1', '/cards/1', '/cards/3']}, 'byok_admin_cards names /cards/1 more than once'),
    ({'acl_cards': [1, 4]}, 'byok_acl_cards names card 4, but the cards are numbered 1 to 3'),
    ({'acl_cards': [0, 1]}, 'byok_acl_cards names card 0'),
    ({'acl_cards': [2, 2]}, 'byok_acl_cards names card 2 more than once'),
    ({'acl_cards': [3]}, 'byok_acl_cards must name at least 2 different cards'),
    ({'acl_cards': ['two', 3]}, "byok_acl_cards holds 'two', which is not a card number"),
    ({'quorum': '3 of 5'}, "the quorum '3 of 5' is not K/N"),
    ({'quorum': '4/3'}, 'the quorum 4/3 needs 1 <= K <= N'),
    ({'root_hash': 'ab' * 20}, 'byok_root_hash is 40 hex digits, a SHA-1 hash'),
    ({'root_hash': 'zz' * 32}, 'byok_root_hash '),
    ({'tenant_id': '44f40634-b7cc-418a-83fe-2f0cc9b0207'}, 'offline_workstation_tenant_id'),
    ({'media_tenant_id': '55f40634-b7cc-418a-83fe-2f0cc9b0207e'},
     'offline_workstation_tenant_id is 44f40634-b7cc-418a-83fe-2f0cc9b0207e, but the online workstation read '
     '55f40634-b7cc-418a-83fe-2f0cc9b0207e from the tenant'),
    ({'key_size': 4096}, 'offline_workstation_key_size is 4096, but the RMS tenant takes an RSA 2048 key'),
    ({'key_size': 1024, 'key_target': 'keyvault'}, 'offline_workstation_key_size is 1024'),
])
def test_each_mistake_names_the_variable_and_is_journalled(tmp_path, change, said):
    _world(tmp_path)
    run = _run(tmp_path, **change)
    assert run.failed and said in run['msg'] and 'nothing was changed' in run['msg'], run['msg']
    record = json.loads((tmp_path / 'world' / 'journal.jsonl').read_text().splitlines()[-1])
    assert (record['module'], record['outcome']) == ('ceremony_preflight', 'failed') and said in record['error']


def test_every_problem_is_reported_at_once():
    run = _run(required={'byok_tenant_url': None}, acl_cards=[4], root_hash='ab')
    assert run.failed
    assert '(1) not set: byok_tenant_url' in run['msg'] and '(2) byok_acl_cards names card 4' in run['msg']
    assert '(4) byok_root_hash must be the SHA-256' in run['msg'], run['msg']


@pytest.mark.bad_input
def test_a_media_folder_others_can_write_to_is_refused_before_anything_is_touched(tmp_path):
    folder = tmp_path / 'media'
    folder.mkdir()
    os.chmod(str(folder), 0o777)
    run = _run(private_folders=[str(folder), str(tmp_path / 'not-made-yet')])
    assert run.failed and 'folder %s can be written by others' % folder in run['msg'], run['msg']
    os.chmod(str(folder), 0o700)
    assert not _run(private_folders=[str(folder), str(tmp_path / 'not-made-yet')]).failed


def test_the_tenant_id_given_may_differ_from_the_media_only_in_case_and_spaces():
    assert not _run(media_tenant_id=' 44F40634-B7CC-418A-83FE-2F0CC9B0207E').failed


def test_an_adrms_key_may_be_1024_bits():
    assert not _run(key_size=1024, key_target='adrms').failed
    assert not _run(key_size=2048, key_target='adrms').failed
    assert 'RSA 1024 (cryptographic mode 1) or RSA 2048' in _run(key_size=3072, key_target='adrms')['msg']


def test_a_rehearsal_may_start_its_journal_with_the_preflight(tmp_path):
    run = _run(tmp_path, create_journal=True)
    assert not run.failed and run['journalled'] is True
    assert os.stat(str(tmp_path / 'world')).st_mode & 0o777 == 0o700
    record = json.loads((tmp_path / 'world' / 'journal.jsonl').read_text().splitlines()[0])
    assert (record['seq'], record['module'], record['outcome']) == (1, 'ceremony_preflight', 'verified')
