# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""from_media's module, the half that writes on the host: it checks each file again before it writes it."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import hashlib

import pytest

from ansible_collections.keyceremony.byok.plugins.modules import from_media
from ansible_collections.keyceremony.byok.tests.unit.helpers import run_module


def _entry(name, data, sha256=None):
    return {'name': name, 'content': base64.b64encode(data).decode(), 'sha256': sha256 or hashlib.sha256(data).hexdigest()}


def test_it_writes_what_the_action_read(tmp_path):
    args = {'dest': str(tmp_path / 'work'), 'files': [{'src': '/media/a.byok'}], '_content': [_entry('a.byok', b'a')]}
    assert run_module(from_media, args, check_mode=True)['changed'] and not (tmp_path / 'work').exists()
    run = run_module(from_media, args)
    assert run['changed'] and (tmp_path / 'work' / 'a.byok').read_bytes() == b'a'
    assert not run_module(from_media, args)['changed']


@pytest.mark.bad_input
@pytest.mark.parametrize('content,said', [
    ([_entry('a.byok', b'a', sha256='00' * 32)], 'arrived with SHA-256'),
    ([{'name': 'a.byok', 'content': '!!', 'sha256': '00' * 32}], 'arrived damaged'),
    ([_entry('../a.byok', b'a')], 'is not a plain file name'),
    ([], 'runs as an action'),
])
def test_what_did_not_arrive_whole_is_not_written(tmp_path, content, said):
    run = run_module(from_media, {'dest': str(tmp_path / 'work'), 'files': [], '_content': content})
    assert run.failed and said in run['msg'], run['msg']
    assert not (tmp_path / 'a.byok').exists() and not (tmp_path / 'work' / 'a.byok').exists()
