# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The BYOK ceremony in one Python process: the baseline of `make bench`.

It makes the module calls playbooks/byok_over_internet.yml makes, in the same order and with the
same options, by calling each module's main() in this process (as the module tests do): the same
module code, module_utils, PyKCS11, SoftHSM2 token and HTTPS calls to the same rehearsal tenant,
and the same journal writes. Files cross between the two workstation folders by plain copies.
What it leaves out is Ansible itself: a process per task, AnsiballZ, templating, the roles'
other tasks. Each step is timed; so is the whole, from this process's start.

    python bench/baseline.py --work DIR --tenant TENANT.json

TENANT.json holds url, admin_user, admin_password, ca_path and root_hash of a running tenant.
Prints one JSON object: {"wall": seconds, "steps": [[step, seconds], ...]}.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import time

STARTED = time.time()

# pylint: disable=wrong-import-position
import argparse
import importlib
import json
import os
import shutil
import sys

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO_ROOT, '.collections'))

from ansible_collections.keyceremony.byok.tests.unit.helpers import SoftHsm, run_module  # noqa: E402


def merged(*parts, **more):
    out = {}
    for part in parts + (more,):
        out.update(part)
    return out


def module(name):
    return importlib.import_module('ansible_collections.keyceremony.byok.plugins.modules.' + name)


class Steps(object):
    """Run modules in-process, one timed step each; a failed module stops the ceremony."""

    def __init__(self):
        self.times = []

    def __call__(self, name, args):
        mod = module(name)
        start = time.time()
        got = run_module(mod, args)
        self.times.append([name, time.time() - start])
        if got.failed:
            raise SystemExit('baseline: %s failed: %s' % (name, got.get('msg')))
        return got


def ceremony(work, tenant, region='NA', cards=None, acl_cards=(1, 2)):
    """The ceremony of byok_over_internet.yml with the roles' defaults, in ``work``."""
    run = Steps()
    online, offline = os.path.join(work, 'online'), os.path.join(work, 'offline')
    world, media = os.path.join(offline, 'world'), os.path.join(offline, 'media')
    backup = os.path.join(offline, 'backup')
    for folder in (online, media):
        os.makedirs(folder, mode=0o700)
    # the offline workstation's own SoftHSM2 folder, as offline_workstation_softhsm_dir makes it
    os.environ['SOFTHSM2_CONF'] = SoftHsm(offline).conf
    connection = {'tenant_url': tenant['url'], 'admin_user': tenant['admin_user'],
                  'admin_password': tenant['admin_password'], 'ca_path': tenant['ca_path'],
                  'journal': os.path.join(online, 'journal.jsonl')}
    cards = cards or [{'path': os.path.join(offline, 'cards', 'card%d' % i), 'pin': 'bench-card-pin-%d' % i}
                      for i in (1, 2, 3)]
    with_world = {'world_dir': world}
    toolset = {'kek_package': os.path.join(media, 'BYOK-KEK-pkg-%s-1' % region),
               'security_world_package': os.path.join(media, 'BYOK-SecurityWorld-pkg-%s-1' % region),
               'root_hash': tenant['root_hash']}
    key = {'app_name': 'simple', 'ident': 'tenantkey'}

    # online: tenant ID and toolset
    tenant_id = run('tenant_info', connection)['bpos_id']
    got = run('byok_toolset', dict(connection, region=region, dest=os.path.join(online, 'toolset')))
    # offline: world, key, backup, toolset verified, ACLs, package, backup
    run('security_world', dict(with_world, token_label='byok-world', acs_quorum='2/3', admin_cards=cards))
    spki = run('hsm_key', merged(with_world, key, size=2048))['spki_sha256']
    run('world_backup', dict(with_world, dest=backup))
    for kind in ('kek_package', 'security_world_package'):
        shutil.copyfile(got[kind], toolset[kind])
    run('kek_package_verify', dict(toolset, journal=os.path.join(world, 'journal.jsonl')))
    run('key_acl', merged(with_world, key, toolset, admin_cards=[cards[i - 1] for i in acl_cards]))
    package = run('transfer_package', merged(with_world, key, toolset, tenant_id=tenant_id,
                                             key_friendly_name=key['ident'], dest=media))['path']
    run('world_backup', dict(with_world, dest=backup))
    # online: upload, key list and possession proof
    uploaded = shutil.copyfile(package, os.path.join(online, os.path.basename(package)))
    run('tenant_key_info', connection)
    run('tenant_key', dict(connection, key_file=uploaded, force=True))
    run('tenant_key_info', dict(connection, challenge='bench-possession-challenge-0001', expect_spki_sha256=spki))
    # the transcript reads both journals
    for journal in (connection['journal'], os.path.join(world, 'journal.jsonl')):
        run('journal_info', {'path': journal})
    return run.times


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--work', required=True, help='an empty or absent folder for both workstations')
    parser.add_argument('--tenant', required=True, help='JSON file: url, admin_user, admin_password, ca_path, root_hash')
    args = parser.parse_args()
    with open(args.tenant) as f:
        tenant = json.load(f)
    steps = ceremony(os.path.abspath(args.work), tenant)
    print(json.dumps({'wall': time.time() - STARTED, 'steps': steps}))


if __name__ == '__main__':
    main()
