#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: keyvault_kek
short_description: Create or read the import-only Key Exchange Key (KEK) in Azure Key Vault
version_added: 0.1.0
description:
  - The online workstation's first step of a BYOK transfer into Azure Key Vault. Creates the KEK when the vault has no
    key named O(name) - C(POST <vault>/keys/<name>/create) with C(kty) C(RSA-HSM), O(key_size) and C(key_ops)
    C([import]), so the key lives in the vault's HSMs and can do nothing but import - or reads the one there.
  - A key of that name that is not an C(RSA-HSM) key with exactly the C(import) operation is refused; it is never
    changed or replaced.
  - Writes the key bundle that C(GET key) returns to C(<dest>/<name>.kek.json) (mode C(0600), atomically), the file that
    crosses to the offline workstation, where M(keyceremony.byok.keyvault_kek_verify),
    M(keyceremony.byok.key_acl) and M(keyceremony.byok.transfer_package) read it.
  - Returns RV(kek_spki_sha256), the KEK's fingerprint. B(Read it aloud) to the person at the offline workstation, who
    pins it there; the file on the media alone proves nothing.
  - Check mode reads the vault and says what would be done, creating and writing nothing.
author:
  - keyceremony.byok maintainers (!UNKNOWN)
extends_documentation_fragment:
  - keyceremony.byok.keyvault
  - keyceremony.byok.attributes
  - keyceremony.byok.attributes.CHANGES
options:
  name:
    description:
      - The KEK's name in the vault, 1 to 127 letters, digits and C(-).
    type: str
    required: true
  key_size:
    description:
      - The KEK's RSA size when it is created. A KEK already there keeps its size.
    type: int
    default: 4096
    choices: [2048, 3072, 4096]
  dest:
    description:
      - The folder to write C(<name>.kek.json) to (the transfer media); created with mode C(0700) when missing.
    type: path
    required: true
seealso:
  - module: keyceremony.byok.keyvault_kek_verify
  - module: keyceremony.byok.keyvault_byok_import
'''

EXAMPLES = r'''
- name: Create (or read) the KEK and put it on the transfer media
  keyceremony.byok.keyvault_kek:
    vault_url: https://contoso-byok.vault.azure.net
    tenant: "{{ azure_tenant_id }}"
    client_id: "{{ azure_client_id }}"
    secret: "{{ azure_client_secret }}"
    name: contoso-kek
    dest: /media/transfer
  register: kek

- name: Read the fingerprint aloud to the offline workstation
  ansible.builtin.debug:
    msg: "KEK {{ kek.kid }}: {{ kek.kek_spki_sha256_grouped }}"
'''

RETURN = r'''
kid:
  description: The KEK's versioned key identifier (the C(.byok) file names it in its header). V(null) in check mode
    when the KEK is still to be created.
  returned: success
  type: str
  sample: https://contoso-byok.vault.azure.net/keys/contoso-kek/0f8b2b3ac64c4c63a52b6d13a0d2ab65
kek_spki_sha256:
  description: SHA-256 of the KEK's DER SubjectPublicKeyInfo, to be compared aloud with the offline workstation.
  returned: success
  type: str
  sample: 2b7e151628aed2a6abf7158809cf4f3c762e7160f38b4da56a784d9045190cfe
kek_spki_sha256_grouped:
  description: The same in groups of 8 hex digits.
  returned: success
  type: str
  sample: 2b7e1516 28aed2a6 abf71588 09cf4f3c 762e7160 f38b4da5 6a784d90 45190cfe
kek_size:
  description: The KEK's RSA size in bits.
  returned: success
  type: int
  sample: 4096
created:
  description: Whether the KEK was created by this run (or would be, in check mode).
  returned: success
  type: bool
  sample: true
path:
  description: The KEK file on the media.
  returned: success
  type: str
  sample: /media/transfer/contoso-kek.kek.json
sha256:
  description: SHA-256 of the KEK file. V(null) in check mode when the KEK is still to be created.
  returned: success
  type: str
  sample: 4c1b0b5d9a6e1f2d3c4b5a69788796a5b4c3d2e1f00112233445566778899aab
'''

import os

from ansible_collections.keyceremony.byok.plugins.module_utils import _keyvault
from ansible_collections.keyceremony.byok.plugins.module_utils._errors import ByokError
from ansible_collections.keyceremony.byok.plugins.module_utils._files import (
    ensure_private_dir, file_sha256, sha256_hex, write_private_file)
from ansible_collections.keyceremony.byok.plugins.module_utils._module import KEYVAULT_ARGS, KEYVAULT_RULES, new_module, run, spec


def work(module):
    p = module.params
    name = _keyvault.check_key_name(p['name'])
    path = os.path.join(p['dest'], '%s.kek.json' % name)
    client = _keyvault.client_from_params(p)
    bundle = client.get_key(name)
    result = {'path': path, 'created': bundle is None}
    if bundle is None:
        if module.check_mode:
            return dict(result, changed=True, kid=None, kek_spki_sha256=None, kek_spki_sha256_grouped=None,
                        kek_size=p['key_size'], sha256=None)
        bundle = client.create_key(name, {'kty': 'RSA-HSM', 'key_size': p['key_size'], 'key_ops': _keyvault.KEK_OPS,
                                          'attributes': {'enabled': True}})
    got = _keyvault.describe_bundle(bundle)
    if got['kty'] != 'RSA-HSM' or sorted(got['key_ops']) != _keyvault.KEK_OPS:
        raise ByokError('key %s exists in %s as a %s key with operations %s; a KEK must be an RSA-HSM key with the '
                        'import operation alone. It is not changed: choose another name for the KEK'
                        % (name, client.vault_url, got['kty'], ', '.join(got['key_ops']) or 'none'))
    if got['enabled'] is False:
        raise ByokError('the KEK %s is disabled in the vault: enable it (az keyvault key set-attributes --enabled) or '
                        'choose another name' % got['kid'])
    # the same checks as the offline side, with its own fingerprint: a KEK the offline side would refuse fails here
    kek = _keyvault.check_kek(bundle, got['spki_sha256'])
    data = _keyvault.serialize(bundle)
    changed = result['created']
    if not (os.path.isfile(path) and file_sha256(path) == sha256_hex(data)):
        changed = True
        if not module.check_mode:
            ensure_private_dir(p['dest'])
            write_private_file(path, data)
    return dict(result, changed=changed, kid=kek['kek_kid'], kek_spki_sha256=kek['kek_spki_sha256'],
                kek_spki_sha256_grouped=_keyvault.group(kek['kek_spki_sha256']), kek_size=kek['kek_size'],
                sha256=sha256_hex(data))


def main():
    module = new_module(spec(KEYVAULT_ARGS, name={'type': 'str', 'required': True},
                             key_size={'type': 'int', 'default': 4096, 'choices': [2048, 3072, 4096]},
                             dest={'type': 'path', 'required': True}),
                        needs_hsm=False, rules=[KEYVAULT_RULES])
    run(module, work, journal_as='keyvault_kek', journal_fields=('kid', 'kek_spki_sha256', 'kek_size', 'created', 'path',
                                                                 'sha256'))


if __name__ == '__main__':
    main()
