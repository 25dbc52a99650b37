# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):

    # The world and the PKCS#11 library every HSM module works with.
    DOCUMENTATION = r'''
options:
  world_dir:
    description:
      - The folder that holds the security world's files, like C(%NFAST_KMDATA%\local) of nCipher.
      - It holds the world descriptor C(world.json), the module credential and the key records C(key_<app>_<ident>).
      - Keep it on the offline workstation and back it up with the token; it is created with mode C(0700).
    type: path
    required: true
  pkcs11_module:
    description:
      - Path of the PKCS#11 library of the HSM.
      - When not given, the E(PKCS11_MODULE) environment variable is used, and when that is not set either,
        SoftHSM2's library where distributions install it (for example C(/usr/lib/softhsm/libsofthsm2.so)).
      - For SoftHSM2, the E(SOFTHSM2_CONF) environment variable of the task chooses the token folder;
        set it with the C(environment) keyword.
    type: path
requirements:
  - PyKCS11
  - cryptography >= 44 (for Argon2id)
'''

    TOKEN = r'''
options:
  token_label:
    description:
      - Label of the world's token. Tokens are always found by label, never by slot number.
      - Or an RFC 7512 PKCS#11 URI as C(p11tool --list-tokens) prints it, for example
        C(pkcs11:model=SoftHSM%20v2;manufacturer=SoftHSM%20project;serial=6bf5c3168c152e81;token=contoso-world).
        Its C(token) attribute is the label the token is found by; its C(serial), C(manufacturer) and C(model), when
        given, are checks the token must pass. Any other attribute (a PIN among them) is refused.
      - Defaults to the token recorded in the world descriptor; when given, it must be that token.
    type: str
'''

    ADMIN_CARDS = r'''
options:
  admin_cards:
    description:
      - Administrator cards, one entry per card holder present.
      - Each card file holds one share of the security officer PIN, encrypted under the card's PIN.
    type: list
    elements: dict
    suboptions:
      path:
        description:
          - Path of the card file (on the card holder's removable media).
        type: path
        required: true
      pin:
        description:
          - The card's PIN (passphrase). Never logged.
        type: str
'''

    KEY_NAME = r'''
options:
  app_name:
    description:
      - The nCipher application the key belongs to; C(simple) for new keys, C(mscapi) for AD RMS keys.
      - Lower-case letters and digits. Together with O(ident) it names the key C(key_<app_name>_<ident>),
        which is both its token label and its key record file in O(world_dir).
    type: str
    default: simple
'''
