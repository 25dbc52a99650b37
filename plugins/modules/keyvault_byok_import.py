#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: keyvault_byok_import
short_description: Import the ceremony's .byok file into Azure Key Vault
version_added: 0.1.0
description:
  - Uploads the C(.byok) file that M(keyceremony.byok.transfer_package) made for a Key Vault KEK, as Azure's own tools
    do - C(PUT <vault>/keys/<name>) with a C(key) of C(kty) C(RSA-HSM), the O(key_ops), and C(key_hsm) the base64url of
    the whole file, C(attributes) C(enabled) and the O(tags). Key Vault opens it inside its HSM with the KEK the file
    names; the key never exists in the clear outside an HSM.
  - The file is checked first - it must be exactly Azure's BYOK file (C(schema_version), C(header) with C(kid), C(alg)
    C(dir), C(enc) C(CKM_RSA_AES_KEY_WRAP), C(ciphertext), C(generator)) and, with O(byok_file_sha256), the very bytes
    the offline workstation made.
  - Idempotent by key. A key named O(name) whose current version has the public key O(spki_sha256) gives
    C(changed=false) (a disabled one is enabled). Another key under that name is a failure unless
    O(new_version=true), which imports the file as a new version.
  - The file is imported disabled (tagged C(keyceremony-byok)), and enabled (C(PATCH <vault>/keys/<name>/<version>),
    which also sets the O(tags)) only once the key Key Vault made is known to have the fingerprint O(spki_sha256). A
    file holding another key leaves a disabled version and fails. A run cut off between the two is finished by the
    next one; a matching version disabled by anyone else is left alone and fails. The application therefore needs
    C(keys/update) besides C(keys/import) and C(keys/get).
  - Returns RV(aip_command), the exact C(Use-AipServiceKeyVaultKey) line for the RMS step, and warns when the key is
    not the 2048 bits Azure Information Protection takes.
  - Check mode reads the file and the vault and says what would happen, uploading nothing.
author:
  - keyceremony.byok maintainers (!UNKNOWN)
extends_documentation_fragment:
  - keyceremony.byok.keyvault
  - keyceremony.byok.attributes
  - keyceremony.byok.attributes.CHANGES
options:
  name:
    description:
      - The key's name in the vault, 1 to 127 letters, digits and C(-).
    type: str
    required: true
  byok_file:
    description:
      - The C(<key_friendly_name>.byok) file from the offline workstation.
    type: path
    required: true
  byok_file_sha256:
    description:
      - The SHA-256 (hex) that the offline side recorded for O(byok_file)
        (RV(keyceremony.byok.transfer_package#module:sha256)). A file that differs is refused before anything is sent;
        the hash is taken of the bytes that are uploaded.
    type: str
  spki_sha256:
    description:
      - The fingerprint of the key inside the file (RV(keyceremony.byok.transfer_package#module:spki_sha256), the SHA-256
        of its DER SubjectPublicKeyInfo), as the offline workstation showed it. Take it from the offline workstation
        (read aloud, or from the offline play of the same run), not from the transfer media that carries the file -
        it is what stops a key planted on the media. It makes the module idempotent and is checked against what Key
        Vault made before the key is enabled.
    type: str
    required: true
  key_ops:
    description:
      - The operations the imported key permits. The default is what the RMS service needs of a tenant key (it needs at
        least C(decrypt), C(sign), C(unwrapKey) and C(wrapKey)).
    type: list
    elements: str
    default: [decrypt, encrypt, sign, unwrapKey, verify, wrapKey]
    choices: [decrypt, encrypt, sign, unwrapKey, verify, wrapKey]
  tags:
    description:
      - Tags of the imported key version.
    type: dict
    default: {}
  new_version:
    description:
      - Import the file as a new version when the vault's key O(name) is another key. Its current version stays in the
        vault as an older version.
    type: bool
    default: false
notes:
  - The RMS step is C(Use-AipServiceKeyVaultKey -KeyVaultKeyUrl <kid>) then
    C(Set-AipServiceKeyProperties -KeyIdentifier <its KeyIdentifier> -Active $true) (irreversible), run in the AIPService PowerShell
    module; against the rehearsal tenant M(keyceremony.byok.tenant_key) with O(keyceremony.byok.tenant_key#module:key_vault_key_url)
    does both. The RMS service must also be granted C(get), C(decrypt) and C(sign) on the key (its service principal).
seealso:
  - module: keyceremony.byok.transfer_package
  - module: keyceremony.byok.keyvault_kek
  - module: keyceremony.byok.tenant_key
'''

EXAMPLES = r'''
- name: Import the .byok file into the vault
  keyceremony.byok.keyvault_byok_import:
    vault_url: https://contoso-byok.vault.azure.net
    tenant: "{{ azure_tenant_id }}"
    client_id: "{{ azure_client_id }}"
    secret: "{{ azure_client_secret }}"
    name: contoso-rms-key
    byok_file: /media/transfer/ContosoBYOK.byok
    byok_file_sha256: "{{ offline_package_sha256 }}"
    spki_sha256: "{{ offline_key_fingerprint }}"
  register: imported

- name: The RMS step, to run in the AIPService PowerShell module
  ansible.builtin.debug:
    msg: "{{ imported.aip_command }}"
'''

RETURN = r'''
kid:
  description: The imported key's versioned identifier (the C(-KeyVaultKeyUrl) of the RMS step). V(null) in check mode
    when the key is still to be imported.
  returned: success
  type: str
  sample: https://contoso-byok.vault.azure.net/keys/contoso-rms-key/5b1c3b5e6d0a4f4e9b7a2c1d0e9f8a7b
spki_sha256:
  description: Fingerprint of the key in the vault (the same as the HSM key's); in check mode when the key is still to
    be imported, O(spki_sha256).
  returned: success
  type: str
  sample: 9b1c6f3e2d4a5b6c7d8e9f00112233445566778899aabbccddeeff0011223344
key_size:
  description: The key's RSA size in bits. V(null) in check mode when the key is still to be imported.
  returned: success
  type: int
  sample: 2048
key_ops:
  description: The operations the key permits.
  returned: success
  type: list
  elements: str
  sample: [decrypt, encrypt, sign, unwrapKey, verify, wrapKey]
kek_kid:
  description: The KEK the file is wrapped under (its header).
  returned: success
  type: str
  sample: https://contoso-byok.vault.azure.net/keys/contoso-kek/0f8b2b3ac64c4c63a52b6d13a0d2ab65
aip_command:
  description: The RMS step for this key, to run in the AIPService PowerShell module. V(null) in check mode when the key
    is still to be imported.
  returned: success
  type: str
  sample: Use-AipServiceKeyVaultKey -KeyVaultKeyUrl "https://contoso-byok.vault.azure.net/keys/contoso-rms-key/5b1c3b5e6d0a4f4e9b7a2c1d0e9f8a7b"
actions:
  description: What was done, or in check mode what would be done; empty when the key was there.
  returned: success
  type: list
  elements: str
  sample: ["import ContosoBYOK.byok as key contoso-rms-key"]
'''

import os

from ansible_collections.keyceremony.byok.plugins.module_utils import _keyvault
from ansible_collections.keyceremony.byok.plugins.module_utils._values import normalize_sha256
from ansible_collections.keyceremony.byok.plugins.module_utils._errors import ByokError
from ansible_collections.keyceremony.byok.plugins.module_utils._module import (
    KEYVAULT_ARGS, KEYVAULT_RULES, new_module, read_carried_file, run, spec)


# The tag a version carries between its import (disabled) and the check that enables it.
PENDING_TAG = 'keyceremony-byok'
PENDING = 'imported-disabled-until-its-fingerprint-is-checked'


def aip_command(kid):
    return 'Use-AipServiceKeyVaultKey -KeyVaultKeyUrl "%s"' % kid


def _result(got, kek_kid, actions, warnings):
    if got['size'] not in (1024, 2048):
        warnings.append('key %s is RSA %d: Azure Information Protection takes RSA 2048 (recommended) or 1024 tenant keys '
                        'only, so Use-AipServiceKeyVaultKey will refuse it' % (got['kid'], got['size']))
    return {'changed': bool(actions), 'kid': got['kid'], 'spki_sha256': got['spki_sha256'], 'key_size': got['size'],
            'key_ops': got['key_ops'], 'kek_kid': kek_kid, 'aip_command': aip_command(got['kid']), 'actions': actions,
            'warnings': warnings}


def work(module):
    p = module.params
    name = _keyvault.check_key_name(p['name'])
    want = normalize_sha256(p['spki_sha256'], 'spki_sha256', 'the key in the file')
    data = read_carried_file(p['byok_file'], p['byok_file_sha256'], 'byok_file')
    doc, _ciphertext = _keyvault.parse_byok(data)
    kek_kid = doc['header']['kid']
    client = _keyvault.client_from_params(p)
    if _keyvault.parse_kid(kek_kid)[0].lower() != client.vault_url:
        raise ByokError('%s is wrapped under KEK %s of another vault than %s: only that vault can open it'
                        % (p['byok_file'], kek_kid, client.vault_url))
    current = client.get_key(name)
    warnings = []
    if current is not None:
        got = _keyvault.describe_bundle(current)
        if got['spki_sha256'] == want:
            if got['enabled'] is not False:
                return _result(got, kek_kid, [], warnings)
            if (current.get('tags') or {}).get(PENDING_TAG) != PENDING:
                raise ByokError('the vault\'s key %s (%s) is this key but disabled, and not by this module: it is left as it '
                                'is. Enable it yourself if that is intended (az keyvault key set-attributes --enabled '
                                'true)' % (name, got['kid']))
            # an import whose check passed but whose enabling was cut off
            return _enabled(module, client, name, got, kek_kid, ['enable %s' % got['kid']], warnings, p['tags'])
        if not p['new_version']:
            raise ByokError('the vault\'s key %s is another key (%s, fingerprint %s, not %s); it is not replaced: choose '
                            'another name, or set new_version=true to import the file as its new version'
                            % (name, got['kid'], got['spki_sha256'], want))
    actions = ['import %s as %s %s' % (os.path.basename(p['byok_file']), 'a new version of key' if current else 'key',
                                       name)]
    if module.check_mode:
        return {'changed': True, 'kid': None, 'spki_sha256': want, 'key_size': None, 'key_ops': sorted(p['key_ops']),
                'kek_kid': kek_kid, 'aip_command': None, 'actions': actions}
    # imported disabled (and tagged so), enabled only once it is known to be the key the offline workstation packaged
    bundle = client.import_key(name, {
        'key': {'kty': 'RSA-HSM', 'key_ops': sorted(set(p['key_ops'])), 'key_hsm': _keyvault.b64url(data)},
        'attributes': {'enabled': False}, 'tags': dict(_tags(p['tags']), **{PENDING_TAG: PENDING})})
    got = _keyvault.describe_bundle(bundle)
    if got['spki_sha256'] != want:
        raise ByokError('Key Vault imported %s as %s with fingerprint %s, not the expected %s: the file holds another key '
                        'than the one the offline workstation packaged. That version was imported disabled: leave it '
                        'disabled (deleting the key would delete its other versions too), investigate, and import the '
                        'right file as a new version (new_version=true) or under another name'
                        % (p['byok_file'], got['kid'], got['spki_sha256'], want))
    return _enabled(module, client, name, got, kek_kid, actions, warnings, p['tags'])


def _tags(tags):
    return dict((k, str(v)) for k, v in tags.items())


def _enabled(module, client, name, got, kek_kid, actions, warnings, tags):
    """Enable a version this module imported disabled, and drop its pending tag."""
    if module.check_mode:
        return _result(got, kek_kid, actions, warnings)
    version = _keyvault.parse_kid(got['kid'])[2]
    bundle = client.update_key(name, version, {'attributes': {'enabled': True}, 'tags': _tags(tags)})
    return _result(_keyvault.describe_bundle(bundle), kek_kid, actions, warnings)


def main():
    ops = _keyvault.RMS_KEY_OPS
    module = new_module(spec(KEYVAULT_ARGS, name={'type': 'str', 'required': True},
                             byok_file={'type': 'path', 'required': True},
                             byok_file_sha256={'type': 'str', 'no_log': False},
                             spki_sha256={'type': 'str', 'required': True, 'no_log': False},
                             key_ops={'type': 'list', 'elements': 'str', 'default': ops, 'choices': ops},
                             tags={'type': 'dict', 'default': {}},
                             new_version={'type': 'bool', 'default': False}),
                        needs_hsm=False, rules=[KEYVAULT_RULES])
    run(module, work, journal_as='keyvault_byok_import',
        journal_fields=('kid', 'spki_sha256', 'key_size', 'kek_kid', 'actions'))


if __name__ == '__main__':
    main()
