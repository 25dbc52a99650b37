#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: world_restore
short_description: Restore a security world and its token from a world_backup folder (the disaster-recovery drill)
version_added: 0.1.0
description:
  - The other half of M(keyceremony.byok.world_backup), for a lost or broken workstation, and for the drill that proves
    a backup can be restored before it is needed.
  - Checks the backup whole before anything is written - the manifest's form, every file's SHA-256, that no file was
    added, that the files give the digest the folder's name carries, and that the world descriptor names the folder's
    world id. One byte changed anywhere is refused, naming the file, with nothing written.
  - Builds the whole restore beside its places first (C(.byok-restore-*) folders of this run, next to the token folder
    and next to O(world_dir)) and checks it there through the HSM, with a SoftHSM2 configuration of its own - the token
    is found by label with the world's serial, no token of the backup carries a label already in use, the module
    credential logs in, every key record's fingerprint equals the public part of its key on the token, and, when
    O(admin_cards) are given, K of them rebuild the security officer PIN and it logs in to the restored token. Only a
    restore that passed is moved into place (token folders, then the world folder last); one that failed is removed
    and leaves nothing.
  - It never writes over an existing world or token; a O(world_dir) that is not empty, a token folder that exists, or
    a token with the world's label is refused - unless they hold exactly this backup's files, which is a restore done
    before (then C(changed=false), and the checks run on the restored world), perhaps cut off before its last step
    (then the rest is done).
  - The journal restored with the world records the restore.
author:
  - keyceremony.byok maintainers (!UNKNOWN)
extends_documentation_fragment:
  - keyceremony.byok.world
  - keyceremony.byok.world.ADMIN_CARDS
  - keyceremony.byok.attributes
  - keyceremony.byok.attributes.CHANGES
options:
  backup_dir:
    description:
      - The folder M(keyceremony.byok.world_backup) wrote, as it returned it (C(<dest>/world-<world id>-<digest>)).
    type: path
    required: true
  world_dir:
    description:
      - Where the world's files go. It must not exist, or be empty; its parent folder is created C(0700) when missing.
  token_dir:
    description:
      - The SoftHSM2 token folder the token is restored into. Defaults to the C(directories.tokendir) of the SoftHSM2
        configuration named by E(SOFTHSM2_CONF), or of C(/etc/softhsm/softhsm2.conf) when it is not set, as for
        M(keyceremony.byok.world_backup).
    type: path
  admin_cards:
    description:
      - K or more cards of the world with their PINs. When given, the restore is placed only once they rebuild the
        security officer PIN and it logs in to the restored token - the proof that the restored token is the one whose
        SO the card holders are, which the backup's unkeyed manifest alone cannot give.
  expect_manifest_sha256:
    description:
      - The SHA-256 of the backup's manifest, as M(keyceremony.byok.world_backup) returned and journalled it
        (RV(keyceremony.byok.world_backup#module:manifest_sha256)). The manifest lists every file's SHA-256, so this
        one value pins every byte of the backup, including the files that change on every use (SoftHSM2's
        C(token.object), which holds the PINs' blobs, and the journal), which the digest in the folder's name leaves
        out. A backup whose manifest differs is refused before anything is written.
      - It proves the restore (RV(proved)) only while the token's files in place are, byte for byte, the backup's; once
        the token has been used, give O(admin_cards).
      - Without it or O(admin_cards) the restore is done, with a warning that it is not proved (RV(proved) false).
    type: str
notes:
  - Holds a lock beside O(world_dir) (C(.<name>.restore.lock) in its parent) so two restores never run at once.
  - Check mode checks the backup and the places it would write to, and writes nothing.
  - Only the SoftHSM2 file token store can be restored this way; a hardware HSM's world is restored with its vendor's
    tools.
seealso:
  - module: keyceremony.byok.world_backup
  - module: keyceremony.byok.security_world_info
'''

EXAMPLES = r'''
- name: Restore the world from the safe's backup onto a new workstation, and prove two cards open it
  keyceremony.byok.world_restore:
    backup_dir: /media/backup/world-6ea92d1987a0678eb5913f539b88600a-3cab36bb03d7d330
    world_dir: /var/lib/keyceremony/world
    admin_cards:
      - path: /media/card1/contoso.card
        pin: "{{ card1_pin }}"
      - path: /media/card3/contoso.card
        pin: "{{ card3_pin }}"
  environment:
    SOFTHSM2_CONF: /var/lib/keyceremony/softhsm2.conf
'''

RETURN = r'''
world_id:
  description: The restored world's id.
  returned: success
  type: str
  sample: 6ea92d1987a0678eb5913f539b88600a
token_label:
  description: The restored token's label.
  returned: success
  type: str
  sample: contoso-world
restored:
  description: What was written (token folders by name, and V(world)); empty when all was in place.
  returned: success
  type: list
  elements: str
  sample: ["token 3f1c9a2e-...", "world"]
keys:
  description: Every key record of the world, with the fingerprint its key on the restored token has.
  returned: success
  type: list
  elements: dict
  sample: [{"key_name": "key_simple_contosokey", "spki_sha256": "9b1c6f3e..."}]
proved:
  description: Whether the restored world is proved to be the one backed up - by O(admin_cards) or
    O(expect_manifest_sha256).
  returned: success
  type: bool
  sample: true
manifest_sha256:
  description: The SHA-256 of the backup's manifest.
  returned: success
  type: str
  sample: 4f1c0b7e9d2a3c5b6e8f0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f
cards_checked:
  description: How many of O(admin_cards) rebuilt the security officer PIN that logged in (0 when none were given).
  returned: success
  type: int
  sample: 2
files:
  description: How many files the backup holds.
  returned: success
  type: int
  sample: 14
'''

import os
from contextlib import contextmanager, nullcontext

from ansible_collections.keyceremony.byok.plugins.module_utils import _backup
from ansible_collections.keyceremony.byok.plugins.module_utils._values import normalize_sha256
from ansible_collections.keyceremony.byok.plugins.module_utils._errors import HsmKeyError, WorldError
from ansible_collections.keyceremony.byok.plugins.module_utils._files import ensure_private_dir, locked
from ansible_collections.keyceremony.byok.plugins.module_utils._hsm import SO, Hsm
from ansible_collections.keyceremony.byok.plugins.module_utils._keys import KeyRecord, describe_key
from ansible_collections.keyceremony.byok.plugins.module_utils._module import (
    ADMIN_CARDS_ARG, WORLD_ARGS, new_module, run, spec)
from ansible_collections.keyceremony.byok.plugins.module_utils._world import WorldContext, recover_so_pin


@contextmanager
def softhsm_conf(conf):
    """SoftHSM2 reads SOFTHSM2_CONF when the library is loaded: within this block it loads the stage's."""
    before = os.environ.get('SOFTHSM2_CONF')
    os.environ['SOFTHSM2_CONF'] = conf
    try:
        yield
    finally:
        if before is None:
            del os.environ['SOFTHSM2_CONF']
        else:
            os.environ['SOFTHSM2_CONF'] = before


def _token_labels(p):
    with Hsm(p['pkcs11_module']) as hsm:
        return dict((t.label, t.serial) for t in hsm.tokens() if t.initialized)


def _check(p, world_dir, taken=None):
    """Through the HSM: the token (and, with ``taken``, that no token of the stage carries a label in use), the
    module credential, every key against its record, and the cards when given. Returns the result's part."""
    keys = []
    with Hsm(p['pkcs11_module']) as hsm:
        if taken:
            clash = sorted(set(t.label for t in hsm.tokens() if t.initialized) & set(taken))
            if clash:
                raise WorldError('the backup holds a token labelled %s, and a token of that label already exists '
                                 '(serial %s): a restore never writes over a token, nor adds a second of one label. '
                                 'Restore onto a token folder (SOFTHSM2_CONF) that does not have it'
                                 % (', '.join(repr(c) for c in clash), ', '.join(taken[c] for c in clash)))
        ctx = WorldContext(hsm, world_dir)
        with ctx.user_session() as session:
            for name in sorted(os.listdir(ctx.world.dir)):
                if not name.startswith('key_'):
                    continue
                rec = KeyRecord(ctx.world.dir, name).read()
                desc = describe_key(session, rec['key_name'])
                if desc is None or desc['spki_sha256'] != rec.get('spki_sha256'):
                    raise HsmKeyError('the restored token\'s key %s %s, but its key record names fingerprint %s: the '
                                      'backup\'s token and world do not belong together'
                                      % (rec['key_name'], 'is missing' if desc is None else 'has fingerprint %s'
                                         % desc['spki_sha256'], rec.get('spki_sha256')))
                keys.append({'key_name': rec['key_name'], 'spki_sha256': desc['spki_sha256']})
        cards = 0
        if p['admin_cards']:
            so_pin = recover_so_pin(ctx.world.dir, p['admin_cards'])
            with hsm.session(ctx.token_label, login=SO, pin=so_pin, who='the security officer PIN rebuilt from the '
                             'admin cards'):
                cards = len(p['admin_cards'])
    return {'keys': keys, 'cards_checked': cards, 'proved': cards > 0}


def work(module):
    p = module.params
    backup = os.path.abspath(p['backup_dir'])
    checked = _backup.read_manifest(backup)
    if p['expect_manifest_sha256'] is not None:
        expected = normalize_sha256(p['expect_manifest_sha256'], 'expect_manifest_sha256', of='the manifest',
                                    where='take it from what world_backup returned, or its journal record')
        if expected != checked['manifest_sha256']:
            raise WorldError('the manifest of %s has SHA-256 %s, not the expected %s: this is not the backup that was '
                             'made (or it was rewritten since)' % (backup, checked['manifest_sha256'], expected))
    entries, label = checked['entries'], checked['descriptor'].get('token_label')
    token_dir = p['token_dir'] or _backup.softhsm_tokendir()
    if not os.path.isdir(token_dir):
        raise WorldError('the token folder %s does not exist; create it (mode 0700) or fix SOFTHSM2_CONF' % token_dir)
    parent = os.path.dirname(p['world_dir'])
    if module.check_mode:
        lock = nullcontext()
    else:
        ensure_private_dir(parent)
        lock = locked(parent, '.%s.restore.lock' % os.path.basename(p['world_dir']))
    with lock:
        todo = _backup.restore_plan(backup, entries, p['world_dir'], token_dir)
        restored = ['token %s' % t for t in todo['tokens']] + (['world'] if todo['world'] else [])
        result = {'changed': bool(restored), 'world_id': checked['world_id'], 'token_label': label,
                  'restored': restored, 'keys': [], 'cards_checked': 0, 'proved': False, 'files': len(entries),
                  'manifest_sha256': checked['manifest_sha256']}
        if not restored:
            result.update(_check(p, p['world_dir']))
        else:
            # a fresh restore: no token of the backup may carry a label in use; one cut off after some token folders
            # were placed finds its own tokens there
            taken = _token_labels(p) if len(todo['tokens']) == len(_backup.token_folders(entries)) else {}
            if label in taken:
                raise WorldError('a token labelled %r already exists (serial %s): a restore never writes over a token. '
                                 'Restore onto a token folder (SOFTHSM2_CONF) that does not have it' % (label, taken[label]))
            if module.check_mode:
                return result
            # the whole restore is built and checked beside its places, and moved into place only when it holds
            staged = _backup.stage(backup, entries, p['world_dir'], token_dir, _backup.conf_template())
            try:
                with softhsm_conf(staged['conf']):
                    result.update(_check(p, staged['world'], taken))
            except BaseException:
                _backup.discard(staged)
                raise
            _backup.place(staged, p['world_dir'], token_dir, todo)
            if len(todo['tokens']) != len(_backup.token_folders(entries)):
                # token folders a cut-off run placed were not in the stage: check them where they are
                result.update(_check(p, p['world_dir']))
    # the manifest's SHA-256 proves the token when this run placed it from the checked backup, or while its files in
    # place are, byte for byte, the backup's (logins rewrite SoftHSM2's token.object)
    placed_all = len(todo['tokens']) == len(_backup.token_folders(entries)) and not module.check_mode
    pinned = p['expect_manifest_sha256'] is not None and (
        placed_all or _backup.exact_files(entries, 'tokens/', token_dir))
    result['proved'] = result['proved'] or pinned
    if not result['proved']:
        result['warnings'] = ['the restored world is not proved to be the one that was backed up: give admin_cards (K '
                              'of the world\'s cards must open it), or expect_manifest_sha256 (what world_backup '
                              'returned and journalled) while the token\'s files are still exactly the backup\'s']
    return result


def main():
    module = new_module(spec(WORLD_ARGS, ADMIN_CARDS_ARG, backup_dir={'type': 'path', 'required': True},
                             token_dir={'type': 'path'}, expect_manifest_sha256={'type': 'str', 'no_log': False}))
    module.params['world_dir'] = os.path.abspath(module.params['world_dir'])
    run(module, work, journal_as='world_restore', journal_needs_world=True,
        journal_fields=('world_id', 'token_label', 'restored', 'keys', 'cards_checked', 'proved', 'files',
                        'manifest_sha256'))


if __name__ == '__main__':
    main()
