# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The rehearsal_tenant role and a stale pid file (after a reboot, or a pid reused): it signals
nothing but its own service, and starts that service when the file names another process."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import re
import ssl
import subprocess
import sys
import urllib.request

import pytest

from ansible_collections.keyceremony.byok.tests.unit.helpers import free_port

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ANSIBLE_PLAYBOOK = os.path.join(os.path.dirname(sys.executable), 'ansible-playbook')
BYOK_TENANT = os.path.join(os.path.dirname(sys.executable), 'byok-tenant')

PLAY = """---
- name: The rehearsal tenant, {state}
  hosts: localhost
  connection: local
  gather_facts: false
  roles:
    - role: keyceremony.byok.rehearsal_tenant
      vars:
        rehearsal_tenant_state: {state}
        rehearsal_tenant_data_dir: {data_dir}
        rehearsal_tenant_listen: 127.0.0.1:{port}
        rehearsal_tenant_command: {command}
"""


def play(tmp_path, state, port, command=BYOK_TENANT, fails=False):
    playbook = tmp_path / ('%s.yml' % state)
    playbook.write_text(PLAY.format(state=state, data_dir=tmp_path / 'tenant', port=port, command=command))
    env = dict(os.environ, HOME=str(tmp_path / 'home'), ANSIBLE_CONFIG=os.path.join(REPO_ROOT, 'ansible.cfg'),
               ANSIBLE_NOCOLOR='1')
    env.pop('SOFTHSM2_CONF', None)
    out = subprocess.run([ANSIBLE_PLAYBOOK, '-i', 'localhost,', '-e', 'ansible_python_interpreter=%s' % sys.executable,
                          str(playbook)], capture_output=True, text=True, env=env, cwd=REPO_ROOT, check=False,
                         timeout=300)
    assert (out.returncode != 0) == fails, out.stdout + out.stderr
    return out.stdout


def changed(output, task):
    """Whether the role's task of that name reported changed."""
    current = None
    for line in output.splitlines():
        m = re.match(r'^TASK \[(.*)\] \*+$', line)
        if m:
            current = m.group(1)
        elif line.startswith('changed:') and current == 'keyceremony.byok.rehearsal_tenant : ' + task:
            return True
    return False


@pytest.fixture
def unrelated(tmp_path):
    """A long-running process that is not the service, named by the service's pid file."""
    proc = subprocess.Popen(['sleep', '300'])
    with open(str(tmp_path / 'tenant.pid'), 'w') as f:
        f.write('%d\n' % proc.pid)
    yield proc
    proc.kill()
    proc.wait()


def cmdline(pid):
    with open('/proc/%d/cmdline' % pid, 'rb') as f:
        return f.read().split(b'\0')


def gone(pid):
    """No such process, or only its exit status left (a zombie its parent has not collected yet)."""
    try:
        with open('/proc/%d/stat' % pid, 'rb') as f:
            return f.read().rsplit(b')', 1)[1].split()[0] == b'Z'
    except FileNotFoundError:
        return True


pytestmark = pytest.mark.skipif(not os.path.exists(ANSIBLE_PLAYBOOK), reason='needs the venv of make setup')


def test_stopped_with_a_stale_pid_file_signals_nothing(tmp_path, unrelated):
    out = play(tmp_path, 'stopped', free_port())
    assert unrelated.poll() is None, 'the role signalled a process that is not its service'
    assert not os.path.exists(str(tmp_path / 'tenant.pid'))
    assert changed(out, 'Stop the service')  # the stale pid file was removed


def test_stopped_without_byok_tenant_signals_nothing_and_says_what_to_give(tmp_path, unrelated):
    out = play(tmp_path, 'stopped', free_port(), command=str(tmp_path / 'nowhere' / 'byok-tenant'), fails=True)
    assert 'there is no byok-tenant at %s' % (tmp_path / 'nowhere' / 'byok-tenant') in ' '.join(out.split())
    assert 'give rehearsal_tenant_command' in ' '.join(out.split())
    assert unrelated.poll() is None and os.path.exists(str(tmp_path / 'tenant.pid'))


def test_started_with_a_stale_pid_file_starts_the_service(tmp_path, unrelated):
    port = free_port()
    pid_file = str(tmp_path / 'tenant.pid')
    log = tmp_path / 'tenant.log'
    log.write_text('an earlier run, when the log was made 0644\n')
    os.chmod(str(log), 0o644)
    try:
        out = play(tmp_path, 'started', port)
        assert os.stat(str(log)).st_mode & 0o777 == 0o600 and log.read_text().startswith('an earlier run')
        assert os.stat(pid_file).st_mode & 0o777 == 0o600
        assert changed(out, 'Start it in the background (it outlives the play)')
        with open(pid_file) as f:
            pid = int(f.read())
        assert pid != unrelated.pid and b'serve' in cmdline(pid) and str(tmp_path / 'tenant').encode() in cmdline(pid)
        context = ssl.create_default_context(cafile=str(tmp_path / 'tenant' / 'tls' / 'ca.pem'))
        with urllib.request.urlopen('https://127.0.0.1:%d/api/v1/health' % port, context=context, timeout=10) as r:
            assert r.status == 200
        # running: a second start leaves it be
        again = play(tmp_path, 'started', port)
        assert not changed(again, 'Start it in the background (it outlives the play)')
        stopped = play(tmp_path, 'stopped', port)
        assert changed(stopped, 'Stop the service')
        assert gone(pid)
        assert not os.path.exists(pid_file) and unrelated.poll() is None
    finally:
        if os.path.exists(pid_file):
            subprocess.run([BYOK_TENANT, 'stop', '--data-dir', str(tmp_path / 'tenant')], check=False)
