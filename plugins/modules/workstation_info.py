#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: workstation_info
short_description: Say whether a workstation can run the ceremony's modules
version_added: 0.1.0
description:
  - Reports the Python that runs the collection's modules on the host, which of the Python libraries the modules
    import are missing for it, and the PKCS#11 library the HSM modules would load.
  - Needs nothing beyond Python itself, so it answers on a workstation that lacks PyKCS11 or C(cryptography). The
    roles run it first and stop with what is missing (the offline workstation) or install it (the online workstation).
  - With O(require), it fails itself, saying what to install, when a library is missing that the caller does not
    install (O(installable)) or no PKCS#11 library is found.
  - One task in place of gathering facts, running a command and an assert, as each task costs a process.
author:
  - keyceremony.byok maintainers (!UNKNOWN)
extends_documentation_fragment:
  - keyceremony.byok.attributes
  - keyceremony.byok.attributes.INFO_MODULE
options:
  python_modules:
    description:
      - The Python modules (import names) to look for with the interpreter that runs this module.
    type: list
    elements: str
    default: [PyKCS11, cryptography]
  check_pkcs11:
    description:
      - Whether to look for the PKCS#11 library (the online workstation needs none).
    type: bool
    default: true
  pkcs11_module:
    description:
      - The PKCS#11 library, as the HSM modules take it. Without it, E(PKCS11_MODULE), else SoftHSM2 where
        distributions install it.
    type: path
  require:
    description:
      - Fail, saying what to install, when a module of O(python_modules) is missing and not in O(installable), or when
        O(check_pkcs11) finds no PKCS#11 library. Without it, the module only reports.
    type: bool
    default: false
  installable:
    description:
      - The modules of O(python_modules) the caller installs from the system's packages when they are missing; with
        O(require) their absence is not a failure, and RV(to_install) lists them.
      - Empty for a workstation that downloads nothing (the offline one); the failure then says so.
    type: list
    elements: str
    default: []
  host_name:
    description:
      - The name of the host in the failure's message (the roles give C(inventory_hostname)); without it, the host's
        own name.
    type: str
seealso:
  - module: keyceremony.byok.security_world
'''

EXAMPLES = r'''
- name: Can this workstation run the ceremony?
  keyceremony.byok.workstation_info:
  register: workstation

- name: Stop with what is missing
  ansible.builtin.assert:
    that:
      - workstation.missing_modules | length == 0
      - workstation.pkcs11_problem is none
    fail_msg: "{{ workstation.missing_modules }} {{ workstation.pkcs11_problem }}"

- name: Stop with what is missing, for a workstation that installs nothing
  keyceremony.byok.workstation_info:
    require: true
    host_name: "{{ inventory_hostname }}"

- name: The online side needs no HSM
  keyceremony.byok.workstation_info:
    python_modules: [cryptography]
    check_pkcs11: false
'''

RETURN = r'''
python:
  description: The interpreter that runs the collection's modules on the host.
  returned: always
  type: str
  sample: /usr/bin/python3
python_version:
  description: Its version.
  returned: always
  type: str
  sample: 3.11.2
missing_modules:
  description: The modules of O(python_modules) that this interpreter cannot import, in the order given.
  returned: always
  type: list
  elements: str
  sample: [PyKCS11]
pkcs11_module:
  description: The PKCS#11 library the HSM modules would load, or V(null) (not found, or O(check_pkcs11=false)).
  returned: always
  type: str
  sample: /usr/lib/softhsm/libsofthsm2.so
pkcs11_problem:
  description: Why no PKCS#11 library was found, saying what to install or set; V(null) when one was.
  returned: always
  type: str
  sample: null
to_install:
  description: The modules of RV(missing_modules) that are in O(installable), for the caller to install.
  returned: always
  type: list
  elements: str
  sample: [cryptography]
checked:
  description:
    - What was looked for, as C(<python_modules, comma separated>|<pkcs11_module as given, or empty>). A caller that
      checks the same host again in one run compares it, and skips a check the host passed.
  returned: always
  type: str
  sample: PyKCS11,cryptography|
'''

import importlib.util
import platform
import socket
import sys

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.keyceremony.byok.plugins.module_utils._errors import ByokError
from ansible_collections.keyceremony.byok.plugins.module_utils._hsm import resolve_pkcs11_module


def main():
    module = AnsibleModule(argument_spec={
        'python_modules': {'type': 'list', 'elements': 'str', 'default': ['PyKCS11', 'cryptography']},
        'check_pkcs11': {'type': 'bool', 'default': True},
        'pkcs11_module': {'type': 'path'},
        'require': {'type': 'bool', 'default': False},
        'installable': {'type': 'list', 'elements': 'str', 'default': []},
        'host_name': {'type': 'str'},
    }, supports_check_mode=True)
    p = module.params
    missing = [name for name in p['python_modules'] if importlib.util.find_spec(name) is None]
    library, problem = None, None
    if p['check_pkcs11']:
        try:
            library = resolve_pkcs11_module(p['pkcs11_module'])
        except ByokError as e:
            problem = str(e)
    result = dict(changed=False, python=sys.executable, python_version=platform.python_version(),
                  missing_modules=missing, pkcs11_module=library, pkcs11_problem=problem,
                  to_install=[name for name in missing if name in p['installable']],
                  checked='%s|%s' % (','.join(p['python_modules']), p['pkcs11_module'] or ''))
    lacking = [name for name in missing if name not in p['installable']]
    if p['require'] and (lacking or problem):
        module.fail_json(msg=requirement_message(p['host_name'] or socket.gethostname(), lacking, problem,
                                                 bool(p['installable'])), **result)
    module.exit_json(**result)


def requirement_message(host, lacking, problem, installs):
    """What this host lacks, and what to install or set."""
    said = []
    if lacking:
        why = '' if installs else ': the ceremony installs nothing on this workstation'
        said.append('%s lacks the Python libraries %s for %s; install them (pip install %s, or the distribution\'s '
                    'package) before the ceremony%s.' % (host, ' '.join(lacking), sys.executable, ' '.join(lacking), why))
    if problem:
        said.append('%s: %s.' % (host, problem))
    return ' '.join(said)


if __name__ == '__main__':
    main()
