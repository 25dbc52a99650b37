# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""keyceremony.byok.from_media: bring files from the transfer media (a controller folder) onto the host in one task:
read and checked here, written on the host by the module of the same name. See plugins/modules/from_media.py."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import errno
import os
import stat

from ansible_collections.keyceremony.byok.plugins.module_utils._errors import ByokError
from ansible_collections.keyceremony.byok.plugins.module_utils._files import sha256_hex
from ansible_collections.keyceremony.byok.plugins.module_utils._values import (
    MAX_MEDIA_FILE_BYTES, media_name, normalize_sha256)
from ansible_collections.keyceremony.byok.plugins.plugin_utils._media_action import MediaAction

ARGUMENT_SPEC = dict(
    dest=dict(type='str', required=True),
    files=dict(type='list', elements='dict', required=True, options=dict(
        src=dict(type='path', required=True),
        sha256=dict(type='str'),
    )),
)


def read_media_file(src, expect):
    """The bytes of ``src`` on the media: a regular file (never through a link, never a pipe), at most
    MAX_MEDIA_FILE_BYTES, and ``expect`` (a SHA-256) when given. Opened once; what is checked is what is sent."""
    if not os.path.isabs(src):
        raise ByokError('files: src %r is not an absolute path on the controller' % src)
    media_name(os.path.basename(src), 'files: the file name of')
    try:
        fd = os.open(src, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as e:
        if e.errno == errno.ENOENT:
            raise ByokError('%s is not on the transfer media: bring it from the other workstation first' % src)
        if e.errno == errno.ELOOP:
            raise ByokError('%s on the transfer media is a symbolic link: bring the file itself' % src)
        raise ByokError('cannot read %s on the transfer media: %s' % (src, e.strerror))
    with os.fdopen(fd, 'rb') as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise ByokError('%s on the transfer media is not a regular file: bring the file itself' % src)
        data = f.read(MAX_MEDIA_FILE_BYTES + 1)
    if len(data) > MAX_MEDIA_FILE_BYTES:
        raise ByokError('%s is larger than %d MiB: not a file of the ceremony' % (src, MAX_MEDIA_FILE_BYTES >> 20))
    digest = sha256_hex(data)
    if expect is not None and digest != expect:
        raise ByokError('%s on the transfer media has SHA-256 %s, not %s as the workstation that made it recorded: '
                        'it was changed or replaced on the media. Nothing was written; bring it again'
                        % (src, digest, expect))
    return data, digest


class ActionModule(MediaAction):

    ARGUMENT_SPEC = ARGUMENT_SPEC

    def carry(self, args, task_vars):
        if not args['dest'].startswith('/'):
            raise ByokError('dest %r is not an absolute path on the host' % args['dest'])
        names, data, seen = [], [], set()
        for entry in args['files']:  # every file read and checked before the host is asked to write any
            expect = normalize_sha256(entry['sha256'], 'files: sha256 of %s' % entry['src'], 'the file') \
                if entry.get('sha256') else None
            content, digest = read_media_file(entry['src'], expect)
            name = os.path.basename(entry['src'])
            if name in seen:
                raise ByokError('%s is named twice: each file on the host has one source' % name)
            seen.add(name)
            names.append({'name': name, 'sha256': digest})
            data.append(base64.b64encode(content).decode('ascii'))
        # the bytes go in an option of their own, no_log: the host's log of the module's options leaves them out
        out = self._execute_module(module_name='keyceremony.byok.from_media', task_vars=task_vars,
                                   module_args={'dest': args['dest'], 'files': args['files'], '_names': names,
                                                '_data': data})
        out.pop('invocation', None)
        return out
