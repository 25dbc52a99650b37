#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: byok_toolset
short_description: Download the regional BYOK toolset (KEK package and security-world package)
version_added: 0.1.0
description:
  - Downloads C(BYOK-KEK-pkg-<region>-1) and C(BYOK-SecurityWorld-pkg-<region>-1) from the tenant into O(dest), to be
    carried to the offline workstation and checked there with M(keyceremony.byok.kek_package_verify).
  - Files already there with the same content are left alone (C(changed=false)); others are replaced atomically.
  - Also returns the root hash the tenant publishes. B(Do not trust it from this channel) - whoever can change the
    toolset on the way can change this hash too. Compare it with the root hash the vendor gives out of band (printed
    documentation, a phone call) and pin that one in M(keyceremony.byok.kek_package_verify).
author:
  - keyceremony.byok maintainers (!UNKNOWN)
extends_documentation_fragment:
  - keyceremony.byok.tenant
  - keyceremony.byok.attributes
  - keyceremony.byok.attributes.CHANGES
options:
  region:
    description:
      - The region whose KEK the key will be wrapped under.
    type: str
    required: true
    choices: [NA, EU, AP]
  dest:
    description:
      - The folder to write the two files to (for example the removable media for the offline workstation); created
        with mode C(0700) when missing. The files are written with mode C(0600).
    type: path
    required: true
seealso:
  - module: keyceremony.byok.kek_package_verify
'''

EXAMPLES = r'''
- name: Fetch the NA toolset onto the transfer media
  keyceremony.byok.byok_toolset:
    tenant_url: https://127.0.0.1:8443
    admin_user: "{{ tenant_admin }}"
    admin_password: "{{ tenant_admin_password }}"
    ca_path: /etc/keyceremony/tenant-ca.pem
    region: NA
    dest: /media/transfer
'''

RETURN = r'''
kek_package:
  description: Path of the KEK package.
  returned: success
  type: str
  sample: /media/transfer/BYOK-KEK-pkg-NA-1
security_world_package:
  description: Path of the security-world package.
  returned: success
  type: str
  sample: /media/transfer/BYOK-SecurityWorld-pkg-NA-1
kek_package_sha256:
  description: SHA-256 of the KEK package.
  returned: success
  type: str
  sample: 403d4dff38af2391e9d93578896f3a04cafaa625aa7e37b95f175213802b6066
security_world_package_sha256:
  description: SHA-256 of the security-world package.
  returned: success
  type: str
  sample: be59601f8c9d166298b1db649ac679356b74f675944b7bfd652ea30237a72f18
root_hash:
  description: The root hash the tenant publishes (compare it out of band; do not pin it from here).
  returned: success
  type: str
  sample: 77c34078feeb12332f512b75a23702e1b1f450b7a0f8e4fdd22ebdb89133b967
root_hash_grouped:
  description: The same, in groups of 8 hex digits.
  returned: success
  type: str
  sample: 77c34078 feeb1233 2f512b75 a23702e1 b1f450b7 a0f8e4fd d22ebdb8 9133b967
'''

import base64
import hashlib
import os

from ansible_collections.keyceremony.byok.plugins.module_utils._files import ensure_private_dir, file_sha256, write_private_file
from ansible_collections.keyceremony.byok.plugins.module_utils._module import TENANT_ARGS, new_module, run, spec, tenant_client
from ansible_collections.keyceremony.byok.plugins.module_utils._tenant import TenantError


def work(module):
    p = module.params
    with tenant_client(p) as client:
        got = client.call('GET', client.tenant_path('/toolset/%s' % p['region']), action='the %s toolset' % p['region'])
    result = {'changed': False, 'root_hash': got['root_hash'], 'root_hash_grouped': got['root_hash_grouped']}
    writes = []
    for kind in ('kek_package', 'security_world_package'):
        entry = got['files'][kind]
        data = base64.b64decode(entry['content'])
        if hashlib.sha256(data).hexdigest() != entry['sha256'] or os.path.basename(entry['name']) != entry['name']:
            raise TenantError('the tenant sent a damaged %s; try again' % kind)
        path = os.path.join(p['dest'], entry['name'])
        result[kind] = path
        result[kind + '_sha256'] = entry['sha256']
        if not (os.path.isfile(path) and file_sha256(path) == entry['sha256']):
            writes.append((path, data))
    if writes:
        result['changed'] = True
        if not module.check_mode:
            ensure_private_dir(p['dest'])
            for path, data in writes:
                write_private_file(path, data)
    return result


def main():
    module = new_module(spec(TENANT_ARGS, region={'type': 'str', 'required': True, 'choices': ['NA', 'EU', 'AP']},
                             dest={'type': 'path', 'required': True}),
                        needs_hsm=False)
    run(module, work, journal_as='byok_toolset', journal_fields=('kek_package', 'kek_package_sha256', 'security_world_package',
                                                                 'security_world_package_sha256', 'root_hash'))


if __name__ == '__main__':
    main()
