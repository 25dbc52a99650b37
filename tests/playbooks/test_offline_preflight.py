# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The offline role checks the card list against the quorum before it touches anything."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import subprocess
import sys

import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ANSIBLE_PLAYBOOK = os.path.join(os.path.dirname(sys.executable), 'ansible-playbook')
pytestmark = pytest.mark.skipif(not os.path.exists(ANSIBLE_PLAYBOOK), reason='needs the venv of make setup')

PLAYBOOK = """
- name: The offline workstation
  hosts: offline-ws
  gather_facts: false
  roles:
    - role: keyceremony.byok.offline_workstation
"""


def _run(tmp_path, *options, **host_vars):
    """The offline role on a local host with folders under tmp_path; returns (exit code, output on one line)."""
    host = {'ansible_connection': 'local', 'ansible_python_interpreter': sys.executable,
            'offline_workstation_softhsm_dir': str(tmp_path / 'softhsm'),
            'offline_workstation_world_dir': str(tmp_path / 'world'),
            'offline_workstation_media_dir': str(tmp_path / 'media'),
            'offline_workstation_backup_dir': str(tmp_path / 'backup'),
            'offline_workstation_transfer_dir': str(tmp_path / 'transfer'),
            'offline_workstation_root_hash': 'ab' * 32,
            'offline_workstation_admin_cards': [{'path': str(tmp_path / 'cards' / ('card%d' % i)),
                                                 'pin': 'pin-%d-secret' % i} for i in range(1, 4)]}
    host.update(host_vars)
    inventory = tmp_path / 'inventory.json'
    inventory.write_text(json.dumps({'all': {'hosts': {'offline-ws': host}}}))
    playbook = tmp_path / 'offline.yml'
    playbook.write_text(PLAYBOOK)
    env = dict(os.environ, HOME=str(tmp_path / 'home'), ANSIBLE_CONFIG=os.path.join(REPO_ROOT, 'ansible.cfg'),
               ANSIBLE_NOCOLOR='1')
    env.pop('SOFTHSM2_CONF', None)
    out = subprocess.run([ANSIBLE_PLAYBOOK, '-i', str(inventory), str(playbook)] + list(options), capture_output=True,
                         text=True,
                         env=env, cwd=REPO_ROOT, check=False)
    return out.returncode, ' '.join((out.stdout + out.stderr).split())


def _nothing_made(tmp_path):
    return [made for made in ('softhsm', 'world', 'cards', 'media', 'backup') if os.path.exists(str(tmp_path / made))]


@pytest.mark.bad_input
@pytest.mark.parametrize('cards,acl,shown', [
    (1, [], 'offline_workstation_admin_cards (byok_admin_cards in the playbooks) must list all 3 cards of the quorum 2/3, '
            'and lists 1'),
    (3, [1, 4], 'offline_workstation_acl_cards (byok_acl_cards in the playbooks) names card 4, but the cards are numbered 1 '
                'to 3'),
    (3, [2, 2], 'offline_workstation_acl_cards (byok_acl_cards in the playbooks) names card 2 more than once'),
    (3, [3], 'offline_workstation_acl_cards (byok_acl_cards in the playbooks) must name at least 2 different cards'),
    (3, [0, 1], 'offline_workstation_acl_cards (byok_acl_cards in the playbooks) names card 0, but the cards are numbered'),
])
def test_a_card_list_that_does_not_fit_the_quorum_changes_nothing(tmp_path, cards, acl, shown):
    code, text = _run(tmp_path, offline_workstation_acl_cards=acl, offline_workstation_admin_cards=[
        {'path': str(tmp_path / 'cards' / ('card%d' % i)), 'pin': 'pin-%d-secret' % i} for i in range(1, cards + 1)])
    assert code == 2, text[-3000:]
    assert shown in text and 'nothing was changed' in text, text[-3000:]
    assert 'has no attribute' not in text and 'pin-1-secret' not in text
    assert _nothing_made(tmp_path) == []


@pytest.mark.bad_input
def test_a_mistyped_tenant_id_is_refused_before_anything_is_touched(tmp_path):
    (tmp_path / 'transfer').mkdir()
    (tmp_path / 'transfer' / 'tenant.json').write_text(json.dumps({'tenant_id': '3f2a8b1c-5d6e-4f70-8a9b-0c1d2e3f4a5b'}))
    code, text = _run(tmp_path, offline_workstation_tenant_id='3f2a8b1c-5d6e-4f70-8a9b-0c1d2e3f4a5c')
    assert code == 2, text[-3000:]
    assert ('offline_workstation_tenant_id is 3f2a8b1c-5d6e-4f70-8a9b-0c1d2e3f4a5c, but the online workstation read '
            '3f2a8b1c-5d6e-4f70-8a9b-0c1d2e3f4a5b from the tenant') in text, text[-3000:]
    assert _nothing_made(tmp_path) == []


def test_check_mode_on_a_fresh_workstation_says_where_it_stopped(tmp_path):
    (tmp_path / 'transfer').mkdir()
    code, text = _run(tmp_path, '--check')
    assert code == 0, text[-3000:]
    assert 'Check mode stopped looking ahead: the SoftHSM2 folder (and so the token, the world, the cards and the key ' \
           'were not checked) does not exist yet' in text, text[-3000:]
    assert _nothing_made(tmp_path) == []
