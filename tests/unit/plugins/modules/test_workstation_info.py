# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import subprocess
import sys

import pytest

from ansible_collections.keyceremony.byok.plugins.module_utils import _hsm
from ansible_collections.keyceremony.byok.plugins.modules import workstation_info
from ansible_collections.keyceremony.byok.tests.unit.helpers import REPO_ROOT, run_module


def test_a_ready_workstation(monkeypatch):
    monkeypatch.delenv('PKCS11_MODULE', raising=False)
    for check_mode in (True, False):
        got = run_module(workstation_info, {}, check_mode=check_mode)
        assert not got.failed and not got['changed']
        assert got['python'] == sys.executable and got['missing_modules'] == []
        assert got['pkcs11_module'] in _hsm.SOFTHSM2_CANDIDATES and got['pkcs11_problem'] is None


def test_what_is_missing_is_named(monkeypatch, tmp_path):
    monkeypatch.delenv('PKCS11_MODULE', raising=False)
    got = run_module(workstation_info, {'python_modules': ['cryptography', 'no_such_library_here', 'json'],
                                        'pkcs11_module': str(tmp_path / 'libvendor.so')})
    assert not got.failed and got['missing_modules'] == ['no_such_library_here']
    assert got['pkcs11_module'] is None
    assert str(tmp_path / 'libvendor.so') in got['pkcs11_problem'] and 'does not exist' in got['pkcs11_problem']
    monkeypatch.setenv('PKCS11_MODULE', str(tmp_path / 'libfromenv.so'))
    assert 'PKCS11_MODULE environment variable' in run_module(workstation_info, {})['pkcs11_problem']
    got = run_module(workstation_info, {'python_modules': [], 'check_pkcs11': False})
    assert got['missing_modules'] == [] and got['pkcs11_module'] is None and got['pkcs11_problem'] is None


@pytest.mark.bad_input
def test_required_it_fails_with_what_to_install(monkeypatch, tmp_path):
    monkeypatch.delenv('PKCS11_MODULE', raising=False)
    args = {'python_modules': ['json', 'no_such_library_here', 'nor_this_one'], 'require': True, 'host_name': 'ws-1',
            'pkcs11_module': str(tmp_path / 'libvendor.so')}
    got = run_module(workstation_info, args)
    assert got.failed and got['missing_modules'] == ['no_such_library_here', 'nor_this_one']
    assert got['msg'].startswith('ws-1 lacks the Python libraries no_such_library_here nor_this_one for %s; install '
                                 'them (pip install no_such_library_here nor_this_one' % sys.executable), got['msg']
    assert 'the ceremony installs nothing on this workstation' in got['msg']
    assert 'ws-1: ' in got['msg'] and 'does not exist' in got['msg']
    # what the caller installs is not a failure; the rest still is
    got = run_module(workstation_info, dict(args, installable=['no_such_library_here'], check_pkcs11=False))
    assert got.failed and got['to_install'] == ['no_such_library_here']
    assert 'libraries nor_this_one for' in got['msg'] and 'installs nothing' not in got['msg']
    got = run_module(workstation_info, dict(args, installable=['no_such_library_here', 'nor_this_one'],
                                            check_pkcs11=False))
    assert not got.failed and got['to_install'] == ['no_such_library_here', 'nor_this_one']
    assert got['checked'] == 'json,no_such_library_here,nor_this_one|%s' % (tmp_path / 'libvendor.so')


@pytest.mark.skipif(not os.path.isfile('/usr/bin/python3'), reason='needs a system Python without PyKCS11')
def test_it_answers_on_a_python_without_the_libraries(tmp_path):
    """Through Ansible, on the system's Python, which has no PyKCS11: the module still runs and says so."""
    probe = subprocess.run(['/usr/bin/python3', '-c', 'import PyKCS11'], capture_output=True, check=False)
    if probe.returncode == 0:
        pytest.skip('the system Python has PyKCS11')
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO_ROOT, 'ansible.cfg'), HOME=str(tmp_path),
               ANSIBLE_STDOUT_CALLBACK='ansible.builtin.minimal', ANSIBLE_LOAD_CALLBACK_PLUGINS='1')
    out = subprocess.run([os.path.join(os.path.dirname(sys.executable), 'ansible'), 'localhost', '-c', 'local',
                          '-e', 'ansible_python_interpreter=/usr/bin/python3', '-m', 'keyceremony.byok.workstation_info',
                          '-o'], cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    got = json.loads(out.stdout.split('=>', 1)[1])
    assert got['python'] == '/usr/bin/python3' and 'PyKCS11' in got['missing_modules']


def test_mechanisms_are_checked_before_anything_is_touched(softhsm, tpm2_pkcs11, monkeypatch):
    """SoftHSM2 offers what every step needs; tpm2-pkcs11 (a real second library, over swtpm) does not, and with
    require the module fails naming each step and mechanism."""
    args = {'mechanisms': ['key', 'acl', 'package'], 'require': True, 'token_label': 'contoso-world',
            'key_size': 3072, 'host_name': 'ws-1'}
    got = run_module(workstation_info, args)
    assert not got.failed and got['hsm']['problems'] == [] and got['hsm']['slot'] == 'free'
    assert got['hsm']['chosen'] == {'aes_key_wrap_pad': {'acl': 'CKM_AES_KEY_WRAP_PAD',
                                                         'package': 'CKM_AES_KEY_WRAP_PAD'}}
    library = tpm2_pkcs11[0]
    got = run_module(workstation_info, dict(args, pkcs11_module=library))
    assert got.failed and got['msg'].startswith('ws-1: the PKCS#11 library %s cannot run the ceremony, nothing was '
                                                'touched: ' % library)
    for said in ('wrapping the package key under the KEK, RSA-OAEP (transfer_package) needs CKM_RSA_PKCS_OAEP: '
                 'CKM_RSA_PKCS_OAEP lacks CKF_WRAP',
                 'copying the key under the session key (key_acl) needs CKM_AES_KEY_WRAP_KWP or CKM_AES_KEY_WRAP_PAD',
                 'signing the package binding, RSA-PSS with SHA-256 (transfer_package) needs CKM_SHA256_RSA_PKCS_PSS'):
        assert said in got['msg']
    assert 'CKM_RSA_PKCS_KEY_PAIR_GEN' not in got['msg']
    # without require it only reports; with no mechanisms asked it reads none
    got = run_module(workstation_info, dict(args, pkcs11_module=library, require=False))
    assert not got.failed and len(got['hsm']['problems']) == 5
    assert 'hsm' not in run_module(workstation_info, {'pkcs11_module': library}).result


def test_a_token_uri_with_more_than_a_name_is_never_shown(softhsm, monkeypatch):
    """Not in the invocation Ansible logs on the host, nor in the result: the whole URI is a no_log value from the
    start, and the mechanism check refuses it without showing it."""
    from ansible.module_utils import basic
    logged = []
    monkeypatch.setattr(basic.AnsibleModule, 'log', lambda self, msg, log_args=None: logged.append((msg, log_args)))
    for pin in ('s3cr3t-pin-42', 'Pa55@word-s3cr3t', 'Pa55:word@s3cr3t'):
        uri = 'pkcs11:token=contoso-world;Pin-Value=%s' % pin
        secret = pin[-6:]
        got = run_module(workstation_info, {'mechanisms': ['key'], 'require': True, 'token_label': uri})
        assert got.failed and 'it is not shown here' in got['msg']
        assert logged and secret not in json.dumps(logged, default=str), logged
        assert secret not in json.dumps(got.result)
        # nor when Ansible refuses the options before the module runs
        got = run_module(workstation_info, {'token_label': uri, 'no_such_option': 1})
        assert got.failed and 'no_such_option' in got['msg'] and secret not in json.dumps(got.result)
        assert secret not in json.dumps(logged, default=str)
    # a URI that only names a token is shown as given
    del logged[:]
    run_module(workstation_info, {'token_label': 'pkcs11:token=contoso-world;serial=0123'})
    assert 'serial=0123' in json.dumps(logged, default=str)
