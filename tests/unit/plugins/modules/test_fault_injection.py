# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The fault-injection sweep: each module that changes the HSM or writes a ceremony file is killed (SIGKILL) at ten
points spread over its run, then run again; every re-run must end where an uninterrupted run ends - no second key,
no half file, the journal intact (or repaired). docs/security.md has the table this prints (-s)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import shutil
import subprocess
import sys

import pytest

from ansible_collections.keyceremony.byok.plugins.module_utils._hsm import Hsm, attribute_template
from ansible_collections.keyceremony.byok.plugins.module_utils._journal import JOURNAL_NAME, Journal
from ansible_collections.keyceremony.byok.plugins.module_utils._world import WorldSpec, ensure_world
from ansible_collections.keyceremony.byok.plugins.modules import (
    hsm_key, key_acl, security_world, transfer_package, world_backup, world_restore)
from ansible_collections.keyceremony.byok.tenant import datadir
from ansible_collections.keyceremony.byok.tests.unit.helpers import TENANT_A, SoftHsm, cards_for, run_module

POINTS = 10
JOURNAL_FILES = (JOURNAL_NAME, JOURNAL_NAME + '.head', '.journal.lock')
RUNNER = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), 'kill_runner.py')


class Scene(object):
    """Fixed paths under ``base``: the SoftHSM2 token folder, the world, the cards, the media and the backups."""

    def __init__(self, base):
        self.base = str(base)
        self.softhsm = SoftHsm(os.path.join(self.base, 'softhsm'))
        self.world_dir = os.path.join(self.base, 'world')
        self.cards = cards_for(os.path.join(self.base, 'cardset'), 3)
        self.media = os.path.join(self.base, 'media')
        self.safe = os.path.join(self.base, 'safe')
        self.live = [self.softhsm.tokendir, self.world_dir, self.media, self.safe, os.path.join(self.base, 'cardset')]

    def snapshot(self):
        snap = os.path.join(self.base, 'snapshot')
        for i, path in enumerate(self.live):
            if os.path.isdir(path):
                shutil.copytree(path, os.path.join(snap, str(i)), symlinks=True)
        return snap

    def reset(self, snap):
        for i, path in enumerate(self.live):
            if os.path.lexists(path):
                shutil.rmtree(path)
            if os.path.isdir(os.path.join(snap, str(i))):
                shutil.copytree(os.path.join(snap, str(i)), path, symlinks=True)
        for name in os.listdir(self.base):  # what a restore builds beside its place
            if name.startswith('.byok-restore-'):
                shutil.rmtree(os.path.join(self.base, name))
        os.makedirs(self.softhsm.tokendir, exist_ok=True)

    def state(self):
        """What must be the same after a killed run and its re-run as after one uninterrupted run."""
        objects = []
        with Hsm() as hsm:
            for token in hsm.tokens():
                if not token.initialized:
                    continue
                objects.append(('token', str(token.label)))
        if os.path.isfile(os.path.join(self.world_dir, 'module_credential.json')):
            from ansible_collections.keyceremony.byok.plugins.module_utils._world import WorldContext
            with Hsm() as hsm:
                with WorldContext(hsm, self.world_dir).user_session() as s:
                    for obj in s.find(attribute_template([])):
                        a = s.attributes(obj, ['CKA_CLASS', 'CKA_LABEL', 'CKA_TOKEN'])
                        if a['CKA_TOKEN']:
                            objects.append((str(a['CKA_CLASS']), str(a['CKA_LABEL'])))
        files = []
        for top in (self.world_dir, self.media, self.safe):
            for root, dirs, names in os.walk(top):
                for name in names:
                    if name in JOURNAL_FILES:
                        continue  # checked below: intact (or repaired); a run killed after its change and before
                        # its record leaves the change unjournalled, and its re-run has nothing to journal
                    rel = os.path.relpath(os.path.join(root, name), self.base)
                    # names that differ run to run: backup folders carry a digest, journals grow by repairs
                    files.append(rel.split(os.sep)[0] + '/' + ('<backup>/' if top == self.safe else '')
                                 + os.path.basename(rel))
        # a restore's stage beside the token folder and the world folder must be gone too
        files += sorted('stage/' + name for name in os.listdir(self.base) if name.startswith('.byok-restore-'))
        records, intact, problem = Journal(os.path.join(self.world_dir, JOURNAL_NAME)).read()
        return {'objects': sorted(objects), 'files': sorted(files), 'journal': (intact, problem)}


def _run(module, args, base, kill_at=0):
    args_file = os.path.join(base, 'args.json')
    count_file = os.path.join(base, 'steps')
    with open(args_file, 'w') as f:
        json.dump({'ANSIBLE_MODULE_ARGS': args}, f)
    proc = subprocess.run([sys.executable, RUNNER, module.__file__, args_file, count_file, str(kill_at)],
                          capture_output=True, env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)), timeout=300,
                          check=False)
    if kill_at:
        return proc.returncode, None
    assert proc.returncode == 0, proc.stdout.decode() + proc.stderr.decode()
    with open(count_file) as f:
        return int(f.read()), json.loads(proc.stdout.decode())


@pytest.fixture(scope='module')
def toolset(tmp_path_factory):
    base = tmp_path_factory.mktemp('fault-tenant')
    info = datadir.init(str(base / 'data'), TENANT_A)
    ts = datadir.Tenant(info['data_dir']).toolset('NA', str(base / 'toolset'))
    return {'kek_package': ts['kek_package'], 'security_world_package': ts['security_world_package'],
            'root_hash': info['root_hash_grouped']}


def _world(scene):
    with Hsm() as hsm:
        ensure_world(hsm, WorldSpec(scene.world_dir, 'faults', '2/3', scene.cards, 'argon2id-aes256gcm'))


def _key(scene):
    _world(scene)
    assert not run_module(hsm_key, {'world_dir': scene.world_dir, 'ident': 'contosokey'}).failed


def _acl(scene, toolset):
    _key(scene)
    assert not run_module(key_acl, dict(toolset, world_dir=scene.world_dir, ident='contosokey',
                                        admin_cards=scene.cards[:2])).failed


def _lost_after_backup(scene):
    _key(scene)
    assert not run_module(world_backup, {'world_dir': scene.world_dir, 'dest': scene.safe}).failed
    shutil.rmtree(scene.world_dir)
    shutil.rmtree(scene.softhsm.tokendir)
    os.makedirs(scene.softhsm.tokendir)


SCENARIOS = {
    'security_world': (security_world, lambda s, t: None,
                       lambda s, t: {'world_dir': s.world_dir, 'token_label': 'faults', 'acs_quorum': '2/3',
                                     'admin_cards': s.cards}),
    'hsm_key': (hsm_key, lambda s, t: _world(s), lambda s, t: {'world_dir': s.world_dir, 'ident': 'contosokey'}),
    'key_acl': (key_acl, lambda s, t: _key(s),
                lambda s, t: dict(t, world_dir=s.world_dir, ident='contosokey', admin_cards=s.cards[1:])),
    'transfer_package': (transfer_package, _acl,
                         lambda s, t: dict(t, world_dir=s.world_dir, ident='contosokey', tenant_id=TENANT_A,
                                           key_friendly_name='Faults', dest=s.media)),
    'world_backup': (world_backup, lambda s, t: _key(s), lambda s, t: {'world_dir': s.world_dir, 'dest': s.safe}),
    'world_restore': (world_restore, lambda s, t: _lost_after_backup(s),
                      lambda s, t: {'world_dir': s.world_dir, 'admin_cards': s.cards[:2],
                                    'backup_dir': os.path.join(s.safe, os.listdir(s.safe)[0])}),
}


@pytest.mark.parametrize('name', sorted(SCENARIOS))
def test_killed_at_ten_points_a_rerun_ends_as_an_uninterrupted_run(name, toolset, tmp_path, monkeypatch):
    module, prepare, make_args = SCENARIOS[name]
    scene = Scene(tmp_path)
    monkeypatch.setenv('SOFTHSM2_CONF', scene.softhsm.conf)
    monkeypatch.delenv('PKCS11_MODULE', raising=False)
    prepare(scene, toolset)
    args = make_args(scene, toolset)
    snap = scene.snapshot()
    steps, result = _run(module, args, scene.base)
    assert result['changed'] and not result.get('failed')
    want = scene.state()
    assert want['journal'] == (True, None)
    points = sorted(set(max(1, steps * i // (POINTS + 1)) for i in range(1, POINTS + 1)))
    survived = []
    for point in points:
        scene.reset(snap)
        code = _run(module, args, scene.base, kill_at=point)[0]
        assert code == -9, 'step %d of %d: the module was not killed (exit %s)' % (point, steps, code)
        again = _run(module, args, scene.base)[1]
        assert not again.get('failed'), again.get('msg')
        got = scene.state()
        assert got['objects'] == want['objects'], 'killed at step %d of %d: %s' % (point, steps, again)
        assert got['files'] == want['files'], 'killed at step %d of %d: %s' % (point, steps, again)
        assert got['journal'][0], 'killed at step %d of %d: %s' % (point, steps, got['journal'][1])
        survived.append(point)
    print('\nfault injection | %s | %d steps | killed at %s | %d of %d re-runs ended as an uninterrupted run'
          % (name, steps, ', '.join(map(str, survived)), len(survived), len(points)))
    assert len(survived) == POINTS
