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
  - Writes a trusted publishing domain (TPD) export in the format AD RMS writes (C(Export-RmsTPD), the AD RMS console)
    for a key of the world, as a cluster whose key is HSM-protected exports it - what Microsoft's migration guide calls
    C(no_key_tpd_<key ID>.xml). The format is described in the collection's C(docs/tpd.md).
  - "The export holds: a Server Licensor Certificate (XrML 1.2) for the key's public key, self-signed inside the HSM
    and marked as a rehearsal SLC; one rights policy template (XrML) for each of O(templates), signed by the same key;
    the key's reference in its CSP (C(nCipher Enhanced RSA and AES Cryptographic Provider), the key container
    O(ident), key number 1) instead of the private key."
  - Cryptographic mode 2 (SHA-256) for a 2048-bit key, mode 1 (SHA-1) for a 1024-bit legacy key. The inner document is
    encrypted under O(protection_password) with AES-128-CBC, as AD RMS does - by default with the v2 derivation, with
    O(password_scheme=v1) with the one of C(Export-RmsTPD -V1Compatible).
  - It stands in for the AD RMS side in rehearsals and tests of the HSM-to-HSM migration; the key itself travels
    separately, as a transfer package made by M(keyceremony.byok.transfer_package).
  - Idempotent; an existing file that holds what would be written (the same TPD ID, key, password scheme, mode,
    display name, key information and template names, and no problem) gives C(changed=false); anything else there is
    never overwritten.
requirements:
  - defusedxml (an existing export is parsed with it, refusing DTDs, entities and external references in any encoding)
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
      - The TPD's id, a GUID; it becomes the ID of its Server Licensor Certificate.
    type: str
    required: true
  display_name:
    description:
      - The name of the AD RMS cluster the SLC is issued to (its MS-DRM-Server NAME).
    type: str
    required: true
  cryptographic_mode:
    description:
      - V(1) for RSA 1024 with SHA-1 (legacy), V(2) for RSA 2048 with SHA-256. It must fit the key's size.
    type: int
    default: 2
    choices: [1, 2]
  templates:
    description:
      - Names of the rights-policy templates the TPD carries, each written as one signed XrML template. A name holds no
        C(;) and no spaces at either end (AD RMS writes names as C(LCID 1033:NAME <name>;)).
    type: list
    elements: str
    default: []
  protection_password:
    description:
      - The password protecting the export. Never logged.
    type: str
    required: true
  password_scheme:
    description:
      - V(v2), the key derivation AD RMS uses by default (SHA-256 of the UTF-16LE password), or V(v1), the one of
        C(Export-RmsTPD -V1Compatible) (PBKDF1 with SHA-1 of the UTF-8 password).
    type: str
    default: v2
    choices: [v1, v2]
  dest:
    description:
      - The file to write (mode C(0600)).
    type: path
    required: true
seealso:
  - module: keyceremony.byok.tpd_info
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
  description: Fingerprint of the SLC key, the HSM key's (SHA-256 of its DER SubjectPublicKeyInfo).
  returned: success
  type: str
  sample: 9b1c6f3e2d4a5b6c7d8e9f00112233445566778899aabbccddeeff0011223344
hsm_key_reference:
  description: The name Microsoft's migration guide gives such an export, after the key container it names.
  returned: success
  type: str
  sample: no_key_tpd_adrms-slc-2019.xml
'''

import os
import uuid

from ansible_collections.keyceremony.byok.plugins.module_utils import _tpd
from ansible_collections.keyceremony.byok.plugins.module_utils._errors import ByokError
from ansible_collections.keyceremony.byok.plugins.module_utils._files import ensure_private_dir, write_private_file
from ansible_collections.keyceremony.byok.plugins.module_utils._hsm import Hsm, mechanism
from ansible_collections.keyceremony.byok.plugins.module_utils._keys import check_key_names, describe_key, key_name
from ansible_collections.keyceremony.byok.plugins.module_utils._module import TOKEN_ARG, WORLD_ARGS, new_module, run, spec
from ansible_collections.keyceremony.byok.plugins.module_utils._world import WorldContext, utcnow

NCIPHER_CSP = 'nCipher Enhanced RSA and AES Cryptographic Provider'
LICENSING_URL = 'https://adrms.rehearsal.invalid/_wmcs/licensing'
SIGN_MECHANISMS = {1: 'CKM_SHA1_RSA_PKCS', 2: 'CKM_SHA256_RSA_PKCS'}


def _existing(p, tpd_id, spki_sha256):
    """An export at dest must be the one asked for, in every field the module writes; it is never overwritten."""
    try:
        have = _tpd.read_tpd(_tpd.read_export_file(p['dest'], 'dest'), p['protection_password'])
    except ByokError as e:
        raise ByokError('%s exists and is not this TPD (%s); it is never overwritten: move it away to export again'
                        % (p['dest'], e))
    differs = [what for what, same in (
        ('TPD ID', have['tpd_id'] == tpd_id),
        ('key', have['key_storage'] == 'hsm' and _tpd.matches_slc(have, spki_sha256)
         and have['modulus_byte_order'] == 'little-endian'),
        ('password scheme %s' % have['password_scheme'], have['password_scheme'] == p['password_scheme']),
        ('cryptographic mode', have['cryptographic_mode'] == p['cryptographic_mode']),
        ('display name', have['display_name'] == p['display_name']),
        ('key container', have['key_container'] == p['ident']),
        ('templates', [t['name'] for t in have['templates']] == p['templates']),
        ('key information', (have['key_id'], have['key_id_type'], have['csp_type'], have['csp_name'], have['key_number'])
         == ('{%s}' % tpd_id.upper(), 'MS-GUID', 24, NCIPHER_CSP, 1)),
        ('soundness (%s)' % '; '.join(have['problems']), not have['problems']))
        if not same]
    if differs:
        raise ByokError('%s exists with another %s; it is never overwritten: move it away to export again'
                        % (p['dest'], ', '.join(differs)))


def _export(p, session, name, tpd_id):
    """The export's bytes: the SLC and templates signed inside the HSM with the key itself."""
    mode = p['cryptographic_mode']
    private = session.find_one(name, 'CKO_PRIVATE_KEY', 'private keys')

    def signer(data):
        return session.sign('signing the rehearsal SLC with %s' % name, private, data, mechanism(SIGN_MECHANISMS[mode]))

    issued = utcnow()[:16]
    n, e = session.rsa_public_numbers(private)
    slc = _tpd.build_slc(tpd_id, p['display_name'], n, e, mode, signer, issued, LICENSING_URL)
    templates = [_tpd.build_template(str(uuid.uuid5(uuid.UUID(tpd_id), t)), t, '', tpd_id, p['display_name'], n, e,
                                     mode, signer, issued, LICENSING_URL) for t in p['templates']]
    return _tpd.build_tpd(slc, templates, p['protection_password'], {
        'strID': '{%s}' % tpd_id.upper(), 'strIDType': 'MS-GUID', 'nCSPType': 24, 'strCSPName': NCIPHER_CSP,
        'strKeyContainerName': p['ident'], 'nKeyNumber': 1}, scheme=p['password_scheme'])


def work(module):
    p = module.params
    check_key_names(p['app_name'], p['ident'])
    tpd_id = p['tpd_id'].strip().strip('{}').lower()
    if not _tpd.GUID_RE.match(tpd_id):
        raise ByokError('tpd_id %r is not a GUID' % p['tpd_id'])
    for template in p['templates']:
        if not template or template != template.strip() or ';' in template or len(template) > 256:
            raise ByokError('template name %r cannot be written as AD RMS writes names (LCID 1033:NAME <name>;): give '
                            'one without ";", without spaces at either end, of at most 256 characters' % template)
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
                _existing(p, tpd_id, desc['spki_sha256'])
                return result
            result['changed'] = True
            if module.check_mode:
                return result
            data = _export(p, session, name, tpd_id)
    ensure_private_dir(os.path.dirname(os.path.abspath(p['dest'])))
    write_private_file(p['dest'], data, exclusive=True)
    return result


def main():
    module = new_module(spec(WORLD_ARGS, TOKEN_ARG, app_name={'type': 'str', 'default': 'mscapi'},
                             ident={'type': 'str', 'required': True}, tpd_id={'type': 'str', 'required': True},
                             display_name={'type': 'str', 'required': True},
                             cryptographic_mode={'type': 'int', 'default': 2, 'choices': [1, 2]},
                             templates={'type': 'list', 'elements': 'str', 'default': []},
                             protection_password={'type': 'str', 'required': True, 'no_log': True},
                             password_scheme={'type': 'str', 'default': 'v2', 'choices': ['v1', 'v2'], 'no_log': False},
                             dest={'type': 'path', 'required': True}))
    module.params['world_dir'] = os.path.abspath(module.params['world_dir'])
    run(module, work, journal_as='tpd_export', journal_fields=('path', 'tpd_id', 'slc_spki_sha256'))


if __name__ == '__main__':
    main()
