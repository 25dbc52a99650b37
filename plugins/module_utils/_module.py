# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What every module shares: option specs, the dependency check, and the one place where the
collection's exceptions become ``fail_json``."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible.module_utils.common.parameters import remove_values

import os

from ansible_collections.keyceremony.byok.plugins.module_utils._errors import ByokError
from ansible_collections.keyceremony.byok.plugins.module_utils._files import (
    check_private_folder, ensure_private_dir, remove_stale_temporaries)
from ansible_collections.keyceremony.byok.plugins.module_utils._journal import JOURNAL_NAME, Journal, public_options
from ansible_collections.keyceremony.byok.plugins.module_utils._values import token_uri_secrets

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

TOOLSET_ARGS = {
    'kek_package': {'type': 'path', 'required': True},
    'security_world_package': {'type': 'path', 'required': True},
    'root_hash': {'type': 'str', 'required': True},
}

# A KEK comes from the regional toolset (verified to the pinned root hash) or from Azure Key Vault
# (the key bundle of an import-only KEK, pinned by its fingerprint): one or the other.
KEK_SOURCE_ARGS = dict(
    [(name, dict(value, required=False)) for name, value in TOOLSET_ARGS.items()],
    kek_file={'type': 'path'},
    kek_spki_sha256={'type': 'str', 'no_log': False},
)
KEK_SOURCE_RULES = {
    'mutually_exclusive': [('kek_file', 'kek_package'), ('kek_file', 'security_world_package'), ('kek_file', 'root_hash')],
    'required_together': [('kek_package', 'security_world_package', 'root_hash'), ('kek_file', 'kek_spki_sha256')],
    'required_one_of': [('kek_package', 'kek_file')],
}


def verified_kek(params):
    """The KEK a world may trust, from either source; the same dict shape from both."""
    if params.get('kek_file'):
        from ansible_collections.keyceremony.byok.plugins.module_utils._keyvault import read_kek_file
        return dict(read_kek_file(params['kek_file'], params['kek_spki_sha256']), source='keyvault')
    from ansible_collections.keyceremony.byok.plugins.module_utils._kek import read_and_verify
    return dict(read_and_verify(params['kek_package'], params['security_world_package'], params['root_hash']),
                source='toolset')


KEYVAULT_ARGS = {
    'vault_url': {'type': 'str', 'required': True},
    'tenant': {'type': 'str'},
    'client_id': {'type': 'str'},
    'secret': {'type': 'str', 'no_log': True},
    'authority': {'type': 'str', 'default': 'https://login.microsoftonline.com'},
    'access_token': {'type': 'str', 'no_log': True},
    'ca_path': {'type': 'path'},
    'validate_certs': {'type': 'bool', 'default': True},
    'journal': {'type': 'path'},
}
KEYVAULT_RULES = {
    'mutually_exclusive': [('access_token', 'secret')],
    'required_together': [('tenant', 'client_id', 'secret')],
    'required_one_of': [('access_token', 'secret')],
}

TENANT_ARGS = {
    'tenant_url': {'type': 'str', 'required': True},
    'admin_user': {'type': 'str', 'required': True},
    'admin_password': {'type': 'str', 'required': True, 'no_log': True},
    'ca_path': {'type': 'path'},
    'validate_certs': {'type': 'bool', 'default': True},
    'journal': {'type': 'path'},
}

# the TPD export and its password (tpd_info, tpd_import)
TPD_ARGS = {
    'tpd_file': {'type': 'path', 'required': True},
    'protection_password': {'type': 'str', 'required': True, 'no_log': True},
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


class ByokModule(AnsibleModule):
    """The collection's AnsibleModule: a token_label that is a PKCS#11 URI carrying more than a token's name (a PIN,
    perhaps) is a no_log option from the start, before Ansible validates the options or logs the invocation on the
    host (NOT_LOGGING_PARAMETER); token_ref then refuses it without quoting it, and the journal leaves it out."""

    def _load_params(self):
        super(ByokModule, self)._load_params()
        secrets = token_uri_secrets(self.params.get('token_label'))
        if secrets and 'token_label' in self.argument_spec:
            # a copy: the option's spec is shared by the modules (and the tests run them in one process)
            self.argument_spec = dict(self.argument_spec,
                                      token_label=dict(self.argument_spec['token_label'], no_log=True))
        self.no_log_values.update(secrets)


def new_module(argument_spec, needs_hsm=True, rules=(), needs_crypto=True, **kwargs):
    """The module, failing early when a library it needs is missing (the online ones need no PyKCS11; a module that
    never touches a key needs no cryptography either).

    ``rules``: dictionaries of AnsibleModule's option rules (mutually_exclusive, ...), merged.
    """
    for part in rules:
        for name, value in part.items():
            kwargs[name] = list(kwargs.get(name, [])) + list(value)
    module = ByokModule(argument_spec=argument_spec, supports_check_mode=True, **kwargs)
    # imported here, and only for the modules that use them: PyKCS11 and cryptography are most of a module's imports
    # beyond Ansible's own, and each task is a new Python
    if needs_hsm:
        from ansible_collections.keyceremony.byok.plugins.module_utils import _hsm
        if not _hsm.HAS_PYKCS11:
            module.fail_json(msg=missing_required_lib('PyKCS11'), exception=_hsm.PYKCS11_IMPORT_ERROR)
    if needs_crypto:
        from ansible_collections.keyceremony.byok.plugins.module_utils import _crypto
        if not _crypto.HAS_CRYPTOGRAPHY:
            module.fail_json(msg=missing_required_lib('cryptography'), exception=_crypto.CRYPTOGRAPHY_IMPORT_ERROR)
    return module


def _public(module):
    """The options as the journal records them: no no_log option, and no no_log value anywhere else."""
    return remove_values(public_options(module.argument_spec, module.params), module.no_log_values)


def read_carried_file(path, expected_sha256, option):
    """The bytes of a file that crossed on the transfer media, refused when they are not the bytes the offline side
    recorded (``expected_sha256``, optional). The hash is taken of the bytes returned, which are the ones sent."""
    from ansible_collections.keyceremony.byok.plugins.module_utils._files import sha256_hex
    try:
        with open(path, 'rb') as f:
            data = f.read()
    except IOError as e:
        raise ByokError('cannot read %s %s: %s' % (option, path, e.strerror))
    got = sha256_hex(data)
    if expected_sha256 and got != expected_sha256.strip().lower():
        raise ByokError('%s has SHA-256 %s, but the offline workstation recorded %s: it changed on the way; do not '
                        'upload it, bring the file again from the offline workstation' % (path, got, expected_sha256))
    return data


def tenant_client(params):
    from ansible_collections.keyceremony.byok.plugins.module_utils._tenant import TenantClient
    return TenantClient(params['tenant_url'], params['admin_user'], params['admin_password'], params['ca_path'],
                        params['validate_certs'])


def run(module, work, journal_as=None, journal_fields=(), journal_needs_world=False, journal_verified=False):
    """Call ``work(module)`` -> result dict; the collection's errors become one clear failure.

    With ``journal_as`` (the module's name) the module keeps the ceremony journal in
    ``world_dir``: a change or a failure appends a record with the options asked (secrets left
    out) and ``journal_fields`` of the result. Check mode never writes to the journal. With
    ``journal_needs_world`` a record is written only when ``world_dir`` holds a world by then
    (a restore must not leave a journal in the empty folder it is to fill). A check that
    succeeds and changes nothing is recorded too (outcome ``verified``) when ``journal_verified``
    is true, or a function of the options that returns true: the witnesses' sheet shows what was
    checked, not only what failed.
    """
    journal = None
    name = journal_as
    if journal_as and not module.check_mode:
        if module.params.get('journal'):
            folder = os.path.dirname(os.path.abspath(module.params['journal']))
            ensure_private_dir(folder)
            try:
                check_private_folder(folder)  # the journal is appended to and its head rewritten: no shared folder
            except ByokError as e:
                module.fail_json(msg='journal %s: %s' % (module.params['journal'], e))
            journal = Journal(module.params['journal'])
        elif module.params.get('world_dir'):
            journal = Journal(os.path.join(module.params['world_dir'], JOURNAL_NAME))
    if journal is not None:
        # what a run killed before this one left: temporaries of its writes, an append cut off
        try:
            remove_stale_temporaries(os.path.dirname(journal.path), '.' + os.path.basename(journal.path) + '.')
            world_dir = module.params.get('world_dir')
            if world_dir and os.path.isfile(os.path.join(world_dir, 'world.json')):
                remove_stale_temporaries(world_dir)
            journal.heal(name, _public(module))
        except ByokError as e:
            module.fail_json(msg='journal %s: %s' % (journal.path, e))
    try:
        result = work(module)
    except ByokError as e:
        if journal is not None and journal_needs_world \
                and not os.path.isfile(os.path.join(module.params['world_dir'], 'world.json')):
            journal = None
        if journal is not None:
            # the module's own no_log values are masked in the record, as Ansible masks them in the output
            journal.append(name, 'failed', _public(module),
                           error=remove_values(str(e), module.no_log_values))
        module.fail_json(msg=str(e))
    if journal is not None:
        outcome = 'changed' if result.get('changed') else None
        if outcome is None and journal_verified and (journal_verified is True or journal_verified(module.params)):
            outcome = 'verified'
        if outcome:
            summary = dict((k, result[k]) for k in journal_fields if k in result)
            journal.append(name, outcome, _public(module), result=summary)
    for warning in result.pop('warnings', []):
        module.warn(warning)
    module.exit_json(**result)
