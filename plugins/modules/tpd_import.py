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
  - Takes the export AD RMS writes (C(Export-RmsTPD), the AD RMS console), described in the collection's
    C(docs/tpd.md). It opens and checks it here first, as M(keyceremony.byok.tpd_info) does (the password opens it, the
    mode, key size and CSP type agree, the key is the SLC's), then sends it to the tenant, which checks it again,
    brings its key into the tenant's HSM and records it.
  - A software-protected TPD carries its key (a CryptoAPI private key blob); the tenant converts it in memory and
    imports it into its HSM, sensitive and never extractable, as a C(Microsoft-managed) key. It is written nowhere in
    the clear.
  - A TPD whose key is in an HSM (C(no_key_tpd_<key ID>.xml)) needs that key, as its transfer package
    (O(hsm_key_file)) or in the tenant's Key Vault (O(key_vault_key_url)); it must be the SLC's key.
  - With O(active=true) the TPD's key becomes the tenant's active key and the one in use is archived - irreversible,
    so it needs O(force=true). With O(active=false) it is stored archived, so content protected by it stays readable.
  - A TPD the tenant already holds gives C(changed=false).
  - Refusals, each with its own message - a wrong password (C(Trusted Publishing Domain data is corrupted, or the
    password is wrong)), any problem M(keyceremony.byok.tpd_info) reports (mode and key size that disagree, a CSP type
    the mode does not allow, an embedded key that is not the SLC's, no SLC, ...), an HSM TPD without its key, an HSM
    key package or Key Vault key that is not the SLC's key, a package for another tenant, a file over 5 MiB.
author:
  - keyceremony.byok maintainers (!UNKNOWN)
extends_documentation_fragment:
  - keyceremony.byok.tpd
  - keyceremony.byok.tenant
  - keyceremony.byok.attributes
  - keyceremony.byok.attributes.CHANGES
options:
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
  expect_spki_sha256:
    description:
      - The fingerprint (SHA-256 of the DER SubjectPublicKeyInfo) the TPD's key must have - the HSM key's, as the offline
        workstation showed it. A TPD whose SLC key is another (in either modulus byte order) is refused before the
        tenant is asked. The migration role gives it for the TPD it makes active.
    type: str
  active:
    description:
      - Whether the TPD's key becomes the tenant's active key (the first TPD of a migration) or is stored archived.
    type: bool
    required: true
  friendly_name:
    description:
      - A friendly name for the TPD in the tenant; defaults to the name of the server its SLC is issued to.
    type: str
  force:
    description:
      - Confirms O(active=true), which cannot be undone.
    type: bool
    default: false
seealso:
  - module: keyceremony.byok.tpd_info
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
  description: The TPD's ID (its SLC's MS-GUID).
  returned: success
  type: str
  sample: 6f1c2e3d-4b5a-4c6d-8e7f-90a1b2c3d4e5
slc_spki_sha256:
  description: Fingerprint of the TPD's key, its SLC's (SHA-256 of its DER SubjectPublicKeyInfo).
  returned: success
  type: str
  sample: 9b1c6f3e2d4a5b6c7d8e9f00112233445566778899aabbccddeeff0011223344
'''

import base64

from ansible_collections.keyceremony.byok.plugins.module_utils import _tpd
from ansible_collections.keyceremony.byok.plugins.module_utils._byok import parse_package
from ansible_collections.keyceremony.byok.plugins.module_utils._values import normalize_sha256
from ansible_collections.keyceremony.byok.plugins.module_utils._errors import ByokError
from ansible_collections.keyceremony.byok.plugins.module_utils._keyvault import parse_kid
from ansible_collections.keyceremony.byok.plugins.module_utils._module import (
    TENANT_ARGS, TPD_ARGS, new_module, run, spec, tenant_client)


def _read(path, what):
    try:
        with open(path, 'rb') as f:
            return f.read()
    except IOError as e:
        raise ByokError('cannot read %s %s: %s' % (what, path, e.strerror))


def work(module):
    p = module.params
    data = _tpd.read_export_file(p['tpd_file'])
    tpd = _tpd.check_importable(_tpd.read_tpd(data, p['protection_password']))
    if p['expect_spki_sha256']:
        expected = normalize_sha256(p['expect_spki_sha256'], 'expect_spki_sha256')
        if not _tpd.matches_slc(tpd, expected):
            raise ByokError('the TPD\'s Server Licensor Certificate is key %s, not %s (expect_spki_sha256): this export '
                            'is not the one of the key that was packaged' % (tpd['slc_spki_sha256'], expected))
    package = None
    if tpd['key_storage'] == 'hsm' and p['key_vault_key_url']:
        parse_kid(p['key_vault_key_url'], what='key_vault_key_url')
    elif tpd['key_storage'] == 'hsm':
        if not p['hsm_key_file']:
            where = (tpd['csp_name'] or 'no CSP named', tpd['key_container'],
                     _tpd.hsm_reference_name(tpd['key_container'] or '<key ID>'))
            raise ByokError('the TPD keeps its key in an HSM (%s, key container %r; an export Microsoft calls %s): give '
                            'hsm_key_file, the transfer package of that key, or key_vault_key_url, that key in the '
                            'tenant\'s Key Vault' % where)
        package = _read(p['hsm_key_file'], 'hsm_key_file')
        spki = parse_package(package)['binding']['spki_sha256']
        if not _tpd.matches_slc(tpd, spki):
            raise ByokError('hsm_key_file holds key %s, but the TPD\'s Server Licensor Certificate is key %s'
                            % (spki, tpd['slc_spki_sha256']))
    elif p['hsm_key_file'] or p['key_vault_key_url']:
        raise ByokError('the TPD carries its own (software-protected) key; hsm_key_file and key_vault_key_url are for a '
                        'TPD whose key is in an HSM: leave them out')
    result = {'tpd_id': tpd['tpd_id'], 'slc_spki_sha256': tpd['slc_spki_sha256'], 'tpd': None, 'key': None}
    with tenant_client(p) as client:
        held = [t for t in client.call('GET', client.tenant_path('/tpds'), action='the TPD list')
                if t['tpd_id'] == tpd['tpd_id']]
        if held:
            keys = client.call('GET', client.tenant_path('/keys'), action='Get-AadrmKeys')
            key = next((k for k in keys if k['KeyIdentifier'] == held[0]['key_identifier']), None)
            _tpd.check_held(tpd, (key or {}).get('SpkiSha256'), held[0]['key_identifier'])
            return dict(result, changed=False, tpd=held[0], key=key, slc_spki_sha256=tpd['slc_spki_sha256'])
        if p['active'] and not p['force']:
            raise ByokError('importing a TPD with active=true makes its key the tenant\'s active key and archives the '
                            'one in use; it cannot be undone. Set force=true to confirm')
        if module.check_mode:
            return dict(result, changed=True)
        got = client.call('POST', client.tenant_path('/tpds'), {
            'tpd': base64.b64encode(data).decode('ascii'), 'protection_password': p['protection_password'],
            'hsm_key_package': package.decode('utf-8') if package else None, 'active': p['active'],
            'key_vault_key_url': p['key_vault_key_url'],
            'friendly_name': p['friendly_name']}, 'Import-AadrmTpd')
    return dict(result, changed=got['created'], tpd=got['tpd'], key=got['key'])


def main():
    module = new_module(spec(TENANT_ARGS, TPD_ARGS, hsm_key_file={'type': 'path'},
                             key_vault_key_url={'type': 'str', 'no_log': False}, expect_spki_sha256={'type': 'str'},
                             active={'type': 'bool', 'required': True},
                             friendly_name={'type': 'str'}, force={'type': 'bool', 'default': False}),
                        mutually_exclusive=[('hsm_key_file', 'key_vault_key_url')], needs_hsm=False)
    run(module, work, journal_as='tpd_import', journal_fields=('tpd_id', 'slc_spki_sha256', 'key'))


if __name__ == '__main__':
    main()
