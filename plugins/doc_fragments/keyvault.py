# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):

    # The connection to Azure Key Vault, shared by the Key Vault modules (names as in azure.azcollection).
    DOCUMENTATION = r'''
options:
  vault_url:
    description:
      - The vault's URL, its C(https://) origin without a path, for example C(https://contoso-byok.vault.azure.net)
        (a Managed HSM - C(https://contoso.managedhsm.azure.net)). For the rehearsal, the C(keyvault_url) that
        C(byok-tenant info) prints.
    type: str
    required: true
  tenant:
    description:
      - The Azure AD (Microsoft Entra ID) tenant ID of the application whose client credentials are given.
      - Required with O(client_id) and O(secret).
    type: str
  client_id:
    description:
      - The application (client) ID of a service principal allowed to create, get and import keys in the vault.
    type: str
  secret:
    description:
      - The application's client secret. Never logged. Mutually exclusive with O(access_token).
    type: str
  authority:
    description:
      - The Azure AD authority the token is asked of (C(POST <authority>/<tenant>/oauth2/v2.0/token), client
        credentials, scope C(https://vault.azure.net/.default), or C(https://managedhsm.azure.net/.default) for a
        Managed HSM).
      - For the rehearsal, the tenant service's own URL (C(byok-tenant info) prints it as C(authority)).
    type: str
    default: https://login.microsoftonline.com
  access_token:
    description:
      - A bearer token for the vault instead of client credentials, for example from
        C(az account get-access-token --resource https://vault.azure.net --query accessToken -o tsv). Never logged.
    type: str
  ca_path:
    description:
      - The CA certificate (PEM) the vault's and the authority's TLS certificates must be issued by; for the rehearsal
        the C(tls/ca.pem) of the tenant service's data folder. When not given, the system's trusted CAs are used.
    type: path
  validate_certs:
    description:
      - Verify the TLS certificates. Only turn this off to diagnose; a ceremony must never run unverified.
    type: bool
    default: true
  journal:
    description:
      - A ceremony journal file to append a hash-chained record to when this task changes something or fails. Its
        folder is created with mode C(0700) when missing.
    type: path
attributes:
  action_group:
    description: Use C(group/keyceremony.byok.keyvault) in C(module_defaults) to give the connection options once.
    support: full
    membership:
      - keyceremony.byok.keyvault
notes:
  - Key Vault's refusals are reported with the HTTP status, Key Vault's error code and its message; the secret and the
    token never appear in any output.
  - Key Vault calls use C(api-version=7.4).
'''
