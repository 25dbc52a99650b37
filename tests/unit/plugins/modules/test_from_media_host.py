# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""from_media's module, the half that writes on the host: it checks each file again before it writes it."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import hashlib
import os

import pytest

from ansible_collections.keyceremony.byok.plugins.modules import from_media
from ansible_collections.keyceremony.byok.tests.unit.helpers import run_module


def _args(dest, *entries):
    """The module's arguments as the action sends them: (name, bytes[, sha256]) per file."""
    return {'dest': str(dest), 'files': [{'src': '/media/' + e[0]} for e in entries],
            '_names': [{'name': e[0], 'sha256': e[2] if len(e) > 2 else hashlib.sha256(e[1]).hexdigest()}
                       for e in entries],
            '_data': [e[1] if isinstance(e[1], str) else base64.b64encode(e[1]).decode() for e in entries]}


def test_it_writes_what_the_action_read_and_never_logs_the_bytes(tmp_path, monkeypatch):
    logged = []
    monkeypatch.setattr(from_media.AnsibleModule, 'log', lambda self, msg, log_args=None: logged.append(msg))
    args = _args(tmp_path / 'work', ('a.byok', b'the bytes of a package'), ('b.json', b'{}'))
    assert run_module(from_media, args, check_mode=True)['changed'] and not (tmp_path / 'work').exists()
    run = run_module(from_media, args)
    assert run['changed'] and (tmp_path / 'work' / 'a.byok').read_bytes() == b'the bytes of a package'
    assert not run_module(from_media, args)['changed']
    assert logged and not [m for m in logged if base64.b64encode(b'the bytes of a package').decode() in m], logged


@pytest.mark.bad_input
@pytest.mark.parametrize('entries,said', [
    ([('a.byok', b'a'), ('b.byok', b'b', '00' * 32)], 'b.byok arrived with SHA-256'),
    ([('a.byok', b'a'), ('b.byok', '!!', '00' * 32)], 'b.byok arrived damaged'),
    ([('a.byok', b'a'), ('../b.byok', b'b')], 'is not a plain file name'),
    ([], 'runs as an action'),
])
def test_what_did_not_arrive_whole_is_not_written(tmp_path, entries, said):
    run = run_module(from_media, _args(tmp_path / 'work', *entries))
    assert run.failed and said in run['msg'], run['msg']
    assert not (tmp_path / 'b.byok').exists() and not (tmp_path / 'work').exists(), 'a file of a refused task was written'


@pytest.mark.bad_input
def test_a_folder_others_can_write_to_is_refused_in_check_mode_too(tmp_path):
    shared = tmp_path / 'shared'
    shared.mkdir()
    os.chmod(str(shared), 0o777)
    for check_mode in (True, False):
        run = run_module(from_media, _args(shared, ('a.byok', b'a')), check_mode=check_mode)
        assert run.failed and 'can be written by others' in run['msg'], run['msg']
