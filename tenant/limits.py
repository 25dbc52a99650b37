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

What is counted is bounded: Connect's user names are at most 256 characters (the request's model)
and the token endpoint refuses a client_id that is not a GUID before it is counted; an IPv6
client is counted by its /64 (a host can take any address of its network); and at most MAX_KEYS
names and MAX_KEYS addresses are kept, the one whose last failure is oldest forgotten first.
Each time a name or an address reaches its limit, one line says so on stderr (the service's
log): never a password, and a user name only when it is an administrator's (a mistyped password
often lands in the user name field).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import ipaddress
import math
import sys
import time

import anyio


MAX_KEYS = 10000  # names, and addresses, whose failures are kept (each); past that the oldest are forgotten


def address_key(host):
    """What a client's failures are counted under: an IPv4 address as it is (also one mapped into IPv6), an IPv6
    address by its /64, anything else (no IP address) cut to 64 characters."""
    try:
        ip = ipaddress.ip_address(host.split('%', 1)[0])  # without an IPv6 scope (fe80::1%eth0)
    except ValueError:
        return host[:64]
    if ip.version == 6:
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network((ip, 64), strict=False))
    return str(ip)


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

    At most ``max_keys`` names and as many addresses are kept (their failures in the window); past that, the name
    or address whose last failure is oldest is forgotten, so memory stays bounded whatever clients send (the
    attempts under way are kept only while they last). ``label`` and ``name_kind`` say in the log what locked
    ('Connect', 'user name'); ``shown(name)`` is the name as the log may show it, or None to leave it out.
    """

    WAIT = 30  # seconds an attempt waits for those under way for the same name or address

    def __init__(self, limits=None, clock=time.monotonic, label='sign-in', name_kind='user name', shown=None,
                 max_keys=MAX_KEYS, log=None):
        self.limits = limits or Limits()
        self.clock = clock
        self.label = label
        self.name_kind = name_kind
        self.shown = shown or (lambda name: None)
        self.max_keys = max_keys
        self.log = log or _stderr
        # scope ('name' or 'address') -> value -> times of its last failures (at most its limit of them), in the
        # order of their last failure: the first is the one to forget when there are too many
        self._failures = {'name': {}, 'address': {}}
        self._pending = {}  # (scope, value) -> attempts under way
        self._pruned = clock()
        self._forgot = None  # when the log last said that counts were forgotten

    def _keys(self, name, address):
        return ((('name', name), self.limits.per_name), (('address', address), self.limits.per_address))

    def _limit(self, scope):
        return self.limits.per_name if scope == 'name' else self.limits.per_address

    def _count(self, key):
        return len(self._failures[key[0]].get(key[1], ()))

    def _recent(self, key, now):
        kept = self._failures[key[0]]
        times = [t for t in kept.get(key[1], ()) if t > now - self.limits.window]
        if times:
            kept[key[1]] = times  # in place: its order is that of its last failure
        else:
            kept.pop(key[1], None)
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
            if all(self._count(key) + self._pending.get(key, 0) < limit for key, limit in keys):
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
            self._failures['name'].pop(attempt[0][1], None)
        elif ok is not None:
            for key in attempt:
                limit = self._limit(key[0])
                times = (self._recent(key, now) + [now])[-limit:]
                kept = self._failures[key[0]]
                kept.pop(key[1], None)
                kept[key[1]] = times  # now the last to be forgotten
                if len(times) == limit:
                    self._locked(key, times, now)
                self._bound(key[0], now)
        if now - self._pruned > 60:
            self._pruned = now
            for scope, kept in self._failures.items():
                for value in list(kept):
                    self._recent((scope, value), now)

    def _bound(self, scope, now):
        kept = self._failures[scope]
        forgotten = 0
        while len(kept) > self.max_keys:
            del kept[next(iter(kept))]
            forgotten += 1
        if forgotten and (self._forgot is None or now - self._forgot > 60):
            self._forgot = now
            self.log('%s: failed sign-ins of more than %d %s in %s: the oldest counts are forgotten (memory is '
                     'bounded), so a limit may end early; look for a spray of guesses' % (
                         self.label, self.max_keys, 'addresses' if scope == 'address' else self.name_kind + 's',
                         _span(self.limits.window)))

    def _locked(self, key, times, now):
        """One line in the log when a name or address reaches its limit (no password; a name only if shown)."""
        until = TooMany(key[0], len(times), self.limits.window, times[0] + self.limits.window - now)
        if key[0] == 'address':
            who, whom = 'address %s' % (key[1] or 'unknown'), 'from it'
        else:
            shown = self.shown(key[1])
            who = ('%s %r' % (self.name_kind, shown) if shown is not None else
                   'an unknown %s (not shown: it may be a mistyped password)' % self.name_kind)
            whom = 'for it'
        self.log('%s: %s locked: %d failed sign-ins in %s; every sign-in %s gets 429 until %s (in %d s), or until '
                 'the service is restarted' % (self.label, who, len(times), _span(self.limits.window), whom,
                                               until.retry_at, until.retry_after))


def _stderr(line):
    try:
        sys.stderr.write('byok-tenant: %s\n' % line)
        sys.stderr.flush()
    except (OSError, ValueError):
        pass  # no log to write to: the limit holds all the same
