#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: tenant_key
short_description: Upload a transfer package to the tenant, or activate one of its keys
version_added: 0.1.0
description:
  - With O(key_file), the equivalent of C(Add-AadrmKey -KeyFile ... -Verbose) - uploads the transfer package. The tenant
    checks it (for this tenant, for its KEK, binding signature) and imports the key into its HSM.
  - With O(key_vault_key_url), the equivalent of C(Use-AipServiceKeyVaultKey -KeyVaultKeyUrl ...) - the tenant uses a
    key of its Azure Key Vault (imported there by M(keyceremony.byok.keyvault_byok_import)). The tenant refuses a key
    that is not RSA 2048 (RSA 1024 is accepted with a warning, for a legacy AD RMS key) or that does not permit
    C(decrypt), C(sign), C(unwrapKey) and C(wrapKey).
  - With O(key_identifier), the equivalent of C(Set-AadrmKeyProperties -KeyIdentifier ... -Active $true).
  - Making a key active is irreversible - the key in use becomes archived and there is no way back to it but to
    activate it again - so it needs O(force=true), the C(-Force) of the cmdlets. Without it the module fails and says
    why, before anything is sent.
  - Idempotent by key fingerprint. A package whose key the tenant already holds is not imported again; in check mode
    the module reads the package and the key list and says what would happen, without uploading.
author:
  - keyceremony.byok maintainers (!UNKNOWN)
extends_documentation_fragment:
  - keyceremony.byok.tenant
  - keyceremony.byok.attributes
  - keyceremony.byok.attributes.CHANGES
options:
  key_file:
    description:
      - The transfer package C(KeyTransferPackage-<name>.byok) made by M(keyceremony.byok.transfer_package).
      - Mutually exclusive with O(key_identifier) and O(key_vault_key_url).
    type: path
  key_file_sha256:
    description:
      - The SHA-256 (hex) that the offline side recorded for O(key_file) when it made the package. A file that differs
        (damaged or replaced on the way) is refused before anything is sent. The hash is taken of the bytes that are
        uploaded, so nothing can change between the check and the upload.
    type: str
  spki_sha256:
    description:
      - With O(key_file), the fingerprint of the key the offline workstation packaged (as it showed it, not as the
        transfer media says). A package holding another key is refused before anything is sent.
    type: str
  key_vault_key_url:
    description:
      - The versioned URL of a key in the tenant's Azure Key Vault
        (RV(keyceremony.byok.keyvault_byok_import#module:kid)), for C(Use-AipServiceKeyVaultKey). With O(active=true)
        (the default) it also becomes the active key, which needs O(force=true).
    type: str
  key_identifier:
    description:
      - The C(KeyIdentifier) (GUID) of a key the tenant holds, to make it active. Requires O(active=true).
    type: str
  active:
    description:
      - Whether the key is to be the tenant's active key. With O(key_file), V(false) stores it archived (for content
        protected by it in the past) and needs no O(force).
      - Defaults to V(true).
    type: bool
    default: true
  force:
    description:
      - Confirms that making the key active is intended, knowing it cannot be undone.
    type: bool
    default: false
seealso:
  - module: keyceremony.byok.transfer_package
  - module: keyceremony.byok.keyvault_byok_import
  - module: keyceremony.byok.tenant_key_info
'''

EXAMPLES = r'''
- name: Upload the tenant key and make it active (irreversible)
  keyceremony.byok.tenant_key:
    tenant_url: https://127.0.0.1:8443
    admin_user: "{{ tenant_admin }}"
    admin_password: "{{ tenant_admin_password }}"
    ca_path: /etc/keyceremony/tenant-ca.pem
    key_file: /media/transfer/KeyTransferPackage-ContosoBYOK.byok
    key_file_sha256: "{{ lookup('ansible.builtin.file', '/media/transfer/KeyTransferPackage-ContosoBYOK.byok.sha256').split()[0] }}"
    force: true
  register: uploaded

- name: Go back to an earlier key (also irreversible)
  keyceremony.byok.tenant_key:
    tenant_url: https://127.0.0.1:8443
    admin_user: "{{ tenant_admin }}"
    admin_password: "{{ tenant_admin_password }}"
    ca_path: /etc/keyceremony/tenant-ca.pem
    key_identifier: 0b8e6f0c-7a51-4d0e-9c4e-5e3c2f1a9b77
    active: true
    force: true

- name: Use the key imported into the tenant's Key Vault, and make it active (irreversible)
  keyceremony.byok.tenant_key:
    tenant_url: https://127.0.0.1:8443
    admin_user: "{{ tenant_admin }}"
    admin_password: "{{ tenant_admin_password }}"
    ca_path: /etc/keyceremony/tenant-ca.pem
    key_vault_key_url: "{{ imported.kid }}"
    force: true
'''

RETURN = r'''
key:
  description: The key as the tenant lists it. V(null) in check mode when it is still to be uploaded.
  returned: success
  type: dict
  sample: {"KeyIdentifier": "0b8e6f0c-7a51-4d0e-9c4e-5e3c2f1a9b77", "KeyType": "Customer-managed (BYOK)", "Status": "Active",
           "CreationTime": "2026-11-22T10:05:00.000000Z", "SpkiSha256": "9b1c6f3e...", "FriendlyName": "ContosoBYOK"}
spki_sha256:
  description: The key's fingerprint (from the package, or from the key list). V(null) in check mode for a Key Vault key
    the tenant does not use yet.
  returned: success
  type: str
  sample: 9b1c6f3e2d4a5b6c7d8e9f00112233445566778899aabbccddeeff0011223344
actions:
  description: What was done, or in check mode what would be done.
  returned: success
  type: list
  elements: str
  sample: ["upload KeyTransferPackage-ContosoBYOK.byok", "make the key active"]
'''

import os

from ansible_collections.keyceremony.byok.plugins.module_utils._byok import parse_package
from ansible_collections.keyceremony.byok.plugins.module_utils._values import normalize_sha256
from ansible_collections.keyceremony.byok.plugins.module_utils._errors import ByokError
from ansible_collections.keyceremony.byok.plugins.module_utils._keyvault import parse_kid
from ansible_collections.keyceremony.byok.plugins.module_utils._module import (
    TENANT_ARGS, new_module, read_carried_file, run, spec, tenant_client)

IRREVERSIBLE = ('making a key active is irreversible: the active key %s becomes archived, and there is no way back but to '
                'activate another. Set force=true (the -Force of Set-AadrmKeyProperties) to confirm')


def work(module):
    p = module.params
    if p['key_identifier'] and not p['active']:
        raise ByokError('a key cannot be made archived: activate another key instead (key_identifier needs active=true)')
    package = None
    if p['key_vault_key_url']:
        parse_kid(p['key_vault_key_url'], what='key_vault_key_url')
    if p['key_file']:
        package = read_carried_file(p['key_file'], p['key_file_sha256'], 'key_file')
        spki = parse_package(package)['binding']['spki_sha256']
        if p['spki_sha256'] and spki != normalize_sha256(p['spki_sha256'], 'spki_sha256', 'the packaged key'):
            raise ByokError('%s holds key %s, not the key %s the offline workstation packaged: do not upload it, bring '
                            'the package again from the offline workstation' % (p['key_file'], spki, p['spki_sha256']))
    actions = []
    warnings = []
    with tenant_client(p) as client:
        keys = client.call('GET', client.tenant_path('/keys'), action='Get-AadrmKeys')
        active = [k for k in keys if k['Status'] == 'Active']
        if p['key_identifier']:
            key = next((k for k in keys if k['KeyIdentifier'] == p['key_identifier']), None)
            if key is None:
                raise ByokError('the tenant has no key %s; its keys are %s'
                                % (p['key_identifier'], ', '.join(k['KeyIdentifier'] for k in keys)))
            spki = key['SpkiSha256']
        elif p['key_vault_key_url']:
            key = next((k for k in keys if k.get('KeyVaultKeyUrl') == p['key_vault_key_url']), None)
            spki = key['SpkiSha256'] if key else None
            if key is None:
                actions.append('Use-AipServiceKeyVaultKey -KeyVaultKeyUrl %s' % p['key_vault_key_url'])
        else:
            key = next((k for k in keys if k['SpkiSha256'] == spki), None)
            if key is None:
                actions.append('upload %s' % os.path.basename(p['key_file']))
        if p['active'] and (key is None or key['Status'] != 'Active'):
            actions.append('make the key active')
            if not p['force']:
                raise ByokError(IRREVERSIBLE % (active[0]['KeyIdentifier'] if active else '(none)'))
        if actions and not module.check_mode:
            if key is None and p['key_vault_key_url']:
                got = client.call('POST', client.tenant_path('/keys/keyvault'), {
                    'key_vault_key_url': p['key_vault_key_url'], 'active': p['active']}, 'Use-AipServiceKeyVaultKey')
                key, spki = got['key'], got['key']['SpkiSha256']
                warnings.extend(got.get('warnings') or [])
                if not got.get('changed', True):
                    # the tenant held this key already, come by another URL, and as asked
                    actions = []
            elif key is None:
                key = client.call('POST', client.tenant_path('/keys'), {'package': package.decode('utf-8'),
                                                                        'active': p['active']}, 'Add-AadrmKey')['key']
            elif p['active'] and key['Status'] != 'Active':
                key = client.call('POST', client.tenant_path('/keys/%s/activate' % key['KeyIdentifier']),
                                  action='Set-AadrmKeyProperties -Active')['key']
    return {'changed': bool(actions), 'key': key, 'spki_sha256': spki, 'actions': actions, 'warnings': warnings}


def main():
    module = new_module(spec(TENANT_ARGS, key_file={'type': 'path'}, key_file_sha256={'type': 'str', 'no_log': False},
                             key_identifier={'type': 'str'}, key_vault_key_url={'type': 'str', 'no_log': False},
                             spki_sha256={'type': 'str', 'no_log': False},
                             active={'type': 'bool', 'default': True}, force={'type': 'bool', 'default': False}),
                        mutually_exclusive=[('key_file', 'key_identifier', 'key_vault_key_url')],
                        required_by={'spki_sha256': 'key_file', 'key_file_sha256': 'key_file'},
                        required_one_of=[('key_file', 'key_identifier', 'key_vault_key_url')],
                        needs_hsm=False)
    run(module, work, journal_as='tenant_key', journal_fields=('key', 'spki_sha256', 'actions'))


if __name__ == '__main__':
    main()
