# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The HSM floor of `make bench`: the key operations of a ceremony alone, on a SoftHSM2 token.

For each RSA size: generation of the tenant key (``_keys.generate_rsa``, the ceremony's own
template), and the two-step CKM_RSA_AES_KEY_WRAP that carries it: wrap (the key under a fresh
AES-256 key with CKM_AES_KEY_WRAP_PAD, then the AES key under the tenant's RSA-3072 KEK with
RSA-OAEP, as ``_byok.build_package`` does) and unwrap (the same two steps backwards inside the
receiving HSM, as ``_byok.unwrap_package`` does). The wrapped key is a session copy that may be
wrapped by an untrusted key: the floor measures the mechanisms, not the trust rules.

    python bench/keys.py --work DIR [--sizes 2048,3072,4096] [--runs 5]

Prints one JSON object: {"generate": {"2048": [s, ...]}, "wrap": {...}, "unwrap": {...}}.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import argparse
import json
import os
import sys
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO_ROOT, '.collections'))

# pylint: disable=wrong-import-position
from ansible_collections.keyceremony.byok.plugins.module_utils import _byok, _hsm, _keys  # noqa: E402
from ansible_collections.keyceremony.byok.plugins.module_utils._hsm import (  # noqa: E402
    Hsm, attribute_template, constant, mechanism, oaep_sha1)
from ansible_collections.keyceremony.byok.tests.unit.helpers import SoftHsm  # noqa: E402

SO_PIN, USER_PIN = 'bench-so-pin-0001', 'bench-user-pin-0001'
KEK_SIZE = 3072


def timed(fn):
    start = time.time()
    value = fn()
    return time.time() - start, value


def session_rsa(session, label, size):
    """An RSA pair as session objects, the private key extractable (the copy being carried)."""
    common = [('CKA_KEY_TYPE', constant('CKK_RSA')), ('CKA_TOKEN', False), ('CKA_LABEL', label)]
    public = [('CKA_CLASS', constant('CKO_PUBLIC_KEY')), ('CKA_MODULUS_BITS', size),
              ('CKA_PUBLIC_EXPONENT', (1, 0, 1)), ('CKA_WRAP', True)] + common
    private = [('CKA_CLASS', constant('CKO_PRIVATE_KEY')), ('CKA_PRIVATE', True), ('CKA_SENSITIVE', True),
               ('CKA_EXTRACTABLE', True), ('CKA_UNWRAP', True)] + common
    public_handle, private_handle = session.call('bench RSA %d' % size, session.raw.generateKeyPair,
                                                 attribute_template(public), attribute_template(private),
                                                 mecha=mechanism('CKM_RSA_PKCS_KEY_PAIR_GEN'))
    return private_handle, public_handle


def measure(sizes, runs):
    out = {'generate': {}, 'wrap': {}, 'unwrap': {}}
    with Hsm() as hsm:
        hsm.init_token(hsm.free_slot(), 'bench-floor', SO_PIN)
        with hsm.session('bench-floor', login=_hsm.SO, pin=SO_PIN, rw=True) as so:
            so.init_user_pin(USER_PIN)
        with hsm.session('bench-floor', login=_hsm.USER, pin=USER_PIN, rw=True) as session:
            kek_private, kek_public = session_rsa(session, 'bench-kek', KEK_SIZE)
            aes_template = [('CKA_CLASS', constant('CKO_SECRET_KEY')), ('CKA_KEY_TYPE', constant('CKK_AES')),
                            ('CKA_VALUE_LEN', 32), ('CKA_TOKEN', False), ('CKA_WRAP', True),
                            ('CKA_EXTRACTABLE', True), ('CKA_SENSITIVE', True)]
            for size in sizes:
                gen, wrap, unwrap = [], [], []
                for run in range(runs):
                    label = 'bench-%d-%d' % (size, run)
                    seconds = timed(lambda: _keys.generate_rsa(session, label, size, 65537))[0]
                    gen.append(seconds)
                    carried = session_rsa(session, label + '-copy', size)[0]
                    private_template = [('CKA_CLASS', 'CKO_PRIVATE_KEY'), ('CKA_KEY_TYPE', 'CKK_RSA'),
                                        ('CKA_TOKEN', False), ('CKA_PRIVATE', True), ('CKA_SENSITIVE', True),
                                        ('CKA_SIGN', True), ('CKA_LABEL', label + '-in')]

                    def two_step_wrap():
                        package_key = session.generate_key('bench package key', aes_template)
                        kwp = session.wrap('bench wrap KWP', package_key, carried, mechanism('CKM_AES_KEY_WRAP_PAD'))
                        oaep = session.wrap('bench wrap OAEP', kek_public, package_key, oaep_sha1())
                        session.destroy('bench', package_key)
                        return oaep, kwp

                    seconds, (oaep, kwp) = timed(two_step_wrap)
                    wrap.append(seconds)

                    def two_step_unwrap():
                        aes = session.unwrap('bench unwrap OAEP', kek_private, oaep, _byok.resolve(_byok.AES_SESSION_KEY),
                                             oaep_sha1())
                        key = session.unwrap('bench unwrap KWP', aes, kwp, _byok.resolve(private_template),
                                             mechanism('CKM_AES_KEY_WRAP_PAD'))
                        session.destroy('bench', aes)
                        return key

                    seconds, key = timed(two_step_unwrap)
                    unwrap.append(seconds)
                    if session.rsa_public_numbers(key)[0] != session.rsa_public_numbers(carried)[0]:
                        raise SystemExit('keys: the unwrapped key is not the wrapped one')
                    session.destroy('bench', key)
                    session.destroy('bench', carried)
                out['generate'][str(size)], out['wrap'][str(size)], out['unwrap'][str(size)] = gen, wrap, unwrap
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--work', required=True, help='an empty or absent folder for the SoftHSM2 token')
    parser.add_argument('--sizes', default='2048,3072,4096')
    parser.add_argument('--runs', type=int, default=5)
    args = parser.parse_args()
    os.environ['SOFTHSM2_CONF'] = SoftHsm(os.path.abspath(args.work)).conf
    print(json.dumps(measure([int(s) for s in args.sizes.split(',')], args.runs)))


if __name__ == '__main__':
    main()
