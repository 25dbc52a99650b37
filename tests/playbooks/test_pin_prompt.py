# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The card holders' PIN prompt of offline_workstation, answered on a real terminal (a pty).

A card whose PIN is not in the variables is asked for at the terminal, without echo; the world
is made with the typed PINs, and no typed PIN shows on the terminal.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import pty
import select
import signal
import sys
import termios
import time

import pytest

from ansible_collections.keyceremony.byok.plugins.module_utils import _errors, _world

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ANSIBLE_PLAYBOOK = os.path.join(os.path.dirname(sys.executable), 'ansible-playbook')
pytestmark = pytest.mark.skipif(not os.path.exists(ANSIBLE_PLAYBOOK), reason='needs the venv of make setup')

PLAYBOOK = """
- name: The card holders make a security world
  hosts: offline-ws
  gather_facts: false
  tasks:
    - name: The SoftHSM2 folder
      ansible.builtin.include_role:
        name: keyceremony.byok.common
        tasks_from: softhsm
      vars:
        _common_softhsm_dir: "{{ offline_workstation_softhsm_dir }}"
    - name: Card holders
      ansible.builtin.include_role:
        name: keyceremony.byok.offline_workstation
        tasks_from: cards
    - name: World, key and backup
      environment:
        SOFTHSM2_CONF: "{{ offline_workstation_softhsm_dir }}/softhsm2.conf"
      block:
        - name: The world's tasks of the role
          ansible.builtin.include_role:
            name: keyceremony.byok.offline_workstation
            tasks_from: world
"""


def on_a_terminal(argv, env, answers, timeout=120):
    """Run ``argv`` on a new pty; when the text of ``answers[0][0]`` appears, type ``answers[0][1]``.

    Returns the exit code, everything the terminal showed, and the answers not given.
    """
    pid, fd = pty.fork()
    if pid == 0:  # the child: ansible-playbook, with the pty as its controlling terminal
        os.chdir(REPO_ROOT)
        os.execve(argv[0], argv, env)
    shown, seen = b'', 0
    answers = list(answers)
    deadline = time.time() + timeout
    typed, typed_at = None, None
    try:
        while time.time() < deadline:
            if not select.select([fd], [], [], 1)[0]:
                # Ansible may discard what was typed ahead of its read (tcflush) once echo is off: an answer the
                # terminal shows nothing after for 10 s is typed again, as a card holder would
                if typed is not None and time.time() - typed_at > 10 and not termios.tcgetattr(fd)[3] & termios.ECHO:
                    os.write(fd, typed + b'\r')
                    typed_at = time.time()
                continue
            try:
                data = os.read(fd, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            shown += data
            if typed is not None and data.strip():
                typed = None  # the terminal moved on
            if answers and answers[0][0] in shown[seen:]:
                # a card holder types once the terminal stops echoing: wait for that, so the
                # PIN is neither typed too early nor shown
                quiet = time.time() + 20
                while termios.tcgetattr(fd)[3] & termios.ECHO and time.time() < quiet:
                    time.sleep(0.05)
                seen = len(shown)
                time.sleep(0.2)
                typed, typed_at = answers.pop(0)[1], time.time()
                os.write(fd, typed + b'\r')
        else:
            os.kill(pid, signal.SIGKILL)
    finally:
        os.close(fd)
    status = os.waitpid(pid, 0)[1]
    code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else -1
    return code, shown.decode('utf-8', 'replace'), answers


def test_pins_typed_at_the_terminal_without_echo(tmp_path):
    cards = [str(tmp_path / 'cards' / ('card%d' % i)) for i in (1, 2, 3)]
    typed = {cards[0]: 'typed-pin-of-card-one', cards[2]: 'typed-pin-of-card-three'}
    in_vault = 'vault-pin-of-card-two'
    inventory = tmp_path / 'inventory.json'
    inventory.write_text(json.dumps({'all': {'hosts': {'offline-ws': {
        'ansible_connection': 'local', 'ansible_python_interpreter': sys.executable,
        'offline_workstation_softhsm_dir': str(tmp_path / 'softhsm'),
        'offline_workstation_world_dir': str(tmp_path / 'world'),
        'offline_workstation_backup_dir': str(tmp_path / 'backup'),
        'offline_workstation_admin_cards': [{'path': cards[0]}, {'path': cards[1], 'pin': in_vault},
                                            {'path': cards[2]}]}}}}))
    playbook = tmp_path / 'cards.yml'
    playbook.write_text(PLAYBOOK)
    env = dict(os.environ, HOME=str(tmp_path / 'home'), ANSIBLE_CONFIG=os.path.join(REPO_ROOT, 'ansible.cfg'),
               ANSIBLE_NOCOLOR='1', TERM='dumb')
    env.pop('SOFTHSM2_CONF', None)

    answers = [(("Card holder of %s, type the card's PIN" % path).encode(), pin.encode())
               for path, pin in sorted(typed.items())]
    code, shown, unanswered = on_a_terminal([ANSIBLE_PLAYBOOK, '-i', str(inventory), str(playbook)], env, answers)

    assert code == 0 and not unanswered, shown[-3000:]
    assert shown.count("type the card's PIN") == 2  # card two's PIN came from the variables: no prompt
    for secret in list(typed.values()) + [in_vault]:
        assert secret not in shown  # no echo, and no_log on everything that holds a PIN
    # the world was made with the PINs typed at the terminal: cards one and three open it
    so_pin = _world.recover_so_pin(str(tmp_path / 'world'), [{'path': p, 'pin': typed[p]} for p in sorted(typed)])
    assert so_pin
    with pytest.raises(_errors.CardError, match='card1'):
        _world.recover_so_pin(str(tmp_path / 'world'), [{'path': cards[0], 'pin': in_vault},
                                                        {'path': cards[2], 'pin': typed[cards[2]]}])
