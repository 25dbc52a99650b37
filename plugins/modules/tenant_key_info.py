#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: tenant_key_info
short_description: List the tenant's keys and prove the active key is held
version_added: 0.1.0
description:
  - The equivalent of C(Get-AadrmKeys).
  - With O(challenge), asks the tenant to sign the challenge (bound to the tenant ID) with its active key and verifies
    the signature here, against the public key whose fingerprint the key list shows; with O(expect_spki_sha256) it
    also checks that the active key is the one the offline side generated.
  - With O(journal) and either check asked for, a success is recorded too (outcome C(verified), with the possession
    proof, that is the active key's identifier and fingerprint and the signature's algorithm), for the witnesses'
    sheet. A plain listing records nothing.
author:
  - keyceremony.byok maintainers (!UNKNOWN)
extends_documentation_fragment:
  - keyceremony.byok.tenant
  - keyceremony.byok.attributes
  - keyceremony.byok.attributes.INFO_MODULE
options:
  challenge:
    description:
      - Any text of 16 to 1024 bytes (best a fresh random value); the tenant signs it with its active key.
    type: str
  expect_spki_sha256:
    description:
      - The fingerprint the active key must have (for example RV(keyceremony.byok.hsm_key#module:spki_sha256) recorded on
        the offline workstation). The module fails when the active key is another.
    type: str
seealso:
  - module: keyceremony.byok.tenant_key
'''

EXAMPLES = r'''
- name: List the keys and prove possession of the active one
  keyceremony.byok.tenant_key_info:
    tenant_url: https://127.0.0.1:8443
    admin_user: "{{ tenant_admin }}"
    admin_password: "{{ tenant_admin_password }}"
    ca_path: /etc/keyceremony/tenant-ca.pem
    challenge: "{{ lookup('ansible.builtin.password', '/dev/null length=32') }}"
    expect_spki_sha256: "{{ tenant_key_fingerprint }}"
  register: keys
'''

RETURN = r'''
keys:
  description: The tenant's keys, oldest first.
  returned: success
  type: list
  elements: dict
  sample: [{"KeyIdentifier": "0b8e6f0c-7a51-4d0e-9c4e-5e3c2f1a9b77", "KeyType": "Customer-managed (BYOK)", "Status": "Active",
            "CreationTime": "2026-11-22T10:05:00.000000Z", "SpkiSha256": "9b1c6f3e...", "FriendlyName": "ContosoBYOK"}]
active_key:
  description: The active key.
  returned: success
  type: dict
  sample: {"KeyIdentifier": "0b8e6f0c-7a51-4d0e-9c4e-5e3c2f1a9b77", "Status": "Active"}
possession:
  description: With O(challenge), the verified proof. The module fails if the signature does not verify.
  returned: when challenge is given
  type: dict
  sample: {"verified": true, "key_identifier": "0b8e6f0c-7a51-4d0e-9c4e-5e3c2f1a9b77", "spki_sha256": "9b1c6f3e...",
           "algorithm": "PS256"}
'''

import base64
import hashlib

from ansible_collections.keyceremony.byok.plugins.module_utils._crypto import spki_der_from_pem, verify_pss_sha256
from ansible_collections.keyceremony.byok.plugins.module_utils._errors import ByokError
from ansible_collections.keyceremony.byok.plugins.module_utils._module import TENANT_ARGS, new_module, run, spec, tenant_client
from ansible_collections.keyceremony.byok.plugins.module_utils._byok import possession_message


def work(module):
    p = module.params
    with tenant_client(p) as client:
        keys = client.call('GET', client.tenant_path('/keys'), action='Get-AadrmKeys')
        active = next((k for k in keys if k['Status'] == 'Active'), None)
        result = {'changed': False, 'keys': keys, 'active_key': active}
        if p['expect_spki_sha256'] and (active is None or active['SpkiSha256'] != p['expect_spki_sha256'].lower()):
            raise ByokError('the active key of tenant %s has fingerprint %s, not the expected %s'
                            % (client.tenant_id, active and active['SpkiSha256'], p['expect_spki_sha256']))
        if p['challenge']:
            challenge = p['challenge'].encode('utf-8')
            if not 16 <= len(challenge) <= 1024:
                raise ByokError('challenge must be 16 to 1024 bytes')
            proof = client.call('POST', client.tenant_path('/possession'),
                                {'challenge': base64.b64encode(challenge).decode('ascii')}, 'the possession proof')
            spki = spki_der_from_pem(proof['PublicKey'])
            if hashlib.sha256(spki).hexdigest() != active['SpkiSha256'] or proof['KeyIdentifier'] != active['KeyIdentifier']:
                raise ByokError('the tenant signed with a key other than its active key %s' % active['KeyIdentifier'])
            if not verify_pss_sha256(spki, base64.b64decode(proof['Signature']),
                                     possession_message(client.tenant_id, challenge)):
                raise ByokError('the possession proof does not verify: tenant %s did not sign the challenge with its '
                                'active key %s' % (client.tenant_id, active['KeyIdentifier']))
            result['possession'] = {'verified': True, 'key_identifier': active['KeyIdentifier'],
                                    'spki_sha256': active['SpkiSha256'], 'algorithm': proof['Algorithm']}
    return result


def main():
    module = new_module(spec(TENANT_ARGS, challenge={'type': 'str'}, expect_spki_sha256={'type': 'str'}), needs_hsm=False)
    run(module, work, journal_as='tenant_key_info', journal_fields=('possession',),
        journal_verified=lambda p: bool(p['challenge'] or p['expect_spki_sha256']))


if __name__ == '__main__':
    main()
