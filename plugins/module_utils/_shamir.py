# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Shamir secret sharing over GF(256), byte by byte (the field of AES: x^8 + x^4 + x^3 + x + 1).

Shares are numbered 1..n (x = 0 is the secret itself). Integrity is not this file's job:
the caller authenticates each share (card AEAD) and checks the combined secret.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import secrets

MAX_SHARES = 255


def _tables():
    exp = [0] * 512
    log = [0] * 256
    x = 1
    for i in range(255):
        exp[i] = x
        log[x] = i
        # multiply by the generator 3: x*2 xor x, reduced by the AES polynomial
        x2 = (x << 1) ^ (0x11B if x & 0x80 else 0)
        x = x2 ^ x
    for i in range(255, 512):
        exp[i] = exp[i - 255]
    return exp, log


_EXP, _LOG = _tables()


def gf_mul(a, b):
    if a == 0 or b == 0:
        return 0
    return _EXP[_LOG[a] + _LOG[b]]


def gf_div(a, b):
    if b == 0:
        raise ZeroDivisionError('division by zero in GF(256)')
    if a == 0:
        return 0
    return _EXP[(_LOG[a] - _LOG[b]) % 255]


def _eval(coeffs, x):
    """Horner evaluation of the polynomial with ``coeffs`` (constant first) at ``x``."""
    y = 0
    for c in reversed(coeffs):
        y = gf_mul(y, x) ^ c
    return y


def split(secret, k, n):
    """Split ``secret`` (bytes) into ``n`` shares of which any ``k`` rebuild it.

    Returns a list of (x, share_bytes) with x = 1..n.
    """
    if not isinstance(secret, bytes) or not secret:
        raise ValueError('the secret must be non-empty bytes')
    if not 1 <= k <= n <= MAX_SHARES:
        raise ValueError('need 1 <= k <= n <= %d, got k=%d n=%d' % (MAX_SHARES, k, n))
    shares = [bytearray() for i in range(n)]
    for byte in bytearray(secret):
        coeffs = [byte] + [secrets.randbelow(256) for i in range(k - 1)]
        for i in range(n):
            shares[i].append(_eval(coeffs, i + 1))
    return [(i + 1, bytes(s)) for i, s in enumerate(shares)]


def combine(shares):
    """Rebuild the secret from (x, share_bytes) pairs by Lagrange interpolation at x = 0.

    Every share given takes part, so a share off the polynomial changes the result (and the
    caller's check catches it) instead of being silently ignored.
    """
    if not shares:
        raise ValueError('no shares given')
    xs = [x for x, share in shares]
    if len(set(xs)) != len(xs):
        raise ValueError('the same share number was given twice')
    if any(not 1 <= x <= MAX_SHARES for x in xs):
        raise ValueError('share numbers must be 1..%d' % MAX_SHARES)
    length = len(shares[0][1])
    if any(len(share) != length for x, share in shares):
        raise ValueError('shares have different lengths')
    # Lagrange basis at 0: l_i = prod_{j != i} x_j / (x_j - x_i); subtraction is xor.
    basis = []
    for i, xi in enumerate(xs):
        num, den = 1, 1
        for j, xj in enumerate(xs):
            if i != j:
                num = gf_mul(num, xj)
                den = gf_mul(den, xj ^ xi)
        basis.append(gf_div(num, den))
    out = bytearray(length)
    for (x, share), li in zip(shares, basis):
        for pos, y in enumerate(bytearray(share)):
            out[pos] ^= gf_mul(y, li)
    return bytes(out)
