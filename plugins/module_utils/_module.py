# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What every module shares: option specs, the dependency check, and the one place where the
collection's exceptions become ``fail_json``."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.keyceremony.byok.plugins.module_utils import _crypto, _hsm
from ansible_collections.keyceremony.byok.plugins.module_utils._errors import ByokError

WORLD_ARGS = {
    'world_dir': {'type': 'path', 'required': True},
    'pkcs11_module': {'type': 'path'},
}

TOKEN_ARG = {'token_label': {'type': 'str', 'no_log': False}}

ADMIN_CARDS_ARG = {
    'admin_cards': {
        'type': 'list',
        'elements': 'dict',
        'options': {
            'path': {'type': 'path', 'required': True},
            'pin': {'type': 'str', 'no_log': True},
        },
    },
}

KEY_NAME_ARGS = {
    'app_name': {'type': 'str', 'default': 'simple'},
    'ident': {'type': 'str'},
}


def spec(*parts, **extra):
    """Merge option dictionaries (later ones win) into one argument spec."""
    merged = {}
    for part in parts + (extra,):
        for name, value in part.items():
            merged[name] = dict(value)
    return merged


def new_module(argument_spec, **kwargs):
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True, **kwargs)
    if not _hsm.HAS_PYKCS11:
        module.fail_json(msg=missing_required_lib('PyKCS11'), exception=_hsm.PYKCS11_IMPORT_ERROR)
    if not _crypto.HAS_CRYPTOGRAPHY:
        module.fail_json(msg=missing_required_lib('cryptography'), exception=_crypto.CRYPTOGRAPHY_IMPORT_ERROR)
    return module


def run(module, work):
    """Call ``work(module)`` -> result dict; the collection's errors become one clear failure."""
    try:
        result = work(module)
    except ByokError as e:
        module.fail_json(msg=str(e))
    for warning in result.pop('warnings', []):
        module.warn(warning)
    module.exit_json(**result)
