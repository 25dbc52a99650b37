# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import subprocess

import pytest

from ansible_collections.keyceremony.byok.plugins.modules import hsm_key, security_world_info, world_backup
from ansible_collections.keyceremony.byok.tests.unit.helpers import four_way, held_back_by_the_world_lock, run_module


def test_four_way_and_a_new_backup_when_the_world_changes(world, tmp_path):
    args = {'world_dir': world.dir, 'dest': str(tmp_path / 'backup')}
    check, real, check_again, again = four_way(world_backup, args)
    assert [r['changed'] for r in (check, real, check_again, again)] == [True, True, False, False]
    assert again['backup_dir'] == real['backup_dir'] and real['files'] > 3
    # a login rewrites SoftHSM2's token.object: no new backup for that
    run_module(security_world_info, {'world_dir': world.dir})
    assert not run_module(world_backup, args)['changed']
    out = subprocess.run(['sha256sum', '-c', 'MANIFEST.sha256'], cwd=real['backup_dir'], capture_output=True, text=True,
                         check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    for folder, dirs, files in os.walk(real['backup_dir']):
        assert os.stat(folder).st_mode & 0o777 == 0o700
        for name in files:
            assert os.stat(os.path.join(folder, name)).st_mode & 0o777 == 0o600
    run_module(hsm_key, {'world_dir': world.dir, 'ident': 'newkey'})
    newer = run_module(world_backup, args)
    assert newer['changed'] and newer['backup_dir'] != real['backup_dir']
    assert sorted(os.listdir(str(tmp_path / 'backup'))) == sorted([os.path.basename(real['backup_dir']),
                                                                  os.path.basename(newer['backup_dir'])])


@pytest.mark.bad_input
def test_a_damaged_backup_is_reported(world, tmp_path):
    args = {'world_dir': world.dir, 'dest': str(tmp_path / 'backup')}
    real = run_module(world_backup, args)
    with open(os.path.join(real['backup_dir'], 'world', 'world.json'), 'a') as f:
        f.write(' ')
    r = run_module(world_backup, args)
    assert r.failed and 'does not match its manifest' in r['msg']


def test_a_backup_waits_while_another_run_changes_the_world(world, tmp_path):
    """No key is made between the manifest and the copies: the backup waits for the world's lock."""
    args = {'world_dir': world.dir, 'dest': str(tmp_path / 'backup')}
    r = held_back_by_the_world_lock(world_backup, args, tmp_path, world.dir,
                                    lambda: not os.path.exists(str(tmp_path / 'backup')))
    assert r['changed'] and os.path.isfile(r['manifest'])
