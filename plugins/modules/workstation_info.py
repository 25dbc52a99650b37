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
  - With O(mechanisms), it also reads the PKCS#11 library's mechanism list and the token's flags
    (C(C_GetMechanismList), C(C_GetMechanismInfo), C(C_GetTokenInfo)) and says which mechanism each step of the
    ceremony needs that the library does not offer, or offers without the use the step makes of it (wrap, sign,
    generate) or the key size. With O(require) that is a failure too, before the world or a key is touched.
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
  mechanisms:
    description:
      - The steps of the ceremony whose mechanisms to check. V(key) is the tenant key pair (RSA key pair generation,
        with O(key_size)); V(acl) the transfer copy (AES key generation, RFC 5649 AES key wrap with padding to wrap
        and unwrap, RSA-PSS with SHA-256 to sign); V(package) the transfer package (AES key generation, RSA-OAEP to
        wrap, RFC 5649 to wrap, RSA-PSS with SHA-256 to sign).
      - RFC 5649 is taken as C(CKM_AES_KEY_WRAP_KWP) (0x210B, its PKCS#11 3.0 number) where the library offers it
        for the step's uses (wrap; and unwrap for V(acl)), else as C(CKM_AES_KEY_WRAP_PAD) (0x210A, SoftHSM2's); the
        steps take the same one by the same rule.
      - Empty checks no mechanism. Needs PyKCS11 (a missing PyKCS11 is reported as such, and the mechanisms are not
        read).
    type: list
    elements: str
    choices: [key, acl, package]
    default: []
  token_label:
    description:
      - The world's token, whose flags and mechanisms are read (a label, or an RFC 7512 URI as
        M(keyceremony.byok.security_world) takes it). When no token carries it yet, the first free slot is read,
        where M(keyceremony.byok.security_world) will make it.
      - Without it, the first free slot is read.
    type: str
  key_size:
    description:
      - The size of the tenant key in bits, which RSA key pair generation must allow (V(key) of O(mechanisms)).
    type: int
    default: 2048
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

- name: Before the world is touched, the HSM offers what the key, the copy and the package need
  keyceremony.byok.workstation_info:
    require: true
    mechanisms: [key, acl, package]
    token_label: contoso-world
    key_size: 3072

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
hsm:
  description:
    - What the PKCS#11 library offers, when O(mechanisms) is not empty and PyKCS11 and the library are there.
  returned: when O(mechanisms) is not empty
  type: dict
  contains:
    slot:
      description: V(token) when the token of O(token_label) was read, V(free) for the free slot the world will use.
      type: str
    token:
      description:
        - The token of O(token_label) (label, serial, manufacturer, model, ...), or the free slot's when there is no
          such token yet; V(null) when there is no free slot either.
      type: dict
    token_flags:
      description: The C(CKF_*) flags of the token read.
      type: list
      elements: str
    mechanisms:
      description:
        - Every mechanism the library offers, by C(CKM_*) name (a number without a name as hexadecimal), with its
          C(flags) and C(min_key_size) and C(max_key_size) (V(null) when the library does not say).
      type: dict
    chosen:
      description: The mechanism each step takes where a need has a choice; C(aes_key_wrap_pad) is RFC 5649's.
      type: dict
      sample: {aes_key_wrap_pad: {acl: CKM_AES_KEY_WRAP_PAD, package: CKM_AES_KEY_WRAP_PAD}}
    rsa_aes_key_wrap:
      description:
        - Whether the library offers the one-call C(CKM_RSA_AES_KEY_WRAP) (0x1054). The ceremony makes the same
          bytes in two steps (RSA-OAEP, then RFC 5649), which every library it supports offers.
      type: bool
    problems:
      description: What stops the steps of O(mechanisms), each naming the step, the mechanism and what is lacking.
      type: list
      elements: str
  sample:
    slot: free
    token: {label: '', serial: '', manufacturer: SoftHSM project, model: SoftHSM v2, initialized: false}
    token_flags: [CKF_RNG, CKF_LOGIN_REQUIRED]
    mechanisms: {CKM_AES_KEY_GEN: {flags: [CKF_GENERATE], min_key_size: 16, max_key_size: 32}}
    chosen: {aes_key_wrap_pad: {acl: CKM_AES_KEY_WRAP_PAD, package: CKM_AES_KEY_WRAP_PAD}}
    rsa_aes_key_wrap: false
    problems: []
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

from ansible_collections.keyceremony.byok.plugins.module_utils._capabilities import survey
from ansible_collections.keyceremony.byok.plugins.module_utils._errors import ByokError
from ansible_collections.keyceremony.byok.plugins.module_utils._hsm import HAS_PYKCS11, Hsm, resolve_pkcs11_module
from ansible_collections.keyceremony.byok.plugins.module_utils._module import ByokModule


def main():
    module = ByokModule(argument_spec={
        'python_modules': {'type': 'list', 'elements': 'str', 'default': ['PyKCS11', 'cryptography']},
        'check_pkcs11': {'type': 'bool', 'default': True},
        'pkcs11_module': {'type': 'path'},
        'require': {'type': 'bool', 'default': False},
        'installable': {'type': 'list', 'elements': 'str', 'default': []},
        'mechanisms': {'type': 'list', 'elements': 'str', 'choices': ['key', 'acl', 'package'], 'default': []},
        # a token's label (or URI) is not a secret
        'token_label': {'type': 'str', 'no_log': False},
        'key_size': {'type': 'int', 'default': 2048},
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
    hsm_problems = []
    if p['mechanisms'] and library and HAS_PYKCS11:
        try:
            with Hsm(library) as hsm:
                result['hsm'] = survey(hsm, p['token_label'], p['mechanisms'], p['key_size'])
        except ByokError as e:
            result['hsm'] = {'problems': [str(e)]}
        hsm_problems = result['hsm']['problems']
    lacking = [name for name in missing if name not in p['installable']]
    if p['require'] and (lacking or problem or hsm_problems):
        module.fail_json(msg=requirement_message(p['host_name'] or socket.gethostname(), lacking, problem,
                                                 bool(p['installable']), hsm_problems, library), **result)
    module.exit_json(**result)


def requirement_message(host, lacking, problem, installs, hsm_problems=(), library=None):
    """What this host lacks, and what to install or set."""
    said = []
    if lacking:
        why = '' if installs else ': the ceremony installs nothing on this workstation'
        said.append('%s lacks the Python libraries %s for %s; install them (pip install %s, or the distribution\'s '
                    'package) before the ceremony%s.' % (host, ' '.join(lacking), sys.executable, ' '.join(lacking), why))
    if problem:
        said.append('%s: %s.' % (host, problem))
    if hsm_problems:
        said.append('%s: the PKCS#11 library %s cannot run the ceremony, nothing was touched: %s. Use an HSM (or its '
                    'PKCS#11 library) that offers them.' % (host, library, '; '.join(hsm_problems)))
    return ' '.join(said)


if __name__ == '__main__':
    main()
