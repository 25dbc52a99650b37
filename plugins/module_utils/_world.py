# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The security world: its descriptor, the administrator card set (the security officer PIN
split K-of-N, each share encrypted under its card's PIN) and the module credential (the token's
user PIN, which module-protected keys need and no card does).

Files in ``world_dir`` (all 0600, the folder 0700):

* ``world.json`` - the descriptor; its presence means the world is whole.
* ``world.pending.json`` - only while a world is being created: everything needed to finish
  it after an interruption (card files as written, which are encrypted under their PINs).
* ``module_credential.json`` - the user PIN.

Creation order, so that an interruption leaves no world or a resumable one, never a token
without its cards: pending state -> card files -> token -> user PIN -> descriptor.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import datetime
import hashlib
import hmac
import json
import os
import re
import secrets
import socket
from contextlib import contextmanager

from ansible_collections.keyceremony.byok.plugins.module_utils import _shamir
from ansible_collections.keyceremony.byok.plugins.module_utils._crypto import (
    ARGON2_MISSING, HAS_ARGON2, AuthenticationFailed, KdfParamsError, aead, aead_open, derive_key)
from ansible_collections.keyceremony.byok.plugins.module_utils._errors import CardError, WorldError
from ansible_collections.keyceremony.byok.plugins.module_utils._files import (
    canonical_json, ensure_private_dir, file_sha256, locked, read_json, sha256_hex, write_private_file, write_private_json)
from ansible_collections.keyceremony.byok.plugins.module_utils._hsm import (
    SO, USER, check_token_label, check_token_match, token_ref)

DESCRIPTOR = 'world.json'
PENDING = 'world.pending.json'
CREDENTIAL = 'module_credential.json'

WORLD_FORMAT = 'keyceremony.byok/world/1'
CARD_FORMAT = 'keyceremony.byok/admin-card/1'
CREDENTIAL_FORMAT = 'keyceremony.byok/module-credential/1'

MAX_CARDS = 64
CARD_PIN_MIN = 8

# cipher suite -> (kdf, aead). Argon2id (RFC 9106, 64 MiB, 3 passes) is the default;
# scrypt serves where the cryptography build lacks Argon2.
CIPHER_SUITES = {
    'argon2id-aes256gcm': ('argon2id', 'aes256gcm'),
    'argon2id-chacha20poly1305': ('argon2id', 'chacha20poly1305'),
    'scrypt-aes256gcm': ('scrypt', 'aes256gcm'),
}
DEFAULT_CIPHER_SUITE = 'argon2id-aes256gcm'

KDF_PARAMS = {
    'argon2id': {'memory_cost': 65536, 'iterations': 3, 'lanes': 4},
    'scrypt': {'n': 2 ** 17, 'r': 8, 'p': 1},
}

_QUORUM_RE = re.compile(r'^\s*(\d+)\s*/\s*(\d+)\s*$')


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


def parse_quorum(text):
    """'K/N' -> (K, N), refusing what no quorum can be."""
    m = _QUORUM_RE.match(text or '')
    if not m:
        raise WorldError('acs_quorum %r is not of the form "K/N" (for example "2/3")' % (text,))
    k, n = int(m.group(1)), int(m.group(2))
    if k < 1:
        raise WorldError('acs_quorum %s: K must be at least 1' % text)
    if k > n:
        raise WorldError('acs_quorum %s: K (cards needed) cannot exceed N (cards made)' % text)
    if n > MAX_CARDS:
        raise WorldError('acs_quorum %s: at most %d cards are supported' % (text, MAX_CARDS))
    return k, n


def _b64(data):
    return base64.b64encode(data).decode('ascii')


def _unb64(text):
    return base64.b64decode(text.encode('ascii'), validate=True)


def _secret_check(world_id, so_pin):
    # The SO PIN is 192 random bits, so its keyed hash reveals nothing useful and lets a
    # combined secret be checked before it ever reaches the HSM.
    return hmac.new(b'keyceremony.byok/so-pin-check', world_id.encode('ascii') + b'\0' + so_pin.encode('ascii'),
                    hashlib.sha256).hexdigest()


# ---------------------------------------------------------------- card crypto

def seal_card(world_id, index, quorum, cipher_suite, share, pin):
    """One card file's bytes: the share encrypted under a key derived from the card PIN.

    Everything but the ciphertext is authenticated as associated data, so moving a share to
    another card number or world breaks the tag.
    """
    kdf, cipher = CIPHER_SUITES[cipher_suite]
    header = {
        'format': CARD_FORMAT,
        'world_id': world_id,
        'card': index,
        'acs_quorum': quorum,
        'cipher_suite': cipher_suite,
        'kdf': dict(KDF_PARAMS[kdf], name=kdf, salt=_b64(secrets.token_bytes(16))),
        'nonce': _b64(secrets.token_bytes(12)),
    }
    key = derive_key(kdf, header['kdf'], _unb64(header['kdf']['salt']), pin)
    ciphertext = aead(cipher, key).encrypt(_unb64(header['nonce']), share, canonical_json(header))
    card = dict(header, ciphertext=_b64(ciphertext))
    return (canonical_json(card) + b'\n')


def parse_card(data, label):
    """Card bytes -> header dict; ``label`` names the card in every error."""
    try:
        card = json.loads(data.decode('utf-8'))
        if not isinstance(card, dict) or card.get('format') != CARD_FORMAT:
            raise ValueError()
        if not isinstance(card.get('card'), int) or not isinstance(card.get('kdf'), dict):
            raise ValueError()
        if any(not isinstance(card.get(k), str) for k in ('world_id', 'cipher_suite', 'nonce', 'ciphertext')):
            raise ValueError()
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise CardError('%s is not an administrator card file of this collection (or it is damaged)' % label)
    return card


def open_card(card, pin, label):
    """Decrypt a parsed card; a wrong PIN or an altered file both fail the AEAD tag."""
    if card['cipher_suite'] not in CIPHER_SUITES:
        raise CardError('%s uses an unknown cipher suite %r' % (label, card['cipher_suite']))
    kdf, cipher = CIPHER_SUITES[card['cipher_suite']]
    header = dict((k, v) for k, v in card.items() if k != 'ciphertext')
    try:
        params = card['kdf']
        if params.get('name') != kdf:
            raise ValueError()
        key = derive_key(kdf, params, _unb64(params['salt']), pin)
        return aead_open(cipher, key, _unb64(card['nonce']), _unb64(card['ciphertext']), canonical_json(header))
    except AuthenticationFailed:
        raise CardError('%s: wrong card PIN (or the card file was altered); check which card holder typed '
                        'which PIN' % label)
    except KdfParamsError as e:
        raise CardError('%s is refused before its PIN is tried: %s' % (label, e))
    except (ValueError, KeyError, TypeError):
        raise CardError('%s is damaged: its key-derivation settings cannot be read' % label)


# ---------------------------------------------------------------- the world

class World(object):
    """The files of one security world in ``world_dir``."""

    def __init__(self, world_dir):
        self.dir = os.path.abspath(world_dir)
        self.descriptor_path = os.path.join(self.dir, DESCRIPTOR)
        self.pending_path = os.path.join(self.dir, PENDING)
        self.credential_path = os.path.join(self.dir, CREDENTIAL)

    def exists(self):
        return os.path.isfile(self.descriptor_path)

    @contextmanager
    def changing(self, check_mode=False):
        """Hold the world's lock while a step reads the token and the world's files and changes them.

        The one lock of a world, for its creation and for every step that changes it. Two runs at
        once on one world (two terminals, two playbooks) would otherwise both find a key missing and
        both generate it - and a tenant key can never be destroyed. The second run waits, then finds
        what the first made. Check mode changes nothing and takes no lock.
        """
        if check_mode:
            yield
            return
        with locked(self.dir):
            yield

    def pending(self):
        return os.path.isfile(self.pending_path)

    def descriptor(self):
        if not self.exists():
            raise WorldError('there is no security world in %s (no %s); create it with '
                             'keyceremony.byok.security_world first' % (self.dir, DESCRIPTOR))
        d = read_json(self.descriptor_path, 'world descriptor')
        if d.get('format') != WORLD_FORMAT:
            raise WorldError('%s is not a world descriptor of this collection' % self.descriptor_path)
        return d

    def user_pin(self):
        """The module credential: lets module-protected keys be used with no card."""
        world_id = self.descriptor()['world_id']
        cred = read_json(self.credential_path, "world's module credential")
        if cred.get('world_id') != world_id or not cred.get('user_pin'):
            raise WorldError('the module credential %s does not belong to world %s; restore it from the world '
                             'backup' % (self.credential_path, world_id))
        return cred['user_pin']

    def card_label(self, index, path):
        return 'card %d (%s)' % (index, path) if index else 'card %s' % path

    def public_descriptor(self):
        d = self.descriptor()
        return dict((k, v) for k, v in d.items() if k != 'so_pin_check')


def summarize(descriptor, world):
    """What the modules return for a world: ids, quorum, cards by path and fingerprint."""
    return {
        'world_id': descriptor['world_id'],
        'token_label': descriptor['token_label'],
        'token_serial': descriptor['token_serial'],
        'acs_quorum': descriptor['acs_quorum'],
        'cipher_suite': descriptor['cipher_suite'],
        'world_file': world.descriptor_path,
        'cards': [{'card': c['card'], 'path': c['path'], 'fingerprint': c['fingerprint']}
                  for c in descriptor['cards']],
    }


def recover_so_pin(world_dir, cards):
    """Rebuild the security officer PIN from K (or more) admin cards.

    ``cards`` is a list of {'path', 'pin'}. Refuses, naming the card: fewer than K cards, the
    same card twice, a card of another world, an altered card, a wrong card PIN. Nothing
    touches the HSM here: the caller logs in only with a PIN that passed the world's check.
    """
    world = World(world_dir)
    desc = world.descriptor()
    k = desc['quorum_k']
    by_fingerprint = dict((c['fingerprint'], c['card']) for c in desc['cards'])
    cards = cards or []
    if len(cards) < k:
        raise CardError('%d administrator card(s) given; world %s needs %d of its %d cards (quorum %s)'
                        % (len(cards), desc['world_id'], k, desc['quorum_n'], desc['acs_quorum']))
    parsed = []
    seen = {}
    # Cheap checks on every card first, so a mistake is reported before any slow KDF runs.
    for entry in cards:
        path = entry['path']
        try:
            with open(path, 'rb') as f:
                data = f.read()
        except IOError as e:
            raise CardError('card %s cannot be read: %s; check the card is inserted and the path is right'
                            % (path, e.strerror))
        card = parse_card(data, 'card %s' % path)
        label = world.card_label(card['card'], path)
        if card['world_id'] != desc['world_id']:
            raise CardError('%s belongs to world %s, not to this world %s; use this world\'s cards'
                            % (label, card['world_id'], desc['world_id']))
        fingerprint = sha256_hex(data)
        if by_fingerprint.get(fingerprint) != card['card']:
            raise CardError('%s was altered: its fingerprint %s is not the one this world recorded for card %d'
                            % (label, fingerprint, card['card']))
        if card['card'] in seen:
            raise CardError('%s and %s are the same card (card %d) given twice; each card holder presents '
                            'their own card' % (label, seen[card['card']], card['card']))
        seen[card['card']] = label
        if not entry.get('pin'):
            raise CardError('%s: no PIN given; the card holder must give the card\'s PIN' % label)
        parsed.append((card, entry['pin'], label))
    return _combine(parsed, desc['world_id'], desc['so_pin_check'])


def _combine(parsed, world_id, so_pin_check):
    """Open each (card, pin, label), combine the shares, and check the result against the world."""
    shares = [(card['card'], open_card(card, pin, label)) for card, pin, label in parsed]
    try:
        so_pin = _shamir.combine(shares).decode('ascii')
    except (ValueError, UnicodeDecodeError):
        so_pin = None
    if so_pin is None or not hmac.compare_digest(_secret_check(world_id, so_pin), so_pin_check):
        raise CardError('the cards %s opened but do not combine to this world\'s security officer PIN; one of '
                        'them is corrupted' % ', '.join(entry[2] for entry in parsed))
    return so_pin


def _check_card_entries(cards, n, creating):
    if len(cards) != n:
        raise WorldError('admin_cards has %d entries; a %d-card set needs exactly %d (one per card holder)'
                         % (len(cards), n, n))
    paths = [os.path.abspath(c['path']) for c in cards]
    if len(set(paths)) != len(paths):
        raise WorldError('admin_cards names the same path twice; every card needs its own file')
    if creating:
        for c in cards:
            if not c.get('pin') or len(c['pin']) < CARD_PIN_MIN:
                raise WorldError('the PIN of card %s is shorter than %d characters; give each card a PIN of at '
                                 'least %d characters' % (c['path'], CARD_PIN_MIN, CARD_PIN_MIN))


class WorldSpec(object):
    """What the user asked for."""

    def __init__(self, world_dir, token_label, acs_quorum, admin_cards, cipher_suite):
        # a label, or an RFC 7512 URI whose serial, manufacturer and model the token must have
        self.token_given = token_label
        self.token_label, self.token_match = token_ref(token_label)
        check_token_label(self.token_label)
        self.world = World(world_dir)
        self.k, self.n = parse_quorum(acs_quorum)
        self.acs_quorum = '%d/%d' % (self.k, self.n)
        self.cards = [{'path': os.path.abspath(c['path']), 'pin': c.get('pin')} for c in (admin_cards or [])]
        if cipher_suite not in CIPHER_SUITES:
            raise WorldError('cipher_suite %r is unknown; choose one of %s' % (cipher_suite, ', '.join(sorted(CIPHER_SUITES))))
        if CIPHER_SUITES[cipher_suite][0] == 'argon2id' and not HAS_ARGON2:
            raise WorldError('cipher_suite %s cannot be used here: %s; upgrade cryptography or choose '
                             'scrypt-aes256gcm' % (cipher_suite, ARGON2_MISSING))
        self.cipher_suite = cipher_suite


def _compare_existing(spec, desc, hsm):
    """An existing world must be the one asked for; anything else is an error, never a change."""
    where = spec.world.descriptor_path
    if desc['token_label'] != spec.token_label:
        raise WorldError('the world in %s uses token %r, not %r; point world_dir at the world of token %r or '
                         'fix token_label' % (where, desc['token_label'], spec.token_label, spec.token_label))
    if desc['acs_quorum'] != spec.acs_quorum:
        raise WorldError('the world in %s has quorum %s, not %s; a world\'s quorum cannot change'
                         % (where, desc['acs_quorum'], spec.acs_quorum))
    if desc['cipher_suite'] != spec.cipher_suite:
        raise WorldError('the world in %s uses cipher suite %s, not %s' % (where, desc['cipher_suite'], spec.cipher_suite))
    if spec.cards:
        _check_card_entries(spec.cards, spec.n, creating=False)
        known = dict((c['fingerprint'], c['card']) for c in desc['cards'])
        for c in spec.cards:
            if not os.path.isfile(c['path']):
                raise WorldError('card %s is not there; insert the world\'s cards, or leave admin_cards out to '
                                 'check an existing world without them' % c['path'])
            if file_sha256(c['path']) not in known:
                raise WorldError('card %s is not one of the cards of the world in %s' % (c['path'], where))
    token = hsm.find_token(spec.token_label, required=False)
    if token is None:
        raise WorldError('the world in %s is on token %r (serial %s), which is not present; check that the HSM '
                         'is connected (for SoftHSM2: SOFTHSM2_CONF)' % (where, desc['token_label'], desc['token_serial']))
    if token.serial != desc['token_serial']:
        raise WorldError('token %r has serial %s, but the world in %s was made on serial %s; it is another token '
                         'with the same label' % (spec.token_label, token.serial, where, desc['token_serial']))
    check_token_match(token, spec.token_match, spec.token_given)


def _new_pending(spec):
    world_id = secrets.token_hex(16)
    so_pin = secrets.token_urlsafe(24)
    user_pin = secrets.token_urlsafe(24)
    shares = _shamir.split(so_pin.encode('ascii'), spec.k, spec.n)
    cards = []
    for (x, share), entry in zip(shares, spec.cards):
        blob = seal_card(world_id, x, spec.acs_quorum, spec.cipher_suite, share, entry['pin'])
        cards.append({'card': x, 'path': entry['path'], 'fingerprint': sha256_hex(blob), 'file': _b64(blob)})
    pending = {
        'format': WORLD_FORMAT + '+pending',
        'world_id': world_id,
        'token_label': spec.token_label,
        'acs_quorum': spec.acs_quorum,
        'quorum_k': spec.k,
        'quorum_n': spec.n,
        'cipher_suite': spec.cipher_suite,
        'so_pin_check': _secret_check(world_id, so_pin),
        'cards': cards,
        'started': utcnow(),
        'host': socket.gethostname(),
    }
    return pending, so_pin, user_pin


def _recover_pending_so_pin(spec, pending):
    """Re-open the pending world's own card blobs with the PINs given now."""
    by_path = dict((c['path'], c) for c in pending['cards'])
    parsed = []
    for entry in spec.cards:
        card_rec = by_path[entry['path']]
        label = 'card %d (%s)' % (card_rec['card'], entry['path'])
        parsed.append((parse_card(_unb64(card_rec['file']), label), entry['pin'], label))
    return _combine(parsed, pending['world_id'], pending['so_pin_check'])


def _check_pending_matches(spec, pending):
    same = (pending.get('token_label') == spec.token_label and pending.get('acs_quorum') == spec.acs_quorum
            and pending.get('cipher_suite') == spec.cipher_suite
            and sorted(c['path'] for c in pending.get('cards', [])) == sorted(c['path'] for c in spec.cards))
    if not same:
        raise WorldError('an unfinished world creation (%s, started %s) used other options (token %r, quorum %s, '
                         'cards %s); re-run with those options to finish it, or remove that file and the card '
                         'files it lists to start over'
                         % (spec.world.pending_path, pending.get('started'), pending.get('token_label'),
                            pending.get('acs_quorum'), ', '.join(c['path'] for c in pending.get('cards', []))))


def ensure_world(hsm, spec, check_mode=False):
    """Create the world, finish an interrupted creation, or confirm an existing one.

    Returns (changed, descriptor or None in check mode, actions). Check mode runs every
    check the real run does and writes nothing (not even the folder or its lock).
    """
    world = spec.world
    if world.exists():
        desc = world.descriptor()
        _compare_existing(spec, desc, hsm)
        if world.pending():
            # a run killed between writing the descriptor and removing the pending file: finish it
            if check_mode:
                return True, desc, ['remove %s left by a creation cut off at its end' % world.pending_path]
            with world.changing():
                if world.pending() and read_json(world.pending_path, 'unfinished world').get('world_id') == desc['world_id']:
                    os.unlink(world.pending_path)
                    return True, desc, ['remove %s left by a creation cut off at its end' % world.pending_path]
        return False, desc, []
    _check_card_entries(spec.cards, spec.n, creating=True)
    if check_mode:
        return True, None, _plan(spec, hsm)
    ensure_private_dir(world.dir)
    with world.changing():
        if world.exists():  # another run finished it while this one waited for the lock
            desc = world.descriptor()
            _compare_existing(spec, desc, hsm)
            return False, desc, []
        actions = _plan(spec, hsm)
        pending = _load_pending(spec)
        if pending is None:
            pending, so_pin, user_pin = _new_pending(spec)
            credential = {'format': CREDENTIAL_FORMAT, 'world_id': pending['world_id'], 'user_pin': user_pin}
            write_private_json(world.credential_path, credential)
            write_private_json(world.pending_path, pending)
        else:
            so_pin = _recover_pending_so_pin(spec, pending)
            user_pin = read_json(world.credential_path, "unfinished world's module credential")['user_pin']
        for c in pending['cards']:
            if not os.path.exists(c['path']):
                ensure_private_dir(os.path.dirname(c['path']))
                write_private_file(c['path'], _unb64(c['file']), exclusive=True)
        token = _init_token(hsm, spec, so_pin, user_pin)
        desc = dict((k, v) for k, v in pending.items() if k not in ('format', 'started', 'cards'))
        desc.update({
            'format': WORLD_FORMAT,
            'token_serial': token.serial,
            'created': utcnow(),
            'cards': [{'card': c['card'], 'path': c['path'], 'fingerprint': c['fingerprint']} for c in pending['cards']],
        })
        write_private_json(world.descriptor_path, desc)
        os.unlink(world.pending_path)
        return True, desc, actions


def _load_pending(spec):
    if not spec.world.pending():
        return None
    pending = read_json(spec.world.pending_path, 'unfinished world')
    _check_pending_matches(spec, pending)
    return pending


def _plan(spec, hsm):
    """Every refusal a creation can meet, checked before anything is written; returns the steps."""
    pending = _load_pending(spec)
    if pending is not None:
        for c in pending['cards']:
            if os.path.exists(c['path']) and file_sha256(c['path']) != c['fingerprint']:
                raise WorldError('card path %s already holds another file; the unfinished world expects its '
                                 'own card %d there' % (c['path'], c['card']))
        return ['finish the unfinished world %s started %s' % (pending['world_id'], pending.get('started'))]
    for c in spec.cards:
        if os.path.lexists(c['path']):
            raise WorldError('card path %s already exists; a new card never overwrites a file, give an '
                             'empty place for each card' % c['path'])
    token = hsm.find_token(spec.token_label, required=False)
    if token is not None:
        raise WorldError('token %r (serial %s) already exists and is not the world in %s (there is no %s '
                         'there); choose another token_label, or point world_dir at that token\'s world'
                         % (spec.token_label, token.serial, spec.world.dir, DESCRIPTOR))
    if 'serial' in spec.token_match:
        raise WorldError('token_label %s names a serial, but token %r does not exist yet: the HSM gives a token its '
                         'serial when it is made. Give token=%s alone to make the world; pin the serial afterwards'
                         % (spec.token_given, spec.token_label, spec.token_label))
    # the URI's manufacturer and model are the HSM's: checked on the free slot, before the token is made
    check_token_match(hsm.free_token(), spec.token_match, spec.token_given)
    return ['create world folder %s' % spec.world.dir, 'write %d admin cards (quorum %s)' % (spec.n, spec.acs_quorum),
            'initialise token %r' % spec.token_label]


def _init_token(hsm, spec, so_pin, user_pin):
    token = hsm.find_token(spec.token_label, required=False)
    if token is None:
        token = hsm.init_token(hsm.free_slot(), spec.token_label, so_pin)
    # Resuming: the token may already be ours; the SO login below proves it (or refuses).
    with hsm.session(spec.token_label, login=SO, pin=so_pin, who="the world's security officer PIN") as s:
        s.init_user_pin(user_pin)
    with hsm.session(spec.token_label, login=USER, pin=user_pin, who="the world's module credential"):
        pass
    token = hsm.find_token(spec.token_label)
    check_token_match(token, spec.token_match, spec.token_given)
    return token


class WorldContext(object):
    """An existing world and its token, for modules that use the world without cards."""

    def __init__(self, hsm, world_dir, token_label=None):
        self.world = World(world_dir)
        self.descriptor = self.world.descriptor()
        label, match = token_ref(token_label)
        self.token_label = label or self.descriptor['token_label']
        if self.token_label != self.descriptor['token_label']:
            raise WorldError('token_label %r is not the token of the world in %s (%r)'
                             % (self.token_label, self.world.dir, self.descriptor['token_label']))
        self.hsm = hsm
        token = hsm.find_token(self.token_label)
        if token.serial != self.descriptor['token_serial']:
            raise WorldError('token %r has serial %s, but the world in %s was made on serial %s'
                             % (self.token_label, token.serial, self.world.dir, self.descriptor['token_serial']))
        check_token_match(token, match, token_label)
        self.token = token

    def user_session(self, rw=False):
        return self.hsm.session(self.token_label, login=USER, pin=self.world.user_pin(), rw=rw,
                                who="the world's module credential")

    def so_session(self, so_pin):
        return self.hsm.session(self.token_label, login=SO, pin=so_pin, rw=True,
                                who='the security officer PIN rebuilt from the admin cards')
