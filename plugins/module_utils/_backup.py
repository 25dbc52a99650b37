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
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import hashlib
import os
import shutil

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
