# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The PKCS#11 layer against a real SoftHSM2: library loading, tokens by label, logins, error map."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import subprocess
import sys

import pytest

from ansible_collections.keyceremony.byok.plugins.module_utils import _hsm
from ansible_collections.keyceremony.byok.plugins.module_utils._errors import HsmError
from ansible_collections.keyceremony.byok.plugins.module_utils._hsm import SO, USER, Hsm

SO_PIN = 'so-pin-1234567'
USER_PIN = 'user-pin-7654321'


@pytest.fixture
def token(softhsm):
    with Hsm() as hsm:
        hsm.init_token(hsm.free_slot(), 'tok', SO_PIN)
        with hsm.session('tok', login=SO, pin=SO_PIN) as s:
            s.init_user_pin(USER_PIN)
    return 'tok'


def test_default_library_is_softhsm(softhsm):
    assert os.path.basename(_hsm.resolve_pkcs11_module()) == 'libsofthsm2.so'


def test_library_from_environment_must_exist(softhsm, monkeypatch):
    monkeypatch.setenv('PKCS11_MODULE', '/nonexistent/libvendor.so')
    with pytest.raises(HsmError, match='libvendor.so \\(from the PKCS11_MODULE environment variable\\) does not exist'):
        Hsm()


def test_library_option_wins_over_environment(softhsm, monkeypatch):
    monkeypatch.setenv('PKCS11_MODULE', '/nonexistent/libvendor.so')
    softhsm_library = [p for p in _hsm.SOFTHSM2_CANDIDATES if os.path.isfile(p)][0]
    with Hsm(softhsm_library) as hsm:
        assert hsm.module_path.endswith('libsofthsm2.so')


def test_a_file_that_is_no_pkcs11_library(softhsm, tmp_path):
    # Run apart: a failed load is the one thing that can take a PyKCS11 process down.
    fake = tmp_path / 'libfake.so'
    fake.write_bytes(b'not a shared object')
    code = ('from ansible_collections.keyceremony.byok.plugins.module_utils._hsm import Hsm\n'
            'from ansible_collections.keyceremony.byok.plugins.module_utils._errors import HsmError\n'
            'try:\n    Hsm(%r)\nexcept HsmError as e:\n    print(e)\n' % str(fake))
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=False,
                         env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
    assert 'cannot load PKCS#11 library %s' % fake in out.stdout


@pytest.mark.bad_input
def test_missing_softhsm_configuration(softhsm, monkeypatch, tmp_path):
    monkeypatch.setenv('SOFTHSM2_CONF', str(tmp_path / 'nowhere.conf'))
    with pytest.raises(HsmError, match='SOFTHSM2_CONF names a readable configuration') as e:
        Hsm()
    assert e.value.ckr == 'CKR_GENERAL_ERROR'


def test_token_not_found_lists_the_labels(token):
    with Hsm() as hsm:
        with pytest.raises(HsmError) as e:
            hsm.find_token('other')
    assert "no token labelled 'other'" in str(e.value)
    assert "the tokens there are: 'tok'" in str(e.value)


def test_found_by_label_across_reloads(softhsm):
    # SoftHSM2 renumbers slots when it reloads; the label still finds the token.
    with Hsm() as hsm:
        first_slot = hsm.free_slot()
        hsm.init_token(first_slot, 'tok', SO_PIN)
        with hsm.session('tok', login=SO, pin=SO_PIN) as s:
            s.init_user_pin(USER_PIN)
    with Hsm() as hsm:
        found = hsm.find_token('tok')
    assert found.slot != first_slot
    assert found.label == 'tok' and found.initialized and found.user_pin_initialized


@pytest.mark.bad_input
def test_wrong_pin_names_no_pin(token):
    with Hsm() as hsm:
        with pytest.raises(HsmError) as e:
            with hsm.session('tok', login=USER, pin='wrong-pin-999', who='the test PIN'):
                pass
    msg = str(e.value)
    assert "logging in to token 'tok' as user with the test PIN: the PIN was refused (CKR_PIN_INCORRECT)" == msg
    assert 'wrong-pin-999' not in msg and USER_PIN not in msg


def test_user_pin_not_initialised(softhsm):
    with Hsm() as hsm:
        hsm.init_token(hsm.free_slot(), 'half', SO_PIN)
        with pytest.raises(HsmError, match='never finished') as e:
            with hsm.session('half', login=USER, pin=USER_PIN):
                pass
    assert e.value.ckr == 'CKR_USER_PIN_NOT_INITIALIZED'


def test_sessions_are_closed_on_every_path(token):
    with Hsm() as hsm:
        with pytest.raises(RuntimeError):
            with hsm.session('tok', login=USER, pin=USER_PIN):
                raise RuntimeError('boom')
        # An SO login needs no other session open: it proves the one above was closed.
        with hsm.session('tok', login=SO, pin=SO_PIN):
            pass


def test_unsupported_mechanism(token):
    with Hsm() as hsm:
        with hsm.session('tok', login=USER, pin=USER_PIN, rw=True) as s:
            with pytest.raises(HsmError, match='does not support this mechanism') as e:
                s.call('generating a SKIPJACK key', s.raw.generateKey,
                       _hsm.attribute_template([('CKA_CLASS', _hsm.constant('CKO_SECRET_KEY'))]),
                       mecha=_hsm.mechanism('CKM_SKIPJACK_KEY_GEN'))
    assert e.value.ckr == 'CKR_MECHANISM_INVALID'


@pytest.mark.bad_input
def test_duplicate_labels_are_refused(softhsm):
    with Hsm() as hsm:
        hsm.init_token(hsm.free_slot(), 'dup', SO_PIN)
        hsm.lib.initToken(hsm.free_slot(), SO_PIN, 'dup')
        with pytest.raises(HsmError, match='2 tokens carry the label'):
            hsm.find_token('dup')


@pytest.mark.bad_input
@pytest.mark.parametrize('label', ['', 'x' * 33, ' padded'])
def test_bad_token_labels(label):
    with pytest.raises(HsmError, match='token_label'):
        _hsm.check_token_label(label)


def test_every_advice_names_a_real_return_code():
    import PyKCS11
    assert all(name in PyKCS11.CKR.values() for name in _hsm._CKR_ADVICE)


def test_softhsm_leaves_no_openssl_error_for_the_next_tls_read(softhsm):
    """SoftHSM2 leaves errors on OpenSSL's per-thread queue, which Python's ssl shares: a later TLS read in the same
    thread that meets a closed connection raised the stale NO_SUCH_ENGINE. Hsm empties the queue after each call."""
    import ctypes
    import ctypes.util
    name = ctypes.util.find_library('crypto')
    if not name:
        pytest.skip('no libcrypto to look at')
    crypto = ctypes.CDLL(name)
    crypto.ERR_peek_error.restype = ctypes.c_ulong
    crypto.BIO_new_file.restype = ctypes.c_void_p

    def leave_an_error():
        # a libcrypto call that fails puts an error on this thread's queue, as SoftHSM2's engine lookups do
        assert crypto.BIO_new_file(b'/nonexistent/keyceremony', b'r') is None
        assert crypto.ERR_peek_error() != 0
    leave_an_error()
    with Hsm() as hsm:
        assert crypto.ERR_peek_error() == 0
        leave_an_error()
        hsm.tokens()
        assert crypto.ERR_peek_error() == 0
        leave_an_error()
    assert crypto.ERR_peek_error() == 0
