# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The example inventory and variables of playbooks/examples name what the playbook and the roles take."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import re

import yaml

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _load(*path):
    with open(os.path.join(REPO_ROOT, *path)) as f:
        return yaml.safe_load(f)


def _role_options(role):
    specs = _load('roles', role, 'meta', 'argument_specs.yml')['argument_specs']
    return set(name for entry in specs.values() for name in entry.get('options', {}))


def test_the_example_inventory_uses_the_roles_variables():
    inventory = _load('playbooks', 'examples', 'inventory.yml')['all']['children']
    assert set(inventory) == {'online', 'offline'}
    for group, role in (('online', 'online_workstation'), ('offline', 'offline_workstation')):
        options = _role_options(role)
        for host, hostvars in inventory[group]['hosts'].items():
            assert hostvars.get('ansible_python_interpreter'), host  # interpreter discovery may pick a shim
            for name in hostvars:
                if name.startswith(role + '_'):
                    assert name in options, '%s is no option of %s' % (name, role)


def test_the_example_variables_give_what_the_playbook_asks_for():
    with open(os.path.join(REPO_ROOT, 'playbooks', 'byok_over_internet.yml')) as f:
        header = f.read().split('\n- name:', 1)[0]
    asked = set(re.findall(r'\b(byok_[a-z_]+)\b', header)) - {'byok_activate'}
    given = set(_load('playbooks', 'examples', 'ceremony.yml'))
    assert asked and asked <= given, asked - given
