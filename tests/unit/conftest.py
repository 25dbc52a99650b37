# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fixtures: a real SoftHSM2 token store per test (never a PKCS#11 mock), worlds, module runs."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))


def _collection_root():
    # Inside ansible-test's copy the repo itself sits in ansible_collections/keyceremony/byok;
    # in the working tree `make setup` makes .collections/ansible_collections/keyceremony/byok.
    parts = ROOT.split(os.sep)
    if parts[-3:-1] == ['ansible_collections', 'keyceremony']:
        return os.sep.join(parts[:-3])
    link = os.path.join(ROOT, '.collections')
    if not os.path.isdir(os.path.join(link, 'ansible_collections', 'keyceremony', 'byok')):
        raise RuntimeError('run `make setup` first: .collections/ansible_collections/keyceremony/byok is missing')
    return link


if _collection_root() not in sys.path:
    sys.path.insert(0, _collection_root())

from ansible_collections.keyceremony.byok.plugins.module_utils._hsm import Hsm  # noqa: E402
from ansible_collections.keyceremony.byok.plugins.module_utils._world import WorldSpec, ensure_world  # noqa: E402
from ansible_collections.keyceremony.byok.tests.unit.helpers import SoftHsm, WorldFixture, cards_for  # noqa: E402


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
