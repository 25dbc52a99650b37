# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import pytest

from ansible_collections.keyceremony.byok.plugins.module_utils import _files
from ansible_collections.keyceremony.byok.plugins.module_utils._errors import ByokError


def test_private_file_is_0600_and_whole(tmp_path):
    path = str(tmp_path / 'f')
    os.umask(0o022)
    _files.write_private_file(path, b'one')
    assert _files.file_mode(path) == 0o600
    _files.write_private_file(path, b'two')
    assert open(path, 'rb').read() == b'two'
    assert sorted(os.listdir(str(tmp_path))) == ['f']


def test_exclusive_never_replaces(tmp_path):
    path = str(tmp_path / 'card')
    _files.write_private_file(path, b'first', exclusive=True)
    with pytest.raises(FileExistsError):
        _files.write_private_file(path, b'second', exclusive=True)
    assert open(path, 'rb').read() == b'first'
    assert os.listdir(str(tmp_path)) == ['card']


def test_exclusive_without_hard_links(tmp_path, monkeypatch):
    # FAT-formatted removable media refuse link(); the writer falls back to O_EXCL.
    def no_link(src, dst):
        raise OSError(1, 'Operation not permitted')
    monkeypatch.setattr(os, 'link', no_link)
    path = str(tmp_path / 'card')
    _files.write_private_file(path, b'first', exclusive=True)
    assert open(path, 'rb').read() == b'first'
    assert _files.file_mode(path) == 0o600
    with pytest.raises(FileExistsError):
        _files.write_private_file(path, b'second', exclusive=True)
    assert os.listdir(str(tmp_path)) == ['card']


def test_failed_write_keeps_the_old_file_and_no_temp(tmp_path, monkeypatch):
    path = str(tmp_path / 'world.json')
    _files.write_private_file(path, b'old')

    def broken_fsync(fd):
        raise OSError(5, 'Input/output error')
    monkeypatch.setattr(os, 'fsync', broken_fsync)
    with pytest.raises(OSError):
        _files.write_private_file(path, b'new')
    assert open(path, 'rb').read() == b'old'
    assert os.listdir(str(tmp_path)) == ['world.json']


def test_private_dir_is_created_private_and_an_existing_one_keeps_its_mode(tmp_path):
    old = os.umask(0)
    try:
        d = str(tmp_path / 'a' / 'b')
        _files.ensure_private_dir(d)
    finally:
        os.umask(old)
    assert _files.file_mode(d) == 0o700 and _files.file_mode(str(tmp_path / 'a')) == 0o700
    os.chmod(d, 0o755)
    _files.ensure_private_dir(d)
    assert _files.file_mode(d) == 0o755


def test_a_shared_folder_is_never_made_private(tmp_path):
    # a journal in /tmp used to turn /tmp (1777) into 0700 for the whole host
    shared = tmp_path / 'shared-tmp'
    shared.mkdir()
    os.chmod(str(shared), 0o1777)
    _files.ensure_private_dir(str(shared))
    assert _files.file_mode(str(shared)) == 0o1777
    # sticky: a file written once (exclusively) is accepted, one rewritten in place is not
    _files.write_private_file(str(shared / 'once'), b'x', exclusive=True)
    with pytest.raises(ByokError, match='can be written by others .*sticky, but this file is rewritten in place'):
        _files.write_private_file(str(shared / 'again'), b'x')
    assert not os.path.exists(str(shared / 'again'))


@pytest.mark.bad_input
@pytest.mark.parametrize('mode', [0o777, 0o770, 0o722])
def test_a_folder_others_can_write_is_refused(tmp_path, mode):
    d = tmp_path / 'open'
    d.mkdir()
    os.chmod(str(d), mode)
    for exclusive in (False, True):
        with pytest.raises(ByokError, match='can be written by others .*chmod go-w'):
            _files.write_private_file(str(d / 'secret'), b'x', exclusive=exclusive)
    with pytest.raises(ByokError, match='can be written by others'):
        _files.ensure_private_dir(str(d))
    assert os.listdir(str(d)) == [] and _files.file_mode(str(d)) == mode


@pytest.mark.bad_input
def test_private_dir_refuses_a_file(tmp_path):
    f = tmp_path / 'file'
    f.write_text('x')
    with pytest.raises(ByokError, match='not a folder'):
        _files.ensure_private_dir(str(f))


def test_read_json_names_the_file(tmp_path):
    p = tmp_path / 'x.json'
    p.write_text('{not json')
    with pytest.raises(ByokError, match='world descriptor .*x.json is not valid JSON'):
        _files.read_json(str(p), 'world descriptor')
    p.write_text('[1]')
    with pytest.raises(ByokError, match='not a JSON object'):
        _files.read_json(str(p), 'world descriptor')


@pytest.mark.bad_input
def test_a_folder_of_another_user_is_refused(tmp_path):
    d = tmp_path / 'theirs'
    d.mkdir()
    os.chmod(str(d), 0o755)
    os.chown(str(d), 12345, 12345)
    with pytest.raises(ByokError, match='belongs to user 12345, not to this user'):
        _files.write_private_file(str(d / 'secret'), b'x', exclusive=True)
    with pytest.raises(ByokError, match='belongs to user 12345'):
        _files.ensure_private_dir(str(d))
    assert os.listdir(str(d)) == []


def test_only_a_dead_writers_temporaries_are_removed(tmp_path):
    import subprocess
    dead = subprocess.Popen(['true'])
    dead.wait()
    names = {
        '.world.json.%d.abcd_123.tmp' % dead.pid: False,  # a writer killed mid-write: removed
        '.world.json.%d.abcd_123.tmp' % os.getpid(): True,  # this process's own
        '.world.json.4294967296.abcd_123.tmp': True,  # not a pid (no crash either)
        '.notes.2024.backup.tmp': True,  # not a temporary of this collection
        'world.json.%d.abcd_123.tmp' % dead.pid: True,  # not hidden
    }
    for name in names:
        (tmp_path / name).write_bytes(b'x')
    other = tmp_path / ('.journal.jsonl.%d.zzzz_999.tmp' % dead.pid)
    other.write_bytes(b'x')
    os.chown(str(other), 12345, 12345)  # another user's
    _files.remove_stale_temporaries(str(tmp_path))
    for name, kept in names.items():
        assert os.path.exists(str(tmp_path / name)) == kept, name
    assert other.exists()
