#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: to_media
short_description: Carry a host's files, and short texts, onto the transfer media in one step
version_added: 0.1.0
description:
  - The transfer media of a ceremony is a folder on the controller (O(dest)). This action brings files made on the
    host (the toolset the online workstation downloaded, the transfer package the offline workstation made) and
    short texts made in the play (a checksum line, the offline record, the tenant ID) there in one task, where
    M(ansible.builtin.fetch), M(ansible.builtin.file) and M(ansible.builtin.copy) took one task each.
  - Every file on the media is written whole or not at all, as a 0600 file (a temporary file in the same folder,
    flushed, then renamed); a missing O(dest) is made 0700. A folder another user can write to, or owns, is refused,
    as everywhere the collection writes.
  - A file whose content and mode are already the ones asked is left as it is (RV(files[].changed) false).
  - Everything is read and checked before anything is written, so a refused file leaves the media as it was. With
    O(files[].sha256), a file whose bytes are not the ones the step that made it reported is refused; without it, a
    file is carried as it is read (the roles always give it).
  - A name on the media that is a symbolic link, or a O(files[].dir) that is one, is refused.
  - It is an action plugin. It runs on the controller and reads the host's files through the connection
    (M(ansible.builtin.slurp) when the task becomes another user).
author:
  - keyceremony.byok maintainers (!UNKNOWN)
extends_documentation_fragment:
  - keyceremony.byok.attributes
  - keyceremony.byok.attributes.CHANGES
options:
  dest:
    description:
      - The folder on the controller that stands for the transfer media, as an absolute path.
    type: path
    required: true
  files:
    description:
      - Files on the host to carry to O(dest), each under its own file name.
    type: list
    elements: dict
    default: []
    suboptions:
      src:
        description:
          - The file's absolute path on the host. Its file name is its name on the media, a plain name of letters,
            digits, V(.), V(_) and V(-), at most 128 characters.
        type: str
        required: true
      sha256:
        description:
          - The file's SHA-256 as the step that made it reported it (64 hex digits, spaces and colons allowed). The file
            is refused when it differs.
        type: str
      dir:
        description:
          - A folder under O(dest) to put the file in, a plain name as above (made 0700 when missing).
        type: str
  content:
    description:
      - Texts to write to O(dest), file name to content, with the same rules for the names as O(files[].src).
      - Nothing secret belongs here; the media is carried by hand.
    type: dict
    default: {}
notes:
  - Files larger than 64 MiB are refused; the ceremony's files are far smaller. The size is known once the file is
    on the controller (in its temporary folder, or in memory with M(ansible.builtin.slurp)).
seealso:
  - module: ansible.builtin.fetch
  - module: keyceremony.byok.transfer_package
'''

EXAMPLES = r'''
- name: Carry the package, its checksum and the offline record to the transfer media
  keyceremony.byok.to_media:
    dest: /media/byok-transfer
    files:
      - src: "{{ package.path }}"
        sha256: "{{ package.sha256 }}"
    content:
      "{{ package.path | basename }}.sha256": "{{ package.sha256 }}  {{ package.path | basename }}\n"
'''

RETURN = r'''
dest:
  description: The folder on the controller.
  returned: success
  type: str
  sample: /media/byok-transfer
files:
  description: What is on the media, in the order given (O(files) first, then O(content)).
  returned: success
  type: list
  elements: dict
  contains:
    path:
      description: The file on the controller.
      type: str
      sample: /media/byok-transfer/KeyTransferPackage-contosokey.byok
    sha256:
      description: Its SHA-256.
      type: str
      sample: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
    changed:
      description: Whether it was written (or would be, in check mode).
      type: bool
      sample: true
'''
