# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The inputs of a ceremony, checked before anything is touched (the ceremony_preflight module).

Every check returns the problems it found as sentences that name the variable to change; all of
them are reported at once, so that one correction and one run again are enough.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import re

from ansible_collections.keyceremony.byok.plugins.module_utils._errors import ByokError
from ansible_collections.keyceremony.byok.plugins.module_utils._files import check_private_folder
from ansible_collections.keyceremony.byok.plugins.module_utils._values import check_tenant_id, normalize_sha256

# What each target takes as the tenant key: sizes, and why.
KEY_TARGETS = {
    'rms': ((2048,), 'the RMS tenant takes an RSA 2048 key for a new BYOK tenant key'),
    'adrms': ((1024, 2048), 'an AD RMS key is RSA 1024 (cryptographic mode 1) or RSA 2048 (cryptographic mode 2)'),
    'keyvault': ((2048,), 'Azure Key Vault imports RSA 2048, 3072 or 4096, and the RMS service takes its tenant key '
                          'from there as RSA 2048 only'),
}

QUORUM = re.compile(r'^\s*([0-9]+)\s*/\s*([0-9]+)\s*$')


def _empty(value):
    if value is None:
        return True
    if isinstance(value, (str, list, dict, tuple)) and not (value.strip() if isinstance(value, str) else value):
        return True
    return False


def missing_variables(required, given):
    """The names of the required variables that are not set or are empty (``given``: name -> whether it is; the
    values of secrets are never seen here)."""
    missing = sorted(name for name, value in (required or {}).items() if _empty(value))
    missing += sorted(name for name, given in (given or {}).items() if not given)
    return missing


def card_problems(card_paths, acl_cards, quorum, cards_variable, acl_variable):
    """The card list against the quorum K/N: all N cards, each with a path of its own; the ACL cards K or more
    different numbers from 1 to N (or none, for the first K)."""
    m = QUORUM.match(quorum or '')
    if not m:
        return ['the quorum %r is not K/N (for example 2/3)' % (quorum,)]
    k, n = int(m.group(1)), int(m.group(2))
    if not 1 <= k <= n:
        return ['the quorum %s needs 1 <= K <= N' % quorum]
    problems = []
    paths = list(card_paths or [])
    if len(paths) != n:
        problems.append('%s must list all %d cards of the quorum %s, and lists %d' % (cards_variable, n, quorum, len(paths)))
    unnamed = [i for i, path in enumerate(paths, 1) if _empty(path)]
    if unnamed:
        problems.append('%s: card %s has no path' % (cards_variable, ', '.join(str(i) for i in unnamed)))
    named = [path for path in paths if not _empty(path)]
    repeated = sorted(set(path for path in named if named.count(path) > 1))
    if repeated:
        problems.append('%s names %s more than once: each card needs a path of its own' % (cards_variable, ', '.join(repeated)))
    numbers = []
    for value in acl_cards or []:
        if isinstance(value, bool) or not re.match(r'^\s*[0-9]+\s*$', str(value)):
            problems.append('%s holds %r, which is not a card number' % (acl_variable, value))
            continue
        numbers.append(int(value))
    out_of_range = sorted(set(x for x in numbers if not 1 <= x <= n))
    if out_of_range:
        problems.append('%s names card %s, but the cards are numbered 1 to %d (the order of %s)'
                        % (acl_variable, ', '.join(str(x) for x in out_of_range), n, cards_variable))
    twice = sorted(set(x for x in numbers if numbers.count(x) > 1))
    if twice:
        problems.append('%s names card %s more than once' % (acl_variable, ', '.join(str(x) for x in twice)))
    if numbers and len(set(numbers)) < k:
        problems.append('%s must name at least %d different cards (the K of the quorum %s), or be empty for the first %d; '
                        'it names %d' % (acl_variable, k, quorum, k, len(set(numbers))))
    return problems


def form_problems(root_hash=None, kek_spki_sha256=None, tenant_id=None, names=None, media_tenant_id=None):
    """The form of the values typed from out of band: a SHA-256 is 64 hex digits, a tenant ID is a GUID, and the one
    given is the one the online workstation read from the tenant."""
    names = names or {}
    problems = []
    for value, option, of in ((root_hash, 'root_hash', 'the vendor root'),
                              (kek_spki_sha256, 'kek_spki_sha256', 'the KEK as the online workstation showed it')):
        if _empty(value):
            continue
        try:
            normalize_sha256(value, names.get(option, option), of, 'read it again from where it was given')
        except ByokError as e:
            problems.append(str(e))
    if not _empty(tenant_id):
        try:
            check_tenant_id(str(tenant_id))
        except ByokError as e:
            problems.append(str(e).replace('tenant_id', names.get('tenant_id', 'tenant_id'), 1))
        else:
            if not _empty(media_tenant_id) and str(tenant_id).strip().lower() != str(media_tenant_id).strip().lower():
                name = names.get('tenant_id', 'tenant_id')
                problems.append('%s is %s, but the online workstation read %s from the tenant (tenant.json on the '
                                'transfer media): correct %s, or leave it unset to use the media\'s'
                                % (name, str(tenant_id).strip(), str(media_tenant_id).strip(), name))
    return problems


def key_size_problems(key_size, target, variable):
    if key_size is None or not target:
        return []
    sizes, why = KEY_TARGETS[target]
    if key_size not in sizes:
        return ['%s is %s, but %s: set it to %s' % (variable, key_size, why, ' or '.join(str(s) for s in sizes))]
    return []


def check(params):
    """All the problems of the inputs, in one list (empty when they hold)."""
    names = params.get('variable_names') or {}
    problems = []
    missing = missing_variables(params.get('required'), params.get('given'))
    if missing:
        problems.append('not set: %s' % ', '.join(missing))
    if params.get('quorum') is not None:
        problems += card_problems(params.get('card_paths'), params.get('acl_cards'), params['quorum'],
                                  names.get('card_paths', 'card_paths'), names.get('acl_cards', 'acl_cards'))
    problems += form_problems(params.get('root_hash'), params.get('kek_spki_sha256'), params.get('tenant_id'), names,
                              params.get('media_tenant_id'))
    problems += key_size_problems(params.get('key_size'), params.get('key_target'), names.get('key_size', 'key_size'))
    problems += folder_problems(params.get('private_folders'))
    return problems


def folder_problems(folders):
    """A folder the ceremony writes its files to later must be this user's, and not one others can write to: said
    now, not at the step that writes there (after the card holders presented their cards)."""
    problems = []
    for folder in folders or []:
        if os.path.isdir(folder):
            try:
                check_private_folder(folder)
            except ByokError as e:
                problems.append(str(e))
    return problems
