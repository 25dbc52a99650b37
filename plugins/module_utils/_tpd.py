# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The trusted publishing domain (TPD) export: write (the AD RMS side) and read (the tenant).

Microsoft never published the AD RMS export schema; this is a faithful stand-in, described in
docs/tpd.md. An export is XML:

    <TrustedPublishingDomain xmlns="urn:keyceremony:byok:tpd:1" Version="1">
      <Identity><Id>GUID</Id><DisplayName/><FriendlyName/></Identity>
      <CryptographicMode>2</CryptographicMode>            1: RSA 1024 + SHA-1, 2: RSA 2048 + SHA-256
      <ServerLicensorCertificate><PublicKey Algorithm="RSA" Size="2048">b64 SPKI</PublicKey></ServerLicensorCertificate>
      <RightsPolicyTemplates><Template Id="GUID" Name="" Description=""/></RightsPolicyTemplates>
      <PrivateKey Storage="Embedded|HSM"><HsmKeyReference App="mscapi" Ident="..">no_key_tpd_<ident>.xml</HsmKeyReference></PrivateKey>
      <Protection Kdf="argon2id" Salt Memory Iterations Lanes Cipher="aes256gcm" Nonce>b64 ciphertext</Protection>
    </TrustedPublishingDomain>

The confidential part (the embedded private key, or for an HSM TPD a record naming the key) is
encrypted under the protection password with Argon2id and AES-256-GCM; everything else in the
export is authenticated as associated data, so an edited identity, mode or SLC key fails to open
just like a wrong password: "Trusted Publishing Domain data is corrupted".
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import hashlib
import json
import re
import secrets
import traceback
import xml.etree.ElementTree as ET

try:
    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import fromstring as _defused_fromstring
    HAS_DEFUSEDXML = True
    DEFUSEDXML_IMPORT_ERROR = None
except ImportError:
    HAS_DEFUSEDXML = False
    DEFUSEDXML_IMPORT_ERROR = traceback.format_exc()

from ansible_collections.keyceremony.byok.plugins.module_utils import _crypto
from ansible_collections.keyceremony.byok.plugins.module_utils._errors import ByokError
from ansible_collections.keyceremony.byok.plugins.module_utils._files import canonical_json

NS = 'urn:keyceremony:byok:tpd:1'
CORRUPTED = 'Trusted Publishing Domain data is corrupted'
MODES = {1: (1024, 'SHA-1'), 2: (2048, 'SHA-256')}
GUID_RE = re.compile(r'^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$')


class TpdError(ByokError):
    """A TPD export is refused; the message says which check."""


def _q(tag):
    return '{%s}%s' % (NS, tag)


def hsm_reference_name(ident):
    return 'no_key_tpd_%s.xml' % ident


def _public(tpd):
    """The fields authenticated as associated data, in one canonical form."""
    return canonical_json({'id': tpd['tpd_id'], 'display_name': tpd['display_name'],
                           'friendly_name': tpd.get('friendly_name'), 'mode': tpd['cryptographic_mode'],
                           'slc_spki_sha256': hashlib.sha256(tpd['slc_spki']).hexdigest(), 'storage': tpd['storage'],
                           'templates': tpd['templates'], 'hsm_key': tpd.get('hsm_key')})


def build_tpd(tpd_id, display_name, friendly_name, mode, slc_spki, templates, password, embedded_pkcs8=None,
              hsm_key=None):
    """The export's bytes. Exactly one of ``embedded_pkcs8`` (software key) and ``hsm_key``
    ({'app_name', 'ident'}: the key stays in the HSM) is given."""
    if (embedded_pkcs8 is None) == (hsm_key is None):
        raise TpdError('a TPD carries either its private key or a reference to its HSM key')
    templates = [{'id': t['id'], 'name': t['name'], 'description': t.get('description', '')} for t in templates]
    tpd = {'tpd_id': tpd_id.lower(), 'display_name': display_name, 'friendly_name': friendly_name,
           'cryptographic_mode': mode, 'slc_spki': slc_spki, 'templates': templates,
           'storage': 'Embedded' if embedded_pkcs8 is not None else 'HSM', 'hsm_key': hsm_key}
    secret = {'private_key_pkcs8': base64.b64encode(embedded_pkcs8).decode('ascii')} if embedded_pkcs8 is not None \
        else {'hsm_key': hsm_key, 'slc_spki_sha256': hashlib.sha256(slc_spki).hexdigest()}
    salt, nonce = secrets.token_bytes(16), secrets.token_bytes(12)
    key = _crypto.derive_key('argon2id', _crypto.PASSWORD_KDF, salt, password)
    ciphertext = _crypto.aead('aes256gcm', key).encrypt(nonce, canonical_json(secret), _public(tpd))

    root = ET.Element(_q('TrustedPublishingDomain'), {'Version': '1'})
    ident = ET.SubElement(root, _q('Identity'))
    ET.SubElement(ident, _q('Id')).text = tpd['tpd_id']
    ET.SubElement(ident, _q('DisplayName')).text = display_name
    ET.SubElement(ident, _q('FriendlyName')).text = friendly_name or ''
    ET.SubElement(root, _q('CryptographicMode')).text = str(mode)
    slc = ET.SubElement(root, _q('ServerLicensorCertificate'))
    size = _crypto.rsa_public_numbers(slc_spki)[0].bit_length()
    ET.SubElement(slc, _q('PublicKey'), {'Algorithm': 'RSA', 'Size': str(size)}).text = \
        base64.b64encode(slc_spki).decode('ascii')
    tpl = ET.SubElement(root, _q('RightsPolicyTemplates'))
    for t in templates:
        ET.SubElement(tpl, _q('Template'), {'Id': t['id'], 'Name': t['name'], 'Description': t.get('description', '')})
    pk = ET.SubElement(root, _q('PrivateKey'), {'Storage': tpd['storage']})
    if hsm_key:
        ET.SubElement(pk, _q('HsmKeyReference'), {'App': hsm_key['app_name'], 'Ident': hsm_key['ident']}).text = \
            hsm_reference_name(hsm_key['ident'])
    params = _crypto.PASSWORD_KDF
    ET.SubElement(root, _q('Protection'), {
        'Kdf': 'argon2id', 'Salt': salt.hex(), 'Memory': str(params['memory_cost']),
        'Iterations': str(params['iterations']), 'Lanes': str(params['lanes']), 'Cipher': 'aes256gcm',
        'Nonce': nonce.hex()}).text = base64.b64encode(ciphertext).decode('ascii')
    ET.register_namespace('', NS)
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding='utf-8') + b'\n'


def _text(root, path, what):
    node = root.find(path, {'t': NS})
    if node is None:
        raise TpdError('the TPD export has no %s; it is not an export of this format' % what)
    return node


# byte order marks, then the first characters "<?" of a document without one (XML 1.0, appendix F)
_BOMS = ((b'\xef\xbb\xbf', 'utf-8'), (b'\xff\xfe\x00\x00', 'utf-32-le'), (b'\x00\x00\xfe\xff', 'utf-32-be'),
         (b'\xff\xfe', 'utf-16-le'), (b'\xfe\xff', 'utf-16-be'))
_SNIFF = ((b'<\x00\x00\x00', 'utf-32-le'), (b'\x00\x00\x00<', 'utf-32-be'), (b'<\x00?\x00', 'utf-16-le'),
          (b'\x00<\x00?', 'utf-16-be'))
_DECLARED_ENCODING = re.compile(r'^(\s*<\?xml[^>]*?)\s+encoding\s*=\s*["\'][^"\']*["\']')


def _as_utf8(data, what):
    """An XML document in UTF-8, UTF-16 or UTF-32 (found by its BOM or first bytes, as XML 1.0 says), as UTF-8."""
    for marks in (_BOMS, _SNIFF):
        for mark, encoding in marks:
            if data.startswith(mark):
                try:
                    text = data[len(mark) if marks is _BOMS else 0:].decode(encoding)
                except UnicodeDecodeError:
                    raise TpdError('%s starts as %s text but is not valid %s' % (what, encoding, encoding))
                return _DECLARED_ENCODING.sub(r'\1', text, count=1).encode('utf-8')
    return data


def parse_untrusted_xml(data, what):
    """XML from outside (a file on the transfer media, an upload) -> root element, with defusedxml.

    Whatever the encoding (UTF-8, UTF-16, UTF-32), a DTD, an entity declaration or an external reference is refused:
    the parser sees the document, not a byte pattern.
    """
    if not HAS_DEFUSEDXML:
        raise ByokError('reading %s needs the Python library defusedxml (pip install defusedxml), which is not '
                        'installed for this interpreter' % what)
    try:
        return _defused_fromstring(_as_utf8(data, what), forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as e:
        raise TpdError('%s declares a DTD, entities or external references (%s); they are refused'
                       % (what, type(e).__name__))
    except (ET.ParseError, ValueError) as e:
        raise TpdError('%s is not well-formed XML (%s): truncated or not a TPD' % (what, e))


def read_tpd(data, password):
    """Parse and open an export. Returns a dict with the TPD's public fields and ``pkcs8``
    (embedded key, or None) - or refuses, saying which check failed."""
    root = parse_untrusted_xml(data, 'the TPD export')
    if root.tag != _q('TrustedPublishingDomain') or root.get('Version') != '1':
        raise TpdError('the file is not a trusted publishing domain export of format %s version 1' % NS)
    try:
        mode = int(_text(root, 't:CryptographicMode', 'cryptographic mode').text)
        slc_spki = base64.b64decode(_text(root, 't:ServerLicensorCertificate/t:PublicKey', 'SLC public key').text)
        modulus = _crypto.rsa_public_numbers(slc_spki)[0]
        prot = _text(root, 't:Protection', 'protection')
        salt, nonce = bytes.fromhex(prot.get('Salt')), bytes.fromhex(prot.get('Nonce'))
        params = {'memory_cost': int(prot.get('Memory')), 'iterations': int(prot.get('Iterations')),
                  'lanes': int(prot.get('Lanes'))}
        ciphertext = base64.b64decode(prot.text or '')
    except (ValueError, TypeError, AttributeError, ByokError):
        raise TpdError(CORRUPTED)
    pk = _text(root, 't:PrivateKey', 'private key element')
    ref = pk.find('t:HsmKeyReference', {'t': NS})
    tpd = {
        'tpd_id': (_text(root, 't:Identity/t:Id', 'id').text or '').strip().lower(),
        'display_name': _text(root, 't:Identity/t:DisplayName', 'display name').text or '',
        'friendly_name': _text(root, 't:Identity/t:FriendlyName', 'friendly name').text or None,
        'cryptographic_mode': mode,
        'slc_spki': slc_spki,
        'templates': [{'id': t.get('Id'), 'name': t.get('Name'), 'description': t.get('Description', '')}
                      for t in root.findall('t:RightsPolicyTemplates/t:Template', {'t': NS})],
        'storage': pk.get('Storage'),
        'hsm_key': {'app_name': ref.get('App'), 'ident': ref.get('Ident')} if ref is not None else None,
    }
    if not GUID_RE.match(tpd['tpd_id']):
        raise TpdError('the TPD id %r is not a GUID' % tpd['tpd_id'])
    if prot.get('Kdf') != 'argon2id' or prot.get('Cipher') != 'aes256gcm':
        raise TpdError('the TPD is protected with %s/%s, which this importer does not know'
                       % (prot.get('Kdf'), prot.get('Cipher')))
    try:
        _crypto.check_kdf_params('argon2id', params, salt)
    except _crypto.KdfParamsError as e:
        raise TpdError('the TPD is refused before its password is tried: %s' % e)
    try:
        key = _crypto.derive_key('argon2id', params, salt, password)
        secret = json.loads(_crypto.aead_open('aes256gcm', key, nonce, ciphertext, _public(tpd)).decode('utf-8'))
    except (_crypto.AuthenticationFailed, ValueError, ByokError):
        raise TpdError(CORRUPTED + ': the protection password is wrong, or the export was altered')
    # checks that need the opened TPD, each with its own refusal
    if mode not in MODES:
        raise TpdError('cryptographic mode %s is unknown (1: RSA 1024 with SHA-1, 2: RSA 2048 with SHA-256)' % mode)
    size, digest = MODES[mode]
    if modulus.bit_length() != size:
        raise TpdError('cryptographic mode %d means RSA %d with %s, but the SLC key is RSA %d: the export is '
                       'inconsistent' % (mode, size, digest, modulus.bit_length()))
    tpd['slc_spki_sha256'] = hashlib.sha256(slc_spki).hexdigest()
    tpd['pkcs8'] = None
    if tpd['storage'] == 'Embedded':
        pkcs8 = base64.b64decode(secret.get('private_key_pkcs8', ''))
        if _crypto.pkcs8_spki_sha256(pkcs8) != tpd['slc_spki_sha256']:
            raise TpdError('the embedded private key does not match the Server Licensor Certificate\'s public key')
        tpd['pkcs8'] = pkcs8
    elif tpd['storage'] == 'HSM':
        if not tpd['hsm_key'] or secret.get('slc_spki_sha256') != tpd['slc_spki_sha256']:
            raise TpdError(CORRUPTED + ': the HSM key reference does not match the SLC')
    else:
        raise TpdError('PrivateKey Storage must be Embedded or HSM, not %r' % tpd['storage'])
    return tpd
