#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: tpd_info
short_description: Open an AD RMS trusted publishing domain export and say what it holds, before it is imported
version_added: 0.1.0
description:
  - Opens a trusted publishing domain (TPD) export as AD RMS writes it (C(Export-RmsTPD), the AD RMS console) with its
    protection password, reads both layers and the certificates in it, and reports what it holds and any problem an
    import would refuse. It is the check an administrator runs before the irreversible import with
    M(keyceremony.byok.tpd_import).
  - Runs on either workstation; it needs no network and no HSM, and changes nothing.
  - A file larger than 5 MiB is refused before it is read.
  - A wrong password fails with C(Trusted Publishing Domain data is corrupted, or the password is wrong) and nothing
    else. The export has no MAC, so altered encrypted data fails the same way.
  - The private key of a software-protected TPD is read only to check that it is the SLC's key; it is never returned.
  - The format, and which of its points are inferred, is described in the collection's C(docs/tpd.md).
author:
  - keyceremony.byok maintainers (!UNKNOWN)
extends_documentation_fragment:
  - keyceremony.byok.tpd
  - keyceremony.byok.attributes
  - keyceremony.byok.attributes.INFO_MODULE
options: {}
seealso:
  - module: keyceremony.byok.tpd_import
  - module: keyceremony.byok.tpd_export
'''

EXAMPLES = r'''
- name: Check the export before the import
  keyceremony.byok.tpd_info:
    tpd_file: /media/transfer/contoso-tpd-2019.xml
    protection_password: "{{ vault_tpd_password }}"
  register: tpd

- name: Stop on any problem, and compare the SLC key with the HSM key's fingerprint
  ansible.builtin.assert:
    that:
      - tpd.problems | length == 0
      - tpd.slc_spki_sha256 == adrms_key_spki_sha256
    fail_msg: "{{ tpd.problems | join('; ') }}"
'''

RETURN = r'''
password_scheme:
  description: The key derivation the password opened the export with - V(v2) (SHA-256 of the UTF-16LE password, the
    default export) or V(v1) (PBKDF1-SHA1 of the UTF-8 password, C(Export-RmsTPD -V1Compatible)).
  returned: success
  type: str
  sample: v2
outer_encoding:
  description: The text encoding of the file, as found from its byte order mark or first bytes.
  returned: success
  type: str
  sample: utf-8
inner_encoding:
  description: The text encoding of the decrypted inner document.
  returned: success
  type: str
  sample: utf-16-le
cryptographic_mode:
  description:
    - V(1) (RSA 1024, SHA-1) or V(2) (RSA 2048, SHA-256), from the digest algorithm of the SLC's signature.
    - When the SLC names no digest, taken from its key size, and said so in RV(notes). V(null) when neither tells.
  returned: success
  type: int
  sample: 2
tpd_id:
  description: The TPD's ID, the SLC's MS-GUID in lower case without braces; the tenant knows the TPD by it.
  returned: success
  type: str
  sample: 6f1c2e3d-4b5a-4c6d-8e7f-90a1b2c3d4e5
slc_id:
  description: The ID of the Server Licensor Certificate (the same as RV(tpd_id)); V(null) when it is no GUID.
  returned: success
  type: str
  sample: 6f1c2e3d-4b5a-4c6d-8e7f-90a1b2c3d4e5
display_name:
  description: The name of the AD RMS server the SLC is issued to.
  returned: success
  type: str
  sample: Contoso AD RMS 2019
slc_spki_sha256:
  description:
    - The SLC's public key (the key beside ISSUEDPRINCIPALS/PRINCIPAL/OBJECT, not the issuer's), as the SHA-256 of its
      DER SubjectPublicKeyInfo - the same fingerprint M(keyceremony.byok.hsm_key) returns for the key.
  returned: success
  type: str
  sample: 9b1c6f3e2d4a5b6c7d8e9f00112233445566778899aabbccddeeff0011223344
slc_spki_sha256_other_order:
  description:
    - When the SLC's modulus is a valid key in either byte order and no embedded key decides, the fingerprint of the
      other reading (big-endian), so that the HSM key's fingerprint can be compared with both; V(null) otherwise.
    - Only one of the two can be anyone's key; M(keyceremony.byok.tpd_import) takes the one the key package holds.
  returned: success
  type: str
  sample: null
slc_key_size:
  description: The SLC key's size in bits.
  returned: success
  type: int
  sample: 2048
modulus_byte_order:
  description:
    - The byte order the SLC's modulus was found in - V(little-endian) (CryptoAPI order, what real exports hold) or
      V(big-endian).
    - When both orders give a valid modulus, the embedded key decides; without one it is read little-endian and
      RV(notes) says so.
  returned: success
  type: str
  sample: little-endian
key_storage:
  description: V(embedded) when the export carries the private key (a software-protected key), V(hsm) when the key
    stays in an HSM and the export names it (C(no_key_tpd_<key ID>.xml)).
  returned: success
  type: str
  sample: hsm
csp_name:
  description: The cryptographic service provider the key information names.
  returned: success
  type: str
  sample: nCipher Enhanced RSA and AES Cryptographic Provider
csp_type:
  description: The CSP type (1 PROV_RSA_FULL, 24 PROV_RSA_AES), V(null) when absent.
  returned: success
  type: int
  sample: 24
key_container:
  description: The key container name; for an HSM key, where the key is in its CSP.
  returned: success
  type: str
  sample: adrms2019
key_number:
  description: The key number (1 AT_KEYEXCHANGE, 2 AT_SIGNATURE), V(null) when absent.
  returned: success
  type: int
  sample: 1
key_id:
  description: The key information's strID, as found.
  returned: success
  type: str
  sample: "{6F1C2E3D-4B5A-4C6D-8E7F-90A1B2C3D4E5}"
key_id_type:
  description: The key information's strIDType, as found.
  returned: success
  type: str
  sample: MS-GUID
embedded_key_matches_slc:
  description: For an V(embedded) key, whether it is the SLC's key (the key itself is never returned); V(null) for an
    V(hsm) key.
  returned: success
  type: bool
  sample: true
templates:
  description: The rights policy templates, each with its ID (V(null) when it is no GUID) and its name (the first NAME
    of its LCID list).
  returned: success
  type: list
  elements: dict
  sample: [{"id": "0e5a7e61-5f8e-4c1b-9f1c-2b9c7f3e1a10", "name": "Confidential"}]
problems:
  description:
    - What an import refuses, each said in full; empty when the export is sound. For example the mode and the key
      size disagree, a CSP type the mode does not allow, an embedded key that is not the SLC's, no SLC, an SLC or key
      blob that cannot be read.
  returned: success
  type: list
  elements: str
  sample: ["cryptographic mode 2 means RSA 2048 with SHA-256, but the SLC key is RSA 1024"]
notes:
  description: What was read leniently (points of the format that are inferred); no reason to refuse.
  returned: success
  type: list
  elements: str
  sample: []
'''

from ansible_collections.keyceremony.byok.plugins.module_utils import _tpd
from ansible_collections.keyceremony.byok.plugins.module_utils._module import TPD_ARGS, new_module, run, spec


FIELDS = ('password_scheme', 'outer_encoding', 'inner_encoding', 'cryptographic_mode', 'tpd_id', 'slc_id',
          'display_name', 'slc_spki_sha256', 'slc_spki_sha256_other_order', 'slc_key_size', 'modulus_byte_order', 'key_storage', 'csp_name',
          'csp_type', 'key_container', 'key_number', 'key_id', 'key_id_type', 'embedded_key_matches_slc', 'templates',
          'problems', 'notes')


def work(module):
    p = module.params
    tpd = _tpd.read_tpd(_tpd.read_export_file(p['tpd_file']), p['protection_password'])
    return dict(((k, tpd[k]) for k in FIELDS), changed=False)


def main():
    module = new_module(spec(TPD_ARGS), needs_hsm=False)
    run(module, work)


if __name__ == '__main__':
    main()
