# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):

    # The connection to the tenant API, shared by the online modules.
    DOCUMENTATION = r'''
options:
  tenant_url:
    description:
      - Base URL of the tenant service, C(https://) only, for example C(https://127.0.0.1:8443) for the rehearsal
        tenant started by C(byok-tenant serve).
      - Each task connects (C(Connect-AadrmService)), does its work and disconnects (C(Disconnect-AadrmService)), also
        when it fails.
    type: str
    required: true
  admin_user:
    description:
      - The tenant administrator.
    type: str
    required: true
  admin_password:
    description:
      - The administrator's password. Never logged.
    type: str
    required: true
  ca_path:
    description:
      - The CA certificate (PEM) the tenant's TLS certificate must be issued by; for the rehearsal tenant the
        C(tls/ca.pem) of its data folder. When not given, the system's trusted CAs are used.
    type: path
  validate_certs:
    description:
      - Verify the tenant's TLS certificate. Only turn this off to diagnose; a ceremony must never run unverified.
    type: bool
    default: true
  journal:
    description:
      - A ceremony journal file to append a hash-chained record to when this task changes something or fails (the same
        format as the offline world's C(journal.jsonl)). Its folder is created with mode C(0700) when missing.
    type: path
attributes:
  action_group:
    description: Use C(group/keyceremony.byok.tenant) in C(module_defaults) to give the connection options once.
    support: full
    membership:
      - keyceremony.byok.tenant
notes:
  - The tenant's refusals are reported with the HTTP status and the tenant's reason.
'''
