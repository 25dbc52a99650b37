# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fixtures of every scenario's testinfra verifier.

Each container of the scenario is reached as ``podman://NAME`` (``podman exec``), not through
molecule's default ansible connection, which runs one ansible call per check.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os

import pytest
import testinfra
import yaml


def scenario_file(name):
    return os.path.join(os.environ['MOLECULE_SCENARIO_DIRECTORY'], name)


@pytest.fixture(scope='session')
def hosts():
    """{platform name: testinfra host} of the scenario's containers."""
    with open(scenario_file('molecule.yml')) as f:
        names = [p['name'] for p in yaml.safe_load(f)['platforms']]
    return dict((name, testinfra.get_host('podman://' + name)) for name in names)


@pytest.fixture(scope='session')
def controller():
    """The scenario's folder on the controller (the transfer media live there)."""
    return os.environ['MOLECULE_EPHEMERAL_DIRECTORY']


def read_json(host, path):
    return json.loads(host.file(path).content_string)


def files_holding(host, secret, roots=('/etc', '/var', '/opt', '/root', '/tmp', '/home', '/usr/local')):
    """Every file under roots whose bytes contain secret (grep -F, binary files included)."""
    # -D skip: FIFOs, sockets and devices are not read (a FIFO would block); an error fails the check
    out = host.run('grep -rlF -D skip -- %s %s' % (_quote(secret), ' '.join(roots)))
    assert out.rc in (0, 1), 'grep failed on %s: %s' % (host.backend.hostname, out.stderr)
    return sorted(line for line in out.stdout.splitlines() if line)


def _quote(text):
    return "'" + text.replace("'", "'\\''") + "'"
