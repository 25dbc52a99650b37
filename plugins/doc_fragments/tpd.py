# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):

    # The TPD export an AD RMS cluster wrote, and its password: read by tpd_info and tpd_import.
    DOCUMENTATION = r'''
options:
  tpd_file:
    description:
      - The TPD export, as C(Export-RmsTPD) or the AD RMS console wrote it (XML, UTF-8 or UTF-16; at most 5 MiB).
    type: path
    required: true
  protection_password:
    description:
      - The password the TPD was exported with. Never logged.
      - It is tried with the v2 key derivation (the default export), then with v1 (C(-V1Compatible)).
    type: str
    required: true
requirements:
  - defusedxml (every XML layer of the export - the file, the inner document, the SLC and each template - is parsed
    with it, refusing DTDs, entities and external references in any encoding)
'''
