# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The forms of the values people type or paste (a SHA-256 fingerprint, a tenant ID), checked with the standard
library alone: the modules that only check them import neither cryptography nor PyKCS11 for it."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

try:
    from urllib.parse import unquote_to_bytes
except ImportError:  # Python 2's ansible-test import sanity only
    from urllib import unquote as unquote_to_bytes

from ansible_collections.keyceremony.byok.plugins.module_utils._errors import ByokError

GUID_RE = re.compile(r'^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$')
# a name on the transfer media: one path component, nothing hidden, nothing that climbs out of the folder
MEDIA_NAME_RE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9._-]{0,127}\Z')
# a file that crosses on the transfer media (a toolset, a package, a record) is far smaller
MAX_MEDIA_FILE_BYTES = 64 * 1024 * 1024

# RFC 7512 path attributes that name a token, and the field of the token each is matched against (_hsm.token_ref)
TOKEN_URI_ATTRIBUTES = {'token': 'label', 'serial': 'serial', 'manufacturer': 'manufacturer', 'model': 'model'}


def is_token_uri(value):
    return isinstance(value, str) and value.strip()[:7].lower() == 'pkcs11:'


def uri_name(raw):
    """An attribute's name as RFC 7512 compares it: percent-decoded, without blanks, in lower case."""
    try:
        return unquote_to_bytes(raw).decode('utf-8', 'replace').strip().lower()
    except ValueError:
        return raw.strip().lower()


def token_uri_secrets(value):
    """[value] when a token_label must never be shown: a PKCS#11 URI with anything but token, serial, manufacturer and
    model attributes in its path (a PIN among them, in any case or encoding; a query; a mistyped name; blanks around
    it). _hsm.token_ref refuses it without quoting it, and _module.ByokModule makes the option no_log from the start.
    [] for a label, or a URI of those four attributes only."""
    if not is_token_uri(value):
        return []
    if value != value.strip() or '?' in value or '&' in value:
        return [value]
    for part in value[7:].split(';'):
        name, sep, _raw = part.partition('=')
        if part and not (sep and uri_name(name) in TOKEN_URI_ATTRIBUTES):
            return [value]
    return []


def group_hash(hex_digest):
    """The form vendors print for operators to compare aloud: groups of 8 hex digits."""
    return ' '.join(hex_digest[i:i + 8] for i in range(0, len(hex_digest), 8))


def normalize_sha256(text, option, of='the key', where='take it again from where it was shown'):
    """A SHA-256 fingerprint typed or pasted by an operator: with or without spaces or colons, any case.

    A 40-digit SHA-1 value is refused with its own reason: SHA-1 is no longer collision-resistant.
    """
    digits = re.sub(r'[\s:]', '', text or '').lower()
    if not re.match(r'^[0-9a-f]*$', digits):
        raise ByokError('%s %r has characters other than hex digits, spaces and colons' % (option, text))
    if len(digits) == 40:
        raise ByokError('%s is 40 hex digits, a SHA-1 hash; SHA-1 is no longer collision-resistant, so only the SHA-256 '
                        'of %s (64 hex digits) is accepted: %s' % (option, of, where))
    if len(digits) != 64:
        raise ByokError('%s must be the SHA-256 of %s, 64 hex digits (spaces allowed); got %d digits'
                        % (option, of, len(digits)))
    return digits


def check_tenant_id(tenant_id):
    value = (tenant_id or '').strip().lower()
    if not GUID_RE.match(value):
        raise ByokError('tenant_id %r is not a GUID (8-4-4-4-12 hex digits, as Get-AadrmConfiguration shows it in '
                        'BPOSId)' % (tenant_id,))
    return value


def media_name(name, what):
    """``name`` as a file name on the transfer media, or ByokError saying what to change."""
    if not isinstance(name, str) or not MEDIA_NAME_RE.match(name):
        raise ByokError('%s %r is not a plain file name (letters, digits, ".", "_" and "-", not starting with "." '
                        'or "-", at most 128 characters): rename it' % (what, name))
    return name
