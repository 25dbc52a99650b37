# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The AD RMS trusted publishing domain (TPD) export: the one reader and writer, used by every end.

The format is the one AD RMS writes (``Export-RmsTPD``, the console) and real importers read, as docs/tpd.md
describes it: two layers of .NET XmlSerializer XML over an ArrayList; the inner document and the private key
encrypted with AES-128-CBC under a key derived from the protection password (v2: SHA-256 of its UTF-16LE bytes; v1:
PBKDF1-SHA1, 100 rounds, of its UTF-8 bytes), with the fixed IV 01..10; the key a CryptoAPI PRIVATEKEYBLOB, or for an
HSM key a reference to it in its CSP; the Server Licensor Certificate (SLC) and the rights templates as XrML.

Nothing authenticates the export: a wrong password and altered data are told apart only by the padding and by
whether the inner document is XML. What an importer must refuse is listed in ``problems`` by read_tpd(); an import
goes through check_importable(), which refuses when there is any.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import binascii
import hashlib
import os
import re
import struct
import traceback
import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape

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

CORRUPTED = 'Trusted Publishing Domain data is corrupted, or the password is wrong'
MODES = {1: (1024, 'SHA-1'), 2: (2048, 'SHA-256')}
# MS-RMPR 3.1.4.7: the CSP types each mode allows (1 PROV_RSA_FULL, 24 PROV_RSA_AES)
MODE_CSP_TYPES = {1: (1, 24), 2: (24,)}
CSP_TYPE_NAMES = {1: 'PROV_RSA_FULL', 24: 'PROV_RSA_AES'}
DIGEST_MODES = {'sha1': 1, 'sha-1': 1, 'sha256': 2, 'sha-256': 2}
MODE_DIGESTS = {1: 'SHA1', 2: 'SHA256'}
GUID_RE = re.compile(r'^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$')
# a real export with a few dozen templates is some hundred KiB; anything far larger is refused before it is read
MAX_TPD_BYTES = 5 * 1024 * 1024
SCHEMES = ('v2', 'v1')
# AD RMS keys are RSA 1024 or 2048; a larger number read from a file is refused before any arithmetic on it
MAX_RSA_BITS = 4096
IV = bytes(range(1, 17))
XSI = 'http://www.w3.org/2001/XMLSchema-instance'
XSD = 'http://www.w3.org/2001/XMLSchema'
CALG_RSA_KEYX, CALG_RSA_SIGN = 0xA400, 0x2400
PRIVATEKEYBLOB, BLOB_VERSION, RSA2 = 7, 2, 0x32415352
REHEARSAL_SLC_NOTE = 'Rehearsal SLC made by keyceremony.byok tpd_export, self-signed in the HSM; not issued by AD RMS'


class TpdError(ByokError):
    """A TPD export is refused; the message says which check."""


class XmlRefused(TpdError):
    """XML that declares a DTD, an entity or an external reference, refused at whatever layer."""


def hsm_reference_name(key_container):
    """The file name Microsoft's migration guide gives an export whose key stays in the HSM."""
    return 'no_key_tpd_%s.xml' % key_container


def password_key(password, scheme):
    """The AES-128 key of a protection password: v2 SHA-256 over UTF-16LE, v1 PBKDF1-SHA1 x100 over UTF-8."""
    if scheme == 'v2':
        return hashlib.sha256(password.encode('utf-16-le')).digest()[:16]
    if scheme == 'v1':
        # .NET PasswordDeriveBytes(password, null): SHA-1 of the password, then of that, 100 times in all
        digest = password.encode('utf-8')
        for _round in range(100):
            digest = hashlib.sha1(digest).digest()
        return digest[:16]
    raise TpdError('password scheme %r is unknown: v2 (the default export) or v1 (-V1Compatible)' % (scheme,))


# ---------------------------------------------------------------- CryptoAPI PRIVATEKEYBLOB

def _le(value, size):
    return value.to_bytes(size, 'little')


def capi_private_blob(components, key_alg=CALG_RSA_KEYX):
    """A PRIVATEKEYBLOB (little-endian throughout) of an RSA key given as CKA_* values."""
    n, e, d, p, q, dp, dq, qinv = _crypto.rsa_private_numbers(components)
    bits = n.bit_length()
    if bits % 16:
        raise TpdError('a CryptoAPI key blob holds RSA keys of a multiple of 16 bits, not %d' % bits)
    whole, half = bits // 8, bits // 16
    return (struct.pack('<BBHI', PRIVATEKEYBLOB, BLOB_VERSION, 0, key_alg) + struct.pack('<III', RSA2, bits, e)
            + _le(n, whole) + _le(p, half) + _le(q, half) + _le(dp, half) + _le(dq, half) + _le(qinv, half)
            + _le(d, whole))


def read_capi_private_blob(blob):
    """A PRIVATEKEYBLOB -> CKA_* values, or TpdError saying what is wrong (nothing is tolerated, as in Exchange)."""
    if len(blob) < 20:
        raise TpdError('the private key is %d bytes, too short for a CryptoAPI key blob' % len(blob))
    btype, version, reserved, alg = struct.unpack('<BBHI', blob[:8])
    magic, bits, e = struct.unpack('<III', blob[8:20])
    if btype != PRIVATEKEYBLOB or version != BLOB_VERSION or reserved != 0:
        raise TpdError('the private key is not a CryptoAPI PRIVATEKEYBLOB (type %d, version %d)' % (btype, version))
    if alg not in (CALG_RSA_KEYX, CALG_RSA_SIGN) or magic != RSA2:
        raise TpdError('the private key blob is not an RSA private key (algorithm 0x%x, magic 0x%x)' % (alg, magic))
    if bits % 16 or not 512 <= bits <= MAX_RSA_BITS:
        raise TpdError('the private key blob says it is RSA %d, which is no key size it can hold' % bits)
    whole, half = bits // 8, bits // 16
    if len(blob) != 20 + 2 * whole + 5 * half:
        raise TpdError('the private key blob is %d bytes, but RSA %d takes %d' % (len(blob), bits, 20 + 2 * whole + 5 * half))
    fields, at = [], 20
    for size in (whole, half, half, half, half, half, whole):
        fields.append(int.from_bytes(blob[at:at + size], 'little'))
        at += size
    n, p, q, dp, dq, qinv, d = fields
    if n.bit_length() != bits:
        raise TpdError('the private key blob says RSA %d, but its modulus is %d bits' % (bits, n.bit_length()))
    try:
        return _crypto.rsa_private_checked(n, e, d, p, q, dp, dq, qinv)
    except ByokError as exc:
        raise TpdError('the private key blob is no RSA key: %s' % exc)


# ---------------------------------------------------------------- XML

# byte order marks, then the first characters "<?" of a document without one (XML 1.0, appendix F)
_BOMS = ((b'\xef\xbb\xbf', 'utf-8'), (b'\xff\xfe\x00\x00', 'utf-32-le'), (b'\x00\x00\xfe\xff', 'utf-32-be'),
         (b'\xff\xfe', 'utf-16-le'), (b'\xfe\xff', 'utf-16-be'))
_SNIFF = ((b'<\x00\x00\x00', 'utf-32-le'), (b'\x00\x00\x00<', 'utf-32-be'), (b'<\x00?\x00', 'utf-16-le'),
          (b'\x00<\x00?', 'utf-16-be'))
# the XML declaration, bounded (a file of "<?xml" and megabytes of spaces must not cost more than reading it)
_XML_DECLARATION = re.compile(r'\s{0,64}<\?xml[^?>]{0,256}\?>')
_ENCODING_PSEUDO_ATTRIBUTE = re.compile(r'\s+encoding\s*=\s*["\'][^"\']{0,64}["\']')


def detect_encoding(data):
    """(encoding, length of its BOM) of an XML document, by its BOM or first bytes as XML 1.0 says; UTF-8 otherwise."""
    for mark, encoding in _BOMS:
        if data.startswith(mark):
            return encoding, len(mark)
    for mark, encoding in _SNIFF:
        if data.startswith(mark):
            return encoding, 0
    return 'utf-8', 0


def _as_utf8(data, what):
    """An XML document in UTF-8, UTF-16 or UTF-32, as UTF-8 without its encoding declaration."""
    encoding, bom = detect_encoding(data)
    if encoding == 'utf-8' and not bom:
        return data
    try:
        text = data[bom:].decode(encoding)
    except UnicodeDecodeError:
        raise TpdError('%s starts as %s text but is not valid %s' % (what, encoding, encoding))
    declaration = _XML_DECLARATION.match(text)
    if declaration:  # the text is UTF-8 now: its declaration must not say otherwise
        text = _ENCODING_PSEUDO_ATTRIBUTE.sub('', declaration.group(0), count=1) + text[declaration.end():]
    return text.encode('utf-8')


def parse_untrusted_xml(data, what):
    """XML from outside (a file on the transfer media, an upload) -> root element, with defusedxml.

    Whatever the encoding (UTF-8, UTF-16, UTF-32), a DTD, an entity declaration or an external reference is refused:
    the parser sees the document, not a byte pattern.
    """
    if not HAS_DEFUSEDXML:
        raise ByokError('reading %s needs the Python library defusedxml (pip install defusedxml), which is not '
                        'installed for this interpreter' % what)
    if isinstance(data, str):
        data = data.encode('utf-8')
    try:
        return _defused_fromstring(_as_utf8(data, what), forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as e:
        raise XmlRefused('%s declares a DTD, entities or external references (%s); they are refused'
                         % (what, type(e).__name__))
    except (ET.ParseError, ValueError) as e:
        raise TpdError('%s is not well-formed XML (%s)' % (what, e))


def _kids(el, name):
    """The children named ``name`` - in no namespace, as XmlSerializer and XrML write them."""
    return [c for c in el if c.tag == name] if el is not None else []


def _kid(el, *path):
    """The element along ``path``, or None. A field given twice is refused: readers differ on which one counts (the
    first here, the last for XmlSerializer), and a file read two ways is how a key gets past a check."""
    for name in path:
        found = _kids(el, name)
        if len(found) > 1:
            raise TpdError('<%s> holds %d <%s> elements; an export holds one' % (el.tag, len(found), name))
        if not found:
            return None
        el = found[0]
    return el


_DIGITS = re.compile(r'[0-9]{1,10}\Z')


def _int(text, what):
    """A decimal integer as .NET writes one (ASCII digits only), or TpdError."""
    if not _DIGITS.match(text or ''):
        raise TpdError('%s is %r, not a number' % (what, (text or '')[:32]))
    return int(text)


def _text(el, *path):
    node = _kid(el, *path) if path else el
    return (node.text or '').strip() if node is not None else ''


def _b64(text, what):
    """Base64 as .NET writes it, wrapped or not; TpdError when it is not base64 (a cut file, an edit)."""
    compact = re.sub(r'\s+', '', text or '')
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        raise TpdError('%s is not valid base64 (%d characters): the file is truncated or was edited' % (what, len(compact)))


def _xsi_type(el):
    return el.get('{%s}type' % XSI) or el.get('type') or ''


def _single_item(root, what, want):
    """The one anyType item of an XmlSerializer ArrayList, of type ``want``."""
    if root.tag != 'ArrayOfAnyType':
        raise TpdError('%s is a <%s> document, not the <ArrayOfAnyType> an AD RMS TPD export is' % (what, root.tag))
    items = _kids(root, 'anyType')
    if len(items) != 1:
        raise TpdError('%s holds %d items; an export holds exactly one %s' % (what, len(items), want))
    found = _xsi_type(items[0]).split(':')[-1]
    if found and found != want:
        raise TpdError('the item of %s is a %s, not a %s' % (what, found, want))
    return items[0]


def _looks_like_xml(plain):
    """Whether decrypted bytes start as an XML document (so the key was right): negligible for a wrong key."""
    encoding, bom = detect_encoding(plain)
    try:
        head = plain[bom:bom + 64 * (4 if '32' in encoding else 2 if '16' in encoding else 1)].decode(encoding, 'ignore')
    except LookupError:
        return False
    return head.lstrip().startswith(('<?xml', '<ArrayOfAnyType'))


# ---------------------------------------------------------------- XrML: the SLC and the templates

def _modulus_bytes(value, order):
    return value.to_bytes((value.bit_length() + 7) // 8, 'little' if order == 'little-endian' else 'big')


def _modulus_readings(raw, size):
    """The plausible readings of an XrML modulus: [(byte order, value)], little-endian (CryptoAPI, what real exports
    hold) first. A modulus is odd and has its top bit set (at ``size`` bits, when the VALUE says)."""
    out = []
    for order in ('little-endian', 'big-endian'):
        value = int.from_bytes(raw, 'little' if order == 'little-endian' else 'big')
        bits = value.bit_length()
        if value & 1 and 512 <= bits <= MAX_RSA_BITS and (bits == size if size else bits % 8 == 0):
            out.append((order, value))
    return out


def _public_key(el, what, problems):
    """An XrML PUBLICKEY -> {'exponent', 'readings', 'size'} or None (with a problem)."""
    if el is None:
        problems.append('%s has no public key' % what)
        return None
    algorithm = _text(el, 'ALGORITHM')
    if algorithm.upper() != 'RSA':
        problems.append('%s\'s public key is %r, not RSA' % (what, algorithm))
        return None
    names = [p.get('name') for p in _kids(el, 'PARAMETER')]
    if len(set(names)) != len(names):
        raise TpdError('%s\'s public key gives a PARAMETER twice' % what)
    params = dict((p.get('name'), _kid(p, 'VALUE')) for p in _kids(el, 'PARAMETER'))
    exp, mod = params.get('public-exponent'), params.get('modulus')
    if exp is None or mod is None:
        problems.append('%s\'s public key lacks its %s' % (what, 'modulus' if mod is None else 'public exponent'))
        return None
    try:
        exponent = _int(_text(exp), '%s\'s public exponent' % what)
        raw = _b64(mod.text, '%s\'s modulus' % what)
        size = _int(mod.get('size'), '%s\'s modulus size' % what) if mod.get('size') else None
    except (ValueError, TpdError) as e:
        problems.append('%s\'s public key cannot be read: %s' % (what, e))
        return None
    if not (3 <= exponent < 2 ** 32 and exponent & 1):
        problems.append('%s\'s public exponent %d is no RSA exponent (an odd integer32 of 3 or more)' % (what, exponent))
        return None
    readings = _modulus_readings(raw, size)
    if not readings and size:
        readings = _modulus_readings(raw, None)
        if readings:
            problems.append('%s\'s modulus VALUE says size="%d", but the modulus is %d bits'
                            % (what, size, readings[0][1].bit_length()))
    if not readings:
        problems.append('%s\'s modulus (%d bytes) is no RSA modulus in either byte order' % (what, len(raw)))
        return None
    return {'exponent': exponent, 'readings': readings}


def _guid(text):
    g = (text or '').strip().strip('{}').lower()
    return g if GUID_RE.match(g) else None


_NAME_FIELD = re.compile(r'\s{0,64}(?:LCID\s{1,8}[0-9]{1,10}\s{0,8}:\s{0,8})?NAME\s(.*)', re.S)


def _name_of(text):
    """'LCID 1033:NAME Confidential;DESCRIPTION ...;' -> 'Confidential' (the first NAME), else the text."""
    for part in (text or '').split(';'):
        field = _NAME_FIELD.match(part)
        if field:
            return field.group(1).strip()
    return (text or '').strip()[:256]


def read_slc(xrml, problems):
    """The SLC (an XrML string) -> dict, or None with the problems added. The SLC's key is the one beside
    ISSUEDPRINCIPALS/PRINCIPAL/OBJECT, never the ISSUER's."""
    root = parse_untrusted_xml(xrml, 'the Server Licensor Certificate')
    body = _kid(root, 'BODY') if root.tag == 'XrML' else None
    if body is None:
        problems.append('the Server Licensor Certificate is not an XrML document with a BODY')
        return None
    slc = {'slc_id': None, 'display_name': _text(body, 'ISSUEDPRINCIPALS', 'PRINCIPAL', 'OBJECT', 'NAME'),
           'digest': _text(root, 'SIGNATURE', 'DIGEST', 'ALGORITHM'), 'key': None}
    obj = _kid(body, 'DESCRIPTOR', 'OBJECT')
    if obj is None or (obj.get('type') or '').lower() != 'server-licensor-certificate':
        problems.append('the first certificate of the licensor chain is not a Server-Licensor-Certificate '
                        '(DESCRIPTOR/OBJECT type=%r)' % (obj.get('type') if obj is not None else None))
    raw_id = _text(obj, 'ID') if obj is not None else ''
    slc['slc_id'] = _guid(raw_id)
    if slc['slc_id'] is None:
        problems.append('the Server Licensor Certificate\'s ID %r is not a GUID' % raw_id)
    slc['key'] = _public_key(_kid(body, 'ISSUEDPRINCIPALS', 'PRINCIPAL', 'PUBLICKEY'),
                             'the Server Licensor Certificate', problems)
    return slc


def read_template(xrml, index, problems):
    root = parse_untrusted_xml(xrml, 'rights template %d' % index)
    obj = _kid(root, 'BODY', 'DESCRIPTOR', 'OBJECT')
    body = _kid(root, 'BODY')
    if body is None or obj is None:
        problems.append('rights template %d is not an XrML template with a DESCRIPTOR' % index)
        return {'id': None, 'name': None}
    if 'template' not in (body.get('type') or '').lower():
        problems.append('rights template %d has BODY type %r, not a rights template' % (index, body.get('type')))
    return {'id': _guid(_text(obj, 'ID')), 'name': _name_of(_text(obj, 'NAME'))}


def _xrml_public_key(modulus, exponent, order):
    return ('<PUBLICKEY><ALGORITHM>RSA</ALGORITHM><PARAMETER name="public-exponent"><VALUE encoding="integer32">%d'
            '</VALUE></PARAMETER><PARAMETER name="modulus"><VALUE encoding="base64" size="%d">%s</VALUE></PARAMETER>'
            '</PUBLICKEY>' % (exponent, modulus.bit_length(),
                              base64.b64encode(_modulus_bytes(modulus, order)).decode('ascii')))


def _server(guid, name, url):
    return ('<OBJECT type="MS-DRM-Server"><ID type="MS-GUID">{%s}</ID><NAME>%s</NAME><ADDRESS type="URL">%s</ADDRESS>'
            '</OBJECT>' % (guid.upper(), escape(name), escape(url)))


def _signed(purpose, body, mode, signer):
    """An XrML document: ``body`` and its SIGNATURE made by ``signer(bytes) -> signature`` (RSA PKCS#1 v1.5 with the
    mode's digest, in the HSM for tpd_export). The signature is written in CryptoAPI (little-endian) byte order."""
    data = body.encode('utf-8')
    digest = hashlib.new(MODE_DIGESTS[mode].lower(), data).digest()
    signature = signer(data)
    return ('<XrML xmlns="" version="1.2" purpose="%s">%s<SIGNATURE><ALGORITHM>RSA PKCS#1-V1.5</ALGORITHM><DIGEST>'
            '<ALGORITHM>%s</ALGORITHM><PARAMETER name="codingtype"><VALUE encoding="string">surface-coding</VALUE>'
            '</PARAMETER><VALUE encoding="base64" size="%d">%s</VALUE></DIGEST><VALUE encoding="base64" size="%d">%s'
            '</VALUE></SIGNATURE></XrML>'
            % (purpose, body, MODE_DIGESTS[mode], len(digest) * 8, base64.b64encode(digest).decode('ascii'),
               len(signature) * 8, base64.b64encode(signature[::-1]).decode('ascii')))


def build_slc(slc_id, server_name, modulus, exponent, mode, signer, issued, url, modulus_byte_order='little-endian',
              note=REHEARSAL_SLC_NOTE):
    """A self-signed Server Licensor Certificate (XrML 1.2, MS-RMPR 2.2.9.3) for the key (modulus, exponent)."""
    key = _xrml_public_key(modulus, exponent, modulus_byte_order)
    body = ('<BODY type="LICENSE" version="3.0"><ISSUEDTIME>%s</ISSUEDTIME><DESCRIPTOR><OBJECT '
            'type="Server-Licensor-Certificate"><ID type="MS-GUID">{%s}</ID><NAME>%s</NAME></OBJECT></DESCRIPTOR>'
            '<ISSUER>%s%s</ISSUER><DISTRIBUTIONPOINT><OBJECT type="License-Acquisition-URL"><ID type="MS-GUID">{%s}</ID>'
            '<NAME>DRM Server Cluster</NAME><ADDRESS type="URL">%s</ADDRESS></OBJECT></DISTRIBUTIONPOINT>'
            '<ISSUEDPRINCIPALS><PRINCIPAL internal-id="1">%s%s</PRINCIPAL></ISSUEDPRINCIPALS></BODY>'
            % (issued, slc_id.upper(), escape(note), _server(slc_id, server_name, url), key, slc_id.upper(),
               escape(url), _server(slc_id, server_name, url), key))
    return _signed('Server-Licensor-Certificate', body, mode, signer)


def build_template(template_id, name, description, slc_id, server_name, modulus, exponent, mode, signer, issued, url):
    """A rights policy template (XrML, BODY type "Microsoft Official Rights Template"), signed by the SLC key."""
    body = ('<BODY type="Microsoft Official Rights Template" version="3.0"><ISSUEDTIME>%s</ISSUEDTIME><DESCRIPTOR>'
            '<OBJECT><ID type="MS-GUID">{%s}</ID><NAME>LCID 1033:NAME %s;DESCRIPTION %s;</NAME></OBJECT></DESCRIPTOR>'
            '<ISSUER>%s%s</ISSUER><WORK><OBJECT type="MS-TEMPLATE"/><RIGHTSGROUP name="Main-Rights"><RIGHTSLIST>'
            '<VIEW><CONDITIONLIST><ACCESS><PRINCIPAL internal-id="1"><OBJECT><ID type="Internal">ANYONE</ID>'
            '</OBJECT></PRINCIPAL></ACCESS></CONDITIONLIST></VIEW></RIGHTSLIST></RIGHTSGROUP></WORK></BODY>'
            % (issued, template_id.upper(), escape(name.replace(';', ',')), escape(description.replace(';', ',')),
               _server(slc_id, server_name, url), _xrml_public_key(modulus, exponent, 'little-endian')))
    return _signed('Template', body, mode, signer)


# ---------------------------------------------------------------- the two layers

def _field(name, value):
    """One field as XmlSerializer writes it: a string array as <string> items, an empty string as an empty element."""
    if isinstance(value, list):
        return '<%s>%s</%s>' % (name, ''.join('<string>%s</string>' % escape(v) for v in value), name)
    if value == '' or value is None:
        return '<%s />' % name
    return '<%s>%s</%s>' % (name, escape(str(value)), name)


def _serialized(type_name, fields, encoding):
    """An XmlSerializer ArrayList of one item of ``type_name``, in ``encoding`` (utf-8, or utf-16 with its BOM)."""
    text = ('<?xml version="1.0" encoding="%s"?>\n<ArrayOfAnyType xmlns:xsi="%s" xmlns:xsd="%s">\n'
            '  <anyType xsi:type="%s">\n%s  </anyType>\n</ArrayOfAnyType>'
            % ('utf-16' if encoding == 'utf-16' else 'utf-8', XSI, XSD, type_name,
               ''.join('    %s\n' % f for f in fields)))
    if encoding == 'utf-16':
        return b'\xff\xfe' + text.encode('utf-16-le')
    if encoding != 'utf-8':
        raise TpdError('an export is written in utf-8 or utf-16, not %r' % (encoding,))
    return text.encode('utf-8')


KEY_INFORMATION = ('strID', 'strIDType', 'nCSPType', 'strCSPName', 'strKeyContainerName', 'nKeyNumber')


def build_tpd(slc, templates, password, key_information, private_blob=None, scheme='v2', outer_encoding='utf-8',
              inner_encoding='utf-8'):
    """The export's bytes. ``slc`` and ``templates`` are XrML strings; ``key_information`` the m_ttdki fields
    (KEY_INFORMATION); ``private_blob`` the PRIVATEKEYBLOB of a software key, None when the key stays in its HSM
    (its CSP names it)."""
    key = password_key(password, scheme)
    ki = ''.join(_field(n, key_information.get(n)) for n in KEY_INFORMATION) + _field('strEncryptedPrivateKey', '')
    inner = _serialized('TrustedDocDomain', ['<m_ttdki>%s</m_ttdki>' % ki,
                                             _field('m_strLicensorCertChain', [slc]),
                                             _field('m_astrRightsTemplates', list(templates))], inner_encoding)
    encrypted = base64.b64encode(_crypto.aes_cbc_encrypt(key, IV, inner)).decode('ascii')
    key_data = base64.b64encode(_crypto.aes_cbc_encrypt(key, IV, private_blob)).decode('ascii') if private_blob else ''
    return _serialized('EncryptedTrustedDocDomain', [_field('m_strTrustedDocDomainInfo', encrypted),
                                                     _field('m_strKeyData', key_data)], outer_encoding)


def _open(ciphertext, password):
    """(scheme, inner bytes): the first derivation under which the inner document decrypts to XML."""
    for scheme in SCHEMES:
        try:
            plain = _crypto.aes_cbc_decrypt(password_key(password, scheme), IV, ciphertext)
        except _crypto.PaddingError:
            continue
        if _looks_like_xml(plain):
            return scheme, plain
    raise TpdError(CORRUPTED)


def read_tpd(data, password):
    """Open and read an export. Returns a dict: what tpd_info reports, ``problems`` (what an import refuses), ``notes``
    (what was read leniently), and, never to be shown or written, ``private_key`` (CKA_* values of an embedded key).

    Raises TpdError when the file cannot be opened at all: too large, not XML, a DTD or entity at any layer, not one
    item, base64 or padding broken, the password wrong, the inner document not XML."""
    if len(data) > MAX_TPD_BYTES:
        raise TpdError('the TPD export is %d bytes; an export is at most %d MiB, so this is not one'
                       % (len(data), MAX_TPD_BYTES // (1024 * 1024)))
    problems, notes = [], []
    outer_encoding = detect_encoding(data)[0]
    item = _single_item(parse_untrusted_xml(data, 'the TPD export'), 'the TPD export', 'EncryptedTrustedDocDomain')
    info_el = _kid(item, 'm_strTrustedDocDomainInfo')
    for field in (info_el, _kid(item, 'm_strKeyData')):
        if field is not None and len(field):
            raise TpdError('%s holds elements; it holds base64 text only' % field.tag)
    if info_el is None or not (info_el.text or '').strip():
        raise TpdError('the TPD export has no m_strTrustedDocDomainInfo: there is no trusted publishing domain in it')
    ciphertext = _b64(info_el.text, 'm_strTrustedDocDomainInfo')
    if len(ciphertext) % 16:
        raise TpdError('m_strTrustedDocDomainInfo is %d bytes, not whole AES blocks: the file is truncated'
                       % len(ciphertext))
    scheme, plain = _open(ciphertext, password)
    inner_encoding = detect_encoding(plain)[0]
    try:
        inner_root = parse_untrusted_xml(plain, 'the inner TrustedDocDomain document')
    except XmlRefused:
        raise
    except TpdError as e:
        raise TpdError('the password opened the export, but %s: the export is corrupted' % e)
    tdd = _single_item(inner_root, 'the inner TrustedDocDomain document', 'TrustedDocDomain')
    ki = _kid(tdd, 'm_ttdki')
    if ki is None:
        problems.append('the TrustedDocDomain has no key information (m_ttdki)')
    tpd = {'password_scheme': scheme, 'outer_encoding': outer_encoding, 'inner_encoding': inner_encoding,
           'key_id': _text(ki, 'strID'), 'key_id_type': _text(ki, 'strIDType'), 'csp_name': _text(ki, 'strCSPName'),
           'key_container': _text(ki, 'strKeyContainerName'), 'csp_type': None, 'key_number': None,
           'tpd_id': None, 'slc_id': None, 'display_name': '', 'cryptographic_mode': None, 'slc_spki': None,
           'slc_spki_sha256': None, 'slc_key_size': None, 'modulus_byte_order': None, 'templates': [],
           'slc_spki_sha256_other_order': None, 'embedded_key_matches_slc': None, 'private_key': None,
           'slc_readings': [], 'problems': problems,
           'notes': notes}
    for field, name in (('csp_type', 'nCSPType'), ('key_number', 'nKeyNumber')):
        value = _text(ki, name)
        if value:
            try:
                tpd[field] = _int(value, name)
            except TpdError as e:
                problems.append(str(e))

    chain = [s.text or '' for s in _kids(_kid(tdd, 'm_strLicensorCertChain'), 'string')]
    slc = read_slc(chain[0], problems) if chain and chain[0].strip() else None
    if slc is None and not (chain and chain[0].strip()):
        problems.append('the TPD has no Server Licensor Certificate (m_strLicensorCertChain is empty)')
    tpd['templates'] = [read_template(t.text or '', i + 1, problems)
                        for i, t in enumerate(_kids(_kid(tdd, 'm_astrRightsTemplates'), 'string'))]

    key_el = _kid(item, 'm_strKeyData')
    blob = None
    if key_el is not None and (key_el.text or '').strip():
        try:
            blob = _crypto.aes_cbc_decrypt(password_key(password, scheme), IV, _b64(key_el.text, 'm_strKeyData'))
        except _crypto.PaddingError:
            raise TpdError('m_strKeyData does not decrypt under the password that opened the export: the private key '
                           'is corrupted')
    if _text(ki, 'strEncryptedPrivateKey'):
        notes.append('the inner strEncryptedPrivateKey is not empty; it was not read (the key is m_strKeyData)')
    tpd['key_storage'] = 'embedded' if blob is not None else 'hsm'
    if blob is not None:
        try:
            tpd['private_key'] = read_capi_private_blob(blob)
        except TpdError as e:
            problems.append(str(e))
    elif not tpd['key_container']:
        notes.append('the key is in an HSM, but the export names no key container (strKeyContainerName)')

    if slc is not None:
        tpd['slc_id'] = tpd['tpd_id'] = slc['slc_id']
        tpd['display_name'] = slc['display_name']
        _slc_key(tpd, slc, problems, notes)
    _mode_checks(tpd, slc, problems, notes)
    return tpd


def _slc_key(tpd, slc, problems, notes):
    if slc['key'] is None:
        return
    exponent = slc['key']['exponent']
    readings = [(order, modulus, _crypto.spki_der(modulus, exponent)) for order, modulus in slc['key']['readings']]
    tpd['slc_readings'] = [(order, modulus.bit_length(), spki, hashlib.sha256(spki).hexdigest())
                           for order, modulus, spki in readings]
    chosen = 0
    if tpd['private_key'] is not None:
        n, e = tpd['private_key']['CKA_MODULUS'], tpd['private_key']['CKA_PUBLIC_EXPONENT']
        matching = [i for i, r in enumerate(readings) if r[1] == n and e == exponent]
        tpd['embedded_key_matches_slc'] = bool(matching)
        if matching:
            chosen = matching[0]
        else:
            problems.append('the embedded private key is not the Server Licensor Certificate\'s key')
    elif len(readings) == 2:
        notes.append('the SLC modulus is a valid key in either byte order; it was read little-endian (CryptoAPI order, '
                     'as AD RMS writes it), and an HSM key package is matched against both')
    _take_reading(tpd, chosen)


def _take_reading(tpd, index):
    tpd['modulus_byte_order'], tpd['slc_key_size'], tpd['slc_spki'], tpd['slc_spki_sha256'] = tpd['slc_readings'][index]
    # without a key to decide, the other byte order's fingerprint is shown too, for the witnesses to compare
    others = [r[3] for i, r in enumerate(tpd['slc_readings']) if i != index]
    tpd['slc_spki_sha256_other_order'] = others[0] if others and tpd['private_key'] is None else None


def _mode_checks(tpd, slc, problems, notes):
    if slc is None:
        return  # said already: no SLC, or one that cannot be read
    digest = slc.get('digest') or ''
    mode = DIGEST_MODES.get(digest.lower())
    if mode is None and tpd['slc_key_size'] in (1024, 2048):
        mode = 1 if tpd['slc_key_size'] == 1024 else 2
        notes.append('the SLC names no digest the mode can be told by (%r); the mode was taken from its key size'
                     % digest)
    elif mode is None:
        problems.append('the cryptographic mode cannot be told: the SLC signs with %r' % digest)
    tpd['cryptographic_mode'] = mode
    if mode is None:
        return
    size, name = MODES[mode]
    if tpd['slc_key_size'] and tpd['slc_key_size'] != size:
        problems.append('cryptographic mode %d means RSA %d with %s, but the SLC key is RSA %d'
                        % (mode, size, name, tpd['slc_key_size']))
    if tpd['csp_type'] is not None and tpd['csp_type'] not in MODE_CSP_TYPES[mode]:
        problems.append('CSP type %d (%s) is not allowed in cryptographic mode %d, which needs %s'
                        % (tpd['csp_type'], CSP_TYPE_NAMES.get(tpd['csp_type'], 'unknown'), mode,
                           ' or '.join('%d (%s)' % (t, CSP_TYPE_NAMES[t]) for t in MODE_CSP_TYPES[mode])))


def check_importable(tpd):
    """Refuse a TPD with any problem (the message lists them all)."""
    if tpd['problems']:
        raise TpdError('the TPD %s cannot be imported: %s' % (tpd['slc_id'] or '(no SLC ID)', '; '.join(tpd['problems'])))
    return tpd


def matches_slc(tpd, spki_sha256):
    """Whether a key (its fingerprint) is the TPD's SLC key, in whichever byte order the SLC's modulus reads as a key;
    the TPD then takes that reading."""
    for index, reading in enumerate(tpd.get('slc_readings') or []):
        if reading[3] == spki_sha256:
            _take_reading(tpd, index)
            return True
    return False


def check_held(tpd, held_spki_sha256, held_key_identifier):
    """A TPD the tenant holds already (by its ID) counts as this one only when it holds this TPD's key: an ID is no
    secret, and a TPD imported first under it with another key must not pass for this one."""
    if not matches_slc(tpd, held_spki_sha256):
        raise TpdError('the tenant holds TPD %s already, with key %s (%s), not this export\'s key %s: someone imported '
                       'another key under this TPD\'s ID. Nothing was imported; find out who, before going on'
                       % (tpd['tpd_id'], held_spki_sha256, held_key_identifier, tpd['slc_spki_sha256']))


def read_export_file(path, option='tpd_file'):
    """An export's bytes from the transfer media, refusing one too large before it is read."""
    try:
        with open(path, 'rb') as f:
            size = os.fstat(f.fileno()).st_size
            if size > MAX_TPD_BYTES:
                raise TpdError('%s %s is %d bytes; an export is at most %d MiB, so this is not one'
                               % (option, path, size, MAX_TPD_BYTES // (1024 * 1024)))
            return f.read(MAX_TPD_BYTES + 1)
    except (IOError, OSError) as e:
        raise TpdError('cannot read %s %s: %s' % (option, path, e.strerror))
