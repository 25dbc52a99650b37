#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: tenant_info
short_description: Read the tenant's configuration and tenant ID
version_added: 0.1.0
description:
  - The equivalent of C(Connect-AadrmService), C(Get-AadrmConfiguration), C(Disconnect-AadrmService).
  - Returns the tenant configuration, with RV(bpos_id), the tenant ID that transfer packages are bound to.
author:
  - keyceremony.byok maintainers (!UNKNOWN)
extends_documentation_fragment:
  - keyceremony.byok.tenant
  - keyceremony.byok.attributes
  - keyceremony.byok.attributes.INFO_MODULE
seealso:
  - module: keyceremony.byok.transfer_package
'''

EXAMPLES = r'''
- name: Read the tenant ID
  keyceremony.byok.tenant_info:
    tenant_url: https://127.0.0.1:8443
    admin_user: "{{ tenant_admin }}"
    admin_password: "{{ tenant_admin_password }}"
    ca_path: /etc/keyceremony/tenant-ca.pem
  register: tenant

- name: Show it for the offline side
  ansible.builtin.debug:
    msg: "Tenant ID (BPOSId) {{ tenant.bpos_id }}"
'''

RETURN = r'''
bpos_id:
  description: The tenant ID (C(BPOSId)).
  returned: success
  type: str
  sample: 2b51f7a3-8c4d-4e59-9a1b-0c2d3e4f5a6b
configuration:
  description: The fields of C(Get-AadrmConfiguration), C(BPOSId) first.
  returned: success
  type: dict
  sample: {"BPOSId": "2b51f7a3-8c4d-4e59-9a1b-0c2d3e4f5a6b", "FunctionalState": "Enabled", "KeyCount": 1}
'''

from ansible_collections.keyceremony.byok.plugins.module_utils._module import TENANT_ARGS, new_module, run, spec, tenant_client


def work(module):
    with tenant_client(module.params) as client:
        conf = client.call('GET', client.tenant_path('/configuration'), action='Get-AadrmConfiguration')
    return {'changed': False, 'bpos_id': conf['BPOSId'], 'configuration': conf}


def main():
    module = new_module(spec(TENANT_ARGS), needs_hsm=False, needs_crypto=False)
    run(module, work, journal_as='tenant_info')


if __name__ == '__main__':
    main()
