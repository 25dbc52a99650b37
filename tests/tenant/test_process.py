# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""byok-tenant status and stop: a pid file is only believed when /proc says the process is this
data folder's `byok-tenant serve`; a stale one never gets anything signalled."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import subprocess
import sys

import pytest

from ansible_collections.keyceremony.byok.tenant import datadir
from ansible_collections.keyceremony.byok.tenant.process import is_service
from ansible_collections.keyceremony.byok.tests.unit.helpers import TenantServer

BYOK_TENANT = os.path.join(os.path.dirname(sys.executable), 'byok-tenant')


def byok_tenant(*args):
    out = subprocess.run([BYOK_TENANT] + list(args), capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode in (0, 3), out.stderr
    return out.returncode, json.loads(out.stdout)


@pytest.fixture
def unrelated():
    """A long-running process that is not the service."""
    proc = subprocess.Popen(['sleep', '300'])
    yield proc
    proc.kill()
    proc.wait()


def write_pid(path, pid):
    with open(path, 'w') as f:
        f.write('%d\n' % pid)


@pytest.mark.parametrize('argv,folder,cwd,expected', [
    (['/venv/bin/python', '/venv/bin/byok-tenant', 'serve', '--data-dir', '/srv/t', '--listen', '0.0.0.0:8443'],
     '/srv/t', None, True),
    (['/usr/bin/python3', '/opt/keyceremony-byok/bin/byok-tenant', 'serve', '--data-dir=/srv/t/'], '/srv/t', None,
     True),
    (['python', '-m', 'ansible_collections.keyceremony.byok.tenant.cli', '--pkcs11-module', '/lib/x.so', 'serve',
      '--data-dir', 't'], '/srv/t', '/srv', True),
    (['python', '/venv/bin/byok-tenant', 'serve', '--data-dir', 't'], '/srv/t', None, False),  # cwd unknown
    (['/venv/bin/python', '/venv/bin/byok-tenant', 'serve', '--data-dir', '/srv/other'], '/srv/t', None, False),
    (['/venv/bin/python', '/venv/bin/byok-tenant', 'keys', '--data-dir', '/srv/t'], '/srv/t', None, False),
    (['sleep', '300'], '/srv/t', None, False),
    (['vi', '/srv/t/serve', '--data-dir', '/srv/t'], '/srv/t', None, False),
])
def test_what_counts_as_the_service(argv, folder, cwd, expected):
    assert is_service(argv, folder, cwd) is expected


def test_stop_leaves_an_unrelated_process_alone(tmp_path, unrelated):
    data_dir = str(tmp_path / 'data')
    pid_file = data_dir + '.pid'
    write_pid(pid_file, unrelated.pid)
    rc, got = byok_tenant('stop', '--data-dir', data_dir)
    assert rc == 0 and got['changed'] and not got['stopped'] and got['stale_pid_file_removed']
    assert 'is not byok-tenant serve of' in got['reason']
    assert unrelated.poll() is None
    assert not os.path.exists(pid_file)
    # and again: nothing to do
    rc, got = byok_tenant('stop', '--data-dir', data_dir)
    assert rc == 0 and not got['changed'] and 'there is no pid file' in got['reason']


@pytest.mark.parametrize('content', ['', 'not a pid\n', '0\n', '-1\n'])
def test_a_pid_file_without_a_pid_is_stale(tmp_path, content):
    pid_file = str(tmp_path / 'data.pid')
    with open(pid_file, 'w') as f:
        f.write(content)
    rc, got = byok_tenant('status', '--data-dir', str(tmp_path / 'data'))
    assert rc == 3 and not got['running'] and 'holds no process ID' in got['reason']
    assert os.path.exists(pid_file)  # status changes nothing
    rc, got = byok_tenant('stop', '--data-dir', str(tmp_path / 'data'))
    assert got['stale_pid_file_removed'] and not os.path.exists(pid_file)


def test_status_and_stop_of_the_real_service(tmp_path, unrelated):
    info = datadir.init(str(tmp_path / 'data'), admin_password='pid-check-admin')
    other = TenantServer(info['data_dir']).start()  # the service of this folder, but not in the pid file
    pid_file = str(tmp_path / 'elsewhere.pid')
    try:
        write_pid(pid_file, unrelated.pid)
        rc, got = byok_tenant('status', '--data-dir', info['data_dir'], '--pid-file', pid_file)
        assert rc == 3 and not got['running'] and 'process %d' % unrelated.pid in got['reason']
        # another folder's service is not this one's
        write_pid(pid_file, other.proc.pid)
        rc, got = byok_tenant('status', '--data-dir', str(tmp_path), '--pid-file', pid_file)
        assert rc == 3 and not got['running']
        rc, got = byok_tenant('stop', '--data-dir', str(tmp_path), '--pid-file', pid_file)
        assert not got['stopped'] and got['stale_pid_file_removed'] and other.proc.poll() is None
        write_pid(pid_file, other.proc.pid)
        rc, got = byok_tenant('status', '--data-dir', info['data_dir'], '--pid-file', pid_file)
        assert rc == 0 and got == {'running': True, 'pid': other.proc.pid, 'pid_file': pid_file}
        rc, got = byok_tenant('stop', '--data-dir', info['data_dir'], '--pid-file', pid_file)
        assert got['changed'] and got['stopped'] and got['pid'] == other.proc.pid
        # stop waited for it: it has gone (by SIGTERM, gracefully) when stop returns
        assert other.proc.wait(5) == -15
        assert not os.path.exists(pid_file) and unrelated.poll() is None
    finally:
        other.stop(kill=True)
