# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Failed sign-ins, counted: Connect's user names and the token endpoint's client IDs.

A sliding window per name (known or not, so that the answer says nothing about which names
exist) and per client address, kept in the service's memory: one process serves, the counts
need no durability (a restart, which only the operator can do, clears them), and nothing a
client sends is written to disk before it has proved a secret. Attempts under way count
against the limits too, so a burst of parallel guesses gets no further than a sequence would.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import math
import time

import anyio


class Limits(object):
    """How many failed sign-ins a name and an address may have in ``window`` seconds."""

    def __init__(self, per_name=5, per_address=20, window=900):
        for option, value in (('failures per user', per_name), ('failures per address', per_address),
                              ('failure window', window)):
            if not isinstance(value, (int, float)) or value < 1:
                raise ValueError('the login %s must be a number of at least 1, not %r' % (option, value))
        self.per_name = int(per_name)
        self.per_address = int(per_address)
        self.window = window

    def describe(self):
        return '%d failures per user, %d per address, in %d s' % (self.per_name, self.per_address, self.window)


class TooMany(Exception):
    """A limit is reached: no attempt until ``retry_after`` seconds from now."""

    def __init__(self, scope, limit, window, retry_after):
        super(TooMany, self).__init__(scope)
        self.scope = scope  # 'name' or 'address'
        self.limit = limit
        self.window = window
        self.retry_after = max(1, int(math.ceil(retry_after)))
        self.retry_at = (datetime.datetime.now(datetime.timezone.utc)
                         + datetime.timedelta(seconds=self.retry_after)).strftime('%Y-%m-%dT%H:%M:%SZ')

    def describe(self, what, name='user name'):
        """'too many failed <what> for this <name>: 5 in 15 minutes; retry after <time> (in N s)'."""
        return 'too many failed %s %s: %d in %s; retry after %s (in %d s)' % (
            what, 'for this ' + name if self.scope == 'name' else 'from this address', self.limit, _span(self.window),
            self.retry_at, self.retry_after)


class Busy(Exception):
    """Attempts for the same name or address under way did not finish in time."""


def _span(seconds):
    return '%d minutes' % (seconds // 60) if seconds % 60 == 0 and seconds >= 120 else '%d s' % seconds


class FailureLimiter(object):
    """Admits sign-in attempts and counts their failures; every call is made on the event loop (no lock needed).

    ``attempt = await admit(name, address)`` raises TooMany when the name or the address has had its limit of
    failures in the window, or once the attempts under way would reach it; ``done(attempt, ok)`` then counts a
    failure (ok False), forgets the name's failures (ok True: it proved its secret; the address keeps its count),
    or only ends the attempt (ok None: the server failed, not the client).
    """

    WAIT = 30  # seconds an attempt waits for those under way for the same name or address

    def __init__(self, limits=None, clock=time.monotonic):
        self.limits = limits or Limits()
        self.clock = clock
        self._failures = {}  # (scope, value) -> times of its last failures, at most its limit of them
        self._pending = {}  # (scope, value) -> attempts under way
        self._pruned = clock()

    def _keys(self, name, address):
        return ((('name', name), self.limits.per_name), (('address', address), self.limits.per_address))

    def _recent(self, key, now):
        times = [t for t in self._failures.get(key, ()) if t > now - self.limits.window]
        if times:
            self._failures[key] = times
        else:
            self._failures.pop(key, None)
        return times

    def refusal(self, name, address):
        """TooMany for the limit that ends last, or None."""
        now = self.clock()
        worst = None
        for key, limit in self._keys(name, address):
            times = self._recent(key, now)
            if len(times) >= limit:
                wait = times[len(times) - limit] + self.limits.window - now
                if worst is None or wait > worst.retry_after:
                    worst = TooMany(key[0], limit, self.limits.window, wait)
        return worst

    async def admit(self, name, address):
        deadline = self.clock() + self.WAIT
        while True:
            refused = self.refusal(name, address)
            if refused is not None:
                raise refused
            keys = self._keys(name, address)
            if all(len(self._failures.get(key, ())) + self._pending.get(key, 0) < limit for key, limit in keys):
                for key, _limit in keys:
                    self._pending[key] = self._pending.get(key, 0) + 1
                return tuple(key for key, _limit in keys)
            if self.clock() > deadline:
                raise Busy()
            await anyio.sleep(0.02)

    def done(self, attempt, ok):
        now = self.clock()
        for key in attempt:
            left = self._pending.get(key, 0) - 1
            if left > 0:
                self._pending[key] = left
            else:
                self._pending.pop(key, None)
        if ok:
            self._failures.pop(attempt[0], None)
        elif ok is not None:
            for key in attempt:
                limit = self.limits.per_name if key[0] == 'name' else self.limits.per_address
                self._failures[key] = (self._recent(key, now) + [now])[-limit:]
        if now - self._pruned > 60:
            self._pruned = now
            for key in list(self._failures):
                self._recent(key, now)
