# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fixtures: a real SoftHSM2 token store per test (never a PKCS#11 mock), worlds, module runs."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import shutil
import signal
import socket
import subprocess
import time

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


# A second PKCS#11 implementation from Debian's packages, which lacks mechanisms the ceremony needs: tpm2-pkcs11 over
# a TPM simulator (swtpm) of the test's own, everything in tmp_path (make setup installs libtpm2-pkcs11-1,
# libtss2-tcti-swtpm0 and swtpm).
TPM2_PKCS11 = '/usr/lib/x86_64-linux-gnu/pkcs11/libtpm2_pkcs11.so'


def _port_pair():
    """A free loopback port P with P+1 free too (swtpm's control port, which the TCTI also uses)."""
    while True:
        with socket.socket() as s:
            s.bind(('127.0.0.1', 0))
            port = s.getsockname()[1]
        if port < 65535:
            with socket.socket() as s2:
                try:
                    s2.bind(('127.0.0.1', port + 1))
                    return port
                except OSError:
                    pass


@pytest.fixture
def tpm2_pkcs11(tmp_path, monkeypatch):
    """(library path, environment) of a tpm2-pkcs11 library over a fresh swtpm; its token is not initialised."""
    if not (shutil.which('swtpm') and os.path.exists(TPM2_PKCS11)):
        pytest.skip('needs tpm2-pkcs11 and swtpm: make setup installs them')
    state, store = tmp_path / 'tpmstate', tmp_path / 'tpmstore'
    state.mkdir()
    store.mkdir()
    pidfile = tmp_path / 'swtpm.pid'
    for attempt in range(10):  # another worker may take the port between the probe and the bind
        port = _port_pair()
        started = subprocess.run(['swtpm', 'socket', '--tpm2', '--tpmstate', 'dir=%s' % state,
                                  '--server', 'type=tcp,port=%d,bindaddr=127.0.0.1' % port,
                                  '--ctrl', 'type=tcp,port=%d,bindaddr=127.0.0.1' % (port + 1),
                                  '--flags', 'not-need-init,startup-clear', '--daemon', '--pid', 'file=%s' % pidfile,
                                  '--log', 'file=%s' % (tmp_path / 'swtpm.log')],
                                 capture_output=True, text=True, check=False)
        if started.returncode == 0:
            break
    else:
        raise RuntimeError('swtpm did not start: %s' % started.stderr)
    pid = int(pidfile.read_text())
    env = {'TPM2_PKCS11_STORE': str(store), 'TPM2_PKCS11_TCTI': 'swtpm:host=127.0.0.1,port=%d' % port,
           'TPM2_PKCS11_LOG_LEVEL': '0'}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    try:
        yield TPM2_PKCS11, env
    finally:
        os.kill(pid, signal.SIGTERM)
        for wait in range(50):
            try:
                os.kill(pid, 0)
            except OSError:
                break
            time.sleep(0.05)
