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

A live process whose command line cannot be read (/proc mounted with hidepid, or the working
folder of another user's process for a relative --data-dir) may be the service: it is neither
signalled nor taken for stale, and status and stop say that they cannot tell (CannotTell).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import select
import signal
import time

from ansible_collections.keyceremony.byok.plugins.module_utils._errors import ByokError


PID_MAX = 2 ** 22  # the largest process ID Linux gives (PID_MAX_LIMIT, 64-bit)


class CannotTell(ByokError):
    """The pid file names a live process (``pid``) that /proc will not show: it may be the service."""

    def __init__(self, message, pid):
        super(CannotTell, self).__init__(message)
        self.pid = pid


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
    if not (text.isascii() and text.isdigit()):
        return None, 'the pid file %s holds no process ID' % pid_file
    pid = int(text)
    if not 1 <= pid <= PID_MAX:
        return None, 'the pid file %s holds no process ID (%s is not from 1 to %d)' % (pid_file, text[:24], PID_MAX)
    return pid, None


def _same_folder(path, data_dir, cwd):
    if not os.path.isabs(path):
        if cwd is None:
            return False
        path = os.path.join(cwd, path)
    return os.path.realpath(path) == os.path.realpath(data_dir)


def _arguments(argv):
    """The arguments of byok-tenant in a command line, or None when it runs something else: ``byok-tenant …``,
    ``python …/byok-tenant …``, ``python …/tenant/cli.py …`` or ``python -m ….tenant.cli …`` (an interpreter
    whose name starts with python), and nothing else (not ``vi tenant/cli.py``, not ``sh byok-tenant``)."""
    if argv and os.path.basename(argv[0]) == 'byok-tenant':
        return argv[1:]
    if len(argv) < 2 or not os.path.basename(argv[0]).startswith('python'):
        return None
    if os.path.basename(argv[1]) == 'byok-tenant' or argv[1] == 'tenant/cli.py' or argv[1].endswith('/tenant/cli.py'):
        return argv[2:]
    if argv[1] == '-m' and len(argv) > 2 and (argv[2] == 'tenant.cli' or argv[2].endswith('.tenant.cli')):
        return argv[3:]
    return None


def _serve_folders(argv):
    """The --data-dir values of a ``byok-tenant serve`` command line, or None when it is not one: serve must be the
    command word (after byok-tenant's one global option, --pkcs11-module, if given)."""
    rest = _arguments(argv)
    if rest is None:
        return None
    if rest[:1] == ['--pkcs11-module']:
        rest = rest[2:]
    elif rest[:1] and rest[0].startswith('--pkcs11-module='):
        rest = rest[1:]
    if rest[:1] != ['serve']:
        return None
    rest = rest[1:]
    folders = [rest[j + 1] for j in range(len(rest) - 1) if rest[j] == '--data-dir']
    return folders + [a.split('=', 1)[1] for a in rest if a.startswith('--data-dir=')]


def is_service(argv, data_dir, cwd=None):
    """Whether a command line (a list of str) is ``byok-tenant serve --data-dir <data_dir>``; ``cwd`` is the
    process's working folder, for a relative --data-dir."""
    return any(_same_folder(f, data_dir, cwd) for f in _serve_folders(argv) or ())


def _read_cmdline(pid):
    """/proc/<pid>/cmdline as it is (OSError when it cannot be read)."""
    with open('/proc/%d/cmdline' % pid, 'rb') as f:
        return f.read()


def _read_cwd(pid):
    """Where /proc/<pid>/cwd points (OSError when it cannot be read)."""
    return os.readlink('/proc/%d/cwd' % pid)


def _cmdline(pid):
    """(command line, working folder, None), or (None, None, why) when /proc does not show the command line: the
    process has gone, or /proc hides it (hidepid=1 refuses it, hidepid=2 shows no /proc/<pid> at all); the caller
    tells which by holding the process. The command line of a kernel thread is empty ([]); the working folder is
    its path, or the OSError that kept it (another user's process)."""
    try:
        raw = _read_cmdline(pid)
    except (FileNotFoundError, ProcessLookupError):
        return None, None, 'there is no /proc/%d (is /proc mounted with hidepid=2?)' % pid
    except OSError as e:
        return None, None, '/proc/%d/cmdline: %s (is /proc mounted with hidepid?)' % (pid, e.strerror or e)
    try:
        cwd = _read_cwd(pid)
    except OSError as e:
        cwd = e
    return [os.fsdecode(a) for a in raw.rstrip(b'\0').split(b'\0')] if raw else [], cwd, None


class _Held(object):
    """A process held by a pidfd where the kernel has them (Linux 5.3), else by its number alone."""

    def __init__(self, pid):
        self.pid = pid
        self.fd = None
        try:
            self.fd = os.pidfd_open(pid)
        except (ProcessLookupError, OverflowError, ValueError):
            self.gone_at_open = True  # or no process ID at all (_read_pid keeps to 1..PID_MAX)
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
        except IndexError:
            return False
        except OSError:
            pass  # gone, or hidden (hidepid): the kernel says which
        try:
            os.kill(self.pid, 0)
        except (ProcessLookupError, OverflowError):
            return False
        except PermissionError:
            return True  # another user's
        return True

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


def _cannot_tell(pid, pid_file, data_dir, unreadable, why):
    return CannotTell(
        'cannot tell whether pid %d is the service (%s unreadable): %s. Process %d, named by %s, is running and may '
        'be byok-tenant serve of %s, so nothing is signalled and the pid file is kept; run this as root or as the '
        'user that started the service, or check the process by hand (ps -p %d -o args) and remove %s if it is not '
        'the service' % (pid, unreadable, why, pid, pid_file, data_dir, pid, pid_file), pid)


def _find(data_dir, pid_file):
    """(held process or None, pid or None, why it is not the service or None); CannotTell when the pid file names
    a live process that /proc does not show."""
    pid, why = _read_pid(pid_file)
    if pid is None:
        return None, None, why
    held = _Held(pid)
    argv, cwd, hidden = _cmdline(pid)
    # still alive after its command line was read: the command line was this process's
    if not held.alive():
        held.close()
        return None, pid, 'process %d named by %s is not running' % (pid, pid_file)
    if hidden is not None:
        held.close()
        raise _cannot_tell(pid, pid_file, data_dir, 'cmdline', hidden)
    folders = _serve_folders(argv) or []
    if isinstance(cwd, OSError):
        if not isinstance(cwd, FileNotFoundError) and any(not os.path.isabs(f) for f in folders) \
                and not any(_same_folder(f, data_dir, None) for f in folders):
            held.close()
            raise _cannot_tell(pid, pid_file, data_dir, 'working folder', 'it is byok-tenant serve with a relative '
                               '--data-dir, and /proc/%d/cwd: %s' % (pid, cwd.strerror or cwd))
        cwd = None
    if not any(_same_folder(f, data_dir, cwd) for f in folders):
        held.close()
        return None, pid, 'process %d named by %s is not byok-tenant serve of %s' % (pid, pid_file, data_dir)
    return held, pid, None


def status(data_dir, pid_file):
    """Whether the pid file names the service of ``data_dir``; changes nothing. ``running`` is None when that cannot
    be told (the process's command line cannot be read)."""
    try:
        held, pid, why = _find(data_dir, pid_file)
    except CannotTell as e:
        return {'running': None, 'pid': e.pid, 'pid_file': pid_file, 'reason': str(e)}
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
    names anything else is removed and nothing is signalled. CannotTell (nothing signalled, nothing removed) when
    the process it names is alive but its command line cannot be read."""
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
