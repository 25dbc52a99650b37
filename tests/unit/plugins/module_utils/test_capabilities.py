# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the ceremony asks of a PKCS#11 library: the check on made-up mechanism lists, and on two real libraries."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.keyceremony.byok.plugins.module_utils import _capabilities as caps
from ansible_collections.keyceremony.byok.plugins.module_utils._hsm import Hsm

F = caps.MECHANISM_FLAGS
EVERYTHING = {
    'CKM_RSA_PKCS_KEY_PAIR_GEN': (F['CKF_GENERATE_KEY_PAIR'], 1024, 4096),
    'CKM_RSA_PKCS_OAEP': (F['CKF_WRAP'] | F['CKF_UNWRAP'], 1024, 4096),
    'CKM_SHA256_RSA_PKCS_PSS': (F['CKF_SIGN'] | F['CKF_VERIFY'], 1024, 4096),
    'CKM_AES_KEY_GEN': (F['CKF_GENERATE'], 16, 32),
    'CKM_AES_KEY_WRAP_PAD': (F['CKF_WRAP'] | F['CKF_UNWRAP'], 1, None),
}


def without(name, **changed):
    offered = dict(EVERYTHING, **changed)
    offered.pop(name, None)
    return offered


def test_a_library_that_offers_everything():
    assert caps.check(EVERYTHING, caps.STEPS, 4096) == ([], {'aes_key_wrap_pad': {'acl': 'CKM_AES_KEY_WRAP_PAD',
                                                                                  'package': 'CKM_AES_KEY_WRAP_PAD'}})


@pytest.mark.parametrize('offered', [
    EVERYTHING,
    dict(EVERYTHING, CKM_AES_KEY_WRAP_KWP=(F['CKF_WRAP'] | F['CKF_UNWRAP'], 16, 32)),
    dict(EVERYTHING, CKM_AES_KEY_WRAP_KWP=(F['CKF_WRAP'], 16, 32)),
    dict(EVERYTHING, CKM_AES_KEY_WRAP_KWP=(F['CKF_UNWRAP'], 16, 32)),
])
def test_the_check_reports_the_mechanism_the_steps_take(offered):
    """One rule: what check() says each step takes is what Session.aes_key_wrap_pad takes (rfc5649_mechanism)."""
    from ansible_collections.keyceremony.byok.plugins.module_utils._hsm import rfc5649_mechanism
    chosen = caps.check(offered, caps.STEPS)[1]['aes_key_wrap_pad']
    assert chosen == {'acl': rfc5649_mechanism(offered, unwrap=True), 'package': rfc5649_mechanism(offered)}


def test_kwp_is_taken_where_offered():
    kwp = {'acl': 'CKM_AES_KEY_WRAP_KWP', 'package': 'CKM_AES_KEY_WRAP_KWP'}
    offered = dict(EVERYTHING, CKM_AES_KEY_WRAP_KWP=(F['CKF_WRAP'] | F['CKF_UNWRAP'], 16, 32))
    assert caps.check(offered, caps.STEPS)[1] == {'aes_key_wrap_pad': kwp}
    # only KWP: enough
    offered.pop('CKM_AES_KEY_WRAP_PAD')
    assert caps.check(offered, caps.STEPS) == ([], {'aes_key_wrap_pad': kwp})
    # a KWP that cannot unwrap: PAD is taken for the copy, which unwraps, KWP for the package, which only wraps (the
    # rule Session.aes_key_wrap_pad follows)
    offered = dict(EVERYTHING, CKM_AES_KEY_WRAP_KWP=(F['CKF_WRAP'], 16, 32))
    assert caps.check(offered, caps.STEPS) == ([], {'aes_key_wrap_pad': {'acl': 'CKM_AES_KEY_WRAP_PAD',
                                                                         'package': 'CKM_AES_KEY_WRAP_KWP'}})


@pytest.mark.parametrize('offered, steps, size, said', [
    (without('CKM_AES_KEY_WRAP_PAD'), ['package'], 2048,
     'wrapping the key under the package key, RFC 5649 (transfer_package) needs CKM_AES_KEY_WRAP_KWP or '
     'CKM_AES_KEY_WRAP_PAD: CKM_AES_KEY_WRAP_KWP is not offered; CKM_AES_KEY_WRAP_PAD is not offered'),
    (without('x', CKM_RSA_PKCS_OAEP=(F['CKF_ENCRYPT'] | F['CKF_DECRYPT'], 1024, 3072)), ['package'], 2048,
     'wrapping the package key under the KEK, RSA-OAEP (transfer_package) needs CKM_RSA_PKCS_OAEP: '
     'CKM_RSA_PKCS_OAEP lacks CKF_WRAP'),
    (without('x', CKM_RSA_PKCS_KEY_PAIR_GEN=(F['CKF_GENERATE_KEY_PAIR'], 1024, 3072)), ['key'], 4096,
     'generating the tenant key pair (hsm_key) needs CKM_RSA_PKCS_KEY_PAIR_GEN: CKM_RSA_PKCS_KEY_PAIR_GEN allows '
     'key sizes 1024 to 3072 only'),
    (without('CKM_SHA256_RSA_PKCS_PSS'), ['acl'], 2048,
     'proving the copy signs as the key (key_acl) needs CKM_SHA256_RSA_PKCS_PSS: CKM_SHA256_RSA_PKCS_PSS is not '
     'offered'),
    (without('x', CKM_AES_KEY_GEN=(F['CKF_GENERATE'], 16, 24)), ['acl'], 2048,
     'the session key of the copy (key_acl) needs CKM_AES_KEY_GEN: CKM_AES_KEY_GEN allows key sizes 16 to 24 only'),
])
def test_what_is_missing_is_named(offered, steps, size, said):
    problems = caps.check(offered, steps, size)[0]
    assert problems == [said]


def test_sizes_the_library_does_not_state_and_aes_in_bits():
    offered = dict(EVERYTHING, CKM_RSA_PKCS_KEY_PAIR_GEN=(F['CKF_GENERATE_KEY_PAIR'], None, None),
                   CKM_AES_KEY_GEN=(F['CKF_GENERATE'], 128, 256))
    assert caps.check(offered, caps.STEPS, 4096)[0] == []


def test_softhsm2_offers_what_every_step_needs(softhsm):
    with Hsm() as hsm:
        got = caps.survey(hsm, 'no-such-token-yet', caps.STEPS, 4096)
    assert got['problems'] == [] and got['slot'] == 'free'
    # the free slot is what is read: its maker, and its flags (no PIN flag of it counts, SoftHSM2 reports its SO
    # PIN locked there)
    assert got['token']['manufacturer'] == 'SoftHSM project' and not got['token']['initialized']
    assert 'CKF_RNG' in got['token_flags']
    assert got['chosen'] == {'aes_key_wrap_pad': {'acl': 'CKM_AES_KEY_WRAP_PAD', 'package': 'CKM_AES_KEY_WRAP_PAD'}}
    assert got['rsa_aes_key_wrap'] is False
    assert 'CKF_WRAP' in got['mechanisms']['CKM_AES_KEY_WRAP_PAD']['flags']
    # PyKCS11 1.5.20 adds CKM_ML_DSA (0x1D) to every list it returns; the library's own list is read
    assert 'CKM_ML_DSA' not in got['mechanisms']


def test_a_world_token_is_read_and_its_flags_checked(world):
    with Hsm() as hsm:
        got = caps.survey(hsm, world.token_label, caps.STEPS, 2048)
    assert got['problems'] == [] and got['slot'] == 'token' and got["token"]["label"] == world.token_label
    assert 'CKF_TOKEN_INITIALIZED' in got['token_flags'] and 'CKF_USER_PIN_INITIALIZED' in got['token_flags']


def test_tpm2_pkcs11_lacks_the_wrapping_mechanisms(tpm2_pkcs11):
    """A real second implementation: tpm2-pkcs11 1.9 over swtpm generates RSA keys up to 3072 bits but offers no
    RSA-OAEP wrap and no AES key wrap at all, and does not list RSA-PSS."""
    library = tpm2_pkcs11[0]
    with Hsm(library) as hsm:
        got = caps.survey(hsm, 'world', caps.STEPS, 2048)
        key_only = caps.survey(hsm, 'world', ['key'], 2048)
        too_big = caps.survey(hsm, 'world', ['key'], 4096)
    assert got['slot'] == 'free' and key_only['problems'] == []
    problems = ' | '.join(got['problems'])
    assert 'CKM_RSA_PKCS_OAEP lacks CKF_WRAP' in problems
    assert 'CKM_AES_KEY_WRAP_KWP is not offered; CKM_AES_KEY_WRAP_PAD is not offered' in problems
    assert 'CKM_SHA256_RSA_PKCS_PSS is not offered' in problems
    assert too_big['problems'] == ['generating the tenant key pair (hsm_key) needs CKM_RSA_PKCS_KEY_PAIR_GEN: '
                                   'CKM_RSA_PKCS_KEY_PAIR_GEN allows key sizes 1024 to 3072 only']


def test_labels_are_blank_padded_and_rfc7512_uris_name_tokens(world, softhsm):
    """security_world writes the label blank-padded to 32 bytes: p11tool (p11-kit's URIs) prints the token as
    token=<label>, not token=<label>%00%00...; and the URI it prints names the token wherever token_label is taken."""
    import os
    import shutil
    import subprocess
    from ansible_collections.keyceremony.byok.plugins.module_utils._errors import HsmError
    from ansible_collections.keyceremony.byok.plugins.module_utils._hsm import check_token_match, token_ref
    from ansible_collections.keyceremony.byok.plugins.module_utils._values import token_uri_secrets
    from ansible_collections.keyceremony.byok.plugins.module_utils._world import WorldContext
    with Hsm() as hsm:
        token = hsm.find_token(world.token_label)
        assert hsm.lib.getTokenInfo(token.slot).label == world.token_label.ljust(32)
        library = hsm.module_path
    if not shutil.which('p11tool'):
        pytest.skip('needs p11tool (gnutls-bin): make setup installs it')
    listed = subprocess.run(['p11tool', '--provider', library, '--list-token-urls'], capture_output=True, text=True,
                            env=dict(os.environ), check=True).stdout.split()
    uri, = [u for u in listed if ';token=%s' % world.token_label in u]
    assert uri.endswith(';token=%s' % world.token_label) and '%00' not in uri
    assert token_ref(uri) == (world.token_label, {'serial': token.serial, 'manufacturer': 'SoftHSM project',
                                                  'model': 'SoftHSM v2'})
    with Hsm() as hsm:
        assert WorldContext(hsm, world.dir, uri).token.serial == token.serial
        other = uri.replace('serial=%s' % token.serial, 'serial=0000000000000000')
        with pytest.raises(HsmError, match="token 'w1' has serial '%s', but pkcs11:.*serial=0000000000000000.* names "
                                           "serial '0000000000000000'" % token.serial):
            WorldContext(hsm, world.dir, other)
        # the mechanism check reads the token a URI names, not the free slot
        got = caps.survey(hsm, uri, caps.STEPS, 2048)
        assert got['slot'] == 'token' and got['token']['serial'] == token.serial and got['problems'] == []
        with pytest.raises(HsmError, match='is not the token'):
            caps.survey(hsm, other, caps.STEPS, 2048)
    # percent-encoding, ignored query and library attributes; refused: no token=, an attribute twice, no '='
    assert token_ref('pkcs11:token=My%20World') == ('My World', {})
    # a token made before labels were blank-padded: p11tool prints its NUL bytes as %00
    assert token_ref('pkcs11:serial=1;token=w1%00%00%00') == ('w1', {'serial': '1'})
    for bad, said in (('pkcs11:serial=1', 'without token='), ('pkcs11:token=a;token=b', 'names token twice'),
                      ('pkcs11:token=%FF', 'not UTF-8')):
        with pytest.raises(HsmError, match=said):
            token_ref(bad)
    # any other part is refused, and the URI (which may carry a PIN) is never in the message
    hidden = 'it is not shown here'
    for bad in ('pkcs11:token', 'pkcs11:token=a;serail=1', 'pkcs11:token=a;library-manufacturer=SafeNet',
                'pkcs11:token=a;slot-id=3', 'pkcs11:token=a?module-path=/opt/lib.so', 'pkcs11:token=a?serial=1',
                'pkcs11:?token=a', 'pkcs11:serial=1;&token=a', 'pkcs11:&',
                'pkcs11:token=a?pin-value=secret-pin', 'pkcs11:token=a;pin-value=secret-pin',
                'pkcs11:token=a;PIN-VALUE=secret-pin', 'pkcs11:token=a;pin%2Dvalue=secret-pin',
                'pkcs11:token=a; pin-value=secret-pin', 'pkcs11:token=a;pin=secret-pin',
                'pkcs11:token=a;pin-value=secret;pin&x', 'PKCS11:token=a;pin-value=secret-pin',
                ' pkcs11:token=a;pin-value=secret-pin', 'pkcs11:token=a;pin-value=secret-pin\n',
                'pkcs11:pin-source=file:secret-pin;token=a'):
        with pytest.raises(HsmError, match=hidden) as raised:
            token_ref(bad)
        assert 'secret' not in str(raised.value) and 'pin' not in str(raised.value).replace('PIN', '').lower()
        assert token_uri_secrets(bad) == [bad]
    assert token_uri_secrets(uri) == [] and token_uri_secrets('w1') == [] and token_uri_secrets(None) == []
    with pytest.raises(HsmError, match='not UTF-8'):
        token_ref('pkcs11:token=\udcff')
    check_token_match(token, {}, world.token_label)


def test_rfc5649_is_checked_by_a_known_answer_before_pad_is_used(world, monkeypatch):
    """SoftHSM2 2.6.1's CKM_AES_KEY_WRAP_PAD pads with zero bytes to a multiple of 8 before RFC 5649 (known,
    docs/hsm.md); a library whose PAD gives other bytes again is refused before a key is wrapped with it."""
    import PyKCS11
    from ansible_collections.keyceremony.byok.plugins.module_utils._errors import HsmError
    from ansible_collections.keyceremony.byok.plugins.module_utils._world import WorldContext
    with Hsm() as hsm:
        with WorldContext(hsm, world.dir).user_session() as s:
            assert s.aes_key_wrap_pad().to_native().mechanism == PyKCS11.CKM_AES_KEY_WRAP_PAD
            assert s.kwp_check == 'zero-padded'
            # the known-answer test's objects are gone with it
            labels = [s.attributes(o, ['CKA_LABEL'])['CKA_LABEL'] for o in s.find([])]
            assert not [x for x in labels if x and x.startswith('rfc5649-check')]
        with WorldContext(hsm, world.dir).user_session() as s:
            real_wrap = s.raw.wrapKey

            def pkcs7_padded(*args, **kwargs):
                return list(real_wrap(*args, **kwargs))[:-8] + [0] * 8
            monkeypatch.setattr(s.raw, 'wrapKey', pkcs7_padded)
            for attempt in range(2):  # nothing is taken as checked after a failure
                with pytest.raises(HsmError, match=r"CKM_AES_KEY_WRAP_PAD of .*libsofthsm2.so does not give RFC "
                                                   r"5649's bytes \(a known-answer test failed\)"):
                    s.aes_key_wrap_pad()
            labels = [s.attributes(o, ['CKA_LABEL'])['CKA_LABEL'] for o in s.find([])]
            assert not [x for x in labels if x and x.startswith('rfc5649-check')]


def test_a_session_takes_kwp_where_offered_and_says_when_pad_went_untested(world, monkeypatch):
    """The session's own choice: KWP offered for the use is taken without a known-answer test; a library whose
    policy refuses the test's objects leaves PAD untested, and says so ('not run'); any other error fails."""
    import PyKCS11
    from ansible_collections.keyceremony.byok.plugins.module_utils._errors import HsmError
    from ansible_collections.keyceremony.byok.plugins.module_utils._world import WorldContext
    with Hsm() as hsm:
        real = hsm.mechanisms
        monkeypatch.setattr(hsm, 'mechanisms', lambda slot: dict(
            real(slot), CKM_AES_KEY_WRAP_KWP=(F['CKF_WRAP'], 1, None)))
        with WorldContext(hsm, world.dir).user_session() as s:
            assert s.aes_key_wrap_pad().to_native().mechanism == PyKCS11.CKM_AES_KEY_WRAP_KWP
            assert s.kwp_check == 'kwp'
            # KWP cannot unwrap here: the copy takes PAD, known-answer tested
            assert s.aes_key_wrap_pad(unwrap=True).to_native().mechanism == PyKCS11.CKM_AES_KEY_WRAP_PAD
            assert s.kwp_check == 'zero-padded'
        monkeypatch.setattr(hsm, 'mechanisms', real)
        for code, outcome in ((PyKCS11.CKR_TEMPLATE_INCONSISTENT, 'not run'),
                              (PyKCS11.CKR_DEVICE_ERROR, 'CKR_DEVICE_ERROR')):
            with WorldContext(hsm, world.dir).user_session() as s:
                def refused(template, code=code):
                    raise PyKCS11.PyKCS11Error(code)
                monkeypatch.setattr(s.raw, 'createObject', refused)
                if outcome == 'not run':
                    s.aes_key_wrap_pad()
                    assert s.kwp_check == 'not run'
                else:
                    with pytest.raises(HsmError, match=outcome):
                        s.aes_key_wrap_pad()


def test_the_free_slot_is_read_as_a_token(softhsm):
    """Before the world exists: a URI's maker is checked on the free slot, a serial for a token not made yet is a
    problem, and a write-protected free slot, or one without a random number generator, is refused."""
    from ansible_collections.keyceremony.byok.plugins.module_utils._errors import HsmError
    with Hsm() as hsm:
        got = caps.survey(hsm, 'pkcs11:model=SoftHSM%20v2;manufacturer=SoftHSM%20project;token=new-world',
                          caps.STEPS)
        assert got['problems'] == [] and got['slot'] == 'free'
        with pytest.raises(HsmError, match="the free slot .* has manufacturer 'SoftHSM project', but .* names "
                                           "manufacturer 'Thales'"):
            caps.survey(hsm, 'pkcs11:manufacturer=Thales;token=new-world', caps.STEPS)
        got = caps.survey(hsm, 'pkcs11:serial=0123;token=new-world', caps.STEPS)
        assert got['problems'] == ["token_label names a serial, but token 'new-world' does not exist yet"]
        free = hsm.free_token()
    T = caps.TOKEN_FLAGS
    free.flags = T['CKF_WRITE_PROTECTED'] | T['CKF_SO_PIN_LOCKED']
    assert caps.token_problems(free) == [
        'the free slot %s is write-protected (CKF_WRITE_PROTECTED): no key can be made on it' % free.slot,
        'the free slot %s has no random number generator (CKF_RNG): it cannot generate keys' % free.slot]
    free.flags, free.initialized, free.label = T['CKF_RNG'] | T['CKF_USER_PIN_LOCKED'], True, 'w'
    assert caps.token_problems(free) == ["the user PIN of token 'w' is locked (CKF_USER_PIN_LOCKED)"]
