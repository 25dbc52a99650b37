# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.keyceremony.byok.plugins.module_utils import _shamir


def test_field_multiplication_has_inverses():
    for a in range(1, 256):
        for b in range(1, 256):
            assert _shamir.gf_div(_shamir.gf_mul(a, b), b) == a


def test_field_matches_aes_known_product():
    # FIPS-197 section 4.2: {57} x {83} = {c1}
    assert _shamir.gf_mul(0x57, 0x83) == 0xC1


@st.composite
def split_case(draw):
    n = draw(st.integers(min_value=1, max_value=12))
    k = draw(st.integers(min_value=1, max_value=n))
    secret = draw(st.binary(min_size=1, max_size=48))
    subset = draw(st.lists(st.integers(min_value=0, max_value=n - 1), min_size=k, max_size=n, unique=True))
    return secret, k, n, subset


@settings(max_examples=200, deadline=None)
@given(split_case())
def test_any_k_shares_rebuild_the_secret(case):
    secret, k, n, subset = case
    shares = _shamir.split(secret, k, n)
    assert [x for x, share in shares] == list(range(1, n + 1))
    assert _shamir.combine([shares[i] for i in subset]) == secret


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=2, max_value=8), st.binary(min_size=16, max_size=32))
def test_fewer_than_k_shares_do_not_rebuild(k, secret):
    # With k-1 shares every secret is equally likely; 16+ bytes make a chance match impossible in practice.
    shares = _shamir.split(secret, k, k + 1)
    assert _shamir.combine(shares[:k - 1]) != secret


def test_all_three_of_three_subsets():
    secret = b'security officer pin'
    shares = _shamir.split(secret, 2, 3)
    for pair in itertools.combinations(shares, 2):
        assert _shamir.combine(list(pair)) == secret


def test_a_share_off_the_polynomial_changes_the_result():
    secret = b'0123456789abcdef'
    shares = _shamir.split(secret, 2, 3)
    x, y = shares[2]
    bad = (x, bytes([y[0] ^ 1]) + y[1:])
    assert _shamir.combine([shares[0], shares[1], bad]) != secret


@pytest.mark.bad_input
@pytest.mark.parametrize('k,n', [(0, 3), (4, 3), (1, 256)])
def test_split_refuses_impossible_quorums(k, n):
    with pytest.raises(ValueError):
        _shamir.split(b'x', k, n)


@pytest.mark.bad_input
def test_combine_refuses_duplicate_and_mismatched_shares():
    shares = _shamir.split(b'abcdef', 2, 3)
    with pytest.raises(ValueError, match='twice'):
        _shamir.combine([shares[0], shares[0]])
    with pytest.raises(ValueError, match='lengths'):
        _shamir.combine([shares[0], (2, b'ab')])
    with pytest.raises(ValueError):
        _shamir.combine([])
