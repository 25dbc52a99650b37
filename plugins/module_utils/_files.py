# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one file writer: private (0600) files written whole or not at all, private (0700) folders."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import fcntl
import hashlib
import json
import os
import re
import stat
import tempfile
from contextlib import contextmanager

from ansible_collections.keyceremony.byok.plugins.module_utils._errors import ByokError

FILE_MODE = 0o600
DIR_MODE = 0o700

# Filesystems without hard links (FAT on removable media) cannot do the link trick.
_NO_LINK_ERRNOS = (errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EXDEV, errno.EMLINK, errno.ENOSYS)


def ensure_private_dir(path):
    """Create ``path`` (and missing parents) as 0700 folders; an existing folder keeps its mode.

    Only folders made here get a mode: a journal or media path in a shared folder must never turn that folder
    (``/tmp``, a home) private for the whole host. An existing folder is checked instead (check_private_folder).
    """
    if os.path.lexists(path) and not os.path.isdir(path):
        raise ByokError("%s exists and is not a folder; give a folder path" % path)
    if not os.path.isdir(path):
        # every folder made here is 0700, parents included (makedirs gives its mode to the leaf only)
        parent = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(parent):
            ensure_private_dir(parent)
        try:
            os.mkdir(path, DIR_MODE)
        except FileExistsError:
            pass
        except OSError as e:
            raise ByokError("cannot create folder %s: %s" % (path, e.strerror))
        else:
            os.chmod(path, DIR_MODE)  # whatever the umask
            return
    check_private_folder(path, exclusive=True)


def check_private_folder(folder, exclusive=False):
    """Refuse a folder of another user, and a folder others can write to unless it is sticky (as /tmp, owned by root)
    and the file is written exclusively.

    In a folder others can write to, anyone may rename, remove or replace what is written there; the sticky bit
    stops that for files they do not own, and an exclusive write never takes over a name someone placed first.
    """
    st = os.stat(folder)
    sticky = st.st_mode & stat.S_ISVTX and st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    if st.st_uid not in (os.geteuid(), 0) or (st.st_uid == 0 and os.geteuid() != 0 and not sticky):
        raise ByokError('folder %s belongs to user %d, not to this user (%d): its owner could replace or remove what '
                        'this collection writes there. Give a folder of your own (a new folder is made 0700)'
                        % (folder, st.st_uid, os.geteuid()))
    if not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return
    if sticky and exclusive:
        return
    raise ByokError('folder %s can be written by others (mode %04o%s): anyone could replace or remove what this '
                    'collection writes there. Give a folder only its owner can write (for example a new folder, '
                    'which is made 0700), or remove the write permission of others (chmod go-w %s)'
                    % (folder, stat.S_IMODE(st.st_mode), ', sticky, but this file is rewritten in place'
                       if st.st_mode & stat.S_ISVTX else '', folder))


def _fsync_dir(path):
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_private_file(path, data, exclusive=False):
    """Write ``data`` (bytes) to ``path`` as a 0600 file, atomically.

    The content goes to a 0600 temporary file in the same folder, is flushed to disk,
    and only then takes the final name, so a reader sees the old file or the whole new
    one. With ``exclusive`` an existing file is never replaced (FileExistsError).
    """
    if not isinstance(data, bytes):
        data = data.encode('utf-8')
    folder = os.path.dirname(os.path.abspath(path))
    check_private_folder(folder, exclusive)
    prefix = '.%s.' % os.path.basename(path)
    remove_stale_temporaries(folder, prefix)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix='%s%d.' % (prefix, os.getpid()), suffix='.tmp')
    try:
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if exclusive:
            try:
                os.link(tmp, path)
            except OSError as e:
                if e.errno == errno.EEXIST:
                    raise FileExistsError(errno.EEXIST, 'file exists', path)
                if e.errno not in _NO_LINK_ERRNOS:
                    raise
                _write_exclusive_nolink(path, data)
            os.unlink(tmp)
        else:
            os.replace(tmp, path)
    except BaseException:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        raise
    _fsync_dir(folder)


_TEMPORARY_RE = re.compile(r'^\..+\.(\d{1,7})\.[a-z0-9_]{8}\.tmp$')


def remove_stale_temporaries(folder, prefix='.'):
    """Remove what writers killed mid-write left in ``folder``: ``.<name>.<pid>.<8 random>.tmp`` files of this user,
    starting with ``prefix``, whose process is gone. A temporary of a writer still running, another user's file, or
    any name not of that form is left alone."""
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        m = _TEMPORARY_RE.match(name)
        if not m or not name.startswith(prefix) or int(m.group(1)) in (0, os.getpid()):
            continue
        path = os.path.join(folder, name)
        try:
            st = os.lstat(path)
            if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid():
                continue
            os.kill(int(m.group(1)), 0)
            continue  # its writer still runs (or the number was given to another process): leave it
        except ProcessLookupError:
            pass
        except (OSError, OverflowError, ValueError):
            continue
        try:
            os.unlink(path)
        except OSError:
            pass


def _write_exclusive_nolink(path, data):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        os.unlink(path)
        raise


def canonical_json(obj):
    """The one serialisation used for anything that is hashed, signed or authenticated."""
    return json.dumps(obj, sort_keys=True, separators=(',', ':'), ensure_ascii=True).encode('ascii')


def write_private_json(path, obj, exclusive=False):
    write_private_file(path, json.dumps(obj, sort_keys=True, indent=2).encode('utf-8') + b'\n', exclusive=exclusive)


def read_json(path, what):
    """Read a JSON object file; ``what`` names it in errors ('world descriptor', 'card 2', ...)."""
    try:
        with open(path, 'rb') as f:
            data = f.read()
    except IOError as e:
        raise ByokError("cannot read %s %s: %s" % (what, path, e.strerror))
    try:
        obj = json.loads(data.decode('utf-8'))
    except ValueError:
        raise ByokError("%s %s is not valid JSON: the file is damaged or not of this collection" % (what, path))
    if not isinstance(obj, dict):
        raise ByokError("%s %s is not a JSON object: the file is damaged or not of this collection" % (what, path))
    return obj


def sha256_hex(data):
    return hashlib.sha256(data).hexdigest()


def file_sha256(path):
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(65536), b''):
            h.update(block)
    return h.hexdigest()


def file_mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


@contextmanager
def locked(folder, name='.lock'):
    """Hold an exclusive flock on ``folder``/``name`` (0600), so two runs (or processes) never change
    one world, journal or tenant at once."""
    path = os.path.join(folder, name)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, FILE_MODE)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
