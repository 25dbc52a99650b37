# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Security worlds on real SoftHSM2 tokens: the card quorum and crash-safe creation."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import shutil

import pytest

from ansible_collections.keyceremony.byok.plugins.module_utils import _world
from ansible_collections.keyceremony.byok.plugins.module_utils._errors import CardError, WorldError
from ansible_collections.keyceremony.byok.plugins.module_utils._hsm import SO, Hsm
from ansible_collections.keyceremony.byok.plugins.module_utils._world import (
    World, WorldSpec, ensure_world, parse_quorum, recover_so_pin)

from ansible_collections.keyceremony.byok.tests.unit.helpers import cards_for


def _so_login_works(label, so_pin):
    with Hsm() as hsm:
        with hsm.session(label, login=SO, pin=so_pin):
            return True


@pytest.mark.parametrize('cards', [(0, 1), (1, 2), (0, 2), (0, 1, 2)])
def test_any_k_cards_open_the_world(world, cards):
    so_pin = recover_so_pin(world.dir, [world.cards[i] for i in cards])
    assert _so_login_works(world.token_label, so_pin)


@pytest.mark.bad_input
def test_k_minus_one_cards_are_refused(world):
    with pytest.raises(CardError, match='1 administrator card\\(s\\) given; world .* needs 2 of its 3 cards'):
        recover_so_pin(world.dir, world.cards[:1])


@pytest.mark.bad_input
def test_the_same_card_twice_is_refused(world):
    with pytest.raises(CardError, match='are the same card \\(card 1\\) given twice'):
        recover_so_pin(world.dir, [world.cards[0], world.cards[0]])


def test_a_copied_card_is_the_same_card(world, tmp_path):
    copy = str(tmp_path / 'copy-of-card1')
    shutil.copy(world.cards[0]['path'], copy)
    with pytest.raises(CardError, match='card 1 .*copy-of-card1.* are the same card|card 1 .* and card 1 .*copy-of-card1'):
        recover_so_pin(world.dir, [world.cards[0], {'path': copy, 'pin': world.cards[0]['pin']}])


@pytest.mark.bad_input
def test_a_card_of_another_world_is_refused(make_world):
    a = make_world('wa')
    b = make_world('wb')
    with pytest.raises(CardError) as e:
        recover_so_pin(a.dir, [a.cards[0], b.cards[1]])
    assert 'card 2 (%s) belongs to world %s, not to this world %s' % (b.cards[1]['path'], b.id, a.id) in str(e.value)


@pytest.mark.bad_input
def test_a_wrong_card_pin_names_the_card(world):
    wrong = dict(world.cards[1], pin='not-the-pin')
    with pytest.raises(CardError) as e:
        recover_so_pin(world.dir, [world.cards[0], wrong])
    assert str(e.value).startswith('card 2 (%s): wrong card PIN' % wrong['path'])
    assert 'not-the-pin' not in str(e.value)


@pytest.mark.bad_input
def test_a_tampered_card_is_refused(world):
    path = world.cards[2]['path']
    card = json.load(open(path))
    ct = bytearray(__import__('base64').b64decode(card['ciphertext']))
    ct[0] ^= 1
    card['ciphertext'] = __import__('base64').b64encode(bytes(ct)).decode()
    with open(path, 'w') as f:
        json.dump(card, f)
    with pytest.raises(CardError, match='card 3 .* was altered: its fingerprint'):
        recover_so_pin(world.dir, [world.cards[0], world.cards[2]])


@pytest.mark.bad_input
@pytest.mark.parametrize('change,msg', [
    ({'memory_cost': 3 * 1024 * 1024}, 'memory_cost=3145728 is outside 8..65536'),
    ({'memory_cost': 2 ** 32 - 1}, 'memory_cost=4294967295 is outside'),
    ({'iterations': 1000}, 'iterations=1000 is outside 1..3'),
    ({'lanes': 0}, 'lanes=0 is outside 1..4'),
    ({'iterations': True}, 'iterations=True is outside'),
])
def test_a_card_cannot_choose_what_opening_it_costs(world, change, msg):
    # the KDF settings are read from the card file: a forged one is refused before Argon2id runs, at once
    import time
    card = _world.parse_card(open(world.cards[0]['path'], 'rb').read(), 'card 1')
    card['kdf'].update(change)
    started = time.monotonic()
    with pytest.raises(CardError, match='card 1 is refused before its PIN is tried: argon2id ' + msg.replace('.', r'\.')):
        _world.open_card(card, world.cards[0]['pin'], 'card 1')
    assert time.monotonic() - started < 0.5


def test_the_kdf_limits_cover_what_the_collection_writes():
    from ansible_collections.keyceremony.byok.plugins.module_utils import _crypto
    for kdf, params in list(_world.KDF_PARAMS.items()) + [('argon2id', _crypto.PASSWORD_KDF)]:
        _crypto.check_kdf_params(kdf, params, b'\0' * 16)


@pytest.mark.bad_input
def test_a_card_renumbered_is_refused(world):
    # Even with a matching fingerprint list, the number is bound into the AEAD.
    path = world.cards[1]['path']
    card = json.load(open(path))
    card['card'] = 3
    with open(path, 'w') as f:
        json.dump(card, f)
    with pytest.raises(CardError, match='was altered'):
        recover_so_pin(world.dir, [world.cards[0], world.cards[1]])


@pytest.mark.bad_input
def test_a_missing_card_and_a_non_card(world, tmp_path):
    with pytest.raises(CardError, match='cannot be read'):
        recover_so_pin(world.dir, [world.cards[0], {'path': str(tmp_path / 'nothing'), 'pin': 'x' * 8}])
    junk = tmp_path / 'junk'
    junk.write_text('{"hello": 1}')
    with pytest.raises(CardError, match='is not an administrator card file'):
        recover_so_pin(world.dir, [world.cards[0], {'path': str(junk), 'pin': 'x' * 8}])


def test_cards_and_world_files_are_private(world):
    for c in world.cards:
        assert oct(os.stat(c['path']).st_mode & 0o777) == oct(0o600)
    assert oct(os.stat(world.dir).st_mode & 0o777) == oct(0o700)
    for name in os.listdir(world.dir):
        assert oct(os.stat(os.path.join(world.dir, name)).st_mode & 0o777) == oct(0o600), name


def test_no_secret_in_the_world_files(world):
    secrets = [c['pin'] for c in world.cards] + [recover_so_pin(world.dir, world.cards)]
    for name in os.listdir(world.dir):
        if name == _world.CREDENTIAL:
            continue
        text = open(os.path.join(world.dir, name)).read()
        for s in secrets + [World(world.dir).user_pin()]:
            assert s not in text
    for c in world.cards:
        text = open(c['path']).read()
        for s in secrets:
            assert s not in text


@pytest.mark.parametrize('cipher_suite', ['scrypt-aes256gcm', 'argon2id-chacha20poly1305'])
def test_other_cipher_suites(make_world, cipher_suite):
    w = make_world('cs', '2/2', cipher_suite)
    assert w.descriptor['cipher_suite'] == cipher_suite
    assert _so_login_works('cs', recover_so_pin(w.dir, w.cards))


@pytest.mark.parametrize('text,msg', [
    ('3/2', 'cannot exceed'), ('0/3', 'at least 1'), ('2/65', 'at most 64'), ('two of three', 'not of the form'),
])
def test_impossible_quorums(text, msg):
    with pytest.raises(WorldError, match=msg):
        parse_quorum(text)


def test_a_one_of_one_world(make_world):
    w = make_world('solo', '1/1')
    assert _so_login_works('solo', recover_so_pin(w.dir, w.cards))


# ---------------------------------------------------------------- interruption

class Interrupted(Exception):
    pass


def _spec(tmp_path, label='crash'):
    return WorldSpec(str(tmp_path / 'world'), label, '2/3', cards_for(tmp_path, 3), 'argon2id-aes256gcm')


def _crash_before_the_token(tmp_path, monkeypatch):
    """Run a creation that stops just before the token is initialised; return its spec."""
    def boom(*args, **kwargs):
        raise Interrupted()
    spec = _spec(tmp_path)
    with monkeypatch.context() as m:
        m.setattr(_world, '_init_token', boom)
        with Hsm() as hsm, pytest.raises(Interrupted):
            ensure_world(hsm, spec)
    return spec


def test_interrupted_before_the_token_then_finished(softhsm, tmp_path, monkeypatch):
    spec = _crash_before_the_token(tmp_path, monkeypatch)
    world = World(spec.world.dir)
    assert world.pending() and not world.exists()
    with Hsm() as hsm:
        assert hsm.find_token('crash', required=False) is None
        changed, desc, actions = ensure_world(hsm, _spec(tmp_path))
    assert changed and 'finish the unfinished world' in actions[0]
    assert world.exists() and not world.pending()
    assert _so_login_works('crash', recover_so_pin(spec.world.dir, spec.cards[1:]))


def test_interrupted_after_the_token_then_finished(softhsm, tmp_path, monkeypatch):
    spec = _spec(tmp_path)
    real_write = _world.write_private_json

    def fail_on_descriptor(path, obj, exclusive=False):
        if path.endswith(_world.DESCRIPTOR):
            raise Interrupted()
        return real_write(path, obj, exclusive)
    with monkeypatch.context() as m:
        m.setattr(_world, 'write_private_json', fail_on_descriptor)
        with Hsm() as hsm, pytest.raises(Interrupted):
            ensure_world(hsm, spec)
    with Hsm() as hsm:
        serial = hsm.find_token('crash').serial
        changed, desc, actions = ensure_world(hsm, _spec(tmp_path))
    assert changed and desc['token_serial'] == serial
    assert _so_login_works('crash', recover_so_pin(spec.world.dir, spec.cards[:2]))


def test_interrupted_while_writing_cards(softhsm, tmp_path, monkeypatch):
    spec = _spec(tmp_path)
    real_write = _world.write_private_file
    calls = []

    def second_card_fails(path, data, exclusive=False):
        calls.append(path)
        if len(calls) == 2:
            raise Interrupted()
        return real_write(path, data, exclusive)
    with monkeypatch.context() as m:
        m.setattr(_world, 'write_private_file', second_card_fails)
        with Hsm() as hsm, pytest.raises(Interrupted):
            ensure_world(hsm, spec)
    assert os.path.exists(spec.cards[0]['path']) and not os.path.exists(spec.cards[1]['path'])
    with Hsm() as hsm:
        assert ensure_world(hsm, _spec(tmp_path))[0]
    assert _so_login_works('crash', recover_so_pin(spec.world.dir, spec.cards[1:]))


@pytest.mark.bad_input
def test_unfinished_world_with_other_options_is_refused(softhsm, tmp_path, monkeypatch):
    spec = _crash_before_the_token(tmp_path, monkeypatch)
    other = WorldSpec(spec.world.dir, 'crash', '3/3', cards_for(tmp_path, 3), 'argon2id-aes256gcm')
    with Hsm() as hsm, pytest.raises(WorldError, match='unfinished world creation .* used other options'):
        ensure_world(hsm, other)


@pytest.mark.bad_input
def test_resume_with_a_wrong_pin_names_the_card(softhsm, tmp_path, monkeypatch):
    spec = _crash_before_the_token(tmp_path, monkeypatch)
    again = _spec(tmp_path)
    again.cards[2]['pin'] = 'wrong-wrong'
    with Hsm() as hsm, pytest.raises(CardError, match='card 3 .*: wrong card PIN'):
        ensure_world(hsm, again)
    with Hsm() as hsm:
        assert hsm.find_token('crash', required=False) is None
