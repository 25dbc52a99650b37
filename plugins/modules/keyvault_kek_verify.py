#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: keyvault_kek_verify
short_description: Check an Azure Key Vault Key Exchange Key (KEK) against its pinned fingerprint, offline
version_added: 0.1.0
description:
  - The offline workstation's check of the KEK that M(keyceremony.byok.keyvault_kek) created in Azure Key Vault (or
    that C(az keyvault key create --kty RSA-HSM --ops import) made), before the world trusts it. Needs no network and
    no HSM, and never changes anything.
  - "Checks, each named when it fails (all failures are reported at once): C(kty RSA-HSM) (a plain C(RSA) key is a
    software key and is refused); C(key_ops exactly import); C(size 2048-4096); C(public exponent 65537);
    C(versioned key URL) (C(kid) is C(https://<vault>/keys/<name>/<32 hex digits>)); C(fingerprint) (the SHA-256 of the
    KEK's DER SubjectPublicKeyInfo equals O(kek_spki_sha256))."
  - There is no attestation chain for a Key Vault KEK as there is for the regional toolset, so the fingerprint read
    aloud from the online workstation and compared here is the trust anchor. Take O(kek_spki_sha256) from the person
    at the online workstation, never from the transfer media that carries O(kek_file).
author:
  - keyceremony.byok maintainers (!UNKNOWN)
extends_documentation_fragment:
  - keyceremony.byok.attributes
  - keyceremony.byok.attributes.INFO_MODULE
options:
  kek_file:
    description:
      - The KEK's key bundle as Key Vault's C(GET key) returns it and C(az keyvault key show) prints it (a C(key) object
        with C(kid), C(kty), C(key_ops), C(n) and C(e), and C(attributes)), or the KEK's bare JWK.
    type: path
    required: true
  kek_spki_sha256:
    description:
      - The KEK fingerprint the online workstation showed (64 hex digits; spaces and colons allowed).
    type: str
    required: true
  journal:
    description:
      - A ceremony journal to record the check in; a failure with its reason, a success (outcome C(verified)) with
        the KEK id and fingerprint, for the witnesses' sheet. Nothing is recorded in check mode.
    type: path
seealso:
  - module: keyceremony.byok.keyvault_kek
  - module: keyceremony.byok.key_acl
  - module: keyceremony.byok.transfer_package
'''

EXAMPLES = r'''
- name: Check the Key Vault KEK that crossed on the transfer media against the fingerprint read aloud
  keyceremony.byok.keyvault_kek_verify:
    kek_file: /media/transfer/contoso-kek.kek.json
    kek_spki_sha256: "{{ kek_fingerprint_read_aloud }}"
  register: kek
'''

RETURN = r'''
result:
  description: V(SUCCESS) when every check passed (the module fails otherwise).
  returned: success
  type: str
  sample: SUCCESS
kek_kid:
  description: The KEK's versioned key identifier, which the C(.byok) file names in its header.
  returned: success
  type: str
  sample: https://contoso-byok.vault.azure.net/keys/contoso-kek/0f8b2b3ac64c4c63a52b6d13a0d2ab65
kek_size:
  description: The KEK's RSA modulus size in bits.
  returned: success
  type: int
  sample: 4096
kek_spki_sha256:
  description: SHA-256 of the KEK's DER SubjectPublicKeyInfo (equal to the pinned value).
  returned: success
  type: str
  sample: 2b7e151628aed2a6abf7158809cf4f3c762e7160f38b4da56a784d9045190cfe
kek_spki_sha256_grouped:
  description: The same fingerprint in groups of 8 hex digits, the form read aloud.
  returned: success
  type: str
  sample: 2b7e1516 28aed2a6 abf71588 09cf4f3c 762e7160 f38b4da5 6a784d90 45190cfe
'''

from ansible_collections.keyceremony.byok.plugins.module_utils._keyvault import group, read_kek_file
from ansible_collections.keyceremony.byok.plugins.module_utils._module import new_module, run


def work(module):
    kek = read_kek_file(module.params['kek_file'], module.params['kek_spki_sha256'])
    return {'changed': False, 'result': kek['result'], 'kek_kid': kek['kek_kid'], 'kek_size': kek['kek_size'],
            'kek_spki_sha256': kek['kek_spki_sha256'], 'kek_spki_sha256_grouped': group(kek['kek_spki_sha256'])}


def main():
    module = new_module({'kek_file': {'type': 'path', 'required': True},
                         'kek_spki_sha256': {'type': 'str', 'required': True, 'no_log': False},
                         'journal': {'type': 'path'}}, needs_hsm=False)
    run(module, work, journal_as='keyvault_kek_verify', journal_verified=True,
        journal_fields=('kek_kid', 'kek_spki_sha256', 'kek_size'))


if __name__ == '__main__':
    main()
