# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""world_restore: the disaster-recovery drill on real SoftHSM2 tokens, and every backup it must refuse."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import shutil

import pytest

from ansible_collections.keyceremony.byok.plugins.module_utils._journal import JOURNAL_NAME, Journal
from ansible_collections.keyceremony.byok.plugins.modules import (
    hsm_key, key_acl, security_world_info, transfer_package, world_backup, world_restore)
from ansible_collections.keyceremony.byok.tenant import datadir
from ansible_collections.keyceremony.byok.tests.unit.helpers import (
    TENANT_A, SoftHsm, assert_no_secret, four_way, run_module, secrets_of)


@pytest.fixture
def backed_up(world, tmp_path):
    key = run_module(hsm_key, {'world_dir': world.dir, 'ident': 'contosokey'}).result
    backup = run_module(world_backup, {'world_dir': world.dir, 'dest': str(tmp_path / 'safe')}).result
    return world, key, backup


def _lose_the_workstation(world, softhsm):
    shutil.rmtree(world.dir)
    shutil.rmtree(softhsm.tokendir)
    os.mkdir(softhsm.tokendir, 0o700)


def _fresh_workstation(tmp_path, monkeypatch):
    fresh = SoftHsm(tmp_path / 'fresh-softhsm')
    monkeypatch.setenv('SOFTHSM2_CONF', fresh.conf)
    return fresh, str(tmp_path / 'fresh' / 'world')


def _tree(folder):
    out = {}
    for root, _dirs, names in os.walk(folder):
        for name in names:
            path = os.path.join(root, name)
            with open(path, 'rb') as f:
                out[os.path.relpath(path, folder)] = f.read()
    return out


def test_the_disaster_recovery_drill(backed_up, softhsm, tmp_path, monkeypatch):
    world, key, backup = backed_up
    secrets = secrets_of(world)
    _lose_the_workstation(world, softhsm)
    fresh, world_dir = _fresh_workstation(tmp_path, monkeypatch)
    args = {'backup_dir': backup['backup_dir'], 'world_dir': world_dir, 'admin_cards': world.cards[1:3]}
    check, real, check_again, again = four_way(world_restore, args)
    assert [r['changed'] for r in (check, real, check_again, again)] == [True, True, False, False]
    assert real['proved'] and again['proved'] and not check['proved']
    assert real['world_id'] == world.id and real['cards_checked'] == 2 and real['restored'][-1] == 'world'
    assert real['keys'] == [{'key_name': 'key_simple_contosokey', 'spki_sha256': key['spki_sha256']}]
    assert again['keys'] == real['keys'] and again['restored'] == []
    assert_no_secret(json.dumps([check.result, real.result, again.result]), secrets)
    # the restored world opens and is the same world
    info = run_module(security_world_info, {'world_dir': world_dir})
    assert not info.failed and info['world']['world_id'] == world.id
    records, intact, _problem = Journal(os.path.join(world_dir, JOURNAL_NAME)).read()
    assert intact and records[-1]['module'] == 'world_restore' and records[-1]['result']['cards_checked'] == 2
    # the restored key is prepared and packaged again, and the tenant accepts the package
    tenant = datadir.init(str(tmp_path / 'tenant'), TENANT_A)
    toolset = datadir.Tenant(tenant['data_dir']).toolset('NA', str(tmp_path / 'toolset'))
    ts = {'kek_package': toolset['kek_package'], 'security_world_package': toolset['security_world_package'],
          'root_hash': tenant['root_hash_grouped']}
    acl = run_module(key_acl, dict(ts, world_dir=world_dir, ident='contosokey', admin_cards=[world.cards[0], world.cards[2]]))
    assert acl['changed'] and acl['spki_sha256'] == key['spki_sha256']
    pkg = run_module(transfer_package, dict(ts, world_dir=world_dir, ident='contosokey', tenant_id=TENANT_A,
                                            key_friendly_name='Restored', dest=str(tmp_path / 'media')))
    assert not pkg.failed, pkg['msg'] if pkg.failed else ''
    with open(pkg['path'], 'rb') as f:
        got = datadir.Tenant(tenant['data_dir'], TENANT_A).receive(f.read())
    assert got['spki_sha256'] == key['spki_sha256']


@pytest.mark.bad_input
def test_one_byte_of_one_file_and_nothing_is_written(backed_up, softhsm, tmp_path, monkeypatch):
    world, _key, backup = backed_up
    fresh, world_dir = _fresh_workstation(tmp_path, monkeypatch)
    token_files = sorted(n for n, _d in _tree(backup['backup_dir']).items() if n.startswith('tokens/'))
    for rel in ('world/world.json', 'world/key_simple_contosokey', token_files[-1], 'MANIFEST.sha256'):
        victim = os.path.join(backup['backup_dir'], rel)
        with open(victim, 'rb') as f:
            data = f.read()
        with open(victim, 'wb') as f:
            f.write(data[:10] + bytes([data[10] ^ 1]) + data[11:])
        r = run_module(world_restore, {'backup_dir': backup['backup_dir'], 'world_dir': world_dir})
        assert r.failed, rel
        assert not os.path.exists(world_dir) and os.listdir(fresh.tokendir) == [], rel
        with open(victim, 'wb') as f:
            f.write(data)
    assert not run_module(world_restore, {'backup_dir': backup['backup_dir'], 'world_dir': world_dir}).failed


@pytest.mark.bad_input
@pytest.mark.parametrize('tamper,msg', [
    (lambda b: open(os.path.join(b, 'world', 'extra'), 'w').write('x'), 'files its manifest does not list (world/extra)'),
    (lambda b: os.unlink(os.path.join(b, 'world', 'key_simple_contosokey')), 'lacks world/key_simple_contosokey'),
    (lambda b: open(os.path.join(b, 'world', 'key_simple_contosokey'), 'a').write(' '),
     'world/key_simple_contosokey in the backup does not have the SHA-256'),
    (lambda b: open(os.path.join(b, 'MANIFEST.sha256'), 'a').write('00  ../../etc/passwd\n'), 'is not "<sha256>  world/'),
])
def test_a_tampered_backup_is_refused_naming_the_file(backed_up, tmp_path, monkeypatch, tamper, msg):
    world, _key, backup = backed_up
    fresh, world_dir = _fresh_workstation(tmp_path, monkeypatch)
    tamper(backup['backup_dir'])
    r = run_module(world_restore, {'backup_dir': backup['backup_dir'], 'world_dir': world_dir})
    assert r.failed and msg in r['msg']
    assert not os.path.exists(world_dir) and os.listdir(fresh.tokendir) == []


@pytest.mark.bad_input
def test_a_renamed_or_rewritten_backup_is_refused(backed_up, tmp_path, monkeypatch):
    world, _key, backup = backed_up
    _fresh, world_dir = _fresh_workstation(tmp_path, monkeypatch)
    other = os.path.join(os.path.dirname(backup['backup_dir']), 'world-%s-%s' % (world.id, '0' * 16))
    shutil.copytree(backup['backup_dir'], other)
    r = run_module(world_restore, {'backup_dir': other, 'world_dir': world_dir})
    assert r.failed and 'do not give the digest its name carries' in r['msg']
    r = run_module(world_restore, {'backup_dir': os.path.dirname(backup['backup_dir']), 'world_dir': world_dir})
    assert r.failed and 'is not a folder world_backup wrote' in r['msg']


@pytest.mark.bad_input
def test_never_over_an_existing_world_or_token(backed_up, softhsm, tmp_path):
    world, _key, backup = backed_up
    # the same workstation, unchanged since the backup: it holds exactly the backup, nothing is written
    same = run_module(world_restore, {'backup_dir': backup['backup_dir'], 'world_dir': world.dir})
    assert not same.failed and not same['changed'] and same['restored'] == []
    # the world moved on since the backup (a key more): the backup is never written over it
    run_module(hsm_key, {'world_dir': world.dir, 'ident': 'newer'})
    before = _tree(world.dir)
    r = run_module(world_restore, {'backup_dir': backup['backup_dir'], 'world_dir': world.dir})
    assert r.failed and 'is not empty (it holds a world): a restore never writes over a world' in r['msg']
    # another world folder, but the token folder is still there
    r = run_module(world_restore, {'backup_dir': backup['backup_dir'], 'world_dir': str(tmp_path / 'second')})
    assert r.failed and 'a restore never writes over a token' in r['msg']
    assert not os.path.exists(str(tmp_path / 'second'))
    after = _tree(world.dir)
    records = Journal(os.path.join(world.dir, JOURNAL_NAME)).read()[0]
    assert [(x['module'], x['outcome']) for x in records[-1:]] == [('world_restore', 'failed')]
    assert dict((k, v) for k, v in after.items() if not k.startswith('journal')) == \
        dict((k, v) for k, v in before.items() if not k.startswith('journal'))


def test_a_restore_cut_off_before_the_world_is_finished_by_the_next_run(backed_up, softhsm, tmp_path, monkeypatch):
    world, key, backup = backed_up
    fresh, world_dir = _fresh_workstation(tmp_path, monkeypatch)
    # the token folders were renamed into place, the world was not yet; the stage is left beside its places
    from ansible_collections.keyceremony.byok.plugins.module_utils import _backup
    checked = _backup.read_manifest(backup['backup_dir'])
    todo = _backup.restore_plan(backup['backup_dir'], checked['entries'], world_dir, fresh.tokendir)
    os.makedirs(os.path.dirname(world_dir))
    staged = _backup.stage(backup['backup_dir'], checked['entries'], world_dir, fresh.tokendir, _backup.conf_template())
    for name in todo['tokens']:
        os.rename(os.path.join(staged['tokens'], 'tokens', name), os.path.join(fresh.tokendir, name))
    # the stages are of the run that was cut off: a process that is gone
    import subprocess
    gone = subprocess.Popen(['true'])
    gone.wait()
    for folder in (staged['tokens'], staged['world']):
        os.rename(folder, folder.replace('.%d.' % os.getpid(), '.%d.' % gone.pid))
    r = run_module(world_restore, {'backup_dir': backup['backup_dir'], 'world_dir': world_dir})
    assert r['changed'] and r['restored'] == ['world'] and r['keys'][0]['spki_sha256'] == key['spki_sha256']
    assert not r['proved'] and any('not proved' in w for w in r.warnings)
    assert not [n for n in os.listdir(os.path.dirname(world_dir)) if n.startswith(_backup.PARTIAL)]
    assert not [n for n in os.listdir(os.path.dirname(fresh.tokendir)) if n.startswith(_backup.PARTIAL)]


def test_the_manifest_hash_proves_a_fresh_restore_but_not_a_token_used_since(backed_up, softhsm, tmp_path, monkeypatch):
    world, key, backup = backed_up
    _lose_the_workstation(world, softhsm)
    _fresh, world_dir = _fresh_workstation(tmp_path, monkeypatch)
    args = {'backup_dir': backup['backup_dir'], 'world_dir': world_dir,
            'expect_manifest_sha256': backup['manifest_sha256'].upper()}
    real = run_module(world_restore, args)
    assert real['changed'] and real['proved'] and not real.warnings
    run_module(hsm_key, {'world_dir': world_dir, 'ident': 'contosokey'})  # the token is used: its token.object changes
    again = run_module(world_restore, args)
    assert not again['changed'] and not again['proved'] and any('not proved' in w for w in again.warnings)
    assert run_module(world_restore, dict(args, admin_cards=world.cards[:2]))['proved']


@pytest.mark.bad_input
def test_a_backup_whose_volatile_file_and_manifest_were_rewritten_is_refused_with_its_manifest_hash(
        backed_up, tmp_path, monkeypatch):
    # token.object (the PINs' blobs) and the journal are not in the digest of the folder's name: rewriting one and
    # its manifest line keeps the name; the manifest's SHA-256 that world_backup returned pins them
    world, _key, backup = backed_up
    fresh, world_dir = _fresh_workstation(tmp_path, monkeypatch)
    journal = os.path.join(backup['backup_dir'], 'world', 'journal.jsonl')
    with open(journal, 'ab') as f:
        f.write(b'')
    import hashlib
    manifest = os.path.join(backup['backup_dir'], 'MANIFEST.sha256')
    lines = open(manifest).read().splitlines()
    with open(journal, 'rb') as f:
        data = f.read().replace(b'hsm_key', b'hsm_kez')
    with open(journal, 'wb') as f:
        f.write(data)
    lines = ['%s  %s' % (hashlib.sha256(data).hexdigest(), l.split('  ', 1)[1]) if l.endswith('  world/journal.jsonl')
             else l for l in lines]
    with open(manifest, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    args = {'backup_dir': backup['backup_dir'], 'world_dir': world_dir}
    r = run_module(world_restore, dict(args, expect_manifest_sha256=backup['manifest_sha256']))
    assert r.failed and 'this is not the backup that was made' in r['msg']
    assert not os.path.exists(world_dir) and os.listdir(fresh.tokendir) == []


def test_wrong_cards_leave_the_restored_world_unproved(backed_up, softhsm, tmp_path, monkeypatch, make_world):
    world, _key, backup = backed_up
    _lose_the_workstation(world, softhsm)
    _fresh, world_dir = _fresh_workstation(tmp_path, monkeypatch)
    r = run_module(world_restore, {'backup_dir': backup['backup_dir'], 'world_dir': world_dir,
                                   'admin_cards': world.cards[:1]})
    assert r.failed and '1 administrator card(s) given' in r['msg']
    r = run_module(world_restore, {'backup_dir': backup['backup_dir'], 'world_dir': world_dir,
                                   'admin_cards': [world.cards[0], dict(world.cards[1], pin='not-the-pin')]})
    assert r.failed and 'wrong card PIN' in r['msg'] and 'not-the-pin' not in r.raw
    # a restore that failed its proof is not left in place: the next run without cards does not find it "done"
    assert not os.path.exists(world_dir) and os.listdir(_fresh.tokendir) == []
    assert not [n for n in os.listdir(str(tmp_path)) if n.startswith('.byok-restore-')]
    assert not [n for n in os.listdir(os.path.dirname(world_dir)) if n.startswith('.byok-restore-')]
