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
