# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the offline workstation role leaves in its container, read from outside the role."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import hashlib
import json
import os
import re

import pytest

from conftest import files_holding, read_json

WORLD = '/var/lib/keyceremony/world'
PINS = ['molecule-card-pin-one', 'molecule-card-pin-two', 'molecule-card-pin-three']
SOFTHSM = '/usr/lib/softhsm/libsofthsm2.so'


@pytest.fixture(scope='module')
def ws(hosts):
    return hosts['byok-offline']


def test_no_network_at_all(ws):
    interfaces = [line.split(':')[0].strip() for line in ws.run('cat /proc/net/dev').stdout.splitlines()[2:]]
    assert interfaces == ['lo']


def test_world_files_and_modes(ws):
    world = ws.file(WORLD)
    assert world.is_directory and world.mode == 0o700 and world.user == 'root'
    names = ws.run('ls -A %s' % WORLD).stdout.split()
    assert {'world.json', 'module_credential.json', 'journal.jsonl', 'key_simple_contosokey',
            'key_simple_xferacl_contosokey'} <= set(names)
    for name in names:
        assert ws.file(os.path.join(WORLD, name)).mode == 0o600, name
    desc = read_json(ws, WORLD + '/world.json')
    assert (desc['quorum_k'], desc['quorum_n'], desc['token_label']) == (2, 3, 'byok-world')
    for card in desc['cards']:
        assert ws.file(card['path']).mode == 0o600
    for folder in ('/var/lib/keyceremony/cards', '/var/lib/keyceremony/media', '/var/lib/keyceremony/backup'):
        assert ws.file(folder).mode == 0o700


def test_key_attributes_read_with_pkcs11_tool(ws):
    pin = read_json(ws, WORLD + '/module_credential.json')['user_pin']
    out = ws.run('pkcs11-tool --module %s --token-label byok-world --login --pin %s --list-objects 2>/dev/null'
                 % (SOFTHSM, pin))  # the PIN is URL-safe base64: no quoting needed
    assert out.rc == 0
    objects = {}
    for block in _blocks(out.stdout):
        lines = [line.strip() for line in block.strip().splitlines()]
        if not lines:
            continue
        attrs = dict(line.split(':', 1) for line in lines[1:] if ':' in line)
        label = attrs.get('label', '').strip()
        objects.setdefault(label, []).append((lines[0], dict((k.strip(), v.strip()) for k, v in attrs.items())))
    private = [a for kind, a in objects['key_simple_contosokey'] if kind.startswith('Private Key')][0]
    public = [kind for kind, a in objects['key_simple_contosokey'] if kind.startswith('Public Key')][0]
    assert 'RSA 2048' in public
    # sensitive since it was made, made on the token, exportable only under a trusted key
    assert {'sensitive', 'always sensitive', 'local'} <= set(x.strip() for x in private['Access'].split(','))
    assert private['Usage'] == 'decrypt, sign'
    copy = [a for kind, a in objects['key_simple_xferacl_contosokey'] if kind.startswith('Private Key')][0]
    assert copy['Usage'] == 'none' and 'sensitive' in copy['Access']
    assert any(label.startswith('kek_BYOK-KEK-NA-1') for label in objects)


def _blocks(text):
    blocks, current = [], []
    for line in text.splitlines():
        if line and not line.startswith(' ') and current:
            blocks.append('\n'.join(current))
            current = []
        current.append(line)
    if current:
        blocks.append('\n'.join(current))
    return blocks


def test_package_on_the_workstation_and_the_media(ws, controller):
    record = json.load(open(os.path.join(controller, 'transfer', 'offline-byok-offline.json')))
    package = '/var/lib/keyceremony/media/' + record['package']
    assert ws.file(package).mode == 0o600
    assert ws.file(package).sha256sum == record['package_sha256']
    on_media = os.path.join(controller, 'transfer', record['package'])
    with open(on_media, 'rb') as f:
        assert hashlib.sha256(f.read()).hexdigest() == record['package_sha256']
    with open(on_media + '.sha256') as f:
        assert f.read() == '%s  %s\n' % (record['package_sha256'], record['package'])
    tenant = json.load(open(os.path.join(controller, 'tenant.json')))
    assert record['tenant_id'] == tenant['tenant_id'] and record['key_name'] == 'key_simple_contosokey'


def test_the_journal_records_each_step(ws):
    records = [json.loads(line) for line in ws.file(WORLD + '/journal.jsonl').content_string.splitlines()]
    done = [r['module'] for r in records if r['outcome'] == 'changed']
    assert done == ['security_world', 'hsm_key', 'world_backup', 'key_acl', 'transfer_package', 'world_backup']
    assert all(r['prev'] == p['hash'] for p, r in zip(records, records[1:]))


def test_no_secret_outside_its_place(ws, controller):
    for pin in PINS:
        assert files_holding(ws, pin) == []
        assert _controller_files_holding(controller, pin) == []
    user_pin = read_json(ws, WORLD + '/module_credential.json')['user_pin']
    # the module credential lives in the world, and in the backups of the world made for the safe
    holding = files_holding(ws, user_pin)
    assert WORLD + '/module_credential.json' in holding
    backup = re.compile(r'^/var/lib/keyceremony/backup/world-[0-9a-f]+-[0-9a-f]+/world/module_credential.json$')
    assert all(f == WORLD + '/module_credential.json' or backup.match(f) for f in holding)
    assert _controller_files_holding(controller, user_pin) == []
    # nothing of a module run is left behind
    assert ws.run('find /root/.ansible/tmp -mindepth 1 2>/dev/null').stdout.strip() == ''


def _controller_files_holding(folder, secret):
    found = []
    for root, _dirs, files in os.walk(folder):
        for name in files:
            with open(os.path.join(root, name), 'rb') as f:
                if secret.encode() in f.read():
                    found.append(os.path.join(root, name))
    return found
