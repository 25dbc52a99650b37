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
import tempfile

from ansible_collections.keyceremony.byok.plugins.module_utils._errors import ByokError
from ansible_collections.keyceremony.byok.plugins.module_utils._files import (
    check_private_folder, ensure_private_dir, file_sha256, write_private_file)

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


def conf_template(conf_path=None):
    """The SoftHSM2 configuration in use (or SoftHSM2's defaults), with ``%s`` for its tokendir: a restore checks its
    stage with the same backend and settings."""
    conf_path = conf_path or os.environ.get('SOFTHSM2_CONF') or SOFTHSM2_SYSTEM_CONF
    lines = []
    if os.path.isfile(conf_path):
        with open(conf_path) as f:
            lines = [line.rstrip('\n').replace('%', '%%') for line in f
                     if line.partition('=')[0].strip() != 'directories.tokendir']
    if not any(line.partition('=')[0].strip() == 'objectstore.backend' for line in lines):
        lines.append('objectstore.backend = file')
    return '\n'.join(['directories.tokendir = %s'] + lines) + '\n'


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
    """Check a backup folder whole before anything is restored from it.

    Returns {'world_id', 'entries': [(rel, sha256)], 'descriptor': the world descriptor as checked,
    'manifest_sha256': the SHA-256 of the manifest file, which covers every file}.

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
            raw = f.read()  # read once: the SHA-256 returned is of the very bytes the checks below used
        text = raw.decode('ascii')
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
    descriptor = None
    for rel, h in entries:
        if rel.startswith('tokens/') and rel.count('/') < 2:
            raise BackupError('the manifest lists %s, a file outside any token folder; world_backup never writes one'
                              % rel)
        path = os.path.join(folder, rel)
        st = os.lstat(path) if os.path.lexists(path) else None
        if st is None or not stat.S_ISREG(st.st_mode):
            raise BackupError('the backup lacks %s, which its manifest lists' % rel)
        with open(path, 'rb') as f:
            data = f.read()
        if hashlib.sha256(data).hexdigest() != h:
            raise BackupError('%s in the backup does not have the SHA-256 its manifest lists: the backup is damaged '
                              'or was altered; restore from another copy' % rel)
        if rel == 'world/world.json':
            descriptor = data  # the bytes just checked, never read again
        if os.path.basename(rel) not in VOLATILE:
            digest.update(('%s %s\n' % (h, rel)).encode('utf-8'))
    if digest.hexdigest()[:16] != m.group(2):
        raise BackupError('the files of %s do not give the digest its name carries (%s): files were swapped or the '
                          'manifest rewritten' % (folder, m.group(2)))
    for needed in ('world/world.json', 'world/module_credential.json'):
        if needed not in seen:
            raise BackupError('the backup has no %s; it is not a whole world backup' % needed)
    try:
        descriptor = json.loads(descriptor.decode('utf-8'))
        world_id = descriptor.get('world_id')
    except (ValueError, UnicodeDecodeError, AttributeError):
        descriptor, world_id = {}, None
    if world_id != m.group(1):
        raise BackupError('the backup\'s world descriptor names world %r, but the folder is of world %s'
                          % (world_id, m.group(1)))
    manifest_sha256 = hashlib.sha256(raw).hexdigest()
    return {'world_id': world_id, 'entries': entries, 'descriptor': descriptor, 'manifest_sha256': manifest_sha256}


def _same_files(backup, entries, prefix, target):
    """Whether ``target`` holds exactly the files of ``entries`` under ``prefix`` (volatile files may differ)."""
    wanted = dict((rel[len(prefix):], h) for rel, h in entries if rel.startswith(prefix))
    have = dict((rel, path) for rel, path in _files(target, '')
                if rel in wanted or os.path.basename(rel) not in VOLATILE)  # a journal begun since is fine
    if set(have) != set(wanted):
        return False
    return all(os.path.basename(rel) in VOLATILE or file_sha256(have[rel]) == wanted[rel] for rel in wanted)


def exact_files(entries, prefix, target):
    """Whether ``target`` holds every backup file under ``prefix`` byte for byte, the volatile ones too."""
    for rel, h in entries:
        if rel.startswith(prefix):
            path = os.path.join(target, rel[len(prefix):])
            if not os.path.isfile(path) or os.path.islink(path) or file_sha256(path) != h:
                return False
    return True


def token_folders(entries):
    return sorted(set(rel.split('/')[1] for rel, _h in entries if rel.startswith('tokens/') and rel.count('/') >= 2))


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
    for name in token_folders(entries):
        target = os.path.join(token_dir, name)
        if os.path.lexists(target):
            if not _same_files(backup, entries, 'tokens/%s/' % name, target):
                raise BackupError('the token folder %s exists: a restore never writes over a token. Restore onto a '
                                  'token folder (SOFTHSM2_CONF) that does not have it' % target)
        else:
            todo['tokens'].append(name)
    return todo


def _copy_tree(backup, entries, prefix, dest):
    """Copy the backup's files under ``prefix`` into the new folder ``dest``, each checked against the manifest."""
    for rel, h in entries:
        if not rel.startswith(prefix):
            continue
        path = os.path.join(dest, rel[len(prefix):])
        ensure_private_dir(os.path.dirname(path))
        with open(os.path.join(backup, rel), 'rb') as f:
            data = f.read()
        if hashlib.sha256(data).hexdigest() != h:
            raise BackupError('%s changed in the backup while it was being restored' % rel)
        write_private_file(path, data, exclusive=True)


def _remove_stale_stages(parent):
    """Stages a killed restore left beside its places: this user's ``.byok-restore-<what>.<pid>.<random>`` folders
    whose process is gone (a restore running beside this one keeps its stage)."""
    try:
        names = os.listdir(parent)
    except OSError:
        return
    for name in names:
        path = os.path.join(parent, name)
        parts = name.rsplit('.', 2)
        if not name.startswith(PARTIAL) or len(parts) != 3 or not parts[1].isdigit() or os.path.islink(path) \
                or not os.path.isdir(path) or os.lstat(path).st_uid != os.geteuid() or int(parts[1]) == os.getpid():
            continue
        try:
            os.kill(int(parts[1]), 0)
            continue
        except ProcessLookupError:
            shutil.rmtree(path, ignore_errors=True)
        except (OSError, OverflowError, ValueError):
            continue


def stage(backup, entries, world_dir, token_dir, conf_text):
    """Build the restore beside its places, in new folders of this process: every token folder of the backup under
    ``<stage>/tokens`` with a SoftHSM2 configuration ``<stage>/softhsm2.conf`` naming it (``conf_text`` with another
    tokendir), and the world folder. Returns {'tokens': stage folder, 'conf': its configuration, 'world': folder}; the
    caller checks them through the HSM, then place() renames them into place, or discard() removes them."""
    world_dir = os.path.abspath(world_dir)
    token_parent = os.path.dirname(os.path.abspath(token_dir))
    world_parent = os.path.dirname(world_dir)
    staged = {}
    try:
        for parent in set([token_parent, world_parent]):
            _remove_stale_stages(parent)
        check_private_folder(token_parent, exclusive=True)
        staged['tokens'] = tempfile.mkdtemp(prefix='%stokens.%d.' % (PARTIAL, os.getpid()), dir=token_parent)
        _copy_tree(backup, entries, 'tokens/', os.path.join(staged['tokens'], 'tokens'))
        staged['conf'] = os.path.join(staged['tokens'], 'softhsm2.conf')
        write_private_file(staged['conf'], conf_text % os.path.join(staged['tokens'], 'tokens'), exclusive=True)
        staged['world'] = tempfile.mkdtemp(prefix='%s%s.%d.' % (PARTIAL, os.path.basename(world_dir), os.getpid()),
                                           dir=world_parent)
        _copy_tree(backup, entries, 'world/', staged['world'])
    except BaseException:
        discard(staged)
        raise
    return staged


def place(staged, world_dir, token_dir, todo):
    """Rename what restore_plan() found missing from the checked stage into place: the token folders, then the world
    folder last, so that the world folder marks a finished restore."""
    try:
        for name in todo['tokens']:
            os.rename(os.path.join(staged['tokens'], 'tokens', name), os.path.join(token_dir, name))
        if todo['world']:
            if os.path.isdir(world_dir):
                os.rmdir(world_dir)  # empty, as restore_plan() checked
            os.rename(staged['world'], world_dir)
    except OSError as e:
        raise BackupError('cannot move the restored files into place (%s: %s); nothing is lost, run the restore again'
                          % (getattr(e, 'filename', ''), e.strerror))
    finally:
        discard(staged)


def discard(staged):
    for key in ('tokens', 'world'):
        if staged.get(key) and os.path.isdir(staged[key]):
            shutil.rmtree(staged[key], ignore_errors=True)
