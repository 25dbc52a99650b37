# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The collection's own exceptions. Every message says what to change and never holds a secret."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ByokError(Exception):
    """Base of every error the collection reports to the user."""


class HsmError(ByokError):
    """The PKCS#11 library or the token refused or failed an operation."""

    def __init__(self, msg, ckr=None):
        super(HsmError, self).__init__(msg)
        self.ckr = ckr


class WorldError(ByokError):
    """The security world (descriptor, credential, options) is inconsistent."""


class CardError(WorldError):
    """An administrator card was refused (missing, altered, wrong PIN, other world)."""


class HsmKeyError(ByokError):
    """A key in the HSM does not match what was asked for."""
