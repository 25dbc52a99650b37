# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):

    # The regional BYOK toolset and the root hash it is checked against.
    DOCUMENTATION = r'''
options:
  kek_package:
    description:
      - Path of the KEK package of the regional BYOK toolset (for example C(BYOK-KEK-pkg-NA-1)).
    type: path
    required: true
  security_world_package:
    description:
      - Path of the security-world package of the same toolset (for example C(BYOK-SecurityWorld-pkg-NA-1)).
    type: path
    required: true
  root_hash:
    description:
      - SHA-256 of the vendor root key (its DER SubjectPublicKeyInfo), as the vendor publishes it out of band, with or
        without spaces or colons, for example C(59178a47 de508c3f 291277ee 184f46c4 f1d9c639 ...) (64 hex digits).
      - Take it from a channel other than the one the toolset came from (the vendor's printed documentation, a phone
        call); a hash downloaded with the toolset proves nothing.
      - A 40-digit SHA-1 hash is refused.
    type: str
    required: true
'''

    # The toolset or an Azure Key Vault KEK, one or the other (key_acl, transfer_package).
    OR_KEY_VAULT = r'''
options:
  kek_package:
    description:
      - Path of the KEK package of the regional BYOK toolset (for example C(BYOK-KEK-pkg-NA-1)).
      - Give O(kek_package), O(security_world_package) and O(root_hash) together, or O(kek_file) and O(kek_spki_sha256)
        for an Azure Key Vault KEK.
    type: path
  security_world_package:
    description:
      - Path of the security-world package of the same toolset (for example C(BYOK-SecurityWorld-pkg-NA-1)).
    type: path
  root_hash:
    description:
      - SHA-256 of the vendor root key (its DER SubjectPublicKeyInfo), as the vendor publishes it out of band, with or
        without spaces or colons (64 hex digits). Take it from a channel other than the one the toolset came from; a
        40-digit SHA-1 hash is refused.
    type: str
  kek_file:
    description:
      - An Azure Key Vault KEK instead of the toolset - the JSON of the KEK's key bundle that Key Vault's C(GET key)
        returns and C(az keyvault key show) prints (a C(key) object with C(kid), C(kty), C(key_ops), C(n) and C(e), and
        C(attributes)), or the KEK's bare JWK; M(keyceremony.byok.keyvault_kek) writes it as C(<name>.kek.json).
      - It is checked as M(keyceremony.byok.keyvault_kek_verify) checks it - C(kty) C(RSA-HSM), C(key_ops) exactly
        C([import]), 2048 to 4096 bits, public exponent 65537, C(kid) a versioned https key URL, and its fingerprint
        equal to O(kek_spki_sha256) - before the world trusts it.
      - Mutually exclusive with O(kek_package), O(security_world_package) and O(root_hash); needs O(kek_spki_sha256).
    type: path
  kek_spki_sha256:
    description:
      - The fingerprint (SHA-256 of the DER SubjectPublicKeyInfo, 64 hex digits, spaces and colons allowed) of the Key
        Vault KEK, as the online workstation showed it (RV(keyceremony.byok.keyvault_kek#module:kek_spki_sha256)),
        compared aloud between the two workstations. There is no attestation chain for a Key Vault KEK - this pin is
        the trust anchor, so take it from the person at the online workstation, not from the transfer media.
    type: str
'''
