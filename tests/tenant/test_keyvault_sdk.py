# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The rehearsal's Key Vault, driven by Azure's own client libraries, unmodified: azure-keyvault-keys
creates the KEK and imports the .byok that the offline modules made on a real SoftHSM2 token, and
azure-identity's ClientSecretCredential gets its token from the rehearsal's authority."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import ssl
import urllib.error
import urllib.parse
import urllib.request

import pytest

from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.identity import ClientSecretCredential
from azure.keyvault.keys import JsonWebKey, KeyClient
from cryptography.hazmat.primitives import hashes, keywrap, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from ansible_collections.keyceremony.byok.plugins.module_utils import _keyvault
from ansible_collections.keyceremony.byok.plugins.modules import key_acl, transfer_package
from ansible_collections.keyceremony.byok.tenant import datadir
from ansible_collections.keyceremony.byok.tests.unit.helpers import TENANT_A, TENANT_B, TenantServer, offline_world, run_module

RMS_OPS = ['decrypt', 'encrypt', 'sign', 'unwrapKey', 'verify', 'wrapKey']


class Vaults(object):
    pass


@pytest.fixture(scope='module')
def vaults(tmp_path_factory):
    """Two tenants served with their Key Vaults, and an offline world with a tenant key."""
    with pytest.MonkeyPatch.context() as mp:
        v = offline_world(Vaults(), tmp_path_factory.mktemp('keyvault'), mp)
        v.a = datadir.init(os.path.join(v.base, 'service'), TENANT_A, admin_password='password-a')
        v.b = datadir.add_tenant(datadir.Service(v.a['data_dir']), TENANT_B, admin_password='password-b')
        v.server = TenantServer(v.a['data_dir'], keyvault=True).start()
        v.client_a = client_for(v, v.a)
        v.client_b = client_for(v, v.b)
        v.kek = v.client_a.create_rsa_key('ceremony-kek', size=3072, hardware_protected=True,
                                          key_operations=['import'])
        v.kek_file = kek_file(v, v.kek, 'ceremony-kek')
        args = {'world_dir': v.world_dir, 'ident': 'contosokey', 'kek_file': v.kek_file,
                'kek_spki_sha256': kek_fingerprint(v.kek)}
        acl = run_module(key_acl, dict(args, admin_cards=v.cards[:2]))
        assert not acl.failed, acl['msg']
        v.package = run_module(transfer_package, dict(args, key_friendly_name='ContosoBYOK',
                                                      dest=os.path.join(v.base, 'media')))
        assert not v.package.failed, v.package['msg']
        with open(v.package['path'], 'rb') as f:
            v.byok = f.read()
        yield v
        v.server.stop()


def client_for(v, tenant):
    """Azure's KeyClient with azure-identity's ClientSecretCredential pointed at the rehearsal's authority."""
    credential = ClientSecretCredential(tenant['tenant_id'], tenant['client_id'], tenant['client_secret'],
                                        authority=v.server.url, disable_instance_discovery=True,
                                        connection_verify=v.server.ca_path)
    return KeyClient(v.server.keyvault_url, credential, verify_challenge_resource=False,
                     connection_verify=v.server.ca_path)


def kek_fingerprint(key):
    return _keyvault.spki_sha256_of(int.from_bytes(key.key.n, 'big'), int.from_bytes(key.key.e, 'big'))


def kek_file(v, key, name):
    """The KEK as `az keyvault key show` prints it, from what the SDK returned."""
    path = os.path.join(v.base, '%s.kek.json' % name)
    with open(path, 'w') as f:
        json.dump({'key': {'kid': key.id, 'kty': str(key.key_type.value if hasattr(key.key_type, 'value') else key.key_type),
                           'key_ops': list(key.key_operations), 'n': _keyvault.b64url(key.key.n),
                           'e': _keyvault.b64url(key.key.e)},
                   'attributes': {'enabled': key.properties.enabled}}, f)
    return path


def hsm_numbers(v):
    from ansible_collections.keyceremony.byok.plugins.module_utils._crypto import rsa_public_numbers, spki_der_from_pem
    return rsa_public_numbers(spki_der_from_pem(v.key['public_key_pem']))


def test_the_byok_file_is_exactly_azures(vaults):
    doc = json.loads(vaults.byok)
    assert sorted(doc) == ['ciphertext', 'generator', 'header', 'schema_version']
    assert doc['schema_version'] == '1.0.0'
    assert doc['header'] == {'kid': vaults.kek.id, 'alg': 'dir', 'enc': 'CKM_RSA_AES_KEY_WRAP'}
    assert 'keyceremony.byok transfer_package' in doc['generator'] and 'SoftHSM' in doc['generator']
    assert os.path.basename(vaults.package['path']) == 'ContosoBYOK.byok' and vaults.package['format'] == 'keyvault'
    assert os.stat(vaults.package['path']).st_mode & 0o777 == 0o600


def test_azure_sdk_imports_the_ceremony_key(vaults):
    c = vaults.client_a
    assert vaults.kek.key_type == 'RSA-HSM' and vaults.kek.key_operations == ['import']
    imported = c.import_key('contoso-rms', JsonWebKey(kty='RSA-HSM', t=vaults.byok, key_ops=RMS_OPS),
                            hardware_protected=True, tags={'ceremony': 'test'})
    n, e = hsm_numbers(vaults)
    assert int.from_bytes(imported.key.n, 'big') == n and int.from_bytes(imported.key.e, 'big') == e
    assert sorted(imported.key_operations) == RMS_OPS and imported.properties.enabled
    again = c.get_key('contoso-rms')
    assert again.id == imported.id and int.from_bytes(again.key.n, 'big') == n
    assert c.get_key('contoso-rms', imported.properties.version).id == imported.id
    assert imported.properties.tags == {'ceremony': 'test'}
    names = [p.name for p in c.list_properties_of_keys()]
    assert 'contoso-rms' in names and 'ceremony-kek' in names
    # the vault holds it in its HSM and can use it: the tenant's token signs with it
    tenant = datadir.Service(vaults.a['data_dir']).tenant(TENANT_A)
    label = 'kv-contoso-rms-%s' % imported.properties.version
    signature, pem, spki = tenant.sign_with(label, b'proof')
    assert spki == vaults.key['spki_sha256']
    with tenant.session() as s:
        attrs = s.attributes(s.find_one(label, 'CKO_PRIVATE_KEY'), ['CKA_EXTRACTABLE', 'CKA_SENSITIVE', 'CKA_SIGN'])
    assert attrs == {'CKA_EXTRACTABLE': False, 'CKA_SENSITIVE': True, 'CKA_SIGN': True}


def imports_nothing(client, name, blob, ops=None):
    with pytest.raises(HttpResponseError) as e:
        client.import_key(name, JsonWebKey(kty='RSA-HSM', t=blob, key_ops=ops or RMS_OPS), hardware_protected=True)
    assert e.value.status_code == 400
    with pytest.raises(ResourceNotFoundError):
        client.get_key(name)
    return e.value.message


def flipped(byok, offset):
    doc = json.loads(byok)
    ct = bytearray(_keyvault.unb64url(doc['ciphertext'], 'ct'))
    ct[offset] ^= 0x01
    doc['ciphertext'] = _keyvault.b64url(bytes(ct))
    return json.dumps(doc).encode()


@pytest.mark.bad_input
@pytest.mark.parametrize('where', [10, -10])
def test_a_bit_flipped_ciphertext_is_refused(vaults, where):
    message = imports_nothing(vaults.client_a, 'flipped%d' % (where > 0), flipped(vaults.byok, where))
    assert 'does not open' in message and 'Nothing was stored' in message


def test_a_byok_for_another_kek_is_refused(vaults):
    other = vaults.client_a.create_rsa_key('other-kek', size=2048, hardware_protected=True, key_operations=['import'])
    doc = json.loads(vaults.byok)
    doc['header']['kid'] = other.id
    message = imports_nothing(vaults.client_a, 'for-other-kek', json.dumps(doc).encode())
    assert 'does not open with KEK %s' % other.id in message


def test_a_kek_created_without_import_is_refused(vaults):
    signing = vaults.client_a.create_rsa_key('not-a-kek', size=2048, hardware_protected=True,
                                             key_operations=['sign', 'verify'])
    doc = json.loads(vaults.byok)
    doc['header']['kid'] = signing.id
    message = imports_nothing(vaults.client_a, 'under-not-a-kek', json.dumps(doc).encode())
    assert 'is not a Key Exchange Key' in message
    with pytest.raises(HttpResponseError) as e:
        vaults.client_a.create_rsa_key('mixed', size=2048, hardware_protected=True, key_operations=['import', 'sign'])
    assert e.value.status_code == 400 and 'cannot have any other operation' in e.value.message


def test_unknown_kek_other_vault_and_non_byok_are_refused(vaults):
    doc = json.loads(vaults.byok)
    doc['header']['kid'] = vaults.kek.id.rsplit('/', 1)[0] + '/' + '0' * 32
    assert 'which this vault does not hold' in imports_nothing(vaults.client_a, 'unknown-kek', json.dumps(doc).encode())
    doc['header']['kid'] = 'https://contoso.vault.azure.net/keys/ceremony-kek/' + vaults.kek.properties.version
    assert 'of another vault' in imports_nothing(vaults.client_a, 'other-vault', json.dumps(doc).encode())
    doc = json.loads(vaults.byok)
    doc['binding'] = {}
    assert 'does not define: binding' in imports_nothing(vaults.client_a, 'extra-field', json.dumps(doc).encode())
    assert 'not complete JSON' in imports_nothing(vaults.client_a, 'truncated', vaults.byok[:200])


def _der_int(value):
    body = value.to_bytes(value.bit_length() // 8 + 1, 'big')
    return b'\x02' + _der_len(len(body)) + body


def _der_len(n):
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, 'big')
    return bytes([0x80 | len(raw)]) + raw


def _der_seq(*parts):
    body = b''.join(parts)
    return b'\x30' + _der_len(len(body)) + body


def software_byok(kek, pkcs8):
    """A .byok made in software (the test holds the key): RSA-OAEP-SHA1(aes) || AES-KWP(pkcs8)."""
    public = rsa.RSAPublicNumbers(int.from_bytes(kek.key.e, 'big'), int.from_bytes(kek.key.n, 'big')).public_key()
    aes = os.urandom(32)
    ct = public.encrypt(aes, padding.OAEP(padding.MGF1(hashes.SHA1()), hashes.SHA1(), None)) + \
        keywrap.aes_key_wrap_with_padding(aes, pkcs8)
    return json.dumps(_keyvault.build_byok(kek.id, ct, 'test')).encode()


def test_a_planted_key_fails_its_pairwise_consistency_test(vaults):
    """A PKCS#8 with one key's modulus and another key's private parts: the modulus an importer would
    show is right, the key inside is not. Refused before anything is stored."""
    real = rsa.generate_private_key(65537, 2048).private_numbers()
    other = rsa.generate_private_key(65537, 2048).private_numbers()
    rsa_key = _der_seq(_der_int(0), _der_int(real.public_numbers.n), _der_int(65537), _der_int(other.d),
                       _der_int(other.p), _der_int(other.q), _der_int(other.dmp1), _der_int(other.dmq1),
                       _der_int(other.iqmp))
    algorithm = _der_seq(b'\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x01\x01', b'\x05\x00')
    pkcs8 = _der_seq(_der_int(0), algorithm, b'\x04' + _der_len(len(rsa_key)) + rsa_key)
    message = imports_nothing(vaults.client_a, 'planted', software_byok(vaults.kek, pkcs8))
    assert 'fails its pairwise-consistency test' in message and 'Nothing was stored' in message
    # the same path accepts a sound software key: the refusal above is the key's, not the path's
    good = rsa.generate_private_key(65537, 2048)
    blob = software_byok(vaults.kek, good.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                                        serialization.NoEncryption()))
    got = vaults.client_a.import_key('software-made', JsonWebKey(kty='RSA-HSM', t=blob, key_ops=RMS_OPS),
                                     hardware_protected=True)
    assert int.from_bytes(got.key.n, 'big') == good.public_key().public_numbers().n


def test_an_even_exponent_and_a_deeply_nested_body_are_refused_not_crashed(vaults):
    real = rsa.generate_private_key(65537, 2048).private_numbers()
    rsa_key = _der_seq(_der_int(0), _der_int(real.public_numbers.n), _der_int(4), _der_int(real.d), _der_int(real.p),
                       _der_int(real.q), _der_int(real.dmp1), _der_int(real.dmq1), _der_int(real.iqmp))
    algorithm = _der_seq(b'\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x01\x01', b'\x05\x00')
    pkcs8 = _der_seq(_der_int(0), algorithm, b'\x04' + _der_len(len(rsa_key)) + rsa_key)
    message = imports_nothing(vaults.client_a, 'even', software_byok(vaults.kek, pkcs8))
    assert 'Nothing was stored' in message
    access = token(vaults, vaults.a)[2]['access_token']
    req = urllib.request.Request(vaults.server.keyvault_url + '/keys/deep?api-version=7.4', data=b'[' * 100000,
                                 method='PUT', headers={'Authorization': 'Bearer ' + access})
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, context=ssl.create_default_context(cafile=vaults.server.ca_path), timeout=60)
    assert e.value.code == 400 and json.loads(e.value.read())['error']['code'] == 'BadParameter'


def test_the_sdk_disables_and_enables_a_key_version(vaults):
    key = vaults.client_a.create_rsa_key('toggled', size=2048, hardware_protected=True, key_operations=['sign'])
    off = vaults.client_a.update_key_properties('toggled', key.properties.version, enabled=False)
    assert off.properties.enabled is False and vaults.client_a.get_key('toggled').properties.enabled is False
    on = vaults.client_a.update_key_properties('toggled', key.properties.version, enabled=True, tags={'k': 'v'})
    assert on.properties.enabled is True and on.properties.tags == {'k': 'v'}


def test_a_1024_bit_key_is_refused_by_the_vault(vaults):
    small = rsa.generate_private_key(65537, 1024)
    blob = software_byok(vaults.kek, small.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                                         serialization.NoEncryption()))
    assert 'RSA 1024' in imports_nothing(vaults.client_a, 'small', blob)


def test_one_tenant_never_sees_anothers_keys(vaults):
    b = vaults.client_b
    with pytest.raises(ResourceNotFoundError):
        b.get_key('ceremony-kek')
    assert 'ceremony-kek' not in [p.name for p in b.list_properties_of_keys()]
    # B's vault cannot open A's .byok: the KEK it names is not B's
    assert 'does not hold' in imports_nothing(b, 'stolen', vaults.byok)
    mine = b.create_rsa_key('ceremony-kek', size=2048, hardware_protected=True, key_operations=['import'])
    assert mine.id != vaults.kek.id and vaults.client_a.get_key('ceremony-kek').id == vaults.kek.id


# ---------------------------------------------------------------- the wire, without the SDK

def raw(vaults, method, url, body=None, headers=None, form=None):
    data = urllib.parse.urlencode(form).encode() if form is not None else (
        json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(url, data=data, method=method)
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    ctx = ssl.create_default_context(cafile=vaults.server.ca_path)
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=60) as resp:
            return resp.status, dict(resp.headers), json.loads(resp.read() or b'null')
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), json.loads(e.read() or b'null')


def token(vaults, tenant, **change):
    form = dict({'grant_type': 'client_credentials', 'client_id': tenant['client_id'],
                 'client_secret': tenant['client_secret'], 'scope': 'https://vault.azure.net/.default'}, **change)
    return raw(vaults, 'POST', '%s/%s/oauth2/v2.0/token' % (vaults.server.url, tenant['tenant_id']), form=form)


def test_the_challenge_names_the_authority(vaults):
    status, headers, body = raw(vaults, 'GET', vaults.server.keyvault_url + '/keys?api-version=7.4')
    assert status == 401 and body['error']['code'] == 'Unauthorized'
    # two tenants on one service: the challenge names no tenant (the credential's own is used)
    assert headers['www-authenticate'] == 'Bearer authorization="%s", resource="https://vault.azure.net"' % vaults.server.url


@pytest.mark.bad_input
@pytest.mark.parametrize('authorization', ['Bearer ' + 'é' * 8, 'Bearer ', 'Basic abc', 'Bearer unknown-token'])
def test_bad_tokens_get_the_challenge(vaults, authorization):
    req_headers = {'Authorization': authorization.encode('utf-8').decode('latin-1')}
    status, headers, body = raw(vaults, 'GET', vaults.server.keyvault_url + '/keys?api-version=7.4', headers=req_headers)
    assert status == 401 and 'www-authenticate' in headers and body['error']['code'] == 'Unauthorized'


def test_the_token_endpoint(vaults):
    status, headers, got = token(vaults, vaults.a)
    assert status == 200 and got['token_type'] == 'Bearer' and got['expires_in'] == 3600
    assert headers['cache-control'] == 'no-store'
    status, _h, keys = raw(vaults, 'GET', vaults.server.keyvault_url + '/keys?api-version=7.4',
                           headers={'Authorization': 'Bearer ' + got['access_token']})
    assert status == 200 and 'ceremony-kek' in [k['kid'].rsplit('/', 1)[1] for k in keys['value']]
    status, _h, bad = token(vaults, vaults.a, client_secret='wrong')
    assert status == 401 and bad['error'] == 'invalid_client' and 'wrong' not in json.dumps(bad)
    status, _h, bad = token(vaults, vaults.a, client_id='00000000-0000-4000-8000-000000000000')
    assert status == 401 and bad['error'] == 'invalid_client'
    assert token(vaults, vaults.a, scope='https://graph.microsoft.com/.default')[2]['error'] == 'invalid_scope'
    assert token(vaults, vaults.a, grant_type='password')[2]['error'] == 'unsupported_grant_type'
    # tenant B's application asking on tenant A's endpoint
    form = {'grant_type': 'client_credentials', 'client_id': vaults.b['client_id'],
            'client_secret': vaults.b['client_secret'], 'scope': 'https://vault.azure.net/.default'}
    status, _h, bad = raw(vaults, 'POST', '%s/%s/oauth2/v2.0/token' % (vaults.server.url, TENANT_A), form=form)
    assert status == 400 and bad['error'] == 'unauthorized_client'
    status, _h, bad = raw(vaults, 'POST', '%s/%s/oauth2/v2.0/token' % (vaults.server.url, 'nobody'), form=form)
    assert status == 400 and bad['error'] == 'invalid_tenant'
    # a token for the Managed HSM audience does not open the vault
    status, _h, mhsm = token(vaults, vaults.a, scope='https://managedhsm.azure.net/.default')
    assert status == 200
    status, _h, _b = raw(vaults, 'GET', vaults.server.keyvault_url + '/keys?api-version=7.4',
                         headers={'Authorization': 'Bearer ' + mhsm['access_token']})
    assert status == 401


@pytest.mark.bad_input
@pytest.mark.parametrize('query,code', [('', 'MissingApiVersionParameter'), ('?api-version=7.0', 'BadParameter'),
                                        ('?api-version=2016-10-01', 'BadParameter')])
def test_api_versions_before_7_4_are_refused(vaults, query, code):
    access = token(vaults, vaults.a)[2]['access_token']
    status, _h, body = raw(vaults, 'GET', vaults.server.keyvault_url + '/keys' + query,
                           headers={'Authorization': 'Bearer ' + access})
    assert status == 400 and body['error']['code'] == code


@pytest.mark.parametrize('version', ['7.4', '7.5', '7.6', '2025-07-01'])
def test_api_versions_the_sdks_send(vaults, version):
    access = token(vaults, vaults.a)[2]['access_token']
    status, _h, body = raw(vaults, 'GET', vaults.server.keyvault_url + '/keys/ceremony-kek?api-version=' + version,
                           headers={'Authorization': 'Bearer ' + access})
    assert status == 200 and body['key']['kid'] == vaults.kek.id and body['key']['key_ops'] == ['import']
    assert set(body['key']) == {'kid', 'kty', 'key_ops', 'n', 'e'}


def test_openid_configuration(vaults):
    status, _h, conf = raw(vaults, 'GET', '%s/%s/v2.0/.well-known/openid-configuration' % (vaults.server.url, TENANT_A))
    assert status == 200 and conf['token_endpoint'] == '%s/%s/oauth2/v2.0/token' % (vaults.server.url, TENANT_A)


def test_info_prints_the_keyvault_url(vaults):
    info = datadir.Service(vaults.a['data_dir']).tenant(TENANT_A).info()
    assert info['keyvault_url'] == vaults.server.keyvault_url and info['authority'] == vaults.server.url
    assert info['keyvault_client_ids'] == [vaults.a['client_id']] and 'client_secret' not in json.dumps(info)
