#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: tpd_import
short_description: Import an AD RMS trusted publishing domain into the tenant
version_added: 0.1.0
description:
  - The equivalent of C(Import-AadrmTpd -TpdFile ... -ProtectionPassword ... -HsmKeyFile ... -Active $true|$false),
    or with O(key_vault_key_url) of C(Import-AipServiceTpd -TpdFile ... -ProtectionPassword ... -KeyVaultKeyUrl ...).
  - Checks the export here first (the password opens it, mode and key size agree, the key fits the SLC), then sends it
    to the tenant, which checks it again, brings its key into the tenant's HSM - from O(hsm_key_file) for a TPD whose
    key is in an HSM - and records it.
  - With O(active=true) the TPD's key becomes the tenant's active key and the one in use is archived - irreversible,
    so it needs O(force=true). With O(active=false) it is stored archived, so content protected by it stays readable.
  - A TPD the tenant already holds gives C(changed=false).
  - Refusals, each with its own message - a wrong password (C(Trusted Publishing Domain data is corrupted)), mode and
    key size that disagree, an embedded key that does not match the SLC, an HSM key package whose key does not match
    the SLC, a package for another tenant.
requirements:
  - defusedxml (the TPD export is parsed with it, refusing DTDs, entities and external references in any encoding)
author:
  - keyceremony.byok maintainers (!UNKNOWN)
extends_documentation_fragment:
  - keyceremony.byok.tenant
  - keyceremony.byok.attributes
  - keyceremony.byok.attributes.CHANGES
options:
  tpd_file:
    description:
      - The exported TPD (XML).
    type: path
    required: true
  protection_password:
    description:
      - The password the TPD was exported with. Never logged.
    type: str
    required: true
  hsm_key_file:
    description:
      - For a TPD whose key is in an HSM, the transfer package of that key (made by M(keyceremony.byok.transfer_package)
        for this tenant).
      - Mutually exclusive with O(key_vault_key_url).
    type: path
  key_vault_key_url:
    description:
      - For a TPD whose key is in an HSM, the versioned URL of that key in the tenant's Azure Key Vault, imported there by
        M(keyceremony.byok.keyvault_byok_import). The key must be the TPD's Server Licensor Certificate's key.
    type: str
  active:
    description:
      - Whether the TPD's key becomes the tenant's active key (the first TPD of a migration) or is stored archived.
    type: bool
    required: true
  friendly_name:
    description:
      - A friendly name for the TPD in the tenant; defaults to the export's.
    type: str
  force:
    description:
      - Confirms O(active=true), which cannot be undone.
    type: bool
    default: false
seealso:
  - module: keyceremony.byok.tpd_export
  - module: keyceremony.byok.tenant_key_info
'''

EXAMPLES = r'''
- name: Import the current TPD as the active key
  keyceremony.byok.tpd_import:
    tenant_url: https://127.0.0.1:8443
    admin_user: "{{ tenant_admin }}"
    admin_password: "{{ tenant_admin_password }}"
    ca_path: /etc/keyceremony/tenant-ca.pem
    tpd_file: /media/transfer/contoso-tpd-2019.xml
    protection_password: "{{ vault_tpd_password }}"
    hsm_key_file: /media/transfer/KeyTransferPackage-ContosoADRMS2019.byok
    active: true
    force: true

- name: Import an older TPD, archived
  keyceremony.byok.tpd_import:
    tenant_url: https://127.0.0.1:8443
    admin_user: "{{ tenant_admin }}"
    admin_password: "{{ tenant_admin_password }}"
    ca_path: /etc/keyceremony/tenant-ca.pem
    tpd_file: /media/transfer/contoso-tpd-2012.xml
    protection_password: "{{ vault_tpd_password }}"
    hsm_key_file: /media/transfer/KeyTransferPackage-ContosoADRMS2012.byok
    active: false
'''

RETURN = r'''
tpd:
  description: The TPD as the tenant records it. V(null) in check mode when it is still to be imported.
  returned: success
  type: dict
  sample: {"tpd_id": "6f1c2e3d-4b5a-4c6d-8e7f-90a1b2c3d4e5", "display_name": "Contoso AD RMS 2019", "cryptographic_mode": 2}
key:
  description: The tenant key the TPD brought or uses. V(null) in check mode when it is still to be imported.
  returned: success
  type: dict
  sample: {"KeyIdentifier": "0b8e6f0c-7a51-4d0e-9c4e-5e3c2f1a9b77", "Status": "Active", "KeyType": "Customer-managed (BYOK)"}
tpd_id:
  description: The TPD's id.
  returned: success
  type: str
  sample: 6f1c2e3d-4b5a-4c6d-8e7f-90a1b2c3d4e5
slc_spki_sha256:
  description: Fingerprint of the TPD's key.
  returned: success
  type: str
  sample: 9b1c6f3e2d4a5b6c7d8e9f00112233445566778899aabbccddeeff0011223344
'''

from ansible_collections.keyceremony.byok.plugins.module_utils._byok import parse_package
from ansible_collections.keyceremony.byok.plugins.module_utils._errors import ByokError
from ansible_collections.keyceremony.byok.plugins.module_utils._keyvault import parse_kid
from ansible_collections.keyceremony.byok.plugins.module_utils._module import TENANT_ARGS, new_module, run, spec, tenant_client
from ansible_collections.keyceremony.byok.plugins.module_utils._tpd import hsm_reference_name, read_tpd


def _read(path, what):
    try:
        with open(path, 'rb') as f:
            return f.read()
    except IOError as e:
        raise ByokError('cannot read %s %s: %s' % (what, path, e.strerror))


def work(module):
    p = module.params
    data = _read(p['tpd_file'], 'tpd_file')
    tpd = read_tpd(data, p['protection_password'])
    package = None
    if tpd['storage'] == 'HSM' and p['key_vault_key_url']:
        parse_kid(p['key_vault_key_url'], what='key_vault_key_url')
    elif tpd['storage'] == 'HSM':
        if not p['hsm_key_file']:
            raise ByokError('the TPD keeps its key in an HSM (%s): give hsm_key_file, the transfer package of that key, '
                            'or key_vault_key_url, that key in the tenant\'s Key Vault'
                            % hsm_reference_name(tpd['hsm_key']['ident']))
        package = _read(p['hsm_key_file'], 'hsm_key_file')
        spki = parse_package(package)['binding']['spki_sha256']
        if spki != tpd['slc_spki_sha256']:
            raise ByokError('hsm_key_file holds key %s, but the TPD\'s Server Licensor Certificate is key %s'
                            % (spki, tpd['slc_spki_sha256']))
    result = {'tpd_id': tpd['tpd_id'], 'slc_spki_sha256': tpd['slc_spki_sha256'], 'tpd': None, 'key': None}
    with tenant_client(p) as client:
        held = [t for t in client.call('GET', client.tenant_path('/tpds'), action='the TPD list')
                if t['tpd_id'] == tpd['tpd_id']]
        if held:
            keys = client.call('GET', client.tenant_path('/keys'), action='Get-AadrmKeys')
            key = next((k for k in keys if k['KeyIdentifier'] == held[0]['key_identifier']), None)
            return dict(result, changed=False, tpd=held[0], key=key)
        if p['active'] and not p['force']:
            raise ByokError('importing a TPD with active=true makes its key the tenant\'s active key and archives the '
                            'one in use; it cannot be undone. Set force=true to confirm')
        if module.check_mode:
            return dict(result, changed=True)
        got = client.call('POST', client.tenant_path('/tpds'), {
            'tpd': data.decode('utf-8'), 'protection_password': p['protection_password'],
            'hsm_key_package': package.decode('utf-8') if package else None, 'active': p['active'],
            'key_vault_key_url': p['key_vault_key_url'] if tpd['storage'] == 'HSM' else None,
            'friendly_name': p['friendly_name']}, 'Import-AadrmTpd')
    return dict(result, changed=got['created'], tpd=got['tpd'], key=got['key'])


def main():
    module = new_module(spec(TENANT_ARGS, tpd_file={'type': 'path', 'required': True},
                             protection_password={'type': 'str', 'required': True, 'no_log': True},
                             hsm_key_file={'type': 'path'}, key_vault_key_url={'type': 'str', 'no_log': False},
                             active={'type': 'bool', 'required': True},
                             friendly_name={'type': 'str'}, force={'type': 'bool', 'default': False}),
                        mutually_exclusive=[('hsm_key_file', 'key_vault_key_url')], needs_hsm=False)
    run(module, work, journal_as='tpd_import', journal_fields=('tpd_id', 'slc_spki_sha256', 'key'))


if __name__ == '__main__':
    main()
