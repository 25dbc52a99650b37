# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The rehearsal tenant's sign-ins under attack, over real TLS: bytes that are no token, equal
timing for unknown and known names, failed sign-ins limited per name and per address (Connect and
the Azure AD token endpoint), and no request that costs more than one password hash.

Each test starts its own `byok-tenant serve` (the limits are the service's memory); clients
take other loopback source addresses (127.0.0.x) to be other addresses."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import http.client
import json
import socket
import statistics
import threading
import time
import urllib.parse

import anyio
import pytest

from ansible_collections.keyceremony.byok.tenant import datadir
from ansible_collections.keyceremony.byok.tenant.limits import MAX_KEYS, FailureLimiter, Limits, address_key
from ansible_collections.keyceremony.byok.tests.unit.helpers import TENANT_A, TENANT_B, TenantServer, free_port

VAULT_SCOPE = 'https://vault.azure.net/.default'


class Server(TenantServer):
    """TenantServer with more options for serve (the limits of failed sign-ins)."""

    def __init__(self, data_dir, options=(), keyvault=False):
        super(Server, self).__init__(data_dir, keyvault=keyvault, options=options)

    def connection(self, source='127.0.0.1', port=None):
        """A kept-alive connection from ``source`` (one TLS handshake for many requests)."""
        return http.client.HTTPSConnection('127.0.0.1', port or self.port, context=self.context(), timeout=60,
                                           source_address=(source, 0))


def call(conn, method, path, body=None, headers=()):
    """(status, headers, parsed JSON) of one request on ``conn``; ``body`` bytes as they are, or JSON."""
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    conn.putrequest(method, path, skip_accept_encoding=True)
    sent = dict((k.lower(), v) for k, v in headers)
    for k, v in headers:
        conn.putheader(k, v)
    if 'content-type' not in sent:
        conn.putheader('Content-Type', 'application/json')
    conn.putheader('Content-Length', str(len(data or b'')))
    conn.endheaders(data)  # headers and body in one write: no Nagle and delayed-ACK wait (40 ms) in the timings
    if hasattr(socket, 'TCP_QUICKACK'):
        # and the answer acknowledged at once, so that the timings are the service's whatever its own socket options
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
    resp = conn.getresponse()
    raw = resp.read()
    try:
        got = json.loads(raw.decode() or 'null')
    except ValueError:
        got = raw.decode('utf-8', 'replace')
    return resp.status, dict((k.lower(), v) for k, v in resp.getheaders()), got


def connect(conn, user, password):
    return call(conn, 'POST', '/api/v1/connect', {'user': user, 'password': password})


def token(conn, tenant_id, client_id, secret):
    form = urllib.parse.urlencode({'grant_type': 'client_credentials', 'client_id': client_id,
                                   'client_secret': secret, 'scope': VAULT_SCOPE}).encode()
    return call(conn, 'POST', '/%s/oauth2/v2.0/token' % tenant_id, form,
                headers=[('Content-Type', 'application/x-www-form-urlencoded')])


@pytest.fixture(scope='module')
def tenants(tmp_path_factory):
    base = tmp_path_factory.mktemp('hardening')
    a = datadir.init(str(base / 'data'), TENANT_A, admin_password='password-of-tenant-a')
    b = datadir.add_tenant(datadir.Service(a['data_dir']), TENANT_B, admin_password='password-of-tenant-b')
    a['admin_password'], b['admin_password'] = 'password-of-tenant-a', 'password-of-tenant-b'
    return a, b


@pytest.fixture
def serve(tenants):
    """serve(options=(), keyvault=False): a server of its own for the test, stopped after it."""
    started = []

    def start(options=(), keyvault=False):
        server = Server(tenants[0]['data_dir'], options, keyvault).start()
        started.append(server)
        return server
    yield start
    for server in started:
        server.stop()
        output = server.proc.stdout.read().decode()
        assert 'Traceback' not in output, output
        for secret in ('password-of-tenant-a', 'password-of-tenant-b', tenants[0]['client_secret']):
            assert secret not in output


def assert_too_many(status, headers, got, scope, limit, window_text='15 minutes', window=900):
    assert status == 429, (status, got)
    retry_after = int(headers['retry-after'])
    assert 0 < retry_after <= window
    assert got['retry_after'] == retry_after
    retry_at = datetime.datetime.strptime(got['retry_at'], '%Y-%m-%dT%H:%M:%SZ').replace(tzinfo=datetime.timezone.utc)
    expected = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=retry_after)
    assert abs((retry_at - expected).total_seconds()) < 5
    text = got['error'] if isinstance(got['error'], str) and got['error'] != 'temporarily_unavailable' \
        else got['error_description']
    assert scope in text and '%d in %s' % (limit, window_text) in text and got['retry_at'] in text, text
    return retry_after


# ---------------------------------------------------------------- 7: bytes that are no token

NOT_TOKENS = ['Bearer \u00fc'.encode('utf-8'), 'Bearer \u00fc\u00fc\u00fc'.encode('latin-1'), b'Bearer \xff\xfe\x80',
              b'Bearer abc\xc3']


@pytest.mark.bad_input
@pytest.mark.parametrize('authorization', NOT_TOKENS)
def test_a_non_ascii_bearer_token_is_401_on_the_api(serve, authorization):
    server = serve()
    conn = server.connection()
    for method, path in (('GET', '/api/v1/tenants/%s/keys' % TENANT_A), ('POST', '/api/v1/disconnect'),
                         ('GET', '/api/v1/tenants/%s/configuration' % TENANT_A)):
        status, headers, got = call(conn, method, path, headers=[('Authorization', authorization)])
        assert status == 401 and headers['www-authenticate'] == 'Bearer', (path, status, got)
        assert got['error'] == 'the session token is not known to this tenant service; Connect again'
    # and the service still serves
    good = connect(conn, 'admin@%s' % TENANT_A, 'password-of-tenant-a')
    assert good[0] == 200


@pytest.mark.bad_input
def test_a_non_ascii_bearer_token_is_401_on_the_key_vault(serve):
    server = serve(keyvault=True)
    conn = server.connection(port=server.keyvault_port)
    for authorization in NOT_TOKENS:
        status, headers, got = call(conn, 'GET', '/keys?api-version=7.4', headers=[('Authorization', authorization)])
        assert status == 401 and headers['www-authenticate'].startswith('Bearer authorization="https://127.0.0.1:')
        assert got['error']['code'] == 'Unauthorized'


@pytest.mark.bad_input
def test_malformed_client_credentials_are_401_on_the_token_endpoint(serve, tenants):
    a = tenants[0]
    server = serve()
    conn = server.connection()
    for body in (b'client_id=\xc3\xbc&client_secret=\xff\xfe', b'client_id=%C3%BC&client_secret=%FF%ED%A0%80',
                 b'client_id=' + a['client_id'].encode() + b'&client_secret=\xed\xa0\x80\xfc',
                 b'client_id=' + a['client_id'].encode() + b'&client_secret=%00%0A'):
        status, headers, got = call(conn, 'POST', '/%s/oauth2/v2.0/token' % TENANT_A,
                                    b'grant_type=client_credentials&scope=' + urllib.parse.quote(VAULT_SCOPE).encode()
                                    + b'&' + body, headers=[('Content-Type', 'application/x-www-form-urlencoded')])
        assert status == 401 and got['error'] == 'invalid_client', (body, status, got)


# ---------------------------------------------------------------- 8: equal timing

def median_times(conn, attempts):
    """Median seconds of each kind of attempt, interleaved so that a busy machine slows both alike."""
    times = dict((kind, []) for kind in attempts)
    for i in range(15):
        for kind, attempt in attempts.items():
            started = time.perf_counter()
            status = attempt(i)
            times[kind].append(time.perf_counter() - started)
            assert status == 401
    return dict((kind, statistics.median(t)) for kind, t in times.items())


def test_an_unknown_user_takes_as_long_as_a_wrong_password(serve):
    # limits high enough for 30 failures: this test is about time alone
    server = serve(['--login-failures-per-user', '1000', '--login-failures-per-address', '1000'])
    conn = server.connection()
    connect(conn, 'warm-up', 'x')
    got = median_times(conn, {
        'unknown': lambda i: connect(conn, 'nobody-%d@%s' % (i, TENANT_A), 'a wrong password')[0],
        'known': lambda i: connect(conn, 'admin@%s' % TENANT_A, 'a wrong password')[0]})
    assert 0.5 <= got['unknown'] / got['known'] <= 2, got


def test_an_unknown_client_takes_as_long_as_a_wrong_secret(serve, tenants):
    server = serve(['--login-failures-per-user', '1000', '--login-failures-per-address', '1000'])
    conn = server.connection()
    token(conn, TENANT_A, 'warm-up', 'x')
    got = median_times(conn, {
        'unknown': lambda i: token(conn, TENANT_A, '00000000-0000-4000-8000-%012d' % i, 'a wrong secret')[0],
        'known': lambda i: token(conn, TENANT_A, tenants[0]['client_id'], 'a wrong secret')[0]})
    assert 0.5 <= got['unknown'] / got['known'] <= 2, got


def test_answers_are_not_held_back_by_nagle(serve):
    # the service's sockets have TCP_NODELAY: an answer's body is not held until the client acknowledges its headers
    # (the client's delayed ACK, 40 ms on Linux, used to be the floor of every request's time)
    server = serve()
    conn = http.client.HTTPSConnection('127.0.0.1', server.port, context=server.context(), timeout=60)
    times = []
    for _i in range(11):
        started = time.perf_counter()
        conn.request('GET', '/api/v1/health')
        assert conn.getresponse().read() == b'{"status":"ok"}'
        times.append(time.perf_counter() - started)
    assert statistics.median(times[1:]) < 0.03, times


# ---------------------------------------------------------------- 8: limits of failed sign-ins (the defaults)

@pytest.mark.bad_input
def test_the_sixth_wrong_password_is_429_and_so_is_the_right_one(serve):
    server = serve()
    user, other = 'admin@%s' % TENANT_A, 'admin@%s' % TENANT_B
    attacker = server.connection('127.0.0.2')
    for i in range(5):
        status, headers, got = connect(attacker, user, 'guess-%d' % i)
        assert status == 401 and got['error'] == 'the user name or password is wrong'
    assert_too_many(*connect(attacker, user, 'guess-5'), scope='for this user name', limit=5)
    # while it lasts, not even the right password opens the user's account, from any address
    assert_too_many(*connect(attacker, user, 'password-of-tenant-a'), scope='for this user name', limit=5)
    assert_too_many(*connect(server.connection('127.0.0.3'), user, 'password-of-tenant-a'),
                    scope='for this user name', limit=5)
    # another user, from another address and from the attacker's (5 failures, of 20), is not affected
    assert connect(server.connection('127.0.0.3'), other, 'password-of-tenant-b')[0] == 200
    assert connect(attacker, other, 'password-of-tenant-b')[0] == 200


def test_the_21st_failure_from_one_address_is_429(serve):
    server = serve()
    attacker = server.connection('127.0.0.4')
    for i in range(20):  # a spray: one guess for each of 20 names
        assert connect(attacker, 'user-%d@%s' % (i, TENANT_A), 'guess')[0] == 401
    assert_too_many(*connect(attacker, 'user-20@%s' % TENANT_A, 'guess'), scope='from this address', limit=20)
    assert_too_many(*connect(attacker, 'admin@%s' % TENANT_B, 'password-of-tenant-b'), scope='from this address',
                    limit=20)
    assert connect(server.connection('127.0.0.5'), 'admin@%s' % TENANT_B, 'password-of-tenant-b')[0] == 200


def test_the_token_endpoint_has_the_same_limits(serve, tenants):
    a, b = tenants
    server = serve()
    attacker = server.connection('127.0.0.6')
    for i in range(5):
        status, headers, got = token(attacker, TENANT_A, a['client_id'], 'guess-%d' % i)
        assert status == 401 and got['error'] == 'invalid_client'
    status, headers, got = token(attacker, TENANT_A, a['client_id'], 'guess-5')
    assert got['error'] == 'temporarily_unavailable' and headers['cache-control'] == 'no-store'
    assert_too_many(status, headers, got, scope='for this client', limit=5)
    assert_too_many(*token(server.connection('127.0.0.7'), TENANT_A, a['client_id'], a['client_secret']),
                    scope='for this client', limit=5)
    status, headers, got = token(server.connection('127.0.0.7'), TENANT_B, b['client_id'], b['client_secret'])
    assert status == 200 and got['access_token']
    assert 'guess' not in json.dumps(got)


# ---------------------------------------------------------------- 8: the limits, set short

def test_parallel_guesses_get_no_more_than_the_limit(serve):
    server = serve()
    results = []

    def guess(i):
        results.append(connect(server.connection('127.0.0.8'), 'admin@%s' % TENANT_A, 'parallel-%d' % i)[0])
    threads = [threading.Thread(target=guess, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert sorted(results) == [401] * 5 + [429] * 7


def test_a_success_resets_the_user_but_not_the_address(serve):
    server = serve(['--login-failures-per-user', '2', '--login-failures-per-address', '3'])
    conn = server.connection('127.0.0.9')
    user = 'admin@%s' % TENANT_A
    assert connect(conn, user, 'guess-1')[0] == 401
    assert connect(conn, user, 'password-of-tenant-a')[0] == 200
    assert connect(conn, user, 'guess-2')[0] == 401  # one failure for the user again, not two: no 429
    assert connect(conn, 'someone-else', 'guess-3')[0] == 401
    # three failures from this address, the success in between notwithstanding
    assert_too_many(*connect(conn, user, 'password-of-tenant-a'), scope='from this address', limit=3,
                    window_text='15 minutes')


def test_the_window_slides(serve):
    server = serve(['--login-failure-window', '3'])
    conn = server.connection('127.0.0.10')
    user = 'admin@%s' % TENANT_A
    for i in range(5):
        assert connect(conn, user, 'guess-%d' % i)[0] == 401
    retry_after = assert_too_many(*connect(conn, user, 'password-of-tenant-a'), scope='for this user name', limit=5,
                                  window_text='3 s', window=3)
    time.sleep(retry_after + 0.2)
    assert connect(conn, user, 'password-of-tenant-a')[0] == 200


# ---------------------------------------------------------------- 8: no request costs more than one hash

@pytest.mark.bad_input
def test_a_password_over_1024_bytes_is_refused_before_it_is_hashed(serve):
    server = serve(['--login-failures-per-user', '1'])
    conn = server.connection('127.0.0.11')
    user = 'admin@%s' % TENANT_A
    for _i in range(3):  # 600 characters, 1200 bytes: refused, and no failure counted
        status, _h, got = connect(conn, user, '\u00fc' * 600)
        assert status == 400 and 'longer than 1024 bytes' in got['error']
    status, _h, got = call(conn, 'POST', '/%s/oauth2/v2.0/token' % TENANT_A, urllib.parse.urlencode(
        {'grant_type': 'client_credentials', 'client_id': 'x', 'client_secret': 's' * 1025,
         'scope': VAULT_SCOPE}).encode(), headers=[('Content-Type', 'application/x-www-form-urlencoded')])
    assert status == 400 and got['error'] == 'invalid_request' and '1024 bytes' in got['error_description']
    assert connect(conn, user, 'password-of-tenant-a')[0] == 200


@pytest.mark.bad_input
@pytest.mark.parametrize('path', ['/api/v1/connect', '/%s/oauth2/v2.0/token' % TENANT_A])
def test_a_sign_in_body_over_64_kib_is_413(serve, path):
    server = serve()
    status, _h, got = call(server.connection('127.0.0.12'), 'POST', path,
                           json.dumps({'user': 'u', 'password': 'p', 'pad': 'x' * 65536}).encode())
    assert status == 413 and got['error'] == 'the request body is larger than 64 KiB'


# ---------------------------------------------------------------- the limits' keys: chosen by the socket, bounded

def stopped_output(server, *connections):
    """What the service wrote (its log), once it has stopped (the connections closed first: uvicorn waits for them)."""
    for conn in connections:
        conn.close()
    server.stop()
    return server.proc.stdout.read().decode()


@pytest.mark.bad_input
def test_x_forwarded_for_does_not_choose_the_address(serve):
    # uvicorn trusts X-Forwarded-For from 127.0.0.1 by default: each failure would have been another address's
    server = serve()
    attacker = server.connection('127.0.0.1')
    for i in range(20):
        status, _h, got = call(attacker, 'POST', '/api/v1/connect', {'user': 'user-%d@%s' % (i, TENANT_A),
                                                                     'password': 'guess'},
                               headers=[('X-Forwarded-For', '10.0.%d.%d' % (i // 250, i % 250 + 1)),
                                        ('X-Forwarded-Proto', 'https')])
        assert status == 401, got
    assert_too_many(*call(attacker, 'POST', '/api/v1/connect', {'user': 'user-20@%s' % TENANT_A, 'password': 'guess'},
                          headers=[('X-Forwarded-For', '10.0.9.9')]), scope='from this address', limit=20)
    assert 'address 127.0.0.1 locked: 20 failed sign-ins in 15 minutes' in stopped_output(server, attacker)


@pytest.mark.bad_input
def test_a_client_id_that_is_no_guid_is_refused_before_it_is_counted(serve, tenants):
    a = tenants[0]
    server = serve(['--login-failures-per-address', '2'])
    conn = server.connection('127.0.0.13')
    spray = ['x' * 60000, 'not-a-guid', a['client_id'] + '0', a['client_id'][:-1], '{%s}' % a['client_id'], '']
    for client_id in spray:
        status, headers, got = token(conn, TENANT_A, client_id, 'guess')
        assert status == 401 and got['error'] == 'invalid_client' and 'a GUID' in got['error_description'], got
        assert headers['cache-control'] == 'no-store' and 'x' * 64 not in got['error_description']
    # none of them was counted against the address (2 failures would lock it)
    status, _h, got = token(conn, TENANT_A, a['client_id'], a['client_secret'])
    assert status == 200 and got['access_token']


def test_locks_are_logged_without_a_password(serve, tenants):
    a = tenants[0]
    server = serve(['--login-failures-per-user', '2', '--login-failures-per-address', '5'])
    conn = server.connection('127.0.0.14')
    user = 'admin@%s' % TENANT_A
    for _i in range(2):
        assert connect(conn, user, 'password-of-tenant-b')[0] == 401
    # a password typed into the user name field: its lock is logged, the name is not
    for _i in range(2):
        assert connect(conn, 'password-of-tenant-b', 'password-of-tenant-a')[0] == 401
    assert connect(conn, 'someone', 'password-of-tenant-a')[0] == 401  # the 5th failure from this address
    other = server.connection('127.0.0.15')
    for _i in range(2):
        assert token(other, TENANT_A, a['client_id'], 'password-of-tenant-b')[0] == 401
    output = stopped_output(server, conn, other)
    lines = [line for line in output.splitlines() if ' locked: ' in line]
    assert len(lines) == 4, output
    assert lines[0].startswith("byok-tenant: Connect: user name %r locked: 2 failed sign-ins in 15 minutes; every "
                               "sign-in for it gets 429 until " % user)
    assert lines[0].endswith(', or until the service is restarted')
    assert lines[1].startswith('byok-tenant: Connect: an unknown user name (not shown: it may be a mistyped '
                               'password) locked: 2 failed sign-ins in 15 minutes')
    assert lines[2].startswith('byok-tenant: Connect: address 127.0.0.14 locked: 5 failed sign-ins in 15 minutes; '
                               'every sign-in from it gets 429 until ')
    assert lines[3].startswith("byok-tenant: the token endpoint: client ID %r locked: 2 failed" % a['client_id'])
    # and the serve fixture checks that no password and no client secret is in the output


class Server6(Server):
    """The service on [::1], so that its clients have an IPv6 address. Its certificate names 127.0.0.1 and not ::1:
    the CA is pinned all the same, the name is not checked."""

    def start(self):
        self.port = free_port()  # free on 127.0.0.1; a port taken on ::1 fails the start (it is tried once)
        self.options = self.options + ['--listen', '[::1]:%d' % self.port]  # the last --listen is the one
        return super(Server6, self).start()

    @property
    def url(self):
        return 'https://[::1]:%d' % self.port

    def context(self):
        context = super(Server6, self).context()
        context.check_hostname = False
        return context

    def connection(self, source='::1', port=None):
        return http.client.HTTPSConnection('::1', port or self.port, context=self.context(), timeout=60,
                                           source_address=(source, 0))


def test_an_ipv6_client_is_counted_by_its_64(tenants):
    try:
        socket.socket(socket.AF_INET6).close()
        with socket.socket(socket.AF_INET6) as s:
            s.bind(('::1', 0))
    except OSError:
        pytest.skip('this machine has no IPv6 loopback')
    # one machine has one IPv6 loopback address (::1/128): that the other addresses of a /64 count as the same is
    # checked by address_key below; here, that an IPv6 client is limited, and counted as its /64
    server = Server6(tenants[0]['data_dir'], ['--login-failures-per-address', '3']).start()
    conn = server.connection()
    try:
        for i in range(3):
            assert connect(conn, 'user-%d@%s' % (i, TENANT_A), 'guess')[0] == 401
        assert_too_many(*connect(conn, 'admin@%s' % TENANT_A, 'password-of-tenant-a'), scope='from this address',
                        limit=3)
    finally:
        output = stopped_output(server, conn)
    assert 'Connect: address ::/64 locked: 3 failed sign-ins' in output, output


@pytest.mark.parametrize('host,key', [
    ('127.0.0.5', '127.0.0.5'),
    ('::ffff:127.0.0.5', '127.0.0.5'),  # an IPv4 client of a dual-stack listener
    ('2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'),
    ('2001:db8:1:2:ffff:ffff:ffff:ffff', '2001:db8:1:2::/64'),
    ('2001:db8:1:3::1', '2001:db8:1:3::/64'),
    ('fe80::1%eth0', 'fe80::/64'),
    ('', ''),
    ('not an address' * 10, ('not an address' * 10)[:64]),
])
def test_the_address_counted(host, key):
    assert address_key(host) == key


def test_the_limiter_keeps_at_most_max_keys_names_and_addresses():
    # 10000 names over TLS would be 10000 password hashes: the limiter itself, with a clock of its own
    assert MAX_KEYS == 10000 and FailureLimiter().max_keys == MAX_KEYS
    now = [1000.0]
    logged = []
    limiter = FailureLimiter(Limits(per_name=2, per_address=100), clock=lambda: now[0], max_keys=3,
                             log=logged.append)

    async def fail(name, address):
        limiter.done(await limiter.admit(name, address), False)

    async def failures():
        await fail('first', '192.0.2.1')
        await fail('first', '192.0.2.1')  # locked
        for i in range(10):
            now[0] += 1
            await fail('name-%d' % i, '192.0.2.%d' % (i + 2))
    anyio.run(failures)
    assert sorted(limiter._failures['name']) == ['name-7', 'name-8', 'name-9']
    assert sorted(limiter._failures['address']) == ['192.0.2.10', '192.0.2.11', '192.0.2.9']
    assert limiter.refusal('first', '192.0.2.1') is None  # forgotten: the price of bounded memory
    forgot = [line for line in logged if 'forgotten' in line]
    assert len(forgot) == 1 and 'more than 3 user names in 15 minutes' in forgot[0], logged
