#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: world_backup
short_description: Back up a security world and its token's files with a SHA-256 manifest
version_added: 0.1.0
description:
  - Copies the world folder and the token folder (for SoftHSM2, the C(tokendir) of its configuration) into
    C(<dest>/world-<world id>-<digest>/) with C(MANIFEST.sha256) in C(sha256sum) format; everything C(0600), folders
    C(0700). The backup is built under a temporary name and takes its name only when whole.
  - The digest covers what defines the world - descriptor, module credential, key records and the token's key
    objects - so a new backup is made only when one of them changed (C(changed=false) otherwise). Files that change on
    every use (SoftHSM2's C(token.object), the journal) are copied and listed in the manifest but do not make a new
    backup by themselves.
  - The backup holds the module credential and the token's encrypted key blobs - keep it as safe as the workstation.
author:
  - keyceremony.byok maintainers (!UNKNOWN)
extends_documentation_fragment:
  - keyceremony.byok.world
  - keyceremony.byok.attributes
  - keyceremony.byok.attributes.CHANGES
options:
  token_dir:
    description:
      - The folder holding the token's files. Defaults to the C(directories.tokendir) of the SoftHSM2 configuration
        named by E(SOFTHSM2_CONF), or of C(/etc/softhsm/softhsm2.conf) when it is not set (as SoftHSM2 itself does).
    type: path
  dest:
    description:
      - The folder backups are written to (for example removable media for the safe).
    type: path
    required: true
notes:
  - Holds the world's lock (C(<world_dir>/.lock)) from the manifest to the last copy, so no key is made or changed
    in between by another run on the same world; that run waits. Check mode takes no lock.
seealso:
  - module: keyceremony.byok.security_world
'''

EXAMPLES = r'''
- name: Back up the world before and after the ceremony
  keyceremony.byok.world_backup:
    world_dir: /var/lib/keyceremony/world
    dest: /media/backup
  environment:
    SOFTHSM2_CONF: /var/lib/keyceremony/softhsm2.conf
'''

RETURN = r'''
backup_dir:
  description: The backup's folder.
  returned: success
  type: str
  sample: /media/backup/world-6ea92d1987a0678eb5913f539b88600a-3cab36bb03d7d330
manifest:
  description: The manifest's path.
  returned: success
  type: str
  sample: /media/backup/world-6ea92d1987a0678eb5913f539b88600a-3cab36bb03d7d330/MANIFEST.sha256
manifest_sha256:
  description: The SHA-256 of the manifest, which lists every file's SHA-256, so it pins every byte of the backup. Keep
    it with the transcript; give it to M(keyceremony.byok.world_restore) as O(keyceremony.byok.world_restore#module:expect_manifest_sha256).
    V(null) in check mode when the backup is still to be made.
  returned: success
  type: str
  sample: 4f1c0b7e9d2a3c5b6e8f0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f
files:
  description: How many files the backup holds.
  returned: success
  type: int
  sample: 14
'''

import os

from ansible_collections.keyceremony.byok.plugins.module_utils import _backup
from ansible_collections.keyceremony.byok.plugins.module_utils._errors import ByokError
from ansible_collections.keyceremony.byok.plugins.module_utils._files import file_sha256
from ansible_collections.keyceremony.byok.plugins.module_utils._module import WORLD_ARGS, new_module, run, spec
from ansible_collections.keyceremony.byok.plugins.module_utils._world import World


def work(module):
    p = module.params
    world = World(p['world_dir'])
    desc = world.descriptor()
    token_dir = p['token_dir'] or _backup.softhsm_tokendir()
    # under the world's lock: no key is made or changed between the manifest and the copies
    with world.changing(module.check_mode):
        name, hashes = _backup.plan(world.dir, desc['world_id'], token_dir)
        final = os.path.join(p['dest'], name)
        result = {'backup_dir': final, 'manifest': os.path.join(final, 'MANIFEST.sha256'), 'files': len(hashes)}
        if os.path.isdir(final) and _backup.verify(final):
            return dict(result, changed=False, manifest_sha256=file_sha256(result['manifest']))
        if os.path.exists(final):
            raise ByokError('%s exists but does not match its manifest; move it away and back up again' % final)
        if module.check_mode:
            return dict(result, changed=True, manifest_sha256=None)
        _backup.write(p['dest'], name, hashes)
    return dict(result, changed=True, manifest_sha256=file_sha256(result['manifest']))


def main():
    module = new_module(spec(WORLD_ARGS, token_dir={'type': 'path'}, dest={'type': 'path', 'required': True}))
    module.params['world_dir'] = os.path.abspath(module.params['world_dir'])
    run(module, work, journal_as='world_backup', journal_fields=('backup_dir', 'files', 'manifest_sha256'))


if __name__ == '__main__':
    main()
