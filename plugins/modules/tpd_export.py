#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: tpd_export
short_description: Export a trusted publishing domain whose key is in the HSM (AD RMS stand-in)
version_added: 0.1.0
description:
  - Writes a trusted publishing domain (TPD) export for a key of the world, as an AD RMS cluster using an HSM-protected
    key exports it - the TPD's identity, cryptographic mode, Server Licensor Certificate public key and rights-policy
    templates, and instead of the private key a reference to the HSM key (C(no_key_tpd_<ident>.xml)).
  - The confidential part is encrypted under O(protection_password) with Argon2id and AES-256-GCM; the rest of the
    export is authenticated with it. The format is described in the collection's C(docs/tpd.md).
  - It stands in for the AD RMS side in rehearsals and tests of the HSM-to-HSM migration; the key itself travels
    separately, as a transfer package made by M(keyceremony.byok.transfer_package).
  - Idempotent; an existing file for the same TPD and key gives C(changed=false), anything else there is never
    overwritten.
requirements:
  - defusedxml (the TPD export is parsed with it, refusing DTDs, entities and external references in any encoding)
author:
  - keyceremony.byok maintainers (!UNKNOWN)
extends_documentation_fragment:
  - keyceremony.byok.world
  - keyceremony.byok.world.TOKEN
  - keyceremony.byok.attributes
  - keyceremony.byok.attributes.CHANGES
options:
  app_name:
    description:
      - The application of the key; AD RMS keys are C(mscapi).
    type: str
    default: mscapi
  ident:
    description:
      - The ident of the key (C(key_<app_name>_<ident>) must exist in the world).
    type: str
    required: true
  tpd_id:
    description:
      - The TPD's id, a GUID.
    type: str
    required: true
  display_name:
    description:
      - The TPD's display name.
    type: str
    required: true
  friendly_name:
    description:
      - The TPD's friendly name.
    type: str
  cryptographic_mode:
    description:
      - V(1) for RSA 1024 with SHA-1 (legacy), V(2) for RSA 2048 with SHA-256. It must fit the key's size.
    type: int
    default: 2
    choices: [1, 2]
  templates:
    description:
      - Names of the rights-policy templates the TPD carries.
    type: list
    elements: str
    default: []
  protection_password:
    description:
      - The password protecting the export. Never logged.
    type: str
    required: true
  dest:
    description:
      - The file to write (mode C(0600)).
    type: path
    required: true
seealso:
  - module: keyceremony.byok.tpd_import
'''

EXAMPLES = r'''
- name: Export the AD RMS TPD of the HSM key
  keyceremony.byok.tpd_export:
    world_dir: /var/lib/keyceremony/world
    ident: adrms-slc-2019
    tpd_id: 6f1c2e3d-4b5a-4c6d-8e7f-90a1b2c3d4e5
    display_name: Contoso AD RMS 2019
    templates: [Confidential, Highly Confidential]
    protection_password: "{{ vault_tpd_password }}"
    dest: /media/transfer/contoso-tpd-2019.xml
'''

RETURN = r'''
path:
  description: The export.
  returned: success
  type: str
  sample: /media/transfer/contoso-tpd-2019.xml
tpd_id:
  description: The TPD's id.
  returned: success
  type: str
  sample: 6f1c2e3d-4b5a-4c6d-8e7f-90a1b2c3d4e5
slc_spki_sha256:
  description: Fingerprint of the SLC key, the HSM key's.
  returned: success
  type: str
  sample: 9b1c6f3e2d4a5b6c7d8e9f00112233445566778899aabbccddeeff0011223344
hsm_key_reference:
  description: The reference the export carries instead of the key.
  returned: success
  type: str
  sample: no_key_tpd_adrms-slc-2019.xml
'''

import os
import uuid

from ansible_collections.keyceremony.byok.plugins.module_utils import _tpd
from ansible_collections.keyceremony.byok.plugins.module_utils._crypto import spki_der_from_pem
from ansible_collections.keyceremony.byok.plugins.module_utils._errors import ByokError
from ansible_collections.keyceremony.byok.plugins.module_utils._files import ensure_private_dir, write_private_file
from ansible_collections.keyceremony.byok.plugins.module_utils._hsm import Hsm
from ansible_collections.keyceremony.byok.plugins.module_utils._keys import check_key_names, describe_key, key_name
from ansible_collections.keyceremony.byok.plugins.module_utils._module import TOKEN_ARG, WORLD_ARGS, new_module, run, spec
from ansible_collections.keyceremony.byok.plugins.module_utils._world import WorldContext


def work(module):
    p = module.params
    check_key_names(p['app_name'], p['ident'])
    tpd_id = p['tpd_id'].strip().lower()
    if not _tpd.GUID_RE.match(tpd_id):
        raise ByokError('tpd_id %r is not a GUID' % p['tpd_id'])
    name = key_name(p['app_name'], p['ident'])
    with Hsm(p['pkcs11_module']) as hsm:
        with WorldContext(hsm, p['world_dir'], p['token_label']).user_session() as session:
            desc = describe_key(session, name)
    if desc is None:
        raise ByokError('the world has no key %s; adopt or generate it with keyceremony.byok.hsm_key' % name)
    size = _tpd.MODES[p['cryptographic_mode']][0]
    if desc['size'] != size:
        raise ByokError('cryptographic_mode %d needs an RSA %d key, but %s is RSA %d'
                        % (p['cryptographic_mode'], size, name, desc['size']))
    result = {'path': p['dest'], 'tpd_id': tpd_id, 'slc_spki_sha256': desc['spki_sha256'],
              'hsm_key_reference': _tpd.hsm_reference_name(p['ident']), 'changed': False}
    if os.path.exists(p['dest']):
        with open(p['dest'], 'rb') as f:
            try:
                have = _tpd.read_tpd(f.read(), p['protection_password'])
            except ByokError as e:
                raise ByokError('%s exists and is not this TPD (%s); it is never overwritten' % (p['dest'], e))
        if have['tpd_id'] != tpd_id or have['slc_spki_sha256'] != desc['spki_sha256']:
            raise ByokError('%s exists for another TPD or key; it is never overwritten' % p['dest'])
        return result
    result['changed'] = True
    if not module.check_mode:
        templates = [{'id': str(uuid.uuid5(uuid.UUID(tpd_id), t)), 'name': t, 'description': ''} for t in p['templates']]
        data = _tpd.build_tpd(tpd_id, p['display_name'], p['friendly_name'], p['cryptographic_mode'],
                              spki_der_from_pem(desc['public_key_pem']), templates, p['protection_password'],
                              hsm_key={'app_name': p['app_name'], 'ident': p['ident']})
        ensure_private_dir(os.path.dirname(os.path.abspath(p['dest'])))
        write_private_file(p['dest'], data, exclusive=True)
    return result


def main():
    module = new_module(spec(WORLD_ARGS, TOKEN_ARG, app_name={'type': 'str', 'default': 'mscapi'},
                             ident={'type': 'str', 'required': True}, tpd_id={'type': 'str', 'required': True},
                             display_name={'type': 'str', 'required': True}, friendly_name={'type': 'str'},
                             cryptographic_mode={'type': 'int', 'default': 2, 'choices': [1, 2]},
                             templates={'type': 'list', 'elements': 'str', 'default': []},
                             protection_password={'type': 'str', 'required': True, 'no_log': True},
                             dest={'type': 'path', 'required': True}))
    module.params['world_dir'] = os.path.abspath(module.params['world_dir'])
    run(module, work, journal_as='tpd_export', journal_fields=('path', 'tpd_id', 'slc_spki_sha256'))


if __name__ == '__main__':
    main()
