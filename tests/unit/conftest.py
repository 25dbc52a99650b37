# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fixtures: a real SoftHSM2 token store per test (never a PKCS#11 mock), worlds, module runs."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.keyceremony.byok.plugins.module_utils._hsm import Hsm
from ansible_collections.keyceremony.byok.plugins.module_utils._world import WorldSpec, ensure_world
from ansible_collections.keyceremony.byok.tests.unit.helpers import SoftHsm, WorldFixture, cards_for


@pytest.fixture
def softhsm(tmp_path, monkeypatch):
    store = SoftHsm(tmp_path / 'softhsm')
    monkeypatch.setenv('SOFTHSM2_CONF', store.conf)
    monkeypatch.delenv('PKCS11_MODULE', raising=False)
    return store


@pytest.fixture
def make_world(softhsm, tmp_path):
    """make_world(label='w1', quorum='2/3') -> a finished world on the test's SoftHSM2."""
    def make(label='w1', quorum='2/3', cipher_suite='argon2id-aes256gcm'):
        n = int(quorum.split('/')[1])
        world_dir = str(tmp_path / ('world-' + label))
        cards = cards_for(tmp_path / label, n)
        with Hsm() as hsm:
            changed, desc, actions = ensure_world(hsm, WorldSpec(world_dir, label, quorum, cards, cipher_suite))
        assert changed
        return WorldFixture(world_dir, label, cards, desc)
    return make


@pytest.fixture
def world(make_world):
    return make_world()
