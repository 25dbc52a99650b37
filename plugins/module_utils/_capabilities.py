# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the ceremony asks of a PKCS#11 library, and whether this one offers it: read from the library's mechanism list
(C_GetMechanismList, C_GetMechanismInfo) and the token's flags before anything is touched, so a library that lacks a
mechanism stops the ceremony with the mechanism's name, not half-way with CKR_MECHANISM_INVALID."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.keyceremony.byok.plugins.module_utils._hsm import (
    RFC5649_MECHANISMS, HsmError, check_token_match, rfc5649_mechanism, token_ref)

# RFC 5649 AES key wrap with padding: the numbers in the order Session.aes_key_wrap_pad takes them
AES_KEY_WRAP_PAD = RFC5649_MECHANISMS
# the one-call RSA-AES key wrap; the ceremony makes the same bytes in two steps (RSA-OAEP, then RFC 5649)
RSA_AES_KEY_WRAP = 'CKM_RSA_AES_KEY_WRAP'

# CKF_* of CK_MECHANISM_INFO and CK_TOKEN_INFO, by value (PKCS#11 2.40 and 3.0)
MECHANISM_FLAGS = {'CKF_HW': 0x1, 'CKF_ENCRYPT': 0x100, 'CKF_DECRYPT': 0x200, 'CKF_DIGEST': 0x400,
                   'CKF_SIGN': 0x800, 'CKF_VERIFY': 0x2000, 'CKF_GENERATE': 0x8000,
                   'CKF_GENERATE_KEY_PAIR': 0x10000, 'CKF_WRAP': 0x20000, 'CKF_UNWRAP': 0x40000,
                   'CKF_DERIVE': 0x80000}
TOKEN_FLAGS = {'CKF_RNG': 0x1, 'CKF_WRITE_PROTECTED': 0x2, 'CKF_LOGIN_REQUIRED': 0x4,
               'CKF_USER_PIN_INITIALIZED': 0x8, 'CKF_TOKEN_INITIALIZED': 0x400, 'CKF_USER_PIN_LOCKED': 0x40000,
               'CKF_USER_PIN_TO_BE_CHANGED': 0x80000, 'CKF_SO_PIN_LOCKED': 0x400000,
               'CKF_SO_PIN_TO_BE_CHANGED': 0x800000}

# Each step of the ceremony on the offline workstation: (what it is for, mechanisms of which one is enough, the
# flags that mechanism must have, the kind of key size it must allow)
NEEDS = {
    'key': [
        ('generating the tenant key pair (hsm_key)', ('CKM_RSA_PKCS_KEY_PAIR_GEN',), ('CKF_GENERATE_KEY_PAIR',),
         'rsa'),
    ],
    'acl': [
        ('the session key of the copy (key_acl)', ('CKM_AES_KEY_GEN',), ('CKF_GENERATE',), 'aes'),
        ('copying the key under the session key (key_acl)', AES_KEY_WRAP_PAD, ('CKF_WRAP', 'CKF_UNWRAP'), None),
        ('proving the copy signs as the key (key_acl)', ('CKM_SHA256_RSA_PKCS_PSS',), ('CKF_SIGN',), None),
    ],
    'package': [
        ('the package key (transfer_package)', ('CKM_AES_KEY_GEN',), ('CKF_GENERATE',), 'aes'),
        ('wrapping the package key under the KEK, RSA-OAEP (transfer_package)', ('CKM_RSA_PKCS_OAEP',),
         ('CKF_WRAP',), None),
        ('wrapping the key under the package key, RFC 5649 (transfer_package)', AES_KEY_WRAP_PAD, ('CKF_WRAP',),
         None),
        ('signing the package binding, RSA-PSS with SHA-256 (transfer_package)', ('CKM_SHA256_RSA_PKCS_PSS',),
         ('CKF_SIGN',), None),
    ],
}
STEPS = tuple(NEEDS)


def flag_names(value, table):
    return [name for name, bit in sorted(table.items(), key=lambda x: x[1]) if value & bit]


def _size_allowed(kind, size, low, high):
    """Whether the mechanism allows the key size; a size the library does not state is allowed (lenient)."""
    if kind is None or (low is None and high is None):
        return True
    if kind == 'aes':
        # PKCS#11 counts AES key sizes in bytes; some libraries count bits
        return any((low is None or low <= s) and (high is None or s <= high) for s in (32, 256))
    return (low is None or low <= size) and (high is None or size <= high)


def check(offered, steps, key_size=2048):
    """(problems, chosen): what is missing for each step, each naming the step and the mechanism; and, for each need
    that has a choice (RFC 5649's number), the mechanism each step takes: {'aes_key_wrap_pad': {step: CKM name}}."""
    problems, chosen = [], {}
    for step in steps:
        for purpose, names, flags, kind in NEEDS[step]:
            reasons = []
            for name in names:
                if name not in offered:
                    reasons.append('%s is not offered' % name)
                    continue
                have, low, high = offered[name]
                lacking = [f for f in flags if not have & MECHANISM_FLAGS[f]]
                if lacking:
                    reasons.append('%s lacks %s' % (name, ', '.join(lacking)))
                elif not _size_allowed(kind, key_size, low, high):
                    reasons.append('%s allows key sizes %s to %s only' % (name, low, high))
                else:
                    if names == AES_KEY_WRAP_PAD:
                        # the rule the steps take it by (the first that passes here)
                        chosen.setdefault('aes_key_wrap_pad', {})[step] = rfc5649_mechanism(
                            offered, 'CKF_UNWRAP' in flags)
                    reasons = None
                    break
            if reasons:
                problems.append('%s needs %s: %s' % (purpose, ' or '.join(names), '; '.join(reasons)))
    return problems, chosen


def token_problems(token):
    """What stops a ceremony on this token, or on the free slot the world's token will be made in (whose PIN flags
    mean nothing yet: SoftHSM2 reports its SO PIN locked there)."""
    said = []
    name = 'token %r' % token.label if token.initialized else 'the free slot %s' % token.slot
    if token.flags & TOKEN_FLAGS['CKF_WRITE_PROTECTED']:
        said.append('%s is write-protected (CKF_WRITE_PROTECTED): no key can be made on it' % name)
    if not token.flags & TOKEN_FLAGS['CKF_RNG']:
        said.append('%s has no random number generator (CKF_RNG): it cannot generate keys' % name)
    if not token.initialized:
        return said
    if token.flags & TOKEN_FLAGS['CKF_USER_PIN_LOCKED']:
        said.append('the user PIN of token %r is locked (CKF_USER_PIN_LOCKED)' % token.label)
    if token.flags & TOKEN_FLAGS['CKF_SO_PIN_LOCKED']:
        said.append('the security officer PIN of token %r is locked (CKF_SO_PIN_LOCKED)' % token.label)
    return said


def survey(hsm, token_label, steps, key_size=2048):
    """Read the library and the token (or the free slot the world's token will be made in) and check ``steps``.

    Returns a dict for the module's result; its ``problems`` list is empty when the ceremony can run."""
    label, match = token_ref(token_label)
    result = {'token': None, 'token_flags': [], 'slot': 'token', 'mechanisms': {}, 'chosen': {},
              'rsa_aes_key_wrap': False, 'problems': []}
    token = hsm.find_token(label, required=False) if label else None
    if token is None:
        result['slot'] = 'free'
        if 'serial' in match:
            # as security_world refuses it: the HSM gives a new token its serial
            result['problems'].append('token_label names a serial, but token %r does not exist yet' % label)
        try:
            token = hsm.free_token()
        except HsmError as e:
            result['problems'].append(str(e))
            return result
        match = dict((k, v) for k, v in match.items() if k != 'serial')
    check_token_match(token, match, token_label)
    result['token'], result['token_flags'] = token.to_dict(), flag_names(token.flags, TOKEN_FLAGS)
    offered = hsm.mechanisms(token.slot)
    result['mechanisms'] = dict((name, {'flags': flag_names(flags, MECHANISM_FLAGS), 'min_key_size': low,
                                        'max_key_size': high})
                                for name, (flags, low, high) in sorted(offered.items()))
    result['rsa_aes_key_wrap'] = RSA_AES_KEY_WRAP in offered
    problems, result['chosen'] = check(offered, steps, key_size)
    result['problems'] += token_problems(token) + problems
    return result
