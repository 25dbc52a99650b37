# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Every test suite imports the collection as ansible_collections.keyceremony.byok."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))


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
