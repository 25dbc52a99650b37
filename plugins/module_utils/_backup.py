# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Backups of a security world: its folder and its token's files, with a SHA-256 manifest.

A backup is a folder ``world-<world id>-<digest>`` written whole (built under a temporary name,
renamed when complete) with ``MANIFEST.sha256`` in sha256sum's format. The digest covers what
defines the world - descriptor, module credential, key records, the token's key objects - and
not the files that change on every use (SoftHSM2's token.object counts logins, the journal
grows): so a backup is made again only when the world or its keys changed.

A restore reads the same folder back: the manifest and every file are checked first, then each
token folder and the world folder are written beside their place and renamed when whole, never
over an existing world or token.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import hashlib
import json
import os
import re
import shutil
import stat

from ansible_collections.keyceremony.byok.plugins.module_utils._errors import ByokError
from ansible_collections.keyceremony.byok.plugins.module_utils._files import (
    ensure_private_dir, file_sha256, write_private_file)

SKIP = ('.lock', '.journal.lock')
VOLATILE = ('token.object', 'journal.jsonl', 'journal.jsonl.head')
SOFTHSM2_SYSTEM_CONF = '/etc/softhsm/softhsm2.conf'  # what SoftHSM2 reads when SOFTHSM2_CONF is not set


def softhsm_tokendir(conf_path=None):
    """The tokendir of a SoftHSM2 configuration file: the one given, else the one SoftHSM2 itself
    would read ($SOFTHSM2_CONF, else its system configuration)."""
    if not conf_path:
        conf_path = os.environ.get('SOFTHSM2_CONF') or SOFTHSM2_SYSTEM_CONF
        if not os.path.isfile(conf_path):
            raise ByokError('give token_dir, or set SOFTHSM2_CONF, so the token folder can be found (%s is missing)'
                            % conf_path)
    try:
        with open(conf_path) as f:
            for line in f:
                key, _sep, value = line.partition('=')
                if key.strip() == 'directories.tokendir':
                    return value.strip()
    except IOError as e:
        raise ByokError('cannot read the SoftHSM2 configuration %s: %s' % (conf_path, e.strerror))
    raise ByokError('%s names no directories.tokendir' % conf_path)


def _files(root, prefix):
    out = []
    for folder, dirs, names in os.walk(root):
        dirs.sort()
        for name in sorted(names):
            if name in SKIP or name.endswith('.lock') or name.endswith('.tmp'):
                continue
            path = os.path.join(folder, name)
            out.append((os.path.join(prefix, os.path.relpath(path, root)), path))
    return out


def plan(world_dir, world_id, token_dir):
    files = _files(world_dir, 'world') + _files(token_dir, 'tokens')
    if not files:
        raise ByokError('nothing to back up in %s and %s' % (world_dir, token_dir))
    digest = hashlib.sha256()
    hashes = []
    for rel, path in files:
        h = file_sha256(path)
        hashes.append((rel, path, h))
        if os.path.basename(rel) not in VOLATILE:
            digest.update(('%s %s\n' % (h, rel)).encode('utf-8'))
    return 'world-%s-%s' % (world_id, digest.hexdigest()[:16]), hashes


def write(dest, name, hashes):
    ensure_private_dir(dest)
    final = os.path.join(dest, name)
    partial = final + '.partial'
    if os.path.exists(partial):
        shutil.rmtree(partial)
    for rel, path, h in hashes:
        ensure_private_dir(os.path.dirname(os.path.join(partial, rel)))
        with open(path, 'rb') as f:
            data = f.read()
        if hashlib.sha256(data).hexdigest() != h:
            shutil.rmtree(partial)
            raise ByokError('%s changed while it was being backed up; run the backup again' % path)
        write_private_file(os.path.join(partial, rel), data)
    manifest = ''.join('%s  %s\n' % (h, rel) for rel, path, h in hashes)
    write_private_file(os.path.join(partial, 'MANIFEST.sha256'), manifest)
    os.rename(partial, final)
    return final


def verify(folder):
    """True when every file of the manifest is there with its hash."""
    manifest = os.path.join(folder, 'MANIFEST.sha256')
    if not os.path.isfile(manifest):
        return False
    with open(manifest) as f:
        for line in f:
            h, _sep, rel = line.rstrip('\n').partition('  ')
            path = os.path.join(folder, rel)
            if not os.path.isfile(path) or file_sha256(path) != h:
                return False
    return True


# ---------------------------------------------------------------- restore

BACKUP_NAME_RE = re.compile(r'^world-([0-9a-f]{32})-([0-9a-f]{16})$')
MANIFEST_LINE_RE = re.compile(r'^([0-9a-f]{64})  ((?:world|tokens)/[A-Za-z0-9._/-]+)$')
PARTIAL = '.byok-restore-'


class BackupError(ByokError):
    """A backup is refused before anything is restored; the message says which check."""


def read_manifest(folder):
    """Check a backup folder whole before anything is restored from it; returns [(rel, sha256)].

    The folder must be one world_backup wrote (``world-<world id>-<digest>``); every line of its manifest must name a
    regular file under ``world/`` or ``tokens/`` with that SHA-256; no other file may be there; the digest of what
    defines the world must be the folder's; the world descriptor must name the folder's world id.
    """
    folder = os.path.abspath(folder)
    m = BACKUP_NAME_RE.match(os.path.basename(folder))
    if not m:
        raise BackupError('%s is not a folder world_backup wrote (world-<world id>-<digest>); give the backup_dir it '
                          'returned' % folder)
    manifest = os.path.join(folder, 'MANIFEST.sha256')
    try:
        with open(manifest, 'rb') as f:
            text = f.read().decode('ascii')
    except (IOError, OSError) as e:
        raise BackupError('cannot read the manifest %s: %s' % (manifest, getattr(e, 'strerror', e)))
    except UnicodeDecodeError:
        raise BackupError('the manifest %s is not a sha256sum manifest (not ASCII)' % manifest)
    entries, seen = [], set()
    for n, line in enumerate(text.splitlines(), 1):
        lm = MANIFEST_LINE_RE.match(line)
        parts = lm.group(2).split('/') if lm else []
        if not lm or any(p in ('', '.', '..') for p in parts) or lm.group(2) in seen:
            raise BackupError('line %d of the manifest %s is not "<sha256>  world/<file>" or "<sha256>  tokens/<file>" '
                              '(or names a file twice)' % (n, manifest))
        seen.add(lm.group(2))
        entries.append((lm.group(2), lm.group(1)))
    present = set(rel for rel, _path in _files(folder, '')) - set(['MANIFEST.sha256'])
    extra = sorted(present - seen)
    if extra:
        raise BackupError('the backup holds files its manifest does not list (%s): it was added to; refuse it'
                          % ', '.join(extra[:5]))
    digest = hashlib.sha256()
    for rel, h in entries:
        path = os.path.join(folder, rel)
        st = os.lstat(path) if os.path.lexists(path) else None
        if st is None or not stat.S_ISREG(st.st_mode):
            raise BackupError('the backup lacks %s, which its manifest lists' % rel)
        if file_sha256(path) != h:
            raise BackupError('%s in the backup does not have the SHA-256 its manifest lists: the backup is damaged '
                              'or was altered; restore from another copy' % rel)
        if os.path.basename(rel) not in VOLATILE:
            digest.update(('%s %s\n' % (h, rel)).encode('utf-8'))
    if digest.hexdigest()[:16] != m.group(2):
        raise BackupError('the files of %s do not give the digest its name carries (%s): files were swapped or the '
                          'manifest rewritten' % (folder, m.group(2)))
    for needed in ('world/world.json', 'world/module_credential.json'):
        if needed not in seen:
            raise BackupError('the backup has no %s; it is not a whole world backup' % needed)
    try:
        with open(os.path.join(folder, 'world', 'world.json'), 'rb') as f:
            world_id = json.loads(f.read().decode('utf-8')).get('world_id')
    except (ValueError, UnicodeDecodeError, AttributeError):
        world_id = None
    if world_id != m.group(1):
        raise BackupError('the backup\'s world descriptor names world %r, but the folder is of world %s'
                          % (world_id, m.group(1)))
    return world_id, entries


def _same_files(backup, entries, prefix, target):
    """Whether ``target`` holds exactly the files of ``entries`` under ``prefix`` (volatile files may differ)."""
    wanted = dict((rel[len(prefix):], h) for rel, h in entries if rel.startswith(prefix))
    have = dict((rel, path) for rel, path in _files(target, ''))
    if set(have) != set(wanted):
        return False
    return all(os.path.basename(rel) in VOLATILE or file_sha256(have[rel]) == wanted[rel] for rel in wanted)


def restore_plan(backup, entries, world_dir, token_dir):
    """What a restore would write, or that it was done: {'world': bool, 'tokens': [folder, ...]} of what is missing.

    Refuses to restore over anything: a world folder that is not empty, a token folder that exists, unless they hold
    exactly this backup's files (a restore done before, perhaps cut off before its last step).
    """
    todo = {'world': False, 'tokens': []}
    if os.path.isdir(world_dir) and os.listdir(world_dir):
        if not _same_files(backup, entries, 'world/', world_dir):
            raise BackupError('%s is not empty%s: a restore never writes over a world; give an empty or new folder'
                              % (world_dir, ' (it holds a world)' if os.path.isfile(os.path.join(world_dir, 'world.json'))
                                 else ''))
    elif os.path.lexists(world_dir) and not os.path.isdir(world_dir):
        raise BackupError('%s exists and is not a folder' % world_dir)
    else:
        todo['world'] = True
    tokens = sorted(set(rel.split('/')[1] for rel, _h in entries if rel.startswith('tokens/') and rel.count('/') >= 2))
    for name in tokens:
        target = os.path.join(token_dir, name)
        if os.path.lexists(target):
            if not _same_files(backup, entries, 'tokens/%s/' % name, target):
                raise BackupError('the token folder %s exists: a restore never writes over a token. Restore onto a '
                                  'token folder (SOFTHSM2_CONF) that does not have it' % target)
        else:
            todo['tokens'].append(name)
    return todo


def _copy_tree(backup, entries, prefix, partial):
    """Copy the backup's files under ``prefix`` into ``partial`` (made anew), each checked against the manifest."""
    if os.path.lexists(partial):
        shutil.rmtree(partial)
    ensure_private_dir(partial)
    for rel, h in entries:
        if not rel.startswith(prefix):
            continue
        dest = os.path.join(partial, rel[len(prefix):])
        ensure_private_dir(os.path.dirname(dest))
        with open(os.path.join(backup, rel), 'rb') as f:
            data = f.read()
        if hashlib.sha256(data).hexdigest() != h:
            raise BackupError('%s changed in the backup while it was being restored' % rel)
        write_private_file(dest, data, exclusive=True)


def restore(backup, entries, world_dir, token_dir, todo):
    """Write what restore_plan() found missing: each token folder, then the world folder, each built beside its place
    under a temporary name and renamed when whole; the world folder comes last, so it marks a finished restore."""
    for name in todo['tokens']:
        partial = os.path.join(os.path.dirname(os.path.abspath(token_dir)), PARTIAL + 'token-' + name)
        _copy_tree(backup, entries, 'tokens/%s/' % name, partial)
        os.rename(partial, os.path.join(token_dir, name))
    if todo['world']:
        world_dir = os.path.abspath(world_dir)
        partial = os.path.join(os.path.dirname(world_dir), PARTIAL + os.path.basename(world_dir))
        _copy_tree(backup, entries, 'world/', partial)
        if os.path.isdir(world_dir):
            os.rmdir(world_dir)  # empty, as restore_plan() checked
        os.rename(partial, world_dir)
