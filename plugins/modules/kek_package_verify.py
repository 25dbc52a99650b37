#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: kek_package_verify
short_description: Verify the cloud's KEK package against the pinned vendor root
version_added: 0.1.0
description:
  - The equivalent of C(verifykeypackage.py -k BYOK-KEK-pkg-NA-1 -w BYOK-SecurityWorld-pkg-NA-1).
  - Verifies the whole chain up to the root whose SHA-256 the operator pinned in O(root_hash), in this order, and
    fails naming the first check that does not hold
    (C(format), C(root), C(attestation key certificate), C(KEK attestation signature), C(attestation covers this KEK),
    C(KEK non-exportable), C(world package signature), C(world hash), C(region), C(KEK strength)).
  - The attestation key certificate must be signed by the pinned root, certify that key for the chain it is used in
    (C(kek-attestation) for the KEK package, C(security-world-statement) for the security-world package) and be valid
    now (between its C(issued) and C(valid_until), with five minutes of clock skew).
  - The KEK must be RSA 2048 or more with public exponent 65537 (C(KEK strength)).
  - The KEK is trusted only if its attestation, signed under the root, covers exactly this KEK and says it was
    generated in the HSM and can never leave it, and if the security-world package names the same cloud world.
  - Reads the two files only; never changes anything. Runs on the offline workstation without any HSM.
  - With O(journal), every verification is recorded in the ceremony journal. A failure is recorded with its reason, a
    success (outcome C(verified)) with the KEK id, its fingerprint and the root hash found, next to the pinned one asked.
author:
  - keyceremony.byok maintainers (!UNKNOWN)
extends_documentation_fragment:
  - keyceremony.byok.toolset
  - keyceremony.byok.attributes
  - keyceremony.byok.attributes.INFO_MODULE
options:
  journal:
    description:
      - A ceremony journal (for example C(<world_dir>/journal.jsonl)) to record the verification in, failed or
        verified. Nothing is recorded in check mode.
    type: path
requirements:
  - cryptography
notes:
  - The package formats are described in the collection's C(docs/toolset.md).
seealso:
  - module: keyceremony.byok.key_acl
  - module: keyceremony.byok.transfer_package
'''

EXAMPLES = r'''
- name: Verify the toolset before the world trusts its KEK
  keyceremony.byok.kek_package_verify:
    kek_package: /media/transfer/BYOK-KEK-pkg-NA-1
    security_world_package: /media/transfer/BYOK-SecurityWorld-pkg-NA-1
    root_hash: "{{ vendor_root_hash_from_the_printed_manual }}"
  register: kek

- name: Read the KEK's fingerprint to the witnesses
  ansible.builtin.debug:
    msg: "{{ kek.result }}: KEK {{ kek.kek_kid }} ({{ kek.region }}) {{ kek.kek_spki_sha256 }}"
'''

RETURN = r'''
result:
  description: V(SUCCESS) when every check holds (the module fails otherwise).
  returned: success
  type: str
  sample: SUCCESS
kek_kid:
  description: The KEK's key id, which transfer packages name in their header.
  returned: success
  type: str
  sample: BYOK-KEK-NA-1-3f9a1c0e5b2d7a64
region:
  description: The toolset's region.
  returned: success
  type: str
  sample: NA
kek_spki_sha256:
  description: SHA-256 of the KEK's DER SubjectPublicKeyInfo.
  returned: success
  type: str
  sample: 2b7e151628aed2a6abf7158809cf4f3c762e7160f38b4da56a784d9045190cfe
kek_size:
  description: The KEK's RSA modulus size in bits.
  returned: success
  type: int
  sample: 3072
world_hash:
  description: The hash of the cloud's security world that both packages name.
  returned: success
  type: str
  sample: 6a09e667f3bcc908b2fb1366ea957d3e3adec17512775099da2f590b066f8c1a
root_hash:
  description: The root hash the packages verified to (the pinned one), and RV(root_hash_grouped) in the form read aloud.
  returned: success
  type: str
  sample: 59178a47de508c3f291277ee184f46c4f1d9c639a1b2c3d4e5f60718293a4b5c
root_hash_grouped:
  description: The root hash in groups of 8 hex digits.
  returned: success
  type: str
  sample: 59178a47 de508c3f 291277ee 184f46c4 f1d9c639 a1b2c3d4 e5f60718 293a4b5c
'''

from ansible_collections.keyceremony.byok.plugins.module_utils._kek import read_and_verify
from ansible_collections.keyceremony.byok.plugins.module_utils._module import TOOLSET_ARGS, new_module, run, spec


def work(module):
    p = module.params
    kek = read_and_verify(p['kek_package'], p['security_world_package'], p['root_hash'])
    result = dict((k, v) for k, v in kek.items() if k not in ('kek_modulus', 'kek_public_exponent', 'attestation_issued'))
    result['changed'] = False
    return result


def main():
    module = new_module(spec(TOOLSET_ARGS, journal={'type': 'path'}), needs_hsm=False)
    run(module, work, journal_as='kek_package_verify', journal_verified=True,
        journal_fields=('kek_kid', 'kek_spki_sha256', 'kek_size', 'region', 'world_hash', 'root_hash'))


if __name__ == '__main__':
    main()
