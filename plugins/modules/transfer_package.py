#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: transfer_package
short_description: Wrap the key for one tenant's KEK into a transfer package (Package)
version_added: 0.1.0
description:
  - The equivalent of C(KeyTransferRemote.exe -Package); needs no card once M(keyceremony.byok.key_acl) has run.
  - Verifies the KEK package against O(root_hash), checks that the KEK is trusted on the token and that the
    reduced-permission copy C(key_<app>_xferacl_<ident>) still has its reduced attributes, then inside the HSM wraps
    the copy with CKM_RSA_AES_KEY_WRAP in two steps (SoftHSM2 2.6.1 lacks the one-call mechanism) - the package key
    wraps the copy as PKCS#8 with CKM_AES_KEY_WRAP_PAD (RFC 5649), the KEK wraps the package key with RSA-OAEP
    (SHA-1, MGF1-SHA-1) - giving the ciphertext C(OAEP(aes) || KWP(pkcs8)).
  - Writes C(KeyTransferPackage-<key_friendly_name>.byok) in O(dest) (mode C(0600), created exclusively), holding the
    Azure Key Vault BYOK JSON fields (C(schema_version) C(1.0.0), C(header) with C(kid), C(alg) C(dir), C(enc)
    C(CKM_RSA_AES_KEY_WRAP), C(ciphertext) in base64url, C(generator)) plus a C(binding) (tenant ID, friendly name,
    key fingerprint, KEK id and fingerprint, ciphertext hash) and its C(binding_signature), made inside the HSM with
    the key being transferred. The receiver checks that signature with the key it unwrapped, so a package for one
    tenant is refused by another, and an edited header or binding is refused.
  - An existing file for the same key, KEK and tenant gives C(changed=false). A package of this same key and name made
    for another tenant or KEK - before a mistyped tenant ID was corrected, say - is set aside, never deleted; it is renamed
    C(KeyTransferPackage-<key_friendly_name>.set-aside-for-tenant-<tenant id>.byok), returned in RV(set_aside) and
    journalled; then the package for this tenant is written, so fixing the input and running again works. Any other
    existing file (another key, not a package) is an error and is never overwritten.
  - Every run is journalled; a run that finds the package as it was records it too (outcome C(verified), with its
    SHA-256, tenant and key fingerprint), for the witness sheet.
  - "With an Azure Key Vault KEK (O(kek_file) and O(kek_spki_sha256) instead of the toolset) it writes
    C(<key_friendly_name>.byok) instead, exactly the file Azure's BYOK specification defines and nothing else:
    C({\"schema_version\": \"1.0.0\", \"header\": {\"kid\": <the KEK's versioned key URL>, \"alg\": \"dir\",
    \"enc\": \"CKM_RSA_AES_KEY_WRAP\"}, \"ciphertext\": <base64url>, \"generator\": <this tool; the source HSM>})
    - with the same ciphertext construction. O(tenant_id) is not needed then. Such a file carries no binding; an
    existing file is C(changed=false) only when it names the same KEK and its wrapped key is, byte for byte, this key
    wrapped under this world's package key (RFC 5649 wrapping is deterministic), so that whatever else it holds it can
    only open to this key. Anything else is refused and never overwritten."
author:
  - keyceremony.byok maintainers (!UNKNOWN)
extends_documentation_fragment:
  - keyceremony.byok.world
  - keyceremony.byok.world.TOKEN
  - keyceremony.byok.world.KEY_NAME
  - keyceremony.byok.toolset.OR_KEY_VAULT
  - keyceremony.byok.attributes
  - keyceremony.byok.attributes.CHANGES
options:
  ident:
    description:
      - The ident of the key to transfer; its copy C(key_<app_name>_xferacl_<ident>) must have been made by
        M(keyceremony.byok.key_acl) for this KEK.
    type: str
    required: true
  tenant_id:
    description:
      - The tenant's ID, a GUID (C(BPOSId) of C(Get-AadrmConfiguration), RV(keyceremony.byok.tenant_info#module:bpos_id)).
        The package is bound to it.
      - Required with the toolset; not used with a Key Vault KEK (O(kek_file)).
    type: str
  key_friendly_name:
    description:
      - The name of the package, 1 to 64 letters, digits, C(.), C(-) or C(_); the file is
        C(KeyTransferPackage-<key_friendly_name>.byok), or C(<key_friendly_name>.byok) for a Key Vault KEK.
    type: str
    required: true
  dest:
    description:
      - The folder to write the package to (the removable media that goes to the online workstation). Created with
        mode C(0700) when missing.
    type: path
    required: true
notes:
  - SoftHSM2 2.6.1 zero-pads the PKCS#8 to a multiple of 8 bytes before the AES key wrap with padding, so the key
    inside a C(.byok) made on SoftHSM2 can carry up to 7 trailing zero bytes. The rehearsal's Key Vault accepts that;
    a real Azure Key Vault may refuse such a payload when it parses the PKCS#8. This is a limitation of SoftHSM2, not
    of real HSMs, whose wrap does not pad the PKCS#8 itself. Rehearse with SoftHSM2, transfer for real from a real HSM.
  - With a Key Vault KEK the module holds the world's lock (C(<world_dir>/.lock)) while it records and writes the file.
seealso:
  - module: keyceremony.byok.key_acl
  - module: keyceremony.byok.kek_package_verify
  - module: keyceremony.byok.keyvault_kek_verify
  - module: keyceremony.byok.keyvault_byok_import
'''

EXAMPLES = r'''
- name: Package the tenant key for the tenant, on the transfer media
  keyceremony.byok.transfer_package:
    world_dir: /var/lib/keyceremony/world
    ident: contosokey
    kek_package: /media/transfer/BYOK-KEK-pkg-NA-1
    security_world_package: /media/transfer/BYOK-SecurityWorld-pkg-NA-1
    root_hash: "{{ vendor_root_hash }}"
    tenant_id: 2b51f7a3-8c4d-4e59-9a1b-0c2d3e4f5a6b
    key_friendly_name: ContosoBYOK
    dest: /media/transfer
  environment:
    SOFTHSM2_CONF: /var/lib/keyceremony/softhsm2.conf
  register: package

- name: Package the tenant key for an Azure Key Vault KEK (ContosoBYOK.byok, Azure's own format)
  keyceremony.byok.transfer_package:
    world_dir: /var/lib/keyceremony/world
    ident: contosokey
    kek_file: /media/transfer/contoso-kek.kek.json
    kek_spki_sha256: "{{ kek_fingerprint_read_aloud }}"
    key_friendly_name: ContosoBYOK
    dest: /media/transfer
  environment:
    SOFTHSM2_CONF: /var/lib/keyceremony/softhsm2.conf
'''

RETURN = r'''
path:
  description: Path of the transfer package.
  returned: success
  type: str
  sample: /media/transfer/KeyTransferPackage-ContosoBYOK.byok
format:
  description: V(rehearsal) for a transfer package of the rehearsal tenant (bound to O(tenant_id)), V(keyvault) for
    Azure Key Vault's C(.byok) file.
  returned: success
  type: str
  sample: keyvault
sha256:
  description: SHA-256 of the package file, to compare after it crossed to the online workstation. V(null) in check
    mode when the package is still to be made.
  returned: success
  type: str
  sample: 4c1b0b5d9a6e1f2d3c4b5a69788796a5b4c3d2e1f00112233445566778899aab
rfc5649:
  description:
    - How the key was wrapped under the package key (RFC 5649), when it was wrapped in this run. V(kwp) - the
      library's C(CKM_AES_KEY_WRAP_KWP); V(rfc5649) - its C(CKM_AES_KEY_WRAP_PAD), whose known-answer test gave RFC
      5649's bytes; V(zero-padded) - SoftHSM2's C(CKM_AES_KEY_WRAP_PAD), which pads the key with zero bytes to a
      multiple of 8 first (the receiver unwraps up to 7 zero bytes after the PKCS#8 key; a rehearsal's file, see
      the collection's docs/hsm.md); V(not run) - the library would not make the test's objects, and its
      C(CKM_AES_KEY_WRAP_PAD) is taken at its word.
  returned: when the file was made in this run
  type: str
  sample: kwp
kek_kid:
  description: The KEK the key is wrapped under.
  returned: success
  type: str
  sample: BYOK-KEK-NA-1-3f9a1c0e5b2d7a64
spki_sha256:
  description: Fingerprint of the key in the package; the receiving tenant reports the same.
  returned: success
  type: str
  sample: 9b1c6f3e2d4a5b6c7d8e9f00112233445566778899aabbccddeeff0011223344
tenant_id:
  description: The tenant the package is bound to (lower case); V(null) for a Key Vault C(.byok) file.
  returned: success
  type: str
  sample: 2b51f7a3-8c4d-4e59-9a1b-0c2d3e4f5a6b
set_aside:
  description: The package of this key for another tenant or KEK that was in the way, and where it was moved (in
    check mode, what would be moved).
  returned: when a package was set aside
  type: str
  sample: /media/transfer/KeyTransferPackage-ContosoBYOK.set-aside-for-tenant-9e8d7c6b-5a49-4382-a716-f5e4d3c2b1a0.byok
'''

import os

from ansible_collections.keyceremony.byok.plugins.module_utils import _byok, _keyvault
from ansible_collections.keyceremony.byok.plugins.module_utils._errors import ByokError
from ansible_collections.keyceremony.byok.plugins.module_utils._files import (
    ensure_private_dir, file_sha256, sha256_hex, write_private_file)
from ansible_collections.keyceremony.byok.plugins.module_utils._hsm import Hsm
from ansible_collections.keyceremony.byok.plugins.module_utils._keys import acl_state, check_key_names
from ansible_collections.keyceremony.byok.plugins.module_utils._module import (
    KEK_SOURCE_ARGS, KEK_SOURCE_RULES, KEY_NAME_ARGS, TOKEN_ARG, WORLD_ARGS, new_module, run, spec, verified_kek)
from ansible_collections.keyceremony.byok.plugins.module_utils._world import WorldContext

VERSION = '0.2.0'
GENERATOR = 'keyceremony.byok transfer_package %s (PKCS#11, two-step CKM_RSA_AES_KEY_WRAP)' % VERSION


def _existing(path, want):
    """changed=False for the same key, KEK and tenant; an error for anything else."""
    with open(path, 'rb') as f:
        data = f.read()
    try:
        binding = _byok.parse_package(data)['binding']
    except _byok.TransferPackageError as e:
        raise ByokError('%s exists and is not a usable transfer package (%s); it is never overwritten: move it away '
                        'or choose another key_friendly_name' % (path, e))
    have = dict((k, binding.get(k)) for k in want)
    if have != want:
        diff = ', '.join('%s %s (asked %s)' % (k, have[k], want[k]) for k in sorted(want) if have[k] != want[k])
        raise ByokError('%s exists for another transfer: %s; it is never overwritten: move it away or choose another '
                        'key_friendly_name' % (path, diff))


def _for_another_tenant(path, want):
    """The tenant (and KEK) of an existing package of this very key and name made for another tenant or KEK - one this
    ceremony no longer targets, after a corrected tenant ID - or None for anything else."""
    try:
        with open(path, 'rb') as f:
            binding = _byok.parse_package(f.read())['binding']
    except (IOError, _byok.TransferPackageError):
        return None
    same_key = all(binding.get(k) == want[k] for k in ('spki_sha256', 'key_friendly_name'))
    other = any(binding.get(k) != want[k] for k in ('tenant_id', 'kek_kid'))
    try:
        _byok.check_tenant_id(binding.get('tenant_id'))  # it goes into a file name: a GUID, or the file is not set aside
    except (ByokError, AttributeError, TypeError):
        return None
    return binding if same_key and other else None


def _set_aside(path, binding):
    """Rename a package for another tenant beside it, its tenant in its name; it is never deleted or overwritten."""
    base = path[:-len('.byok')]
    try:
        return _set_aside_as(path, base, binding)
    except OSError as e:
        raise ByokError('cannot set %s aside (%s); move it away by hand and run again' % (path, e.strerror))


def _set_aside_as(path, base, binding):
    for n in range(1, 100):
        aside = '%s.set-aside-for-tenant-%s%s.byok' % (base, binding.get('tenant_id'), '' if n == 1 else '-%d' % n)
        try:
            os.link(path, aside)
        except FileExistsError:
            continue
        except OSError:  # no hard links (FAT media): rename, which never replaces what another run made meanwhile
            if os.path.lexists(aside):
                continue
            os.rename(path, aside)
            return aside
        os.unlink(path)
        return aside
    raise ByokError('%s: 99 packages were set aside beside it already; move them away' % path)


def _existing_byok(session, state, kek, path):
    """A .byok file carries no binding. It is the same transfer only when it names this KEK and its wrapped key is,
    byte for byte, this copy wrapped under this world's package key: whatever its first part holds, such a file can
    only ever open to this key, or not at all."""
    with open(path, 'rb') as f:
        data = f.read()
    try:
        doc, ciphertext = _keyvault.parse_byok(data)
    except ByokError as e:
        raise ByokError('%s exists and is not a usable .byok file (%s); it is never overwritten: move it away or choose '
                        'another key_friendly_name' % (path, e))
    oaep_size = (kek['kek_size'] + 7) // 8
    if doc['header']['kid'] != kek['kek_kid'] or len(ciphertext) <= oaep_size \
            or ciphertext[oaep_size:] != _byok.key_wrapped(session, state['copy_handle'], state['package_key']):
        raise ByokError('%s exists and is not this key wrapped for KEK %s; it is never overwritten: move it away or '
                        'choose another key_friendly_name' % (path, kek['kek_kid']))
    return sha256_hex(data)


def _generator(token):
    return 'keyceremony.byok transfer_package %s; source HSM: %s %s firmware %s' % (
        VERSION, token.manufacturer, token.model, token.firmware)


def work(module):
    p = module.params
    check_key_names(p['app_name'], p['ident'])
    kek = verified_kek(p)
    keyvault = kek['source'] == 'keyvault'
    if keyvault:
        tenant_id = None
    elif not p['tenant_id']:
        raise ByokError('tenant_id is required with the regional toolset: the transfer package is bound to one tenant')
    else:
        tenant_id = _byok.check_tenant_id(p['tenant_id'])
    name = _byok.check_friendly_name(p['key_friendly_name'])
    path = os.path.join(p['dest'], name + '.byok' if keyvault else _byok.package_file_name(name))
    with Hsm(p['pkcs11_module']) as hsm:
        ctx = WorldContext(hsm, p['world_dir'], p['token_label'])
        if keyvault:
            with ctx.world.changing(module.check_mode):
                return _keyvault_file(module, ctx, kek, path)
        with ctx.user_session() as session:
            names, original, todo, state = _prepared(session, p, kek)
            want = {'tenant_id': tenant_id, 'spki_sha256': original['spki_sha256'], 'kek_kid': kek['kek_kid'],
                    'key_friendly_name': name}
            result = {'path': path, 'format': 'rehearsal', 'kek_kid': kek['kek_kid'],
                      'spki_sha256': original['spki_sha256'], 'tenant_id': tenant_id}
            other = _for_another_tenant(path, want) if os.path.exists(path) else None
            if other is not None:
                # made before the tenant ID (or the toolset) was corrected: kept, under another name, and journalled
                result['set_aside'] = '%s (tenant %s, KEK %s)' % (path, other.get('tenant_id'), other.get('kek_kid'))
                if not module.check_mode:
                    result['set_aside'] = _set_aside(path, other)
            elif os.path.exists(path):
                _existing(path, want)
                return dict(result, changed=False, sha256=file_sha256(path))
            if module.check_mode:
                return dict(result, changed=True, sha256=None)
            package = _byok.build_package(session, state['copy_handle'], state['package_key'], state['kek'],
                                          state['key_handle'], kek, tenant_id, name, original['spki_sha256'], GENERATOR)
            result['rfc5649'] = session.kwp_check
    _warn_unchecked(module, result)
    ensure_private_dir(p['dest'])
    try:
        write_private_file(path, _byok.serialize(package), exclusive=True)
    except FileExistsError:
        # another run wrote it while this one was packaging: the same transfer, or a refusal
        _existing(path, want)
        result.pop('rfc5649', None)
        return dict(result, changed=False, sha256=file_sha256(path))
    return dict(result, changed=True, sha256=file_sha256(path))


def _warn_unchecked(module, result):
    if result.get('rfc5649') == 'not run':
        module.warn('the PKCS#11 library would not make the objects of the RFC 5649 known-answer test, so its '
                    'CKM_AES_KEY_WRAP_PAD wrapped the key untested: if the receiver refuses the file, use a library '
                    'that offers CKM_AES_KEY_WRAP_KWP (docs/hsm.md)')


def _prepared(session, p, kek):
    names, original, todo, state = acl_state(session, p['app_name'], p['ident'], kek, p['world_dir'])
    if todo:
        raise ByokError('the key is not prepared for KEK %s: %s. Run keyceremony.byok.key_acl with the admin '
                        'cards first' % (kek['kek_kid'], '; '.join(todo)))
    return names, original, todo, state


def _keyvault_file(module, ctx, kek, path):
    """Azure Key Vault's .byok (under the world's lock)."""
    p = module.params
    with ctx.user_session() as session:
        names, original, todo, state = _prepared(session, p, kek)
        result = {'path': path, 'format': 'keyvault', 'kek_kid': kek['kek_kid'],
                  'spki_sha256': original['spki_sha256'], 'tenant_id': None}
        if os.path.exists(path):
            return dict(result, changed=False, sha256=_existing_byok(session, state, kek, path))
        if module.check_mode:
            return dict(result, changed=True, sha256=None)
        ciphertext = _byok.wrap_key(session, state['copy_handle'], state['package_key'], state['kek'], kek['kek_kid'])
        result['rfc5649'] = session.kwp_check
        data = _keyvault.serialize(_keyvault.build_byok(kek['kek_kid'], ciphertext, _generator(session.token)))
        _warn_unchecked(module, result)
        ensure_private_dir(p['dest'])
        try:
            write_private_file(path, data, exclusive=True)
        except FileExistsError:
            # written meanwhile by something else than this module (which holds the world's lock)
            result.pop('rfc5649', None)
            return dict(result, changed=False, sha256=_existing_byok(session, state, kek, path))
    return dict(result, changed=True, sha256=sha256_hex(data))


def main():
    module = new_module(spec(WORLD_ARGS, TOKEN_ARG, KEY_NAME_ARGS, KEK_SOURCE_ARGS,
                             ident={'type': 'str', 'required': True},
                             tenant_id={'type': 'str'},
                             key_friendly_name={'type': 'str', 'required': True},
                             dest={'type': 'path', 'required': True}),
                        rules=[KEK_SOURCE_RULES])
    module.params['world_dir'] = os.path.abspath(module.params['world_dir'])
    run(module, work, journal_as='transfer_package', journal_verified=True,
        journal_fields=('path', 'format', 'sha256', 'kek_kid', 'spki_sha256', 'tenant_id', 'set_aside',
                        'rfc5649'))


if __name__ == '__main__':
    main()
