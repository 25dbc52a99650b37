# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):

    DOCUMENTATION = r'''
options: {}
attributes:
  check_mode:
    description: Can run in C(check_mode) and return changed status prediction without modifying the HSM or any file.
  diff_mode:
    description: Returns details on what has changed (or would change in C(check_mode)) in diff mode; never key material or secrets.
  idempotent:
    description: Running it again with the same options changes nothing and reports C(changed=false).
  platform:
    description: Target OS/families that can be operated against.
    support: N/A
    platforms: posix
'''

    # A module that changes things, with check mode and idempotence but no diff.
    CHANGES = r'''
options: {}
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  idempotent:
    support: full
'''

    INFO_MODULE = r'''
options: {}
attributes:
  check_mode:
    support: full
    details: This action does not modify state.
  diff_mode:
    support: N/A
    details: This action does not modify state.
  idempotent:
    support: full
'''
