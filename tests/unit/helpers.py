# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Test helpers: SoftHSM2 stores, card sets, in-process module runs, secret checks."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import io
import json
import os
from contextlib import redirect_stdout

from ansible.module_utils.testing import patch_module_args

# This file is imported through ansible_collections/keyceremony/byok (a link or a copy).
COLLECTIONS_ROOT = os.path.abspath(__file__).split(os.sep + 'ansible_collections' + os.sep)[0]
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


CARD_PINS = ['amber-otter-41', 'brass-heron-92', 'cedar-lynx-07', 'dune-falcon-55', 'ember-moth-33']


class SoftHsm(object):
    """A SoftHSM2 configuration and token folder of the test's own."""

    def __init__(self, base):
        self.base = str(base)
        self.tokendir = os.path.join(self.base, 'tokens')
        os.makedirs(self.tokendir)
        self.conf = os.path.join(self.base, 'softhsm2.conf')
        with open(self.conf, 'w') as f:
            f.write('directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' % self.tokendir)


def cards_for(base, n, prefix='card'):
    return [{'path': os.path.join(str(base), 'cards', '%s%d' % (prefix, i + 1)), 'pin': CARD_PINS[i % len(CARD_PINS)]}
            for i in range(n)]


class WorldFixture(object):
    def __init__(self, world_dir, token_label, cards, descriptor):
        self.dir = world_dir
        self.token_label = token_label
        self.cards = cards
        self.descriptor = descriptor
        self.id = descriptor['world_id']


class ModuleRun(object):
    def __init__(self, out, exit_code):
        self.raw = out
        self.exit_code = exit_code
        self.result = json.loads(out)

    @property
    def failed(self):
        return bool(self.result.get('failed'))

    def __getitem__(self, key):
        return self.result[key]

    def get(self, key, default=None):
        return self.result.get(key, default)

    @property
    def warnings(self):
        # ansible-core 2.19 reports warnings as event objects, older ones as strings
        out = []
        for w in self.result.get('warnings', []):
            out.append(w['event']['msg'] if isinstance(w, dict) else w)
        return out


def run_module(module, args, check_mode=False, diff=False):
    """Run a module's main() in-process and return what it printed, parsed."""
    args = dict(args)
    if check_mode:
        args['_ansible_check_mode'] = True
    if diff:
        args['_ansible_diff'] = True
    out = io.StringIO()
    code = 0
    with patch_module_args(args), redirect_stdout(out):
        try:
            module.main()
        except SystemExit as e:
            code = e.code
    return ModuleRun(out.getvalue(), code)


def four_way(module, args):
    """Check mode, real run, check-mode re-run, re-run: the four runs every module gets."""
    runs = [run_module(module, args, check_mode=True), run_module(module, args),
            run_module(module, args, check_mode=True), run_module(module, args)]
    for r in runs:
        assert not r.failed, r.result.get('msg')
    return runs


def secrets_of(world_fixture):
    """Every secret a world has: card PINs, the user PIN, the SO PIN (rebuilt from the cards)."""
    from ansible_collections.keyceremony.byok.plugins.module_utils._world import World, recover_so_pin
    values = [c['pin'] for c in world_fixture.cards]
    values.append(World(world_fixture.dir).user_pin())
    values.append(recover_so_pin(world_fixture.dir, world_fixture.cards))
    return values


def assert_no_secret(text, secrets):
    for s in secrets:
        assert s not in text, 'a secret leaked into the output'


class Chain(object):
    """A whole offline side and a tenant, built once: world, key, toolset, ACL, package."""


def build_chain(base, monkeypatch, tenant_ids=('3f2a8b1c-5d6e-4f70-8a9b-0c1d2e3f4a5b',)):
    """Everything up to a transfer package, on real SoftHSM2 tokens under ``base``."""
    from ansible_collections.keyceremony.byok.plugins.module_utils._hsm import Hsm
    from ansible_collections.keyceremony.byok.plugins.module_utils._world import WorldSpec, ensure_world
    from ansible_collections.keyceremony.byok.plugins.modules import hsm_key, key_acl, transfer_package
    from ansible_collections.keyceremony.byok.tenant import datadir
    c = Chain()
    c.base = str(base)
    c.offline = SoftHsm(os.path.join(c.base, 'offline'))
    monkeypatch.setenv('SOFTHSM2_CONF', c.offline.conf)
    c.world_dir = os.path.join(c.base, 'world')
    c.cards = cards_for(os.path.join(c.base, 'cardset'), 3)
    with Hsm() as hsm:
        ensure_world(hsm, WorldSpec(c.world_dir, 'offline-world', '2/3', c.cards, 'argon2id-aes256gcm'))
    c.key = run_module(hsm_key, {'world_dir': c.world_dir, 'ident': 'contosokey'}).result
    c.tenants = [datadir.init(os.path.join(c.base, 'tenant%d' % i), tid) for i, tid in enumerate(tenant_ids)]
    c.tenant = c.tenants[0]
    c.toolset = datadir.Tenant(c.tenant['data_dir']).toolset('NA', os.path.join(c.base, 'toolset'))
    c.toolset_args = {'kek_package': c.toolset['kek_package'], 'security_world_package': c.toolset['security_world_package'],
                      'root_hash': c.tenant['root_hash_grouped']}
    c.acl_args = dict(c.toolset_args, world_dir=c.world_dir, ident='contosokey', admin_cards=c.cards[:2])
    c.acl = run_module(key_acl, c.acl_args).result
    assert not c.acl.get('failed'), c.acl.get('msg')
    c.package_args = dict(c.toolset_args, world_dir=c.world_dir, ident='contosokey', tenant_id=c.tenant['tenant_id'],
                          key_friendly_name='ContosoBYOK', dest=os.path.join(c.base, 'media'))
    c.package = run_module(transfer_package, c.package_args).result
    assert not c.package.get('failed'), c.package.get('msg')
    with open(c.package['path'], 'rb') as f:
        c.package_bytes = f.read()
    return c
