# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""An AD RMS TPD export built by hand from shared/TPD-FORMAT.md, with ``cryptography`` and the standard library only.

Nothing here imports the collection: it checks the collection's reader against the description of the format, not
against its own writer. The layout follows what the description says .NET's XmlSerializer writes, with the freedoms a
real file may take that our writer does not: base64 wrapped over lines, white space, an ISSUER key that is not the
SLC's, prefixes, an SLC ID in braces and upper case.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import hashlib
import struct
from xml.sax.saxutils import escape

from cryptography.hazmat.primitives import hashes, padding as sym_padding
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

IV = bytes([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16])


def key_v2(password):
    """SHA-256 of the UTF-16LE password, first 16 bytes."""
    return hashlib.sha256(password.encode('utf-16-le')).digest()[:16]


def key_v1(password):
    """PBKDF1 (RFC 8018 5.1) with SHA-1, no salt, c = 100: T_1 = SHA-1(P), T_i = SHA-1(T_i-1); the first 16 bytes."""
    t = hashlib.sha1(password.encode('utf-8')).digest()
    for _i in range(2, 101):
        t = hashlib.sha1(t).digest()
    return t[:16]


def encrypt(key, data):
    padder = sym_padding.PKCS7(128).padder()
    padded = padder.update(data) + padder.finalize()
    enc = Cipher(algorithms.AES(key), modes.CBC(IV)).encryptor()
    return enc.update(padded) + enc.finalize()


def encrypt_unpadded(key, data):
    """CBC without padding (for a broken-padding export): ``data`` must be whole blocks."""
    enc = Cipher(algorithms.AES(key), modes.CBC(IV)).encryptor()
    return enc.update(data) + enc.finalize()


def privatekeyblob(key, alg=0xA400):
    """The CryptoAPI PRIVATEKEYBLOB of a cryptography RSA key, packed by hand (table of TPD-FORMAT.md)."""
    nums = key.private_numbers()
    n, e = nums.public_numbers.n, nums.public_numbers.e
    bits = key.key_size

    def le(v, size):
        return v.to_bytes(size, 'little')
    header = bytes([7, 2, 0, 0]) + struct.pack('<I', alg) + b'RSA2' + struct.pack('<II', bits, e)
    return (header + le(n, bits // 8) + le(nums.p, bits // 16) + le(nums.q, bits // 16) + le(nums.dmp1, bits // 16)
            + le(nums.dmq1, bits // 16) + le(nums.iqmp, bits // 16) + le(nums.d, bits // 8))


def wrapped_b64(data):
    text = base64.b64encode(data).decode('ascii')
    return '\n          ' + '\n          '.join(text[i:i + 64] for i in range(0, len(text), 64)) + '\n        '


def xrml_key(public_key, order='little'):
    n = public_key.public_numbers().n
    return ('<PUBLICKEY>\n        <ALGORITHM>RSA</ALGORITHM>\n        <PARAMETER name="public-exponent"><VALUE '
            'encoding="integer32">%d</VALUE></PARAMETER>\n        <PARAMETER name="modulus"><VALUE encoding="base64" '
            'size="%d">%s</VALUE></PARAMETER>\n      </PUBLICKEY>'
            % (public_key.public_numbers().e, n.bit_length(), wrapped_b64(n.to_bytes(n.bit_length() // 8, order))))


def slc(key, slc_id, digest='SHA256', order='little', issuer_key=None, server='Contoso AD RMS'):
    """A Server Licensor Certificate as MS-RMPR 2.2.9.3 lays it out, signed by ``issuer_key``."""
    issuer_key = issuer_key or rsa.generate_private_key(65537, key.key_size)
    body = ('<BODY type="LICENSE" version="3.0">\n  <ISSUEDTIME>2019-05-02T10:11</ISSUEDTIME>\n  <DESCRIPTOR><OBJECT '
            'type="Server-Licensor-Certificate"><ID type="MS-GUID">{%s}</ID></OBJECT></DESCRIPTOR>\n  <ISSUER><OBJECT '
            'type="MS-DRM-Server"><ID type="MS-GUID">{00000000-1111-2222-3333-444444444444}</ID><NAME>Issuer</NAME>'
            '</OBJECT>\n      %s\n  </ISSUER>\n  <DISTRIBUTIONPOINT><OBJECT type="License-Acquisition-URL"><ADDRESS '
            'type="URL">https://rms.contoso.example/_wmcs/licensing</ADDRESS></OBJECT></DISTRIBUTIONPOINT>\n'
            '  <ISSUEDPRINCIPALS>\n    <PRINCIPAL internal-id="1">\n      <OBJECT type="MS-DRM-Server"><ID '
            'type="MS-GUID">{%s}</ID><NAME>%s</NAME><ADDRESS type="URL">https://rms.contoso.example/_wmcs/licensing'
            '</ADDRESS></OBJECT>\n      %s\n    </PRINCIPAL>\n  </ISSUEDPRINCIPALS>\n</BODY>'
            % (slc_id.upper(), xrml_key(issuer_key.public_key(), order), slc_id.upper(), escape(server),
               xrml_key(key.public_key(), order)))
    hash_ = hashes.SHA256() if digest.replace('-', '').upper() == 'SHA256' else hashes.SHA1()
    signature = issuer_key.sign(body.encode('utf-8'), padding.PKCS1v15(), hash_)
    return ('<XrML xmlns="" version="1.2">%s<SIGNATURE><ALGORITHM>RSA PKCS#1-V1.5</ALGORITHM><DIGEST><ALGORITHM>%s'
            '</ALGORITHM></DIGEST><VALUE encoding="base64" size="%d">%s</VALUE></SIGNATURE></XrML>'
            % (body, digest, len(signature) * 8, base64.b64encode(signature).decode('ascii')))


def template(template_id, name):
    return ('<XrML version="1.2" purpose="Template"><BODY type="Microsoft Official Rights Template" version="3.0">'
            '<DESCRIPTOR><OBJECT><ID type="MS-GUID">{%s}</ID><NAME>LCID 1033:NAME %s;DESCRIPTION Only for staff;'
            'LCID 1036:NAME Confidentiel;DESCRIPTION Pour le personnel;</NAME></OBJECT></DESCRIPTOR></BODY></XrML>'
            % (template_id, escape(name)))


def serialized(type_name, fields_xml, encoding='utf-8', items=1):
    text = ('<?xml version="1.0" encoding="%s"?>\r\n<ArrayOfAnyType xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
            ' xmlns:xsd="http://www.w3.org/2001/XMLSchema">\r\n%s</ArrayOfAnyType>'
            % (encoding, ''.join('  <anyType xsi:type="%s">\r\n%s  </anyType>\r\n' % (type_name, fields_xml)
                                 for _i in range(items))))
    if encoding == 'utf-16':
        return b'\xff\xfe' + text.encode('utf-16-le')
    return text.encode('utf-8')


def inner(slc_xml, templates, csp_type=24, csp_name='Microsoft Enhanced RSA and AES Cryptographic Provider',
          container='', key_number=1, encoding='utf-8', chain_extra=()):
    ki = ('    <m_ttdki>\r\n      <strID>{6F1C2E3D-0000-4C6D-8E7F-90A1B2C3D4E5}</strID>\r\n      <strIDType>Windows'
          '</strIDType>\r\n      <nCSPType>%d</nCSPType>\r\n      <strCSPName>%s</strCSPName>\r\n'
          '      <strKeyContainerName>%s</strKeyContainerName>\r\n      <nKeyNumber>%d</nKeyNumber>\r\n'
          '      <strEncryptedPrivateKey />\r\n    </m_ttdki>\r\n'
          % (csp_type, escape(csp_name), escape(container), key_number))
    chain = ''.join('<string>%s</string>' % escape(c) for c in ([slc_xml] if slc_xml else []) + list(chain_extra))
    tpls = ''.join('<string>%s</string>' % escape(t) for t in templates)
    return serialized('TrustedDocDomain', ki + '    <m_strLicensorCertChain>%s</m_strLicensorCertChain>\r\n'
                      '    <m_astrRightsTemplates>%s</m_astrRightsTemplates>\r\n' % (chain, tpls), encoding)


def export(password, inner_bytes, blob=None, scheme='v2', encoding='utf-8', items=1, raw_info=None):
    """The outer file. ``raw_info``: the m_strTrustedDocDomainInfo text to write instead of the encrypted inner."""
    key = key_v2(password) if scheme == 'v2' else key_v1(password)
    info = raw_info if raw_info is not None else wrapped_b64(encrypt(key, inner_bytes))
    key_data = '<m_strKeyData>%s</m_strKeyData>' % base64.b64encode(encrypt(key, blob)).decode('ascii') if blob \
        else '<m_strKeyData />'
    return serialized('EncryptedTrustedDocDomain', '    <m_strTrustedDocDomainInfo>%s</m_strTrustedDocDomainInfo>\r\n'
                      '    %s\r\n' % (info, key_data), encoding, items)


def spki_sha256(key):
    from cryptography.hazmat.primitives import serialization
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()
