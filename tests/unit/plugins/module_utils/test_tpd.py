# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The AD RMS TPD export format (_tpd): round trips through the writer and the reader, an export built by hand from
the format's description, and every refusal."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import re
import time
import uuid

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from ansible_collections.keyceremony.byok.plugins.module_utils import _crypto, _tpd
from ansible_collections.keyceremony.byok.tests.unit import independent_tpd as ind

PASSWORD = 'Pässwörd of the TPD 1'
SLC_ID = '6f1c2e3d-4b5a-4c6d-8e7f-90a1b2c3d4e5'


@pytest.fixture(scope='module')
def keys():
    return {2048: rsa.generate_private_key(65537, 2048), 1024: rsa.generate_private_key(65537, 1024)}


def components(key):
    nums = key.private_numbers()
    return _crypto.rsa_private_checked(nums.public_numbers.n, nums.public_numbers.e, nums.d, nums.p, nums.q, nums.dmp1,
                                       nums.dmq1, nums.iqmp)


def written(key, mode=2, embedded=True, scheme='v2', outer='utf-8', inner='utf-8', order='little-endian',
            csp_type=24, templates=('Confidential', 'Internal')):
    """An export through our writer."""
    n = key.public_key().public_numbers().n
    digest = hashes.SHA256() if mode == 2 else hashes.SHA1()

    def signer(data):
        return key.sign(data, padding.PKCS1v15(), digest)
    url = 'https://rms.contoso.example/_wmcs/licensing'
    slc = _tpd.build_slc(SLC_ID, 'Contoso AD RMS', n, 65537, mode, signer, '2026-11-30T08:00', url, order)
    tpls = [_tpd.build_template(str(uuid.uuid5(uuid.UUID(SLC_ID), t)), t, 'for staff', SLC_ID, 'Contoso AD RMS', n,
                                65537, mode, signer, '2026-11-30T08:00', url) for t in templates]
    ki = {'strID': '{%s}' % SLC_ID, 'strIDType': 'MS-GUID', 'nCSPType': csp_type, 'strKeyContainerName': 'adrms2019',
          'strCSPName': 'nCipher Enhanced RSA and AES Cryptographic Provider', 'nKeyNumber': 1}
    blob = _tpd.capi_private_blob(components(key)) if embedded else None
    return _tpd.build_tpd(slc, tpls, PASSWORD, ki, blob, scheme, outer, inner)


# ---------------------------------------------------------------- round trips

@pytest.mark.parametrize('storage', ['mode2-embedded', 'mode1-embedded', 'hsm'])
@pytest.mark.parametrize('scheme', ['v2', 'v1'])
@pytest.mark.parametrize('outer,inner', [('utf-8', 'utf-8'), ('utf-16', 'utf-8'), ('utf-8', 'utf-16')])
@pytest.mark.parametrize('order', ['little-endian', 'big-endian'])
def test_round_trip(keys, storage, scheme, outer, inner, order):
    mode = 1 if storage == 'mode1-embedded' else 2
    key = keys[1024 if mode == 1 else 2048]
    data = written(key, mode, storage != 'hsm', scheme, outer, inner, order)
    assert PASSWORD.encode() not in data and PASSWORD.encode('utf-16-le') not in data
    tpd = _tpd.read_tpd(data, PASSWORD)
    assert tpd['problems'] == [] and tpd['password_scheme'] == scheme
    assert tpd['outer_encoding'].startswith(outer) and tpd['inner_encoding'].startswith(inner)
    assert (tpd['cryptographic_mode'], tpd['slc_key_size']) == (mode, key.key_size)
    assert tpd['tpd_id'] == tpd['slc_id'] == SLC_ID and tpd['display_name'] == 'Contoso AD RMS'
    assert [t['name'] for t in tpd['templates']] == ['Confidential', 'Internal']
    assert tpd['templates'][0]['id'] == str(uuid.uuid5(uuid.UUID(SLC_ID), 'Confidential'))
    if storage == 'hsm':
        assert tpd['key_storage'] == 'hsm' and tpd['private_key'] is None and tpd['embedded_key_matches_slc'] is None
        assert (tpd['csp_type'], tpd['key_container'], tpd['key_number']) == (24, 'adrms2019', 1)
        # without the key, an SLC modulus valid in both byte orders is read little-endian; the key package decides
        assert _tpd.matches_slc(tpd, ind.spki_sha256(key))
    else:
        assert tpd['key_storage'] == 'embedded' and tpd['embedded_key_matches_slc'] is True
        assert tpd['private_key'] == components(key)
    assert tpd['slc_spki_sha256'] == ind.spki_sha256(key) and tpd['modulus_byte_order'] == order


def test_a_template_name_with_a_colon_reads_back(keys):
    tpd = _tpd.read_tpd(written(keys[2048], templates=('Secret: HR', 'Internal')), PASSWORD)
    assert [t['name'] for t in tpd['templates']] == ['Secret: HR', 'Internal']


def test_the_rehearsal_slc_says_so(keys):
    data = written(keys[2048])
    tpd = _tpd.read_tpd(data, PASSWORD)
    assert tpd['problems'] == []
    # the SLC is inside the encrypted document: read it back to see the note and the signature made by the key
    inner = _crypto.aes_cbc_decrypt(_tpd.password_key(PASSWORD, 'v2'), _tpd.IV,
                                    base64.b64decode(re.search(rb'<m_strTrustedDocDomainInfo>([^<]+)<', data).group(1)))
    assert b'Rehearsal SLC made by keyceremony.byok tpd_export' in inner
    slc = _tpd.parse_untrusted_xml(_tpd._kid(_tpd._kid(_tpd.parse_untrusted_xml(inner, 'inner'), 'anyType'),
                                             'm_strLicensorCertChain', 'string').text, 'slc')
    body = re.search(r'<BODY.*</BODY>', _tpd._kid(_tpd._kid(_tpd.parse_untrusted_xml(inner, 'inner'), 'anyType'),
                                                  'm_strLicensorCertChain', 'string').text).group(0)
    signature = base64.b64decode(_tpd._text(slc, 'SIGNATURE', 'VALUE'))[::-1]
    keys[2048].public_key().verify(signature, body.encode('utf-8'), padding.PKCS1v15(), hashes.SHA256())


def test_the_two_password_derivations_differ():
    assert _tpd.password_key('x', 'v2') == ind.key_v2('x') and _tpd.password_key('x', 'v1') == ind.key_v1('x')
    assert ind.key_v1('x') != ind.key_v2('x')


# ---------------------------------------------------------------- an export built from the description alone

@pytest.mark.parametrize('scheme,encoding,order', [('v2', 'utf-8', 'little'), ('v1', 'utf-16', 'little'),
                                                   ('v2', 'utf-16', 'big')])
def test_an_independently_built_export_is_read(keys, scheme, encoding, order):
    key = keys[2048]
    slc = ind.slc(key, SLC_ID, 'SHA256', order)
    data = ind.export(PASSWORD, ind.inner(slc, [ind.template('0e5a7e61-5f8e-4c1b-9f1c-2b9c7f3e1a10', 'Confidential')],
                                          encoding=encoding), ind.privatekeyblob(key), scheme, encoding)
    tpd = _tpd.read_tpd(data, PASSWORD)
    assert tpd['problems'] == [] and tpd['password_scheme'] == scheme and tpd['key_storage'] == 'embedded'
    assert tpd['slc_spki_sha256'] == ind.spki_sha256(key) and tpd['embedded_key_matches_slc'] is True
    assert tpd['modulus_byte_order'] == order + '-endian' and tpd['cryptographic_mode'] == 2
    assert tpd['templates'] == [{'id': '0e5a7e61-5f8e-4c1b-9f1c-2b9c7f3e1a10', 'name': 'Confidential'}]
    assert tpd['key_id_type'] == 'Windows' and tpd['csp_name'] == 'Microsoft Enhanced RSA and AES Cryptographic Provider'


def test_an_independent_hsm_export_with_a_legacy_key(keys):
    key = keys[1024]
    data = ind.export(PASSWORD, ind.inner(ind.slc(key, SLC_ID, 'SHA1'), [], csp_type=1, container='adrms2012',
                                          csp_name='nCipher Enhanced Cryptographic Provider'), None, 'v1')
    tpd = _tpd.read_tpd(data, PASSWORD)
    assert tpd['problems'] == [] and (tpd['cryptographic_mode'], tpd['csp_type']) == (1, 1)
    assert tpd['key_storage'] == 'hsm' and tpd['key_container'] == 'adrms2012'
    assert _tpd.matches_slc(tpd, ind.spki_sha256(key))


# ---------------------------------------------------------------- refusals

def _independent(keys, **kw):
    key = kw.pop('key', keys[2048])
    blob = kw.pop('blob', ind.privatekeyblob(key))
    slc = kw.pop('slc', ind.slc(key, SLC_ID, kw.pop('digest', 'SHA256')))
    return ind.export(PASSWORD, ind.inner(slc, [], **kw), blob)


@pytest.mark.bad_input
def test_wrong_password_says_that_and_nothing_else(keys):
    for data in (written(keys[2048]), written(keys[2048], scheme='v1'), _independent(keys)):
        with pytest.raises(_tpd.TpdError) as e:
            _tpd.read_tpd(data, 'not the password')
        assert str(e.value) == 'Trusted Publishing Domain data is corrupted, or the password is wrong'


@pytest.mark.bad_input
def test_truncated_base64(keys):
    data = _independent(keys)
    cut = re.sub(rb'(<m_strTrustedDocDomainInfo>[^<]*?)[A-Za-z0-9+/=]{3}(\s*</m_strTrustedDocDomainInfo>)', rb'\1\2',
                 data)
    assert cut != data
    with pytest.raises(_tpd.TpdError, match='m_strTrustedDocDomainInfo is not valid base64.*truncated or was edited'):
        _tpd.read_tpd(cut, PASSWORD)


@pytest.mark.bad_input
def test_cut_at_a_block_boundary(keys):
    data = _independent(keys)
    text = re.search(rb'<m_strTrustedDocDomainInfo>([^<]*)<', data).group(1)
    raw = base64.b64decode(re.sub(rb'\s', b'', text))
    short = data.replace(text, base64.b64encode(raw[:-24]))
    with pytest.raises(_tpd.TpdError, match='is %d bytes, not whole AES blocks' % (len(raw) - 24)):
        _tpd.read_tpd(short, PASSWORD)


@pytest.mark.bad_input
def test_broken_padding(keys):
    inner = ind.inner(ind.slc(keys[2048], SLC_ID), [])
    inner += b' ' * (16 - len(inner) % 16)  # whole blocks, no PKCS#7 padding at all: the last byte is a space
    raw = ind.encrypt_unpadded(ind.key_v2(PASSWORD), inner)
    data = ind.export(PASSWORD, b'', None, raw_info=base64.b64encode(raw).decode('ascii'))
    with pytest.raises(_tpd.TpdError) as e:
        _tpd.read_tpd(data, PASSWORD)
    assert str(e.value) == _tpd.CORRUPTED  # CBC without a MAC: no way to tell this from a wrong password


@pytest.mark.bad_input
def test_inner_xml_that_does_not_parse(keys):
    inner = ind.inner(ind.slc(keys[2048], SLC_ID), [])[:-40]
    data = ind.export(PASSWORD, inner, None)
    with pytest.raises(_tpd.TpdError, match='the password opened the export, but the inner TrustedDocDomain document is '
                                            'not well-formed XML'):
        _tpd.read_tpd(data, PASSWORD)


@pytest.mark.bad_input
def test_two_items(keys):
    data = ind.export(PASSWORD, ind.inner(ind.slc(keys[2048], SLC_ID), []), None, items=2)
    with pytest.raises(_tpd.TpdError, match='the TPD export holds 2 items; an export holds exactly one '
                                            'EncryptedTrustedDocDomain'):
        _tpd.read_tpd(data, PASSWORD)


@pytest.mark.bad_input
def test_no_slc(keys):
    tpd = _tpd.read_tpd(_independent(keys, slc=''), PASSWORD)
    assert tpd['problems'] == ['the TPD has no Server Licensor Certificate (m_strLicensorCertChain is empty)']
    assert tpd['slc_spki_sha256'] is None and tpd['embedded_key_matches_slc'] is None
    with pytest.raises(_tpd.TpdError, match='cannot be imported: the TPD has no Server Licensor Certificate'):
        _tpd.check_importable(tpd)


@pytest.mark.bad_input
def test_mode_2_with_a_1024_bit_key(keys):
    tpd = _tpd.read_tpd(_independent(keys, key=keys[1024], digest='SHA256'), PASSWORD)
    assert tpd['problems'] == ['cryptographic mode 2 means RSA 2048 with SHA-256, but the SLC key is RSA 1024']
    with pytest.raises(_tpd.TpdError, match='cannot be imported: cryptographic mode 2 means RSA 2048'):
        _tpd.check_importable(tpd)


@pytest.mark.bad_input
def test_csp_type_1_in_mode_2(keys):
    tpd = _tpd.read_tpd(_independent(keys, csp_type=1), PASSWORD)
    assert tpd['problems'] == ['CSP type 1 (PROV_RSA_FULL) is not allowed in cryptographic mode 2, which needs 24 '
                               '(PROV_RSA_AES)']


@pytest.mark.bad_input
def test_embedded_key_that_is_not_the_slcs(keys):
    other = rsa.generate_private_key(65537, 2048)
    tpd = _tpd.read_tpd(_independent(keys, blob=ind.privatekeyblob(other)), PASSWORD)
    assert tpd['problems'] == ['the embedded private key is not the Server Licensor Certificate\'s key']
    assert tpd['embedded_key_matches_slc'] is False


@pytest.mark.bad_input
@pytest.mark.parametrize('damage,msg', [
    (lambda b: b[:-1], 'the private key blob is 1171 bytes, but RSA 2048 takes 1172'),
    (lambda b: b'\x06' + b[1:], 'not a CryptoAPI PRIVATEKEYBLOB'),
    (lambda b: b[:8] + b'RSA1' + b[12:], 'not an RSA private key'),
    (lambda b: b[:-200] + bytes(200), 'no RSA key'),
])
def test_a_broken_key_blob(keys, damage, msg):
    tpd = _tpd.read_tpd(_independent(keys, blob=damage(ind.privatekeyblob(keys[2048]))), PASSWORD)
    assert len(tpd['problems']) == 1 and msg in tpd['problems'][0] and tpd['private_key'] is None


@pytest.mark.bad_input
@pytest.mark.parametrize('layer', ['outer', 'inner', 'slc'])
@pytest.mark.parametrize('encoding', ['utf-8', 'utf-16'])
def test_a_dtd_or_entity_in_any_layer(keys, layer, encoding):
    dtd = '<!DOCTYPE t [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
    slc = ind.slc(keys[2048], SLC_ID)
    if layer == 'slc':
        slc = dtd + slc.replace('<NAME>Contoso AD RMS</NAME>', '<NAME>&b;</NAME>')
    inner = ind.inner(slc, [], encoding=encoding)
    if layer == 'inner':
        inner = inner.decode('utf-16' if encoding == 'utf-16' else 'utf-8').replace(
            '<ArrayOfAnyType', dtd + '<ArrayOfAnyType', 1).encode('utf-16' if encoding == 'utf-16' else 'utf-8')
    data = ind.export(PASSWORD, inner, None, encoding=encoding)
    if layer == 'outer':
        text = data.decode('utf-16' if encoding == 'utf-16' else 'utf-8')
        data = text.replace('<ArrayOfAnyType', dtd + '<ArrayOfAnyType', 1).encode(
            'utf-16' if encoding == 'utf-16' else 'utf-8')
    assert b'<!ENTITY' not in data or encoding == 'utf-8'
    with pytest.raises(_tpd.XmlRefused, match='declares a DTD, entities or external references'):
        _tpd.read_tpd(data, PASSWORD)


@pytest.mark.bad_input
def test_a_50_mb_file_is_refused_before_it_is_parsed(keys, tmp_path):
    data = _independent(keys)
    big = data.replace(b'</ArrayOfAnyType>', b' ' * (50 * 1024 * 1024) + b'</ArrayOfAnyType>')
    started = time.monotonic()
    with pytest.raises(_tpd.TpdError, match='the TPD export is %d bytes; an export is at most 5 MiB' % len(big)):
        _tpd.read_tpd(big, PASSWORD)
    path = tmp_path / 'big.xml'
    path.write_bytes(big)
    with pytest.raises(_tpd.TpdError, match='tpd_file %s is %d bytes; an export is at most 5 MiB' % (path, len(big))):
        _tpd.read_export_file(str(path))
    assert time.monotonic() - started < 1


@pytest.mark.bad_input
@pytest.mark.parametrize('data,msg', [
    (b'<ArrayOfAnyType', 'not well-formed XML'),
    (b'<TrustedPublishingDomain xmlns="urn:keyceremony:byok:tpd:1" Version="1"/>', 'not the <ArrayOfAnyType>'),
    (b'<ArrayOfAnyType xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><anyType xsi:type="TrustedDocDomain"/>'
     b'</ArrayOfAnyType>', 'is a TrustedDocDomain, not a EncryptedTrustedDocDomain'),
    (b'<ArrayOfAnyType><anyType><m_strTrustedDocDomainInfo /></anyType></ArrayOfAnyType>',
     'no m_strTrustedDocDomainInfo'),
])
def test_not_an_export(data, msg):
    with pytest.raises(_tpd.TpdError, match=msg):
        _tpd.read_tpd(data, PASSWORD)


# ---------------------------------------------------------------- what a review found

def test_password_keys_known_answers():
    # regression values: v2 = SHA-256("password" as UTF-16LE)[:16]; v1 = 100 rounds of SHA-1 over "password" (the
    # count .NET PasswordDeriveBytes makes: 99 for its base value, one more for the first bytes)
    assert _tpd.password_key('password', 'v2').hex() == 'e201065d0554652615c320c00a1d5bc8'
    assert _tpd.password_key('password', 'v1').hex() == '3a175af6d49704536b9df8ff67bdc1df'


def test_v1_is_found_even_when_the_v2_key_happens_to_unpad(keys):
    """About one v1 export in 256 decrypts under the v2 key with valid padding: the reader goes on to v1 because the
    plaintext is not XML, not because the padding failed."""
    inner = ind.inner(ind.slc(keys[2048], SLC_ID), [])
    for n in range(5000):
        password = 'password %d' % n
        ciphertext = ind.encrypt(ind.key_v1(password), inner)
        try:
            _crypto.aes_cbc_decrypt(ind.key_v2(password), ind.IV, ciphertext)
        except _crypto.PaddingError:
            continue
        break
    else:
        pytest.fail('no password of 5000 gave a v2 padding that verifies')
    data = ind.export(password, b'', None, raw_info=base64.b64encode(ciphertext).decode('ascii'))
    assert _tpd.read_tpd(data, password)['password_scheme'] == 'v1'


def test_an_ambiguous_modulus_shows_both_fingerprints():
    while True:  # about one key in four reads as a modulus in both byte orders
        key = rsa.generate_private_key(65537, 2048)
        n = key.public_key().public_numbers().n
        be = int.from_bytes(n.to_bytes(256, 'little'), 'big')
        if be & 1 and be.bit_length() == 2048:
            break
    data = ind.export(PASSWORD, ind.inner(ind.slc(key, SLC_ID, order='big'), []), None)
    tpd = _tpd.read_tpd(data, PASSWORD)
    assert tpd['modulus_byte_order'] == 'little-endian' and tpd['slc_spki_sha256_other_order'] == ind.spki_sha256(key)
    assert any('either byte order' in note for note in tpd['notes'])
    assert _tpd.matches_slc(tpd, ind.spki_sha256(key))
    assert tpd['modulus_byte_order'] == 'big-endian' and tpd['slc_spki_sha256'] == ind.spki_sha256(key)


@pytest.mark.bad_input
@pytest.mark.parametrize('where', ['m_strKeyData', 'PUBLICKEY', 'PARAMETER'])
def test_a_field_given_twice_is_refused(keys, where):
    # XmlSerializer keeps the last of two fields, a first-wins reader the first: a file read two ways is refused
    key = keys[2048]
    slc = ind.slc(key, SLC_ID)
    if where == 'PUBLICKEY':
        other = ind.xrml_key(rsa.generate_private_key(65537, 2048).public_key())
        slc = slc.replace('</PRINCIPAL>', other + '</PRINCIPAL>')
    if where == 'PARAMETER':
        slc = slc.replace('<PARAMETER name="modulus">', '<PARAMETER name="public-exponent"><VALUE '
                          'encoding="integer32">3</VALUE></PARAMETER><PARAMETER name="modulus">', 2)
    data = ind.export(PASSWORD, ind.inner(slc, []), ind.privatekeyblob(key))
    if where == 'm_strKeyData':
        data = data.replace(b'<m_strKeyData>', b'<m_strKeyData /><m_strKeyData>')
    with pytest.raises(_tpd.TpdError, match='holds 2 <%s> elements; an export holds one|gives a PARAMETER twice'
                       % where):
        _tpd.read_tpd(data, PASSWORD)


@pytest.mark.bad_input
def test_elements_inside_the_base64_fields_are_refused(keys):
    data = _independent(keys).replace(b'<m_strKeyData>', b'<m_strKeyData><x/>')
    with pytest.raises(_tpd.TpdError, match='m_strKeyData holds elements; it holds base64 text only'):
        _tpd.read_tpd(data, PASSWORD)


@pytest.mark.bad_input
def test_a_field_in_another_namespace_does_not_count(keys):
    key = keys[2048]
    slc = ind.slc(key, SLC_ID).replace('<ISSUEDPRINCIPALS>', '<ISSUEDPRINCIPALS xmlns="urn:elsewhere">')
    tpd = _tpd.read_tpd(ind.export(PASSWORD, ind.inner(slc, []), ind.privatekeyblob(key)), PASSWORD)
    assert tpd['problems'] == ['the Server Licensor Certificate has no public key'] and tpd['slc_spki_sha256'] is None


@pytest.mark.bad_input
@pytest.mark.parametrize('number', ['6_5537', '\u0666\u0665\u0665\u0663\u0667', '65537' * 10])
def test_numbers_are_ascii_digits(keys, number):
    key = keys[2048]
    slc = ind.slc(key, SLC_ID).replace('encoding="integer32">65537<', 'encoding="integer32">%s<' % number)
    tpd = _tpd.read_tpd(ind.export(PASSWORD, ind.inner(slc, []), ind.privatekeyblob(key)), PASSWORD)
    assert len(tpd['problems']) == 1 and 'public exponent is' in tpd['problems'][0] and 'not a number' in \
        tpd['problems'][0]


@pytest.mark.bad_input
def test_a_number_with_a_newline_is_no_number(keys):
    key = keys[2048]
    slc = ind.slc(key, SLC_ID).replace('size="2048">', 'size="2048&#10;">')
    tpd = _tpd.read_tpd(ind.export(PASSWORD, ind.inner(slc, []), ind.privatekeyblob(key)), PASSWORD)
    assert len(tpd['problems']) == 1 and "modulus size is '2048\\n', not a number" in tpd['problems'][0]


@pytest.mark.bad_input
@pytest.mark.parametrize('encoding', ['utf-16', 'utf-8-sig'])
def test_a_declaration_of_megabytes_costs_no_more_than_reading_it(encoding):
    # a backtracking pattern over "<?xml" and spaces took 4 s for 80 KB, quadratic: hours for 5 MiB
    data = ('<?xml' + ' ' * (2 * 1024 * 1024)).encode(encoding)
    started = time.monotonic()
    with pytest.raises(_tpd.TpdError, match='not well-formed XML'):
        _tpd.read_tpd(data, PASSWORD)
    assert time.monotonic() - started < 2


def test_a_template_name_of_megabytes_costs_no_more_than_reading_it():
    started = time.monotonic()
    assert _tpd._name_of(':NAME a' * 500000) == (':NAME a' * 500000)[:256]
    assert _tpd._name_of('LCID 1033:NAME ' + 'a ' * 1000000 + ';') == ('a ' * 1000000).strip()
    assert _tpd._name_of('x' * 1000) == 'x' * 256
    assert _tpd._name_of('LCID 1033:NAME Confidential;DESCRIPTION x;LCID 1036:NAME Confidentiel;') == 'Confidential'
    assert _tpd._name_of('LCID 1033:NAME Secret: HR;DESCRIPTION a: b;') == 'Secret: HR'
    assert _tpd._name_of('NAME Internal;') == 'Internal'
    assert time.monotonic() - started < 1
