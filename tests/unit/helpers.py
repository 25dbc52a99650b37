# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Test helpers: SoftHSM2 stores, card sets, in-process module runs, secret checks."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import io
import json
import os
import subprocess
import sys
from contextlib import redirect_stdout

from ansible.module_utils.testing import patch_module_args

# This file is imported through ansible_collections/keyceremony/byok (a link or a copy).
COLLECTIONS_ROOT = os.path.abspath(__file__).split(os.sep + 'ansible_collections' + os.sep)[0]
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Ansible's own strategy and Mitogen's (docs/performance.md): the playbook tests run under both
STRATEGIES = ('linear', 'mitogen_linear')


def strategy_env(strategy):
    """The environment that makes ansible-playbook run with ``strategy``."""
    if strategy == 'linear':
        return {}
    import ansible_mitogen  # pylint: disable=import-outside-toplevel
    return {'ANSIBLE_STRATEGY_PLUGINS': os.path.join(os.path.dirname(ansible_mitogen.__file__), 'plugins', 'strategy'),
            'ANSIBLE_STRATEGY': strategy}


TENANT_A = '3f2a8b1c-5d6e-4f70-8a9b-0c1d2e3f4a5b'
TENANT_B = '9e8d7c6b-5a49-4382-a716-f5e4d3c2b1a0'
CARD_PINS = ['amber-otter-41', 'brass-heron-92', 'cedar-lynx-07', 'dune-falcon-55', 'ember-moth-33']


class SoftHsm(object):
    """A SoftHSM2 configuration and token folder of the test's own."""

    def __init__(self, base):
        self.base = str(base)
        self.tokendir = os.path.join(self.base, 'tokens')
        os.makedirs(self.tokendir)
        self.conf = os.path.join(self.base, 'softhsm2.conf')
        with open(self.conf, 'w') as f:
            f.write('directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' % self.tokendir)


def cards_for(base, n, prefix='card'):
    return [{'path': os.path.join(str(base), 'cards', '%s%d' % (prefix, i + 1)), 'pin': CARD_PINS[i % len(CARD_PINS)]}
            for i in range(n)]


def copy_object(hsm, session, handle):
    """C_CopyObject, which PyKCS11 does not expose, on the library ``hsm`` loaded; returns the CKR name."""
    import ctypes
    from ansible_collections.keyceremony.byok.plugins.module_utils._hsm import ckr_name
    lib = ctypes.CDLL(hsm.module_path)  # the library already loaded: the same process state

    class Attribute(ctypes.Structure):
        _fields_ = [('type', ctypes.c_ulong), ('value', ctypes.c_void_p), ('length', ctypes.c_ulong)]
    lib.C_CopyObject.restype = ctypes.c_ulong
    lib.C_CopyObject.argtypes = [ctypes.c_ulong, ctypes.c_ulong, ctypes.POINTER(Attribute), ctypes.c_ulong,
                                 ctypes.POINTER(ctypes.c_ulong)]
    label = ctypes.create_string_buffer(b'duplicate', 9)
    template = (Attribute * 1)(Attribute(0x3, ctypes.cast(label, ctypes.c_void_p), 9))  # CKA_LABEL
    new = ctypes.c_ulong(0)
    rv = lib.C_CopyObject(session.raw.session.value(), handle.value(), template, 1, ctypes.byref(new))
    return ckr_name(rv)


def plant_private_key(session, label, key=None, numbers=None, **attributes):
    """As whoever ``session`` is logged in as, C_CreateObject an RSA private key labelled ``label``, with the
    attributes a ceremony key shows: a software key, or with ``numbers=(n, e, d)`` only those (a planted copy: a real
    modulus with a private exponent of the planter's choosing). Returns the cryptography key (None with numbers)."""
    from cryptography.hazmat.primitives.asymmetric import rsa
    from ansible_collections.keyceremony.byok.plugins.module_utils._hsm import constant
    key = key or rsa.generate_private_key(public_exponent=65537, key_size=2048)
    n = key.private_numbers()

    def b(v):
        return v.to_bytes((v.bit_length() + 7) // 8, 'big')
    pairs = dict([('CKA_CLASS', constant('CKO_PRIVATE_KEY')), ('CKA_KEY_TYPE', constant('CKK_RSA')),
                  ('CKA_TOKEN', True), ('CKA_PRIVATE', True), ('CKA_LABEL', label), ('CKA_ID', label.encode('ascii')),
                  ('CKA_SENSITIVE', True), ('CKA_EXTRACTABLE', True), ('CKA_WRAP_WITH_TRUSTED', True),
                  ('CKA_SIGN', True), ('CKA_DECRYPT', True), ('CKA_UNWRAP', False), ('CKA_DERIVE', False),
                  ('CKA_MODULUS', b(n.public_numbers.n)), ('CKA_PUBLIC_EXPONENT', b(n.public_numbers.e)),
                  ('CKA_PRIVATE_EXPONENT', b(n.d)), ('CKA_PRIME_1', b(n.p)), ('CKA_PRIME_2', b(n.q)),
                  ('CKA_EXPONENT_1', b(n.dmp1)), ('CKA_EXPONENT_2', b(n.dmq1)), ('CKA_COEFFICIENT', b(n.iqmp))])
    if numbers:
        for name in ('CKA_PRIME_1', 'CKA_PRIME_2', 'CKA_EXPONENT_1', 'CKA_EXPONENT_2', 'CKA_COEFFICIENT'):
            del pairs[name]
        pairs.update(CKA_MODULUS=b(numbers[0]), CKA_PUBLIC_EXPONENT=b(numbers[1]), CKA_PRIVATE_EXPONENT=b(numbers[2]))
        key = None
    pairs.update(attributes)
    session.create('planting %s' % label, list(pairs.items()))
    return key


class WorldFixture(object):
    def __init__(self, world_dir, token_label, cards, descriptor):
        self.dir = world_dir
        self.token_label = token_label
        self.cards = cards
        self.descriptor = descriptor
        self.id = descriptor['world_id']


class ModuleRun(object):
    def __init__(self, out, exit_code):
        self.raw = out
        self.exit_code = exit_code
        self.result = json.loads(out)

    @property
    def failed(self):
        return bool(self.result.get('failed'))

    def __getitem__(self, key):
        return self.result[key]

    def get(self, key, default=None):
        return self.result.get(key, default)

    @property
    def warnings(self):
        # ansible-core 2.19 reports warnings as event objects, older ones as strings
        out = []
        for w in self.result.get('warnings', []):
            out.append(w['event']['msg'] if isinstance(w, dict) else w)
        return out


def run_module(module, args, check_mode=False, diff=False):
    """Run a module's main() in-process and return what it printed, parsed."""
    args = dict(args)
    if check_mode:
        args['_ansible_check_mode'] = True
    if diff:
        args['_ansible_diff'] = True
    out = io.StringIO()
    code = 0
    # Ansible keeps a module's warnings in a process-wide list: a run in this process must not report an earlier one's
    from ansible.module_utils.common import warnings as module_warnings
    module_warnings._global_warnings.clear()
    module_warnings._global_deprecations.clear()
    with patch_module_args(args), redirect_stdout(out):
        try:
            module.main()
        except SystemExit as e:
            code = e.code
    return ModuleRun(out.getvalue(), code)


def start_module(module, args, tmp_path):
    """A module in a process of its own, as Ansible runs it (the test's environment, SOFTHSM2_CONF
    included, is inherited). Returns the Popen; module_result() waits for it."""
    import subprocess
    import sys
    import tempfile
    fd, args_file = tempfile.mkstemp(dir=str(tmp_path), prefix='module-args-', suffix='.json')
    with os.fdopen(fd, 'w') as f:
        json.dump({'ANSIBLE_MODULE_ARGS': args}, f)
    return subprocess.Popen([sys.executable, module.__file__, args_file], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))


def module_result(proc, timeout=120):
    """The parsed result of a module started by start_module(), which must have succeeded."""
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, out.decode() + err.decode()
    return json.loads(out.decode())


def held_back_by_the_world_lock(module, args, tmp_path, world_dir, unchanged):
    """Start ``module`` while this process holds the world's lock: it must still be waiting 3 s later,
    with ``unchanged()`` true; then release the lock and return the module's result."""
    import subprocess
    from ansible_collections.keyceremony.byok.plugins.module_utils._world import World
    with World(world_dir).changing():
        proc = start_module(module, args, tmp_path)
        try:
            proc.wait(timeout=3)
        except subprocess.TimeoutExpired:
            pass
        assert proc.returncode is None, 'the module did not wait for the world lock: %s' % (proc.stdout.read().decode(),)
        assert unchanged()
    return module_result(proc)


def four_way(module, args):
    """Check mode, real run, check-mode re-run, re-run: the four runs every module gets."""
    runs = [run_module(module, args, check_mode=True), run_module(module, args),
            run_module(module, args, check_mode=True), run_module(module, args)]
    for r in runs:
        assert not r.failed, r.result.get('msg')
    return runs


def secrets_of(world_fixture):
    """Every secret a world has: card PINs, the user PIN, the SO PIN (rebuilt from the cards)."""
    from ansible_collections.keyceremony.byok.plugins.module_utils._world import World, recover_so_pin
    values = [c['pin'] for c in world_fixture.cards]
    values.append(World(world_fixture.dir).user_pin())
    values.append(recover_so_pin(world_fixture.dir, world_fixture.cards))
    return values


def assert_no_secret(text, secrets):
    for s in secrets:
        assert s not in text, 'a secret leaked into the output'


class Chain(object):
    """A whole offline side and a tenant, built once: world, key, toolset, ACL, package."""


def offline_world(into, base, monkeypatch, label='offline-world'):
    """A 2-of-3 world with the tenant key contosokey on a SoftHSM2 of its own under ``base``; sets on ``into``:
    base, offline (the SoftHsm), world_dir, cards, descriptor, key (hsm_key's result)."""
    from ansible_collections.keyceremony.byok.plugins.module_utils._hsm import Hsm
    from ansible_collections.keyceremony.byok.plugins.module_utils._world import WorldSpec, ensure_world
    from ansible_collections.keyceremony.byok.plugins.modules import hsm_key
    into.base = str(base)
    into.offline = SoftHsm(os.path.join(into.base, 'offline'))
    monkeypatch.setenv('SOFTHSM2_CONF', into.offline.conf)
    into.world_dir = os.path.join(into.base, 'world')
    into.cards = cards_for(os.path.join(into.base, 'cardset'), 3)
    with Hsm() as hsm:
        into.descriptor = ensure_world(hsm, WorldSpec(into.world_dir, label, '2/3', into.cards, 'argon2id-aes256gcm'))[1]
    into.key = run_module(hsm_key, {'world_dir': into.world_dir, 'ident': 'contosokey'}).result
    return into


def build_chain(base, monkeypatch, tenant_ids=('3f2a8b1c-5d6e-4f70-8a9b-0c1d2e3f4a5b',), admin_password=None):
    """Everything up to a transfer package, on real SoftHSM2 tokens under ``base``."""
    from ansible_collections.keyceremony.byok.plugins.modules import key_acl, transfer_package
    from ansible_collections.keyceremony.byok.tenant import datadir
    c = Chain()
    offline_world(c, base, monkeypatch)
    c.tenants = [datadir.init(os.path.join(c.base, 'tenant%d' % i), tid, admin_password=admin_password)
                 for i, tid in enumerate(tenant_ids)]
    c.tenant = c.tenants[0]
    c.toolset = datadir.Tenant(c.tenant['data_dir']).toolset('NA', os.path.join(c.base, 'toolset'))
    c.toolset_args = {'kek_package': c.toolset['kek_package'], 'security_world_package': c.toolset['security_world_package'],
                      'root_hash': c.tenant['root_hash_grouped']}
    c.acl_args = dict(c.toolset_args, world_dir=c.world_dir, ident='contosokey', admin_cards=c.cards[:2])
    c.acl = run_module(key_acl, c.acl_args).result
    assert not c.acl.get('failed'), c.acl.get('msg')
    c.package_args = dict(c.toolset_args, world_dir=c.world_dir, ident='contosokey', tenant_id=c.tenant['tenant_id'],
                          key_friendly_name='ContosoBYOK', dest=os.path.join(c.base, 'media'))
    c.package = run_module(transfer_package, c.package_args).result
    assert not c.package.get('failed'), c.package.get('msg')
    # SoftHSM2's CKM_AES_KEY_WRAP_PAD, known-answer tested (docs/hsm.md), and no warning for it
    assert c.package['rfc5649'] == 'zero-padded' and not c.package.get('warnings'), c.package
    with open(c.package['path'], 'rb') as f:
        c.package_bytes = f.read()
    return c


# ---------------------------------------------------------------- the tenant service, for real

def free_port():
    import socket
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


class TenantServer(object):
    """`byok-tenant serve` in its own process on a free loopback port."""

    def __init__(self, data_dir, session_ttl=3600, keyvault=False, options=()):
        import sys
        self.data_dir = data_dir
        self.options = list(options)  # more options of serve (the limits of failed sign-ins)
        self.keyvault = keyvault
        self.keyvault_port = None
        self.ca_path = os.path.join(data_dir, 'tls', 'ca.pem')
        self.session_ttl = session_ttl
        self.command = os.path.join(os.path.dirname(sys.executable), 'byok-tenant')
        self.port = None
        self.proc = None

    @property
    def url(self):
        return 'https://127.0.0.1:%d' % self.port

    @property
    def keyvault_url(self):
        return 'https://127.0.0.1:%d' % self.keyvault_port

    def start(self):
        """Start (or restart, on the same port) and wait for /health. A free port picked here can be
        taken by another test process before the service binds it: then it tries another one."""
        fixed = self.port is not None
        for attempt in range(3):
            if not fixed:
                self.port = free_port()
                self.keyvault_port = free_port() if self.keyvault else None
            output = self._start()
            if output is None:
                return self
            if fixed or 'address already in use' not in output.lower():
                break
        raise RuntimeError('byok-tenant serve stopped: %s' % output)

    def _start(self):
        """None once the service answers; its output if it stopped."""
        import subprocess
        import time
        extra = ['--keyvault-listen', '127.0.0.1:%d' % self.keyvault_port] if self.keyvault else []
        self.proc = subprocess.Popen([self.command, 'serve', '--data-dir', self.data_dir, '--listen',
                                      '127.0.0.1:%d' % self.port, '--session-ttl', str(self.session_ttl)] + extra
                                     + self.options,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                return self.proc.stdout.read().decode()
            try:
                # the CA is pinned: another test's service on this port does not answer as this one,
                # and a listener that never answers is given up on quickly
                if self.request('GET', '/health', timeout=2)[0] == 200:
                    return None
            except OSError:
                time.sleep(0.2)
        self.stop(kill=True)
        raise RuntimeError('byok-tenant serve did not answer in 30 s')

    def stop(self, kill=False):
        """SIGTERM (or SIGKILL); True when the service shut down cleanly: uvicorn finishes the requests under way,
        then exits by the signal it was sent (-15), as it re-raises it after a graceful shutdown."""
        import signal
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            self.proc.wait(30)
        return self.proc is not None and self.proc.returncode in (0, -signal.SIGTERM)

    def context(self):
        import ssl
        return ssl.create_default_context(cafile=self.ca_path)

    def request(self, method, path, body=None, token=None, raw=None, headers=None, timeout=60):
        """(status, parsed JSON) of one API call; ``raw`` sends bytes as they are."""
        import urllib.error
        import urllib.request
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        req = urllib.request.Request(self.url + '/api/v1' + path, data=data, method=method)
        req.add_header('Content-Type', 'application/json')
        if token:
            req.add_header('Authorization', 'Bearer ' + token)
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, context=self.context(), timeout=timeout) as resp:
                return resp.status, json.loads(resp.read().decode() or 'null')
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read().decode() or 'null')

    def connect(self, user, password):
        status, got = self.request('POST', '/connect', {'user': user, 'password': password})
        assert status == 200, got
        return got['token']


def software_package(tenant, friendly_name='soft', trailing=b'', key=None, tenant_id=None):
    """A transfer package made in software (the test holds the key) for ``tenant`` (a datadir.Tenant).

    Returns (package bytes, spki_sha256). The KWP payload may end with ``trailing`` bytes.
    """
    import base64
    import hashlib
    from cryptography.hazmat.primitives import hashes, keywrap, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa
    from ansible_collections.keyceremony.byok.plugins.module_utils import _byok
    from ansible_collections.keyceremony.byok.plugins.module_utils._files import canonical_json
    key = key or rsa.generate_private_key(65537, 2048)
    pkcs8 = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption())
    kek = tenant.record['keks']['NA']
    with open(os.path.join(tenant.dir, 'toolset', 'NA', 'BYOK-KEK-pkg-NA-1')) as f:
        kek_pub = serialization.load_der_public_key(base64.b64decode(json.load(f)['kek']['public_key']))
    aes = os.urandom(32)
    ct = kek_pub.encrypt(aes, padding.OAEP(padding.MGF1(hashes.SHA1()), hashes.SHA1(), None)) + \
        keywrap.aes_key_wrap_with_padding(aes, pkcs8 + trailing)
    spki = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    header = {'kid': kek['kid'], 'alg': 'dir', 'enc': 'CKM_RSA_AES_KEY_WRAP'}
    binding = {'format': _byok.BINDING_FORMAT, 'schema_version': '1.0.0', 'header': header,
               'tenant_id': tenant_id or tenant.tenant_id, 'key_friendly_name': friendly_name,
               'spki_sha256': hashlib.sha256(spki).hexdigest(), 'kek_kid': kek['kid'],
               'kek_spki_sha256': kek['spki_sha256'], 'ciphertext_sha256': hashlib.sha256(ct).hexdigest(),
               'created': '2026-11-22T00:00:00Z'}
    sig = key.sign(canonical_json(binding), padding.PSS(padding.MGF1(hashes.SHA256()), 32), hashes.SHA256())
    pkg = {'schema_version': '1.0.0', 'header': header, 'ciphertext': _byok.b64url(ct), 'generator': 'test',
           'binding': binding, 'binding_signature': {'alg': 'PS256', 'value': _byok.b64url(sig)}}
    return _byok.serialize(pkg), hashlib.sha256(spki).hexdigest()


def each_task_of(tmp_path, playbook, host_vars, strategy):
    """Run ``playbook`` (text; every task goes on after a failure) against one local host ``ws`` with ``host_vars``,
    under ``strategy``; returns ({task name: that host's result}, ansible-playbook's stdout)."""
    inventory = tmp_path / 'inventory.json'
    inventory.write_text(json.dumps({'all': {'hosts': {'ws': dict(
        host_vars, ansible_connection='local', ansible_python_interpreter=sys.executable)}}}))
    path = tmp_path / 'each-task.yml'
    path.write_text(playbook.replace('\n    - name:', '\n    - ignore_errors: true\n      name:'))
    env = dict(os.environ, HOME=str(tmp_path / 'home'), ANSIBLE_CONFIG=os.path.join(REPO_ROOT, 'ansible.cfg'),
               ANSIBLE_STDOUT_CALLBACK='ansible.posix.json', ANSIBLE_NOCOLOR='1', **strategy_env(strategy))
    out = subprocess.run([os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), '-i', str(inventory),
                          str(path)], capture_output=True, text=True, env=env, cwd=str(tmp_path), check=False)
    tasks = json.loads(out.stdout)['plays'][0]['tasks']
    return dict((t['task']['name'], t['hosts']['ws']) for t in tasks), out.stdout
