# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The rehearsal tenant's HTTPS API (FastAPI on uvicorn; TLS with the service's own CA).

Connect exchanges an administrator's credentials for a session token bound to that
administrator's tenant; every other call needs that token, on that tenant only. Errors are JSON
``{"error": "..."}`` with a 4xx status that says what was wrong. The API description is at
``/openapi.json``.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import binascii
import datetime
import hashlib
import json
import re
import secrets
import sqlite3
from typing import List, Optional

import anyio
from fastapi import Depends, FastAPI, Header, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from ansible_collections.keyceremony.byok.plugins.module_utils._crypto import verify_password
from ansible_collections.keyceremony.byok.plugins.module_utils._errors import ByokError
from ansible_collections.keyceremony.byok.plugins.module_utils._kek import REGIONS, group_hash
from ansible_collections.keyceremony.byok.plugins.module_utils._byok import possession_message
from ansible_collections.keyceremony.byok.tenant import keyvault
from ansible_collections.keyceremony.byok.tenant.limits import Busy, FailureLimiter, Limits, TooMany, address_key
from ansible_collections.keyceremony.byok.tenant.store import key_view, well_formed_token

API = '/api/v1'
MAX_BODY = 10 * 1024 * 1024
# Connect and the token endpoint carry a few short fields: a larger body is refused before it is parsed
MAX_SIGN_IN_BODY = 64 * 1024
MAX_PASSWORD = 1024  # bytes (UTF-8) of a password; a longer one is refused before it is hashed
# sign-ins waiting for a password hash, past which they get 429 (Connect's: a fleet's workstations connect at once)
HASHES_WAITING = {'connect': 64, 'token': 16}
# a client ID is a GUID (byok-tenant makes them): anything else is refused before it is counted or hashed
CLIENT_ID = re.compile(r'[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z')


class ConnectRequest(BaseModel):
    user: str = Field(..., min_length=1, max_length=256)
    password: str = Field(..., min_length=1, max_length=1024, description='At most 1024 bytes in UTF-8')


class Session(BaseModel):
    token: str
    tenant_id: str
    user: str
    expires: str


class KeyUpload(BaseModel):
    package: str = Field(..., description='The transfer package file (KeyTransferPackage-<name>.byok), as text')
    active: bool = Field(True, description='Make it the active key (the previous one is archived)')


class Challenge(BaseModel):
    challenge: str = Field(..., description='base64 of 16 to 1024 random bytes chosen by the caller')


class KeyVaultKey(BaseModel):
    key_vault_key_url: str = Field(..., max_length=512, description='The versioned URL of a key in the tenant\'s Key Vault')
    active: bool = Field(False, description='Make it the active key (the previous one is archived)')


class TpdUpload(BaseModel):
    tpd: str = Field(..., description='The exported TPD file (the XML AD RMS writes, UTF-8 or UTF-16), base64')
    protection_password: str = Field(..., min_length=1, max_length=1024)
    hsm_key_package: Optional[str] = Field(None, description='For a TPD whose key is in an HSM: that key\'s transfer package')
    key_vault_key_url: Optional[str] = Field(None, max_length=512,
                                             description='For a TPD whose key is in an HSM: that key in the tenant\'s Key Vault')
    active: bool
    friendly_name: Optional[str] = None


class Key(BaseModel):
    KeyIdentifier: str
    KeyType: str
    Status: str
    CreationTime: str
    SpkiSha256: str
    FriendlyName: Optional[str] = None
    KeyVaultKeyUrl: Optional[str] = None


def _now():
    return datetime.datetime.now(datetime.timezone.utc)


def _sign_in_path(path):
    return path == API + '/connect' or path.endswith('/oauth2/v2.0/token')


class BodyLimit(object):
    """Refuse bodies over MAX_BODY (MAX_SIGN_IN_BODY for Connect and the token endpoint) with 413 before the
    application sees them.

    A declared Content-Length is judged at once; a body without one (chunked) is read here,
    at most the limit, and handed on whole. (FastAPI turns any error raised while it reads a body
    into a 400, so the limit cannot be enforced from inside.)
    """

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope['type'] != 'http':
            return await self.app(scope, receive, send)
        limit = MAX_SIGN_IN_BODY if _sign_in_path(scope.get('path', '')) else MAX_BODY
        length = dict(scope.get('headers') or []).get(b'content-length')
        if length is not None:
            if not length.isdigit() or int(length) > limit:
                return await _too_large(send, limit)
            return await self.app(scope, receive, send)
        body, more = [], True
        size = 0
        while more:
            message = await receive()
            if message['type'] != 'http.request':
                return await self.app(scope, receive, send)
            size += len(message.get('body', b''))
            if size > limit:
                return await _too_large(send, limit)
            body.append(message.get('body', b''))
            more = message.get('more_body', False)
        replayed = {'done': False}

        async def replay():
            if replayed['done']:
                return await receive()
            replayed['done'] = True
            return {'type': 'http.request', 'body': b''.join(body), 'more_body': False}
        return await self.app(scope, replay, send)


async def _too_large(send, limit):
    body = json.dumps({'error': 'the request body is larger than %s' % (
        '%d MB' % (limit // (1024 * 1024)) if limit >= 1024 * 1024 else '%d KiB' % (limit // 1024))}).encode()
    await send({'type': 'http.response.start', 'status': 413,
                'headers': [(b'content-type', b'application/json'), (b'content-length', str(len(body)).encode())]})
    await send({'type': 'http.response.body', 'body': body})


def _client_address(request):
    """What the client's failures are counted under: the socket's peer (serve trusts no X-Forwarded-For), an IPv6
    one by its /64."""
    return address_key(request.client.host) if request.client else ''


def create_app(service, session_ttl=3600, limits=None):
    """The tenant API; ``limits`` (a limits.Limits) bounds failed sign-ins, on Connect and on the token endpoint
    each: by default 5 per user name (or client ID) and 20 per client address in a sliding 15 minutes."""
    app = FastAPI(title='keyceremony.byok rehearsal tenant', version='1',
                  description='The cloud side of a BYOK ceremony: tenant configuration, BYOK toolset, keys, TPD import.')
    app.add_middleware(BodyLimit)
    # made now, so that the first unknown user of Connect or client of the token endpoint costs what every other does
    keyvault.dummy_hash()
    limits = limits or Limits()

    def administrator(user):
        """The user name as the log may show it: only an administrator's (an unknown one may be a mistyped
        password)."""
        try:
            return user if service.store.admin(user) is not None else None
        except (ByokError, sqlite3.Error):
            return None
    app.state.sign_in_limits = {
        'connect': FailureLimiter(limits, label='Connect', name_kind='user name', shown=administrator),
        # a client ID is a GUID by then (CLIENT_ID), no secret
        'token': FailureLimiter(limits, label='the token endpoint', name_kind='client ID', shown=lambda c: c)}
    # one password hash (Argon2id, 19 MiB) per request, off the event loop that serves both listeners, at most two at
    # a time for Connect and two for the token endpoint; requests wait on the event loop, not in the thread pool, and
    # past HASHES_WAITING get a 429 (made on first use: a CapacityLimiter belongs to the running event loop)
    hashing = {}

    def hashing_limiter(kind):
        if kind not in hashing:
            hashing[kind] = anyio.CapacityLimiter(2)
        return hashing[kind]

    def hashing_busy(kind):
        return hashing_limiter(kind).statistics().tasks_waiting >= HASHES_WAITING[kind]

    @app.exception_handler(HTTPException)
    async def http_error(request, exc):
        return JSONResponse({'error': exc.detail}, status_code=exc.status_code,
                            headers={'WWW-Authenticate': 'Bearer'} if exc.status_code == 401 else None)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request, exc):
        problems = []
        for err in exc.errors():
            where = '.'.join(str(p) for p in err.get('loc', ()) if p != 'body')
            problems.append('%s: %s' % (where or 'body', err.get('msg')))
        return JSONResponse({'error': 'the request is not valid: ' + '; '.join(problems)}, status_code=400)

    def session(authorization: Optional[str] = Header(None)):
        if not authorization or not authorization.startswith('Bearer '):
            raise HTTPException(401, 'Connect first: this call needs "Authorization: Bearer <token>"')
        token = authorization[7:].strip()
        row = service.store.session(token) if well_formed_token(token) else None
        if row is None:
            raise HTTPException(401, 'the session token is not known to this tenant service; Connect again')
        if row['revoked']:
            raise HTTPException(401, 'the session was disconnected; Connect again')
        if row['expires'] <= _now().strftime('%Y-%m-%dT%H:%M:%SZ'):
            raise HTTPException(401, 'the session expired at %s; Connect again' % row['expires'])
        return row

    def tenant_of(tenant_id, row):
        if row['tenant_id'] != tenant_id:
            raise HTTPException(403, 'this session belongs to tenant %s; it can do nothing to tenant %s'
                                % (row['tenant_id'], tenant_id))
        return service.tenant(tenant_id)

    def refused(e, status=422):
        return HTTPException(status, str(e))

    @app.get(API + '/health', summary='Liveness; no authentication')
    def health():
        return {'status': 'ok'}

    def sign_in(user, password):
        """A new session for the administrator, or None; one password hash whether the user exists or not."""
        admin = service.store.admin(user)
        good = verify_password(password, admin['password_hash'] if admin else keyvault.dummy_hash()) and admin is not None
        if not good:
            return None
        token = secrets.token_urlsafe(32)
        expires = (_now() + datetime.timedelta(seconds=session_ttl)).strftime('%Y-%m-%dT%H:%M:%SZ')
        service.store.open_session(token, admin['user'], admin['tenant_id'], expires)
        return {'token': token, 'tenant_id': admin['tenant_id'], 'user': admin['user'], 'expires': expires}

    @app.post(API + '/connect', response_model=Session, summary='Connect-AadrmService',
              responses={401: {'description': 'The user name or password is wrong (the same answer for both)'},
                         429: {'description': 'Too many failed Connect attempts for this user name (5 in 15 minutes) '
                                              'or from this address (20): no attempt is checked, not even a right '
                                              'password, until the time in Retry-After (seconds) and in the body\'s '
                                              'retry_at'}})
    async def connect(body: ConnectRequest, request: Request):
        if len(body.password.encode('utf-8', 'surrogatepass')) > MAX_PASSWORD:
            raise HTTPException(400, 'the password is longer than %d bytes (UTF-8): send the administrator\'s '
                                     'password' % MAX_PASSWORD)
        limiter = app.state.sign_in_limits['connect']
        try:
            if hashing_busy('connect'):
                raise Busy()
            attempt = await limiter.admit(body.user, _client_address(request))
        except TooMany as e:
            return JSONResponse({'error': e.describe('Connect attempts'), 'retry_after': e.retry_after,
                                 'retry_at': e.retry_at}, status_code=429, headers={'Retry-After': str(e.retry_after)})
        except Busy:
            return JSONResponse({'error': 'too many Connect attempts at once; retry in a second', 'retry_after': 1},
                                status_code=429, headers={'Retry-After': '1'})
        ok = None  # stays None if the server fails: that is no failure of the client's
        try:
            got = await anyio.to_thread.run_sync(sign_in, body.user, body.password, limiter=hashing_limiter('connect'))
            ok = got is not None
        finally:
            limiter.done(attempt, ok)
        if got is None:
            # the same answer for an unknown user and a wrong password
            raise HTTPException(401, 'the user name or password is wrong')
        return got

    @app.post(API + '/disconnect', summary='Disconnect-AadrmService: revoke the session token')
    def disconnect(authorization: Optional[str] = Header(None), row=Depends(session)):
        service.store.revoke(authorization[7:].strip())
        return {'disconnected': True}

    @app.get(API + '/tenants/{tenant_id}/configuration', summary='Get-AadrmConfiguration')
    def configuration(tenant_id: str, row=Depends(session)):
        tenant_of(tenant_id, row)
        t = service.store.tenant(tenant_id)
        keys = service.store.keys(tenant_id)
        active = [k for k in keys if k['status'] == 'Active']
        base = 'https://%s.rms.rehearsal.invalid/_wmcs' % t['rms_service_id']
        admins = service.store.read('SELECT user FROM admins WHERE tenant_id = ?', (tenant_id,))
        return {
            'BPOSId': tenant_id,
            'RightsManagementServiceId': t['rms_service_id'],
            'LicensingIntranetDistributionPointUrl': base + '/licensing',
            'LicensingExtranetDistributionPointUrl': base + '/licensing',
            'CertificationIntranetDistributionPointUrl': base + '/certification',
            'CertificationExtranetDistributionPointUrl': base + '/certification',
            'FunctionalState': 'Enabled',
            'CurrentLicensorCertificateGuid': active[0]['key_identifier'] if active else None,
            'KeyCount': len(keys),
            'KeyRolloverCount': max(len(keys) - 1, 0),
            'TpdCount': len(service.store.tpds(tenant_id)),
            'ProvisioningDate': t['created'],
            'AdminRoleMembers': [r['user'] for r in admins],
        }

    @app.get(API + '/tenants/{tenant_id}/toolset/{region}', summary='The regional BYOK toolset and the root hash')
    def toolset(tenant_id: str, region: str, row=Depends(session)):
        tenant = tenant_of(tenant_id, row)
        if region not in REGIONS:
            raise HTTPException(404, 'region %r is unknown; the regions are %s' % (region, ', '.join(REGIONS)))
        files = tenant.toolset_files(region)
        names = dict(zip(('kek_package', 'security_world_package'),
                         ('BYOK-KEK-pkg-%s-1' % region, 'BYOK-SecurityWorld-pkg-%s-1' % region)))
        return {
            'region': region,
            'root_hash': tenant.record['root_hash'],
            'root_hash_grouped': group_hash(tenant.record['root_hash']),
            'files': dict((kind, {'name': names[kind], 'content': base64.b64encode(data).decode('ascii'),
                                  'sha256': hashlib.sha256(data).hexdigest()}) for kind, data in files.items()),
        }

    @app.get(API + '/tenants/{tenant_id}/keys', response_model=List[Key], summary='Get-AadrmKeys')
    def keys(tenant_id: str, row=Depends(session)):
        tenant_of(tenant_id, row)
        return [key_view(k) for k in service.store.keys(tenant_id)]

    @app.post(API + '/tenants/{tenant_id}/keys', summary='Add-AadrmKey -KeyFile: import a transfer package')
    def add_key(tenant_id: str, body: KeyUpload, row=Depends(session)):
        tenant = tenant_of(tenant_id, row)
        try:
            got = tenant.receive(body.package.encode('utf-8'), active=body.active)
        except ByokError as e:
            raise refused(e)
        return {'created': got['imported'], 'key': key_view(got['key'])}

    @app.post(API + '/tenants/{tenant_id}/keys/keyvault',
              summary='Use-AipServiceKeyVaultKey -KeyVaultKeyUrl: use a key of the tenant\'s Key Vault')
    def use_keyvault_key(tenant_id: str, body: KeyVaultKey, row=Depends(session)):
        tenant = tenant_of(tenant_id, row)
        try:
            got = tenant.use_keyvault_key(body.key_vault_key_url, body.active)
        except ByokError as e:
            raise refused(e)
        return {'created': got['created'], 'changed': got['changed'], 'key': key_view(got['key']),
                'warnings': got['warnings']}

    @app.post(API + '/tenants/{tenant_id}/keys/{key_identifier}/activate',
              summary='Set-AadrmKeyProperties -Active $true (irreversible: the active key is archived)')
    def activate(tenant_id: str, key_identifier: str, row=Depends(session)):
        tenant_of(tenant_id, row)
        key, changed = service.store.activate(tenant_id, key_identifier)
        if key is None:
            raise HTTPException(404, 'tenant %s has no key %s' % (tenant_id, key_identifier))
        return {'changed': changed, 'key': key_view(key)}

    @app.post(API + '/tenants/{tenant_id}/possession', summary='Sign a challenge with the active key')
    def possession(tenant_id: str, body: Challenge, row=Depends(session)):
        tenant = tenant_of(tenant_id, row)
        try:
            challenge = base64.b64decode(body.challenge.encode('ascii'), validate=True)
        except ValueError:
            raise HTTPException(400, 'challenge is not valid base64')
        if not 16 <= len(challenge) <= 1024:
            raise HTTPException(400, 'challenge must be 16 to 1024 bytes')
        active = service.store.active_key(tenant_id)
        signature, pem, spki = tenant.sign_with(active['hsm_label'], possession_message(tenant_id, challenge))
        return {'KeyIdentifier': active['key_identifier'], 'SpkiSha256': spki, 'PublicKey': pem,
                'Signature': base64.b64encode(signature).decode('ascii'), 'Algorithm': 'PS256'}

    @app.get(API + '/tenants/{tenant_id}/tpds', summary='The imported trusted publishing domains')
    def tpds(tenant_id: str, row=Depends(session)):
        tenant_of(tenant_id, row)
        return service.store.tpds(tenant_id)

    @app.post(API + '/tenants/{tenant_id}/tpds', summary='Import-AadrmTpd')
    def import_tpd(tenant_id: str, body: TpdUpload, row=Depends(session)):
        tenant = tenant_of(tenant_id, row)
        try:
            try:
                data = base64.b64decode(body.tpd, validate=True)
            except (binascii.Error, ValueError):
                raise ByokError('tpd is not base64 of the exported file')
            got = tenant.import_tpd(data, body.protection_password,
                                    body.hsm_key_package.encode('utf-8') if body.hsm_key_package else None,
                                    body.active, body.friendly_name, body.key_vault_key_url)
        except ByokError as e:
            raise refused(e)
        return {'created': got['created'], 'tpd': got['tpd'], 'key': key_view(got['key'])}

    # ------------------------------------------------------------ Azure AD, for the rehearsal's Key Vault

    def known_tenant(tenant_id):
        if service.store.tenant(tenant_id) is None:
            return JSONResponse({'error': 'invalid_tenant', 'error_description': 'Tenant %r not found here.'
                                 % tenant_id[:64]}, status_code=400)
        return None

    @app.post('/{tenant_id}/oauth2/v2.0/token', include_in_schema=False)
    async def token(tenant_id: str, request: Request):
        refused = known_tenant(tenant_id)
        if refused is not None:
            return refused
        if hashing_busy('token'):
            return JSONResponse({'error': 'temporarily_unavailable', 'error_description': 'Too many token requests at '
                                 'once; retry in a second.'}, status_code=429, headers={'Retry-After': '1'})
        form, refusal = keyvault.token_request(await request.body())
        if refusal is not None:
            return JSONResponse(refusal[1], status_code=refusal[0], headers={'Cache-Control': 'no-store'})
        if not CLIENT_ID.match(form.get('client_id', '')):
            # never counted nor hashed (no client has such an ID), and not repeated: it may be a secret misplaced
            status, body = keyvault.token_error(401, 'invalid_client', 'The client_id is not a client ID (a GUID, '
                                                'such as 00000000-0000-4000-8000-000000000000): send the client ID '
                                                'the application was given (byok-tenant info lists them).')
            return JSONResponse(body, status_code=status, headers={'Cache-Control': 'no-store'})
        limiter = app.state.sign_in_limits['token']
        try:
            attempt = await limiter.admit(form['client_id'], _client_address(request))
        except TooMany as e:
            status, body = keyvault.token_error(429, 'temporarily_unavailable',
                                                'T%s.' % e.describe('sign-ins', 'client')[1:])
            body.update(retry_after=e.retry_after, retry_at=e.retry_at)
            return JSONResponse(body, status_code=status, headers={'Retry-After': str(e.retry_after),
                                                                   'Cache-Control': 'no-store'})
        except Busy:
            return JSONResponse({'error': 'temporarily_unavailable', 'error_description': 'Too many token requests '
                                 'for this client at once; retry in a second.'}, status_code=429,
                                headers={'Retry-After': '1'})
        ok = None
        try:
            status, body = await anyio.to_thread.run_sync(keyvault.issue_token, service.store, tenant_id, form,
                                                          limiter=hashing_limiter('token'))
            ok = status != 401
        finally:
            limiter.done(attempt, ok)
        return JSONResponse(body, status_code=status, headers={'Cache-Control': 'no-store'})

    @app.get('/{tenant_id}/v2.0/.well-known/openid-configuration', include_in_schema=False)
    def openid_configuration(tenant_id: str, request: Request):
        refused = known_tenant(tenant_id)
        return refused or keyvault.openid_configuration(str(request.base_url).rstrip('/'), tenant_id)

    return app


def create_keyvault_app(service, authority_port):
    """Key Vault's data plane; the challenge sends clients to the token endpoint on ``authority_port``."""
    app = FastAPI(title='keyceremony.byok rehearsal Key Vault', version='7.4', openapi_url=None, docs_url=None,
                  redoc_url=None)
    app.add_middleware(BodyLimit)

    def error(status, code, message, request=None):
        headers = None
        if status == 401 and request is not None:
            host = request.url.hostname
            base = 'https://%s:%d' % ('[%s]' % host if ':' in host else host, authority_port)
            ids = service.tenant_ids()
            # one tenant: its ID, as a real vault names its own; several: none (the credential's own tenant)
            authorization = base + ('/' + ids[0] if len(ids) == 1 else '')
            headers = {'WWW-Authenticate': 'Bearer authorization="%s", resource="https://vault.azure.net"'
                                           % authorization}
        return JSONResponse({'error': {'code': code, 'message': message}}, status_code=status, headers=headers)

    @app.exception_handler(HTTPException)
    async def http_error(request, exc):
        return error(exc.status_code, 'BadParameter' if exc.status_code < 500 else 'InternalError', str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def bad_request(request, exc):
        return error(400, 'BadParameter', 'The request is not valid')

    @app.middleware('http')
    async def authenticate(request, call_next):
        try:
            keyvault.check_api_version(request.query_params.get('api-version'))
        except keyvault.VaultError as e:
            return error(e.status, e.code, str(e))
        tenant_id = keyvault.tenant_of_token(service.store, request.headers.get('authorization'))
        if tenant_id is None:
            if request.headers.get('authorization'):
                return error(401, 'Unauthorized', 'AKV10000: Request is missing a valid Bearer token, or it has '
                                                  'expired', request)
            return error(401, 'Unauthorized', 'AKV10000: Request is missing a Bearer or PoP token.', request)
        request.state.tenant_id = tenant_id
        return await call_next(request)

    def vault(request):
        host = request.url.hostname
        origin = 'https://%s%s' % ('[%s]' % host if ':' in host else host,
                                   '' if request.url.port in (None, 443) else ':%d' % request.url.port)
        return keyvault.Vault(service.tenant(request.state.tenant_id), origin)

    def answer(fn, *args):
        try:
            return fn(*args)
        except keyvault.VaultError as e:
            return error(e.status, e.code, str(e))
        except ByokError as e:
            return error(500, 'InternalError', str(e))

    async def json_object(request):
        """The request's JSON object body, or the error response to send."""
        try:
            body = json.loads((await request.body()).decode('utf-8') or 'null')
        except (ValueError, UnicodeDecodeError, RecursionError):
            body = None
        if not isinstance(body, dict):
            return error(400, 'BadParameter', 'The request body must be a JSON object')
        return body

    async def with_body(request, method, name):
        """``method(name, body)`` of the request's vault with its JSON object body, off the event loop (HSM work)."""
        body = await json_object(request)
        if not isinstance(body, dict):
            return body
        return await run_in_threadpool(answer, getattr(vault(request), method), name, body)

    @app.post('/keys/{name}/create')
    async def create_key(name: str, request: Request):
        return await with_body(request, 'create', name)

    @app.put('/keys/{name}')
    async def import_key(name: str, request: Request):
        return await with_body(request, 'import_key', name)

    @app.patch('/keys/{name}/{version}')
    async def update_key(name: str, version: str, request: Request):
        body = await json_object(request)
        if not isinstance(body, dict):
            return body
        v = vault(request)
        return answer(v.update, name, version, body)

    @app.get('/keys')
    def list_keys(request: Request):
        v = vault(request)
        return answer(v.list)

    @app.get('/keys/{name}/versions')
    def list_versions(name: str, request: Request):
        v = vault(request)
        return answer(v.list, name)

    @app.get('/keys/{name}')
    def get_key(name: str, request: Request):
        v = vault(request)
        return answer(lambda: keyvault.bundle(v.origin, v.get(name)))

    @app.get('/keys/{name}/{version}')
    def get_key_version(name: str, version: str, request: Request):
        v = vault(request)
        return answer(lambda: keyvault.bundle(v.origin, v.get(name, version or None)))

    return app


def _address(listen, option):
    host, _sep, port = listen.rpartition(':')
    if not host or not port.isdigit():
        raise ByokError('%s %r must be ADDRESS:PORT, for example 127.0.0.1:8443' % (option, listen))
    return host.strip('[]'), int(port)


def _bound(address, option):
    import socket
    host, port = address
    # IPPROTO_TCP named, so that asyncio sets TCP_NODELAY on the accepted connections (it checks the protocol): without
    # it, Nagle and the client's delayed ACK hold every answer's body back 40 ms
    sock = socket.socket(socket.AF_INET6 if ':' in host else socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        raise ByokError('cannot listen on %s (%s): %s' % ('%s:%d' % address, option, e.strerror))
    sock.listen(128)
    return sock


def serve(service, listen, session_ttl=3600, keyvault_listen=None, limits=None):
    """The tenant API on ``listen``; with ``keyvault_listen`` also the rehearsal's Key Vault, at the root of that
    origin (Key Vault's key identifiers have no path prefix), from the same process and TLS certificate."""
    import uvicorn
    main = _address(listen, '--listen')
    sockets = [_bound(main, '--listen')]
    app = create_app(service, session_ttl, limits)
    if keyvault_listen:
        kv = _address(keyvault_listen, '--keyvault-listen')
        sockets.append(_bound(kv, '--keyvault-listen'))
        app = _by_port(app, create_keyvault_app(service, main[1]), kv[1])
    service.record_urls(main, kv if keyvault_listen else None)
    tls = service.ca_path.rsplit('/', 1)[0]
    # no proxy headers: the client's address (which the limits of failed sign-ins count) is the socket's peer; by
    # default uvicorn would take it from X-Forwarded-For, which a client on 127.0.0.1 can set to anything
    config = uvicorn.Config(app, ssl_certfile=tls + '/server.pem', ssl_keyfile=tls + '/server.key', log_level='warning',
                            access_log=False, timeout_graceful_shutdown=5, lifespan='off', proxy_headers=False,
                            forwarded_allow_ips='')
    uvicorn.Server(config).run(sockets=sockets)


def _by_port(main_app, keyvault_app, keyvault_port):
    """One ASGI application on two listeners: the Key Vault's port goes to the Key Vault."""
    async def app(scope, receive, send):
        server = scope.get('server') or (None, None)
        target = keyvault_app if server[1] == keyvault_port else main_app
        return await target(scope, receive, send)
    return app
