# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The running service, found by its pid file and proved by its command line (Linux /proc).

A pid file outlives its process: after a reboot, or once the kernel has given the number to
another process, it names something else. So a pid is only taken for the service when
/proc/<pid>/cmdline is ``byok-tenant serve`` (the installed command, or ``python -m
….tenant.cli``) with ``--data-dir`` naming this data folder; anything else is a stale pid file,
never signalled. The process is held by a pidfd while it is checked and signalled, so the number
cannot pass to another process in between.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import select
import signal
import time

from ansible_collections.keyceremony.byok.plugins.module_utils._errors import ByokError


def default_pid_file(data_dir):
    return os.path.normpath(data_dir) + '.pid'


def _read_pid(pid_file):
    """(pid, None) or (None, why the file names no process)."""
    try:
        with open(pid_file) as f:
            text = f.read(64).strip()
    except FileNotFoundError:
        return None, 'there is no pid file %s' % pid_file
    except (OSError, UnicodeDecodeError) as e:
        raise ByokError('cannot read the pid file %s: %s' % (pid_file, getattr(e, 'strerror', None) or e))
    if not text.isdigit() or int(text) < 1:
        return None, 'the pid file %s holds no process ID' % pid_file
    return int(text), None


def _same_folder(path, data_dir, cwd):
    if not os.path.isabs(path):
        if cwd is None:
            return False
        path = os.path.join(cwd, path)
    return os.path.realpath(path) == os.path.realpath(data_dir)


def is_service(argv, data_dir, cwd=None):
    """Whether a command line (a list of str) is ``byok-tenant serve --data-dir <data_dir>``; ``cwd`` is the
    process's working folder, for a relative --data-dir."""
    for i, arg in enumerate(argv):
        if os.path.basename(arg) == 'byok-tenant' or arg.endswith('tenant.cli') or arg.endswith('tenant/cli.py'):
            rest = argv[i + 1:]
            break
    else:
        return False
    if 'serve' not in rest:
        return False
    rest = rest[rest.index('serve') + 1:]
    folders = [rest[j + 1] for j in range(len(rest) - 1) if rest[j] == '--data-dir']
    folders += [a.split('=', 1)[1] for a in rest if a.startswith('--data-dir=')]
    return any(_same_folder(f, data_dir, cwd) for f in folders)


def _cmdline(pid):
    """The process's command line and working folder, or (None, None) when it cannot be read (gone, a zombie, or
    hidden)."""
    try:
        with open('/proc/%d/cmdline' % pid, 'rb') as f:
            raw = f.read()
    except OSError:
        return None, None
    if not raw:
        return None, None
    try:
        cwd = os.readlink('/proc/%d/cwd' % pid)
    except OSError:
        cwd = None
    return [os.fsdecode(a) for a in raw.rstrip(b'\0').split(b'\0')], cwd


class _Held(object):
    """A process held by a pidfd where the kernel has them (Linux 5.3), else by its number alone."""

    def __init__(self, pid):
        self.pid = pid
        self.fd = None
        try:
            self.fd = os.pidfd_open(pid)
        except ProcessLookupError:
            self.gone_at_open = True
            return
        except (AttributeError, OSError):
            pass  # no pidfd: the number alone, as before
        self.gone_at_open = False

    def alive(self):
        if self.gone_at_open:
            return False
        if self.fd is not None:
            p = select.poll()
            p.register(self.fd, select.POLLIN)
            return not p.poll(0)
        try:
            with open('/proc/%d/stat' % self.pid) as f:
                return f.read().rsplit(')', 1)[1].split()[0] != 'Z'
        except (OSError, IndexError):
            return False

    def signal(self, signum):
        if self.fd is not None:
            signal.pidfd_send_signal(self.fd, signum)
        else:
            os.kill(self.pid, signum)

    def wait(self, timeout):
        deadline = time.monotonic() + timeout
        while self.alive():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            if self.fd is not None:
                p = select.poll()
                p.register(self.fd, select.POLLIN)
                p.poll(int(min(left, 1) * 1000) + 1)
            else:
                time.sleep(min(left, 0.1))
        return True

    def close(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def _find(data_dir, pid_file):
    """(held process or None, pid or None, why it is not the service or None)."""
    pid, why = _read_pid(pid_file)
    if pid is None:
        return None, None, why
    held = _Held(pid)
    argv, cwd = _cmdline(pid)
    # still alive after its command line was read: the command line was this process's
    if argv is None or not held.alive():
        held.close()
        return None, pid, 'process %d named by %s is not running' % (pid, pid_file)
    if not is_service(argv, data_dir, cwd):
        held.close()
        return None, pid, 'process %d named by %s is not byok-tenant serve of %s' % (pid, pid_file, data_dir)
    return held, pid, None


def status(data_dir, pid_file):
    """Whether the pid file names the service of ``data_dir``; changes nothing."""
    held, pid, why = _find(data_dir, pid_file)
    if held is None:
        return {'running': False, 'pid': None, 'pid_file': pid_file, 'reason': why}
    held.close()
    return {'running': True, 'pid': pid, 'pid_file': pid_file}


def _remove(pid_file):
    try:
        os.unlink(pid_file)
    except FileNotFoundError:
        return False
    except OSError as e:
        raise ByokError('cannot remove the stale pid file %s: %s' % (pid_file, e.strerror))
    return True


def stop(data_dir, pid_file, timeout=30):
    """SIGTERM to the service of ``data_dir`` and wait until it has gone, then remove the pid file; a pid file that
    names anything else is removed and nothing is signalled."""
    held, pid, why = _find(data_dir, pid_file)
    if held is None:
        removed = _remove(pid_file) if pid is not None or os.path.exists(pid_file) else False
        return {'changed': removed, 'stopped': False, 'pid': None, 'stale_pid_file_removed': removed,
                'reason': why}
    try:
        try:
            held.signal(signal.SIGTERM)
        except ProcessLookupError:
            pass  # it ended by itself meanwhile
        except PermissionError:
            raise ByokError('cannot stop byok-tenant serve (pid %d) of %s: permission denied; run the stop as the '
                            'user that started it' % (pid, data_dir))
        if not held.wait(timeout):
            raise ByokError('byok-tenant serve (pid %d) of %s has not stopped %d s after SIGTERM; the pid file %s is '
                            'kept: look at its log, or stop it with kill -KILL %d'
                            % (pid, data_dir, timeout, pid_file, pid))
    finally:
        held.close()
    _remove(pid_file)
    return {'changed': True, 'stopped': True, 'pid': pid, 'stale_pid_file_removed': False}
