# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The ceremony journal: one JSON record a line, each holding the hash of the one before.

A record: ``seq``, ``time``, ``host``, ``user``, ``module``, ``outcome`` (changed, failed),
``asked`` (the options, with every secret option left out), ``result`` (ids, fingerprints,
file hashes) or ``error``, ``prev`` and ``hash`` (SHA-256 of the canonical record without
``hash``), and ``repaired`` when the append before it was cut off (see ``_recover``). A side
file ``<journal>.head`` holds the count and last hash, so that removing the last records is
detected too. Nothing secret is ever written here: callers pass only
options whose spec is not ``no_log``, and results that hold no secret.

The chain has no key: it detects accidental damage and edits by anyone who cannot rewrite the
whole file (and its head). What makes it tamper-evident is outside the file: the head hash,
read aloud and signed by the witnesses on the transcript (head_forms()), which a later check
(leads_to()) finds again in the chain, or not.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import errno
import getpass
import hashlib
import json
import os
import socket

from ansible_collections.keyceremony.byok.plugins.module_utils._errors import ByokError
from ansible_collections.keyceremony.byok.plugins.module_utils._files import (
    FILE_MODE, canonical_json, locked, read_json, write_private_json)
from ansible_collections.keyceremony.byok.plugins.module_utils._words import from_words, to_words

GENESIS = '0' * 64
JOURNAL_NAME = 'journal.jsonl'


def record_hash(record):
    body = dict((k, v) for k, v in record.items() if k != 'hash')
    return hashlib.sha256(canonical_json(body)).hexdigest()


def link_problem(record, seq, prev):
    """Why ``record`` is not record ``seq`` following the record whose hash is ``prev``; None if it is."""
    if not isinstance(record, dict) or record.get('seq') != seq:
        return 'record %d is out of sequence' % seq
    if record.get('prev') != prev:
        return 'record %d does not follow record %d (removed, reordered or edited)' % (seq, seq - 1)
    if record.get('hash') != record_hash(record):
        return 'record %d was edited (its hash does not match)' % seq
    return None


def head_forms(hex_hash):
    """The head hash as witnesses read it aloud and sign it: grouped hex and PGP words."""
    return {'head': hex_hash, 'head_grouped': ' '.join(hex_hash[i:i + 8] for i in range(0, 64, 8)),
            'head_words': ' '.join(to_words(bytes.fromhex(hex_hash)))}


def parse_head(text):
    """A head as signed on the witness sheet (hex in any grouping or case, or the PGP words) -> hex."""
    text = (text or '').strip()
    compact = ''.join(c for c in text if c not in ' :-\t\n').lower()
    if len(compact) == 64 and all(c in '0123456789abcdef' for c in compact):
        return compact
    try:
        data = from_words(text)
    except ValueError as e:
        raise ByokError('expect_head is neither 64 hex digits nor the 32 PGP words of a journal head: %s' % e)
    if len(data) != 32:
        raise ByokError('expect_head has %d PGP words; a journal head has 32' % len(data))
    return data.hex()


def leads_to(records, intact, problem, expected):
    """Where the journal meets the head signed on a witness sheet: the record whose hash it is.

    Raises ByokError when the chain is broken or no record of it has that hash (the journal was rewritten since
    the sheet was signed, or the sheet is of another journal).
    """
    if not intact:
        raise ByokError('the journal\'s hash chain is broken (%s), so it cannot lead to the signed head %s'
                        % (problem, expected))
    if expected == GENESIS and not records:
        return 0
    for record in records:
        if record.get('hash') == expected:
            return record['seq']
    raise ByokError('the journal no longer leads to the head signed on the witness sheet (%s): none of its %d '
                    'records has that hash. It was rewritten after the sheet was signed, or the sheet is of another '
                    'journal' % (head_forms(expected)['head_grouped'], len(records)))


class Journal(object):
    def __init__(self, path):
        self.path = os.path.abspath(path)
        self.head_path = self.path + '.head'

    def read(self):
        """(records, intact, problem): every record, and whether the chain holds."""
        if not os.path.exists(self.path):
            if os.path.exists(self.head_path):
                return [], False, 'the journal file is missing'
            return [], True, None
        records = []
        prev = GENESIS
        problem = None
        with open(self.path, 'rb') as f:
            lines = f.read().split(b'\n')
        if lines and lines[-1] == b'':
            lines.pop()
        for n, line in enumerate(lines, 1):
            try:
                record = json.loads(line.decode('utf-8'))
            except (ValueError, UnicodeDecodeError):
                problem = problem or 'record %d is not valid JSON' % n
                continue
            records.append(record)
            if problem:
                continue
            problem = link_problem(record, n, prev)
            if problem is None:
                prev = record['hash']
        if problem is None and not (not records and self._head() is None):  # an empty file and no head: empty
            head = self._head()
            if head is None or head.get('records') != len(records) or head.get('hash') != prev:
                problem = 'the journal ends at record %d but its head says %s' % (
                    len(records), 'nothing' if head is None else 'record %s' % head.get('records'))
        return records, problem is None, problem

    def _head(self):
        if not os.path.exists(self.head_path):
            return None
        try:
            return read_json(self.head_path, 'journal head')
        except ByokError:
            return None

    def _read_own(self):
        """The journal's bytes; refuses a link, and a file that is not a journal (its first line is no first record),
        so that a mistyped ``journal`` option never has a record appended to, or a line removed from, another file."""
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError as e:
            if e.errno == errno.ELOOP:
                raise ByokError('the journal %s is a symbolic link; give the journal file itself' % self.path)
            raise ByokError('cannot read the journal %s: %s' % (self.path, e.strerror))
        with os.fdopen(fd, 'rb') as f:
            data = f.read()
        first, ended, _rest = data.partition(b'\n')
        if first and ended:  # an unterminated first line is what a killed first append leaves: healed, not refused
            try:
                record = json.loads(first.decode('utf-8'))
            except (ValueError, UnicodeDecodeError):
                record = None
            if not isinstance(record, dict) or record.get('seq') != 1 or record.get('prev') != GENESIS:
                raise ByokError('%s is not a ceremony journal (its first line is not a first record); give the path '
                                'of a journal, or of a file that does not exist yet' % self.path)
        return data

    def heal(self, module, asked):
        """Before a run: finish what a killed append left (see _recover), so a run that then changes nothing still
        leaves an intact journal; a removed fragment is recorded at once. Returns the record written, or None."""
        folder = os.path.dirname(self.path)
        if not os.path.lexists(self.path):
            return None
        with locked(folder, '.journal.lock'):
            head, repaired = self._recover(self._head() or {'records': 0, 'hash': GENESIS})
            if repaired is None:
                return None
            return self._append(head, module, 'repaired', asked, None, None, repaired)

    def append(self, module, outcome, asked, result=None, error=None):
        """Append one record under a lock; the line is written whole and flushed to disk."""
        folder = os.path.dirname(self.path)
        if not os.path.isdir(folder):
            return None
        with locked(folder, '.journal.lock'):
            head, repaired = self._recover(self._head() or {'records': 0, 'hash': GENESIS})
            return self._append(head, module, outcome, asked, result, error, repaired)

    def _append(self, head, module, outcome, asked, result, error, repaired):
        record = {
            'seq': head['records'] + 1,
            'time': datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%S.%fZ'),
            'host': socket.gethostname(),
            'user': _user(),
            'module': module,
            'outcome': outcome,
            'asked': asked,
            'prev': head['hash'],
        }
        if result is not None:
            record['result'] = result
        if error is not None:
            record['error'] = error
        if repaired is not None:
            record['repaired'] = repaired
        record['hash'] = record_hash(record)
        line = json.dumps(record, sort_keys=True, separators=(',', ':')).encode('utf-8') + b'\n'
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, FILE_MODE)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)
        write_private_json(self.head_path, {'records': record['seq'], 'hash': record['hash']})
        return record

    def _recover(self, head):
        """Heal what an append cut off (killed, or the machine lost power) left; called under the lock.

        Returns (head to chain from, note for the next record or None). A record is written as one
        line, then the head: so the journal may end with an unterminated fragment of a line that was
        never acknowledged (it is removed, and the next record says so with its size and SHA-256), or
        with one whole record the head does not count yet (the head is brought up to it, as that
        record chains from the head). Anything else is left for read() to report.
        """
        if not os.path.lexists(self.path):
            return head, None
        data = self._read_own()
        repaired = None
        if data and not data.endswith(b'\n'):
            keep = data.rfind(b'\n') + 1
            fragment = data[keep:]
            fd = os.open(self.path, os.O_RDWR | os.O_NOFOLLOW)
            try:
                if _whole_record(fragment, head):
                    os.lseek(fd, 0, os.SEEK_END)
                    os.write(fd, b'\n')  # a whole record that lost only its line end: kept
                    data += b'\n'
                else:
                    os.ftruncate(fd, keep)
                    data = data[:keep]
                    repaired = {'removed_fragment_bytes': len(fragment),
                                'removed_fragment_sha256': hashlib.sha256(fragment).hexdigest()}
                os.fsync(fd)
            finally:
                os.close(fd)
        last = data.rstrip(b'\n').rsplit(b'\n', 1)[-1]
        try:
            record = json.loads(last.decode('utf-8')) if last else None
        except (ValueError, UnicodeDecodeError):
            record = None
        if record is not None and link_problem(record, head['records'] + 1, head['hash']) is None:
            head = {'records': record['seq'], 'hash': record['hash']}
            write_private_json(self.head_path, head)
        return head, repaired


def _whole_record(line, head):
    """Whether ``line`` is a whole record that chains at the head (the last one it counts, or the next)."""
    try:
        record = json.loads(line.decode('utf-8'))
    except (ValueError, UnicodeDecodeError):
        return False
    if not isinstance(record, dict) or record.get('hash') != record_hash(record):
        return False
    return (record.get('seq') == head['records'] and record.get('hash') == head['hash']) or \
        link_problem(record, head['records'] + 1, head['hash']) is None


def _user():
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())


def public_options(argument_spec, params):
    """The options as asked, with every no_log option (and sub-option) left out."""
    out = {}
    for name, spec in argument_spec.items():
        if spec.get('no_log') or name not in params:
            continue
        value = params[name]
        if spec.get('options') and isinstance(value, list):
            value = [public_options(spec['options'], v) if isinstance(v, dict) else v for v in value]
        elif spec.get('options') and isinstance(value, dict):
            value = public_options(spec['options'], value)
        out[name] = value
    return out
