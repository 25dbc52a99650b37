#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: from_media
short_description: Bring files from the transfer media onto the host in one step
version_added: 0.1.0
description:
  - The transfer media of a ceremony is a folder on the controller. This action brings files from it (the toolset
    or a Key Vault KEK to the offline workstation, a transfer package or a C(.byok) file to the online one) into
    a folder of the host, in one task and one module run, where M(ansible.builtin.copy) took two module runs per file.
  - Every file is read and checked on the controller first (a plain file name, a regular file opened without
    following a link, and with
    O(files[].sha256) the SHA-256 the workstation that made it recorded), then written on the host whole or not at
    all, as a 0600 file; a missing O(dest) is made 0700, and an existing one of another user, or one others can
    write to, is refused (in check mode too). The host checks every file's SHA-256 again before it writes any.
  - A file whose content and mode are already the ones asked is left as it is (RV(files[].changed) false).
  - It is an action plugin with a module of the same name, which writes on the host.
author:
  - keyceremony.byok maintainers (!UNKNOWN)
extends_documentation_fragment:
  - keyceremony.byok.attributes
  - keyceremony.byok.attributes.CHANGES
options:
  dest:
    description:
      - The folder on the host, as an absolute path.
    type: path
    required: true
  files:
    description:
      - The files on the transfer media to bring, each under its own file name.
    type: list
    elements: dict
    required: true
    suboptions:
      src:
        description:
          - The file's absolute path on the controller. Its file name is its name on the host, a plain name of
            letters, digits, V(.), V(_) and V(-), at most 128 characters.
        type: path
        required: true
      sha256:
        description:
          - The file's SHA-256 as the workstation that made it recorded it (64 hex digits, spaces and colons allowed).
            The file is refused when it differs.
        type: str
  _names:
    description:
      - Set by the action from O(files), for the module that writes on the host (each file's name and SHA-256);
        never given in a playbook.
    type: list
    elements: dict
    default: []
  _data:
    description:
      - Set by the action from O(files), for the module that writes on the host (each file's bytes, base64); never
        given in a playbook. Never logged, and left out of the task's result.
    type: list
    elements: str
    default: []
notes:
  - Files larger than 64 MiB are refused; the ceremony's files are far smaller.
seealso:
  - module: keyceremony.byok.to_media
  - module: ansible.builtin.copy
'''

EXAMPLES = r'''
- name: Bring the transfer package to the online workstation, checked against the offline record
  keyceremony.byok.from_media:
    dest: /var/lib/keyceremony/online
    files:
      - src: /media/byok-transfer/KeyTransferPackage-contosokey.byok
        sha256: "{{ offline_record.package_sha256 }}"
'''

RETURN = r'''
dest:
  description: The folder on the host.
  returned: success
  type: str
  sample: /var/lib/keyceremony/online
files:
  description: What is on the host, in the order given.
  returned: success
  type: list
  elements: dict
  contains:
    path:
      description: The file on the host.
      type: str
      sample: /var/lib/keyceremony/online/KeyTransferPackage-contosokey.byok
    sha256:
      description: Its SHA-256.
      type: str
      sample: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
    changed:
      description: Whether it was written (or would be, in check mode).
      type: bool
      sample: true
'''

import base64
import binascii
import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.keyceremony.byok.plugins.module_utils._errors import ByokError
from ansible_collections.keyceremony.byok.plugins.module_utils._files import (
    check_private_folder, ensure_private_dir, file_sha256, sha256_hex, write_private_file)
from ansible_collections.keyceremony.byok.plugins.module_utils._values import media_name


def _same(path, digest):
    """Whether ``path`` is already this user's 0600 file with these bytes (never a link)."""
    try:
        st = os.lstat(path)
    except OSError:
        return False
    if os.path.islink(path):
        raise ByokError('%s is a symbolic link: remove it, nothing is written through a link' % path)
    return (os.path.isfile(path) and st.st_uid == os.geteuid() and (st.st_mode & 0o777) == 0o600
            and file_sha256(path) == digest)


def work(module):
    p = module.params
    dest = p['dest']
    if not os.path.isabs(dest):
        raise ByokError('dest %r is not an absolute path' % dest)
    if not p['_names'] or len(p['_names']) != len(p['_data']):
        raise ByokError('from_media runs as an action: its module writes what the action read on the controller')
    if os.path.lexists(dest) and not os.path.isdir(dest):
        raise ByokError('%s exists and is not a folder; give a folder path' % dest)
    made = not os.path.isdir(dest)
    if not made:
        check_private_folder(dest)  # this user's, and no one else can write there (in check mode too)
    ready = []
    for entry, content in zip(p['_names'], p['_data']):  # everything checked before anything is written
        name = media_name(entry.get('name'), 'the file name')
        try:
            data = base64.b64decode(content or '', validate=True)
        except (binascii.Error, ValueError):
            raise ByokError('%s arrived damaged (not base64): run the task again' % name)
        digest = sha256_hex(data)
        if digest != entry.get('sha256'):
            raise ByokError('%s arrived with SHA-256 %s, not %s as read on the controller: run the task again'
                            % (name, digest, entry.get('sha256')))
        path = os.path.join(dest, name)
        ready.append((path, data, digest, _same(path, digest)))
    if not module.check_mode:
        ensure_private_dir(dest)  # made 0700 when missing
    files = []
    for path, data, digest, same in ready:
        if not same and not module.check_mode:
            try:
                write_private_file(path, data)
            except OSError as e:
                raise ByokError('cannot write %s: %s' % (path, e.strerror))
        files.append({'path': path, 'sha256': digest, 'changed': not same})
    return {'changed': made or any(f['changed'] for f in files), 'dest': dest, 'files': files}


def main():
    module = AnsibleModule(argument_spec={
        'dest': {'type': 'path', 'required': True},
        'files': {'type': 'list', 'elements': 'dict', 'required': True, 'options': {
            'src': {'type': 'path', 'required': True},
            'sha256': {'type': 'str'},
        }},
        '_names': {'type': 'list', 'elements': 'dict', 'default': []},
        '_data': {'type': 'list', 'elements': 'str', 'default': [], 'no_log': True},
    }, supports_check_mode=True)
    try:
        result = work(module)
    except ByokError as e:
        module.fail_json(msg=str(e))
    module.exit_json(**result)


if __name__ == '__main__':
    main()
