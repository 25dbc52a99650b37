# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Where a backup finds the token's files: the SoftHSM2 configuration SoftHSM2 itself would read."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.keyceremony.byok.plugins.module_utils import _backup
from ansible_collections.keyceremony.byok.plugins.module_utils._errors import ByokError


def _conf(path, tokendir):
    path.write_text('# a comment\ndirectories.tokendir = %s\nobjectstore.backend = file\n' % tokendir)
    return str(path)


def test_the_configuration_given(tmp_path, monkeypatch):
    monkeypatch.setenv('SOFTHSM2_CONF', _conf(tmp_path / 'env.conf', '/from/env'))
    assert _backup.softhsm_tokendir(_conf(tmp_path / 'given.conf', '/given')) == '/given'


def test_softhsm2_conf_then_the_system_configuration(tmp_path, monkeypatch):
    monkeypatch.setattr(_backup, 'SOFTHSM2_SYSTEM_CONF', _conf(tmp_path / 'system.conf', '/from/system'))
    monkeypatch.setenv('SOFTHSM2_CONF', _conf(tmp_path / 'env.conf', '/from/env'))
    assert _backup.softhsm_tokendir() == '/from/env'
    monkeypatch.delenv('SOFTHSM2_CONF')
    assert _backup.softhsm_tokendir() == '/from/system'


def test_no_configuration_says_what_to_give(tmp_path, monkeypatch):
    monkeypatch.setattr(_backup, 'SOFTHSM2_SYSTEM_CONF', str(tmp_path / 'absent.conf'))
    monkeypatch.delenv('SOFTHSM2_CONF', raising=False)
    with pytest.raises(ByokError) as e:
        _backup.softhsm_tokendir()
    assert 'give token_dir, or set SOFTHSM2_CONF' in str(e.value) and 'absent.conf is missing' in str(e.value)


def test_a_configuration_without_tokendir(tmp_path):
    conf = tmp_path / 'bare.conf'
    conf.write_text('log.level = ERROR\n')
    with pytest.raises(ByokError) as e:
        _backup.softhsm_tokendir(str(conf))
    assert 'names no directories.tokendir' in str(e.value)
