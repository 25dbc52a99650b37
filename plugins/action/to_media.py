# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""keyceremony.byok.to_media: carry files of the host, and short texts, onto the transfer media (a controller folder)
in one task. See plugins/modules/to_media.py for the documentation."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import os
import tempfile

from ansible.module_utils.common.text.converters import to_bytes, to_text

from ansible_collections.keyceremony.byok.plugins.module_utils._errors import ByokError
from ansible_collections.keyceremony.byok.plugins.module_utils._values import (
    MAX_MEDIA_FILE_BYTES, media_name, normalize_sha256)
from ansible_collections.keyceremony.byok.plugins.module_utils._files import (
    check_private_folder, ensure_private_dir, file_sha256, remove_stale_temporaries, sha256_hex, write_private_file)
from ansible_collections.keyceremony.byok.plugins.plugin_utils._media_action import MediaAction

ARGUMENT_SPEC = dict(
    dest=dict(type='path', required=True),
    files=dict(type='list', elements='dict', default=[], options=dict(
        src=dict(type='str', required=True),
        sha256=dict(type='str'),
        dir=dict(type='str'),
    )),
    content=dict(type='dict', default={}),
)


class ActionModule(MediaAction):

    ARGUMENT_SPEC = ARGUMENT_SPEC

    def carry(self, args, task_vars):
        check = bool(self._task.check_mode)
        host = task_vars.get('inventory_hostname', 'the host')
        plan = self._plan(args)
        dest = args['dest']
        # everything read and checked first, the folders included: a refusal leaves the media as it was
        folders = [dest] + sorted(set(os.path.join(dest, os.path.dirname(name)) for name, dummy in plan
                                      if os.path.dirname(name)))
        for folder in folders[1:]:
            if os.path.islink(folder):
                raise ByokError('%s on the media is a symbolic link: remove it, nothing is written through a '
                                'link' % folder)
        for folder in folders:
            if os.path.isdir(folder):
                check_private_folder(folder)  # only this user can write there
        ready = []
        for name, source in plan:
            path = os.path.join(dest, name)
            self._no_link(path)
            data = self._read(source, task_vars, check) if source[0] == 'file' else source[1]
            if data is not None:
                digest = sha256_hex(data)
                if source[0] == 'file' and source[2] and digest != source[2]:
                    raise ByokError('%s on %s has SHA-256 %s, not %s as the step that made it reported: it '
                                    'changed after it was made, or the transfer broke. Nothing was written to the '
                                    'media; make it again' % (source[1], host, digest, source[2]))
            ready.append((path, data, source))
        changed = False
        for folder in folders:
            changed = self._folder(folder, check) or changed
        carried = []
        for path, data, source in ready:
            if data is None:  # check mode: a file the steps before would make
                carried.append(dict(path=path, sha256=source[2], changed=True))
                changed = True
                continue
            digest = sha256_hex(data)
            self._no_link(path)  # again, just before the write
            same = os.path.isfile(path) and file_sha256(path) == digest and (os.stat(path).st_mode & 0o777) == 0o600
            if not same and not check:
                write_private_file(path, data)
            carried.append(dict(path=path, sha256=digest, changed=not same))
            changed = changed or not same
        return dict(changed=changed, dest=dest, files=carried)

    @staticmethod
    def _plan(args):
        """[(name on the media, ('file', src, sha256) or ('content', bytes))], every name checked first."""
        dest = args['dest']
        if not os.path.isabs(dest):
            raise ByokError('dest %r is not an absolute path: give the transfer media folder in full' % dest)
        plan, seen = [], set()
        for entry in args['files']:
            src = entry['src']
            if not os.path.isabs(src):
                raise ByokError('files: src %r is not an absolute path on the host' % src)
            expect = normalize_sha256(entry['sha256'], 'files: sha256 of %s' % src, 'the file') \
                if entry.get('sha256') else None
            name = media_name(os.path.basename(src), 'files: the file name of')
            if entry.get('dir'):
                name = os.path.join(media_name(entry['dir'], 'files: dir'), name)
            plan.append((name, ('file', src, expect)))
        for name, text in args['content'].items():
            if not isinstance(text, str):
                raise ByokError('content: %s is not a text; give its content as a string' % name)
            plan.append((media_name(name, 'content: the name'), ('content', to_bytes(text))))
        for name, dummy in plan:
            if name in seen:
                raise ByokError('%s is named twice: each file on the media has one source' % name)
            seen.add(name)
        return plan

    @staticmethod
    def _no_link(path):
        if os.path.islink(path):
            raise ByokError('%s on the media is a symbolic link: remove it, nothing is written through a link' % path)

    @staticmethod
    def _folder(dest, check):
        """Make ``dest`` a private folder (0700) if it is missing; True when it was (or would be) made."""
        if os.path.isdir(dest):
            ensure_private_dir(dest)  # checks that only this user can write there
            if not check:
                remove_stale_temporaries(dest)
            return False
        if not check:
            ensure_private_dir(dest)
        return True

    def _read(self, source, task_vars, check):
        """The bytes of ``source``'s file on the host: fetched by the connection, or read by slurp when the task
        becomes another user (the connection's user may not read the file). In check mode, None for a file that is
        not there (a real run makes it in an earlier step)."""
        src = source[1]
        if self._play_context.become:
            out = self._execute_module(module_name='ansible.builtin.slurp', module_args=dict(src=src),
                                       task_vars=task_vars)
            if out.get('failed'):
                if check:
                    return None
                raise ByokError('cannot read %s on the host: %s' % (src, out.get('msg')))
            data = base64.b64decode(out['content'])
        else:
            fd, tmp = tempfile.mkstemp(prefix='.to_media.', suffix='.tmp')
            os.close(fd)
            try:
                try:
                    self._connection.fetch_file(src, tmp)
                except Exception as e:  # pylint: disable=broad-except  # each connection plugin raises its own
                    if check:
                        return None
                    raise ByokError('cannot fetch %s from the host: %s' % (src, to_text(e)))
                if os.path.getsize(tmp) > MAX_MEDIA_FILE_BYTES:
                    raise ByokError(too_large(src))
                with open(tmp, 'rb') as f:
                    data = f.read()
            finally:
                os.unlink(tmp)
        if len(data) > MAX_MEDIA_FILE_BYTES:
            raise ByokError(too_large(src))
        return data


def too_large(src):
    return '%s is larger than %d MiB: not a file of the ceremony' % (src, MAX_MEDIA_FILE_BYTES >> 20)
