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
import time

import pytest

from ansible_collections.keyceremony.byok.tenant import cli, datadir, process
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
    # byok-tenant itself, or a python running it (its console script, its cli.py, or -m): nothing else
    (['/opt/keyceremony-byok/bin/byok-tenant', 'serve', '--data-dir', '/srv/t'], '/srv/t', None, True),
    (['/usr/bin/python3.11', '/src/ansible_collections/keyceremony/byok/tenant/cli.py', 'serve', '--data-dir',
      '/srv/t'], '/srv/t', None, True),
    (['python3', '-m', 'ansible_collections.keyceremony.byok.tenant.cli', '--pkcs11-module=/lib/x.so', 'serve',
      '--data-dir', '/srv/t'], '/srv/t', None, True),
    (['vi', 'tenant/cli.py', 'serve', '--data-dir', '/srv/t'], '/srv/t', '/src', False),
    (['vi', '/venv/bin/byok-tenant', 'serve', '--data-dir', '/srv/t'], '/srv/t', None, False),
    (['sh', '/venv/bin/byok-tenant', 'serve', '--data-dir', '/srv/t'], '/srv/t', None, False),
    (['less', '-m', 'ansible_collections.keyceremony.byok.tenant.cli', 'serve', '--data-dir', '/srv/t'], '/srv/t',
     None, False),
    (['/usr/bin/python3', '/src/tenant/notcli.py', 'serve', '--data-dir', '/srv/t'], '/srv/t', None, False),
    # serve must be the command, not any later word
    (['/venv/bin/python', '/venv/bin/byok-tenant', 'toolset', '--out', 'serve', '--data-dir', '/srv/t'], '/srv/t',
     None, False),
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


@pytest.mark.parametrize('content', ['', 'not a pid\n', '0\n', '-1\n',
                                     # past what pidfd_open takes (a C int): it used to raise OverflowError
                                     '2147483648\n', '99999999999\n', '9' * 60,
                                     # past the largest pid Linux gives (2**22); a digit int() does not read
                                     '4194305\n', '\u00b2\n'])
def test_a_pid_file_without_a_pid_is_stale(tmp_path, content):
    pid_file = str(tmp_path / 'data.pid')
    with open(pid_file, 'w', encoding='utf-8') as f:
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


def test_a_program_that_only_names_tenant_cli_py_is_not_the_service(tmp_path):
    """A real process whose command line is `vi tenant/cli.py serve --data-dir DIR` (a python that sleeps, run under
    the name vi) is not the service: stop signals nothing."""
    data_dir = str(tmp_path / 'data')
    os.makedirs(str(tmp_path / 'tenant'))
    with open(str(tmp_path / 'tenant' / 'cli.py'), 'w') as f:
        f.write('import time\ntime.sleep(300)\n')
    proc = subprocess.Popen(['vi', 'tenant/cli.py', 'serve', '--data-dir', data_dir], executable=sys.executable,
                            cwd=str(tmp_path))
    try:
        pid_file = data_dir + '.pid'
        write_pid(pid_file, proc.pid)
        rc, got = byok_tenant('status', '--data-dir', data_dir)
        assert rc == 3 and 'is not byok-tenant serve of' in got['reason']
        rc, got = byok_tenant('stop', '--data-dir', data_dir)
        assert not got['stopped'] and got['stale_pid_file_removed']
        assert proc.poll() is None
    finally:
        proc.kill()
        proc.wait()


@pytest.fixture
def in_process():
    """byok-tenant's main() in this process, so that the tests can replace its /proc readers; main() sets the umask,
    which is put back."""
    umask = os.umask(0o077)
    os.umask(umask)
    yield
    os.umask(umask)


def unreadable(error):
    def read(pid):
        raise error
    return read


# /proc cannot be remounted with hidepid here (it is the test machine's, shared with whatever runs beside the tests),
# so the readers of /proc/<pid>/cmdline and cwd are replaced by ones that fail as hidepid makes them fail: hidepid=1
# refuses /proc/<pid>/cmdline (EACCES), hidepid=2 shows no /proc/<pid> at all (ENOENT) for another user's process
@pytest.mark.parametrize('error', [PermissionError(13, 'Permission denied'),
                                   FileNotFoundError(2, 'No such file or directory')], ids=['hidepid=1', 'hidepid=2'])
def test_a_live_process_with_an_unreadable_command_line_is_not_stale(tmp_path, unrelated, in_process, monkeypatch,
                                                                     capsys, error):
    data_dir = str(tmp_path / 'data')
    pid_file = data_dir + '.pid'
    write_pid(pid_file, unrelated.pid)
    monkeypatch.setattr(process, '_read_cmdline', unreadable(error))
    assert cli.main(['status', '--data-dir', data_dir]) == 4
    got = json.loads(capsys.readouterr().out)
    expected = 'cannot tell whether pid %d is the service (cmdline unreadable)' % unrelated.pid
    assert got['running'] is None and got['pid'] == unrelated.pid and got['reason'].startswith(expected)
    assert 'nothing is signalled and the pid file is kept' in got['reason'] and pid_file in got['reason']
    # stop refuses: nothing signalled, the pid file kept (so the role starts no second service)
    assert cli.main(['stop', '--data-dir', data_dir]) == 1
    out = capsys.readouterr()
    assert out.out == '' and out.err.startswith('byok-tenant: refused: ' + expected)
    assert os.path.exists(pid_file) and unrelated.poll() is None
    # once the process has gone, the same pid file is stale, unreadable /proc or not
    unrelated.kill()
    unrelated.wait()
    assert cli.main(['status', '--data-dir', data_dir]) == 3
    assert 'is not running' in json.loads(capsys.readouterr().out)['reason']


def test_an_unreadable_working_folder_with_a_relative_data_dir_is_not_stale(tmp_path, in_process, monkeypatch,
                                                                            capsys):
    """`byok-tenant serve --data-dir data` of another user: its command line is readable, its working folder (which
    the relative folder needs) is not."""
    os.makedirs(str(tmp_path / 'tenant'))
    os.makedirs(str(tmp_path / 'data'))
    with open(str(tmp_path / 'tenant' / 'cli.py'), 'w') as f:
        f.write('import time\ntime.sleep(300)\n')
    proc = subprocess.Popen([sys.executable, 'tenant/cli.py', 'serve', '--data-dir', 'data'], cwd=str(tmp_path))
    try:
        # between fork and exec the child's command line is still this process's: wait for the exec
        deadline = time.time() + 30
        while b'tenant/cli.py' not in open('/proc/%d/cmdline' % proc.pid, 'rb').read() and time.time() < deadline:
            time.sleep(0.05)
        data_dir = str(tmp_path / 'data')
        write_pid(data_dir + '.pid', proc.pid)
        assert cli.main(['status', '--data-dir', data_dir]) == 0  # readable: it is taken for the service
        assert json.loads(capsys.readouterr().out)['running'] is True
        monkeypatch.setattr(process, '_read_cwd', unreadable(PermissionError(13, 'Permission denied')))
        assert cli.main(['status', '--data-dir', data_dir]) == 4
        got = json.loads(capsys.readouterr().out)
        assert got['running'] is None and got['reason'].startswith(
            'cannot tell whether pid %d is the service (working folder unreadable)' % proc.pid)
        assert cli.main(['stop', '--data-dir', data_dir]) == 1
        assert os.path.exists(data_dir + '.pid') and proc.poll() is None
    finally:
        proc.kill()
        proc.wait()
