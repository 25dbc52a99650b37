# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The witnesses' sheet: the journals of a ceremony, as one page to read aloud and sign.

The one reader of journals for the sheet and the one writer of the sheet (Markdown and HTML).

* **Which records.** A journal may hold several ceremonies (a BYOK ceremony, a migration months
  later). Each playbook's first task (ceremony_preflight) records the ceremony's name. The
  ceremony at hand starts at the first preflight record of its name after the last boundary:
  a preflight record of another ceremony, or a verified possession proof (tenant_key_info), which
  is how a ceremony ends. Its runs before the activation (a failure, a corrected input) belong to
  it. Without any preflight record the whole journal is the ceremony.
* **Each value once.** Every fingerprint, hash and identifier a record names (asked or found) is
  sorted into what it is (the tenant key's fingerprint, the KEK's, the root hash...). A value is
  shown once, in grouped hex, with every place it was asked for or found. A value that a later
  run replaced *at the same place* (the same host, step and field) is a corrected input, shown as
  such; two values that stand side by side are a MISMATCH.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re
import unicodedata

from ansible_collections.keyceremony.byok.plugins.module_utils._values import group_hash, normalize_sha256
from ansible_collections.keyceremony.byok.plugins.module_utils._errors import ByokError

try:
    from html import escape as _html_escape
except ImportError:  # pragma: no cover - Python 2
    from cgi import escape as _html_escape

# (kind, what it is): the order of the sheet
KINDS = (
    ('root', 'Vendor root hash (pinned out of band, found in the toolset)'),
    ('kek', 'KEK fingerprint (SPKI SHA-256)'),
    ('kek_kid', 'KEK identifier'),
    ('key', 'Tenant key fingerprint (SPKI SHA-256)'),
    ('key_id', 'Tenant key identifier at the tenant'),
    ('vault_key', 'Key Vault key identifier'),
    ('slc', 'AD RMS server licensor key fingerprint (SPKI SHA-256)'),
    ('tpd', 'Trusted publishing domain'),
    ('archived_key', 'Key of an archived TPD (SPKI SHA-256)'),
    ('archived_key_id', 'Key identifier of an archived TPD at the tenant'),
    ('archived_slc', 'Server licensor key of an archived TPD (SPKI SHA-256)'),
    ('other_key', 'Another key of the HSM, not the one packaged (SPKI SHA-256)'),
    ('package', 'Transfer package SHA-256'),
    ('tenant', 'Tenant ID'),
    ('world', 'Security world ID'),
    ('manifest', 'World backup manifest SHA-256'),
    ('kek_package', 'KEK package SHA-256 (toolset)'),
    ('world_package', 'Security world package SHA-256 (toolset)'),
)
# kinds a ceremony has several of (every TPD of a migration, the keys of the archived ones): each value stands on its
# own, none replaces another
MANY = ('tpd', 'archived_key', 'archived_key_id', 'archived_slc', 'other_key')
SKIPPED = ('required', 'given', 'variable_names', 'challenge')


def kind_of(module, key):
    """What a field of a record is, or None when it is not a value the witnesses compare."""
    last = key.split('.')[-1]
    if last.endswith('root_hash'):
        return 'root'
    if last == 'kek_spki_sha256':
        return 'kek'
    if last == 'kek_kid' or (module == 'keyvault_kek' and last == 'kid'):
        return 'kek_kid'
    if last == 'slc_spki_sha256':
        return 'slc'
    if last in ('spki_sha256', 'expect_spki_sha256', 'SpkiSha256'):
        return 'key'
    if last in ('KeyIdentifier', 'key_identifier'):
        return 'key_id'
    if module == 'keyvault_byok_import' and last == 'kid':
        return 'vault_key'
    if last == 'tpd_id':
        return 'tpd'
    if last in ('key_file_sha256', 'byok_file_sha256', 'package_sha256') or (module == 'transfer_package' and last == 'sha256'):
        return 'package'
    if last == 'tenant_id':
        return 'tenant'
    if last == 'world_id':
        return 'world'
    if last in ('manifest_sha256', 'expect_manifest_sha256'):
        return 'manifest'
    if last == 'kek_package_sha256':
        return 'kek_package'
    if last == 'security_world_package_sha256':
        return 'world_package'
    return None


def normalize(value):
    """A hash as typed (grouped, with colons, any case) and as found compare equal; any other value as it is."""
    text = str(value).strip()
    try:
        return normalize_sha256(text, 'value')
    except ByokError:
        return text


def grouped(value):
    """A SHA-256 in the form read aloud (groups of 8 hex digits); any other value as it is."""
    return group_hash(value) if re.match(r'^[0-9a-f]{64}$', value) else value


def flatten(data, prefix=''):
    out = []
    for key in sorted(data or {}):
        if not prefix and key in SKIPPED:
            continue
        value = data[key]
        name = prefix + key
        if isinstance(value, dict):
            out += flatten(value, name + '.')
        elif isinstance(value, (str, int, bool)) and str(value).strip():
            out.append((name, value))
    return out


def is_preflight(r):
    return r.get('module') == 'ceremony_preflight' and r.get('outcome') == 'verified'


def is_end(r):
    """A verified possession proof of the key the ceremony expected (the one it made active): the ceremony is over. A
    proof without an expected key (the tenant's old key, before an activation) ends nothing."""
    if r.get('module') != 'tenant_key_info' or r.get('outcome') != 'verified':
        return False
    possession = (r.get('result') or {}).get('possession') or {}
    expected = normalize((r.get('asked') or {}).get('expect_spki_sha256') or '')
    return bool(possession.get('verified')) and bool(expected) and normalize(possession.get('spki_sha256') or '') == expected


def split_ceremonies(records, ends=()):
    """The records of a journal in ceremonies: lists of records, oldest first (see the module's docstring). ``ends``:
    the times of the ends recorded in the other journals of the same ceremonies (the offline journal never sees one)."""
    # records before the first preflight (a journal begun in a ceremony's first run, whose preflight found no journal
    # yet) belong to the ceremony of that preflight, unless a ceremony ended in between
    ceremonies, current, name = [], [], None
    since = records[0]['time'] if records else None
    for r in records:
        if is_preflight(r):
            this = (r.get('asked') or {}).get('ceremony') or ''
            ended = since is not None and any(since < t < r['time'] for t in ends)
            if current and (ended or (name is not None and this != name)):
                ceremonies.append(current)
                current = []
                since = r['time']
            name = this
        current.append(r)
    if current:
        ceremonies.append(current)
    return ceremonies


def ceremonies_in(records):
    """What records left off a sheet were: [(ceremony name or None, count, first time, last time)], in order. A planted
    preflight record that hides real records shows here, by its name and span."""
    out = []
    for part in split_ceremonies(records):
        out.append((ceremony_name(part), len(part), part[0]['time'], part[-1]['time']))
    return out


def ceremony_name(records):
    for r in records:
        if is_preflight(r):
            return (r.get('asked') or {}).get('ceremony') or None
    return None


def scope(journals, everything=False, ceremony=None):
    """Each journal cut to the ceremony at hand, or every record with ``everything``. ``ceremony``: the name the
    playbook gives (else the latest preflight's, in any journal). In each journal the ceremony at hand starts at the
    last part of that name (see split_ceremonies) and runs to the journal's end: a preflight of another name inside it
    cuts nothing, it is named (``foreign``). A journal with no part of that name keeps nothing, and says so. Returns
    (journals with 'records', 'left_out', 'total', 'left_out_ceremonies', 'foreign', 'absent'; the ceremony's name)."""
    ends = []
    latest, name = None, ceremony
    for j in journals:
        for r in j['records']:
            if is_preflight(r) and (latest is None or r['time'] > latest):
                latest = r['time']
                if ceremony is None:
                    name = (r.get('asked') or {}).get('ceremony') or None
            if is_end(r):
                ends.append(r['time'])
    out = []
    for j in journals:
        records = j['records']
        kept, absent = records, False
        if not everything:
            parts = split_ceremonies(records, ends)
            named = [i for i, part in enumerate(parts) if ceremony_name(part) == name]
            if name is None or not any(ceremony_name(part) for part in parts):
                kept = records  # no preflight was ever recorded here (a journal begun in this ceremony's first run)
            elif named:
                # back to the first part of this ceremony with no end since: a preflight of another name planted
                # between two of its runs cuts nothing off (it is named below)
                last = parts[named[-1]][0]['time']
                first = min(i for i in named if not any(parts[i][0]['time'] < t < last for t in ends))
                kept = [r for part in parts[first:] for r in part]
            else:
                kept, absent = [], True  # this host took no part in the ceremony at hand
        foreign = sorted(set((r.get('asked') or {}).get('ceremony') or '' for r in kept if is_preflight(r)) - {name})
        left = [r for r in records if r not in kept]
        # records left out that no ended ceremony of another name accounts for: named at the top of the sheet
        doubtful = []
        parts = split_ceremonies(left, ends)
        for i, part in enumerate(parts):
            upto = parts[i + 1][0]['time'] if i + 1 < len(parts) else (kept[0]['time'] if kept else '~')
            part_name = ceremony_name(part)
            ended = any(part[0]['time'] <= t < upto for t in ends)
            if part_name == name or not ended:  # an ended ceremony before, named or begun without a preflight: fine
                doubtful.append((part_name, len(part), part[0]['time'], part[-1]['time'], ended))
        out.append(dict(j, records=kept, left_out=len(left), total=len(records), left_out_ceremonies=ceremonies_in(left),
                        foreign=foreign if not everything else [], absent=absent, doubtful=doubtful))
    return out, name


SUCCESS = ('changed', 'verified')
# what a successful step found or made (its result, not what it was asked) is a fact: a later run never replaces it,
# and two facts that differ are a MISMATCH; an input, the preflight's too, a later successful run may correct
FACTS = ('root', 'kek', 'kek_kid', 'key', 'key_id', 'slc', 'world')
TPD_MODULES = ('tpd_export', 'tpd_import')


def _entries(journals):
    """Every value the records name: dicts of time, host, module, where (asked, result), key, kind, value, outcome and
    place (host, module, where, key; and the TPD for the TPD modules, which run once for each)."""
    out = []
    # the keys this ceremony packages: another key of the HSM (an AD RMS key made for a later migration) that a step
    # here touched is a value of its own, no second value of the tenant key
    packaged = set(_key_of(r.get('asked') or {}) for j in journals for r in j['records']
                   if r.get('module') == 'transfer_package' and (r.get('asked') or {}).get('ident'))
    for j in journals:
        for r in j['records']:
            module, asked, result = r.get('module'), r.get('asked') or {}, r.get('result') or {}
            other = packaged and module in ('hsm_key', 'key_acl') and _key_of(asked) not in packaged
            tpd = (result.get('tpd_id') or asked.get('tpd_id') or asked.get('tpd_file')) if module in TPD_MODULES else None
            archived = module == 'tpd_import' and asked.get('active') is False
            for where, data in (('asked', asked), ('result', result)):
                for key, value in flatten(data):
                    kind = kind_of(module, key)
                    if kind is None:
                        continue
                    if archived and kind in ('key', 'key_id', 'slc'):
                        kind = 'archived_' + kind  # an older TPD's own key: no value of the ceremony's key
                    if other and kind == 'key':
                        kind = 'other_key'
                    out.append({'time': r['time'], 'host': j['host'], 'module': module, 'where': where, 'key': key,
                                'kind': kind, 'value': normalize(value), 'outcome': r.get('outcome'),
                                'place': (j['host'], module, where, key, tpd), 'asked': asked})
    out.sort(key=lambda e: e['time'])
    return out


def _key_of(asked):
    return (asked.get('app_name') or 'simple', asked.get('ident'))


def _replaced_by(e, later):
    """The later successful record's value that replaces ``e`` at its place, '' when that record no longer gives the
    input (a preflight, which is given every input every run), or None when nothing replaces it."""
    if e['kind'] in MANY or (e['outcome'] in SUCCESS and e['kind'] in FACTS and e['where'] == 'result'):
        return None
    for f in later:
        if f['outcome'] not in SUCCESS or f['time'] <= e['time']:
            continue
        if f['place'] == e['place'] and f['value'] != e['value']:
            return f['value']
    if e['where'] == 'asked' and e['module'] == 'ceremony_preflight':
        for f in later:  # a later successful preflight of the same host that left the input out
            if f['module'] == 'ceremony_preflight' and f['host'] == e['host'] and f['outcome'] in SUCCESS \
                    and f['time'] > e['time'] and e['key'] not in f['asked']:
                return ''
    return None


def values(journals):
    """Each value once: [{kind, label, value, grouped, places, status}], and the values replaced since."""
    entries = _entries(journals)
    preflights = [{'module': 'ceremony_preflight', 'host': j['host'], 'outcome': r.get('outcome'), 'time': r['time'],
                   'asked': dict(flatten(r.get('asked'))), 'place': None, 'value': None}
                  for j in journals for r in j['records'] if r.get('module') == 'ceremony_preflight']
    rows, corrected = [], []
    for kind, label in KINDS:
        mine = [e for e in entries if e['kind'] == kind]
        if not mine:
            continue
        now, places = [], {}
        for e in mine:
            by = _replaced_by(e, mine + preflights)
            if by is None:
                if e['value'] not in now:
                    now.append(e['value'])
                place = '%s: %s %s%s' % (e['host'], e['module'], 'asked ' if e['where'] == 'asked' else '', e['key'])
                if place not in places.setdefault(e['value'], []):
                    places[e['value']].append(place)
            elif not any(c['value'] == e['value'] and c['kind'] == kind for c in corrected):
                how = 'made again' if e['where'] == 'result' else 'input corrected' if by else 'input given no more'
                corrected.append({'kind': kind, 'label': label, 'value': e['value'], 'grouped': grouped(e['value']),
                                  'place': '%s %s %s' % (e['host'], e['module'], e['key']), 'time': e['time'],
                                  'how': how})
        for value in now:
            status = 'MISMATCH' if len(now) > 1 and kind not in MANY else (
                'match' if len(places[value]) > 1 else 'recorded once')
            rows.append({'kind': kind, 'label': label, 'value': value, 'grouped': grouped(value),
                         'places': places[value], 'status': status})
    return rows, corrected


def sheet(journals, title, everything=False, ceremony=None):
    """Everything the sheet shows, from the journals as journal_info read them ({host, path, records, intact, problem,
    head_grouped, head_words})."""
    scoped, name = scope(journals, everything, ceremony)
    steps = []
    for j in scoped:
        for r in j['records']:
            steps.append(dict(r, inventory_host=j['host']))
    steps.sort(key=lambda r: r['time'])
    parts = []
    for start, part_name in (section_starts(scoped) if everything else [(None, name)]):
        part = [dict(j, records=[r for r in j['records'] if start is None or r['time'] >= start]) for j in scoped]
        if parts:  # the records of a section end where the next one starts
            parts[-1]['journals'] = [dict(j, records=[r for r in j['records'] if r['time'] < start])
                                     for j in parts[-1]['journals']]
        parts.append({'name': part_name, 'start': start, 'journals': part})
    for part in parts:
        part['values'], part['corrected'] = values(part['journals'])
        del part['journals']
        shown = {}
        for row in part['values']:  # a value of two kinds (the AD RMS licensor key is the tenant key) is shown once
            row['same_as'] = shown.get(row['value'])
            shown.setdefault(row['value'], row['label'])
    times = [r['time'] for r in steps]
    warnings = []
    for j in scoped:
        if j['foreign']:
            warnings.append('The journal of %s holds a preflight record of another ceremony (%s) inside this one. Its '
                            'records are kept on this sheet; find out who ran it before signing.'
                            % (j['host'], ', '.join(j['foreign'])))
        for part_name, count, first, last, ended in j.get('doubtful', []):
            warnings.append('%d records of the journal of %s, from %s to %s, are left out: %s. Make sure they are not '
                            'part of this ceremony before signing.'
                            % (count, j['host'], first, last,
                               'they belong to no ceremony that ended (no preflight record)' if part_name is None else
                               'an earlier ceremony of the same name (%s), %s' % (
                                   part_name, 'ended by a possession proof' if ended else 'never ended')
                               if part_name == name else 'the ceremony %s, which never ended' % part_name))
        if not j['records'] and not j['absent']:
            warnings.append('The journal of %s (%s) has no record: it is missing, or was emptied.' % (j['host'], j['path']))
        if j['absent']:
            warnings.append('The journal of %s has no record of the ceremony %s: none of its %d records is on this sheet.'
                            % (j['host'], name, j['total']))
    return {'title': title, 'warnings': warnings, 'ceremony': name, 'everything': everything, 'journals': scoped, 'steps': steps,
            'sections': parts, 'first': min(times) if times else None, 'last': max(times) if times else None,
            'mismatches': len([r for part in parts for r in part['values'] if r['status'] == 'MISMATCH'])}


def section_starts(journals):
    """The ceremonies of every journal together, on the journals' clocks (the rehearsal's sheet of every ceremony):
    [(start time or None, ceremony name or None)]; records before the first preflight make a section of their own."""
    ends = sorted(r['time'] for j in journals for r in j['records'] if is_end(r))
    starts = sorted((r['time'], (r.get('asked') or {}).get('ceremony') or '') for j in journals for r in j['records']
                    if is_preflight(r))
    out = []
    for time, name in starts:
        if out and out[-1][1] == name and not any(out[-1][0] < t < time for t in ends):
            continue  # another run, or another host, of the same ceremony
        out.append((time, name))
    first = min([r['time'] for j in journals for r in j['records']] or [None])
    if not out or (first is not None and first < out[0][0]):
        out.insert(0, (None, None))
    return out


def step_text(r):
    """What came out of a step, as plain text (each renderer escapes it)."""
    parts = []
    if r.get('repaired'):
        parts.append('an earlier step was cut off mid-record: %s bytes of its unfinished line removed (SHA-256 %s)'
                     % (r['repaired'].get('removed_fragment_bytes'), r['repaired'].get('removed_fragment_sha256')))
    if r.get('error'):
        parts.append(str(r['error']))
    else:
        parts += ['%s: %s' % (k, v) for k, v in flatten(r.get('result'))]
    return parts


# characters that end a line or a table row, hide, or reorder what is shown: controls, format characters (bidirectional
# marks, zero-width ones, tags), private and unassigned ones, line and paragraph separators
_HIDDEN_CATEGORIES = ('Cc', 'Cf', 'Co', 'Cn', 'Cs', 'Zl', 'Zp')


def _visible(text):
    """Every control, invisible, line-breaking and bidirectional character shown as \\uXXXX: a value reads as it is."""
    return ''.join('\\u%04x' % ord(c) if unicodedata.category(c) in _HIDDEN_CATEGORIES else c for c in str(text))


def _md(text):
    """Text from a journal in Markdown (a table cell, a heading, a line): no cell or line break, no link, image,
    emphasis or HTML that a hostile record could bring, and no character that hides or reorders text."""
    text = _visible(str(text).replace('\\', '\\\\')).replace('|', '/')
    for c in '<>[]&*~`':
        text = text.replace(c, '\\' + c)
    return text


def _code(text):
    """A value as Markdown code: a backquote in it would end the code span."""
    return '`%s`' % _visible(text).replace('`', "'").replace('|', '/')


def markdown(s):
    out = ['# Ceremony transcript', '', s['title'], '']
    hosts = []
    for j in s['journals']:
        if j['host'] not in hosts:
            hosts.append(j['host'])
    out.append('From the journals of %s: %s. Every step below is a record of a hash-chained journal; no secret is ever '
               'written there.' % (_md(', '.join(hosts)), _md(scope_text(s))))
    for warning in s['warnings']:
        out += ['', '**WARNING: %s**' % _md(warning)]
    out += ['', '| journal | records on this sheet | records in the journal | hash chain |', '| --- | --- | --- | --- |']
    for j in s['journals']:
        chain = 'intact' if j['intact'] else 'BROKEN: ' + _md(j['problem'])
        out.append('| %s %s | %d | %d | %s |' % (_md(j['host']), _code(j['path']), len(j['records']), j['total'], chain))
    out += ['', '## Fingerprints, hashes and identifiers: read aloud and compare', '',
            'Each value once, in groups of 8 hex digits, with every place it was asked for or found.']
    for part in s['sections']:
        if len(s['sections']) > 1:
            out += ['', '### %s' % _md(section_title(part))]
        out += ['', '| what | value | where | compared |', '| --- | --- | --- | --- |']
        for v in part['values']:
            shown = 'the same as the %s above' % v['same_as'] if v['same_as'] else _code(v['grouped'])
            places = '<br>'.join(_md(p) for p in v['places'])
            out.append('| %s | %s | %s | **%s** |' % (v['label'], shown, places, v['status']))
        if part['corrected']:
            out += ['', CORRECTED, '']
            for c in part['corrected']:
                out.append('- %s, %s: %s at %s (%s)' % (c['label'], c['how'], _code(c['grouped']), _md(c['place']),
                                                        _md(c['time'])))
    out += ['', '## Steps', '', '| # | time (UTC) | host | user | step | outcome | what came out |',
            '| --- | --- | --- | --- | --- | --- | --- |']
    for i, r in enumerate(s['steps'], 1):
        host = r['inventory_host'] + ('' if r.get('host') == r['inventory_host'] else ' (%s)' % r.get('host'))
        text = [_md(t) for t in step_text(dict(r, repaired=None))]
        if r.get('repaired'):
            text.insert(0, '**an earlier step was cut off mid-record: %s bytes of its unfinished line removed (SHA-256 %s)**'
                        % (_md(r['repaired'].get('removed_fragment_bytes')), _code(r['repaired'].get('removed_fragment_sha256'))))
        cells = [_md(c) for c in (r['time'], host, r.get('user'), r.get('module'), r.get('outcome'))] + ['; '.join(text)]
        out.append('| %d | %s |' % (i, ' | '.join(cells)))
    out += ['', '## Journal heads: read aloud, then sign', '',
            'Each journal\'s chain ends in the hash below. The chain alone detects damage and edits by anyone who cannot '
            'rewrite a whole journal; with this page signed, a journal rewritten later no longer leads to the head '
            'written here (`keyceremony.byok.journal_info` with `expect_head` checks it).', '']
    for j in s['journals']:
        out += ['- %s %s, %d records' % (_md(j['host']), _code(j['path']), j['total']),
                '  - head: `%s`' % j['head_grouped'], '  - words: %s' % j['head_words']]
    out += ['', '## Witnesses', '', '| name | role | signature | date |', '| --- | --- | --- | --- |']
    out += ['| | %s | | |' % role for role in WITNESS_ROLES]
    return '\n'.join(out) + '\n'


CORRECTED = ('Values replaced by a later run at the same place (the same host, step and field): an input corrected, or '
             'something made again. Each place now holds its value in the table above.')
WITNESS_ROLES = ('ceremony administrator', 'card holder', 'card holder', 'witness')


def section_title(part):
    if part['name'] is None:
        return 'Before the first ceremony_preflight record'
    return 'Ceremony %s, from %s' % (part['name'] or '(unnamed)', part['start'])


def scope_text(s):
    left = sum(j['left_out'] for j in s['journals'])
    if s['everything'] or not s['ceremony']:
        what = 'every record of the journals'
    else:
        what = 'the ceremony %s, its records from %s to %s' % (s['ceremony'], s['first'], s['last'])
    if left:
        parts = []
        for j in s['journals']:
            for name, count, first, last in j.get('left_out_ceremonies', []):
                parts.append('%s: %d of %s, %s to %s'
                             % (j['host'], count, name or 'records before any preflight', first, last))
        what += ' (%d earlier records of other ceremonies are left out: %s)' % (left, '; '.join(parts))
    return what


STYLE = '''
body { font: 11pt/1.35 "DejaVu Sans", Arial, sans-serif; margin: 2em; color: #111; }
h1 { font-size: 18pt; margin-bottom: 0.2em; }
h2 { font-size: 13pt; margin-top: 1.4em; border-bottom: 1px solid #888; }
table { border-collapse: collapse; width: 100%; margin: 0.5em 0; }
th, td { border: 1px solid #999; padding: 3px 6px; vertical-align: top; text-align: left; }
th { background: #eee; }
code, .hex { font-family: "DejaVu Sans Mono", monospace; font-size: 10pt; word-spacing: 0.4em; }
.match { color: #075; font-weight: bold; }
.mismatch { color: #fff; background: #b00; font-weight: bold; padding: 0 4px; }
.failed { color: #b00; }
.corrected s { color: #777; }
.head { font-size: 12pt; }
.warning { font-weight: bold; color: #b00; }
td.time { white-space: nowrap; }
.sign td { height: 2.4em; }
@media print {
  @page { size: A4; margin: 14mm; }
  body { margin: 0; font-size: 9.5pt; }
  h2 { break-after: avoid; }
  tr, .head { break-inside: avoid; }
  .values, .heads, .sign { break-inside: avoid; }
  th { background: #eee !important; -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  .mismatch { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
'''


def html(s):
    def e(text):
        return _html_escape(_visible(text))
    out = ['<!DOCTYPE html>', '<html lang="en"><head><meta charset="utf-8">',
           '<title>%s</title>' % e('Ceremony transcript: ' + s['title']), '<style>%s</style></head><body>' % STYLE,
           '<h1>Ceremony transcript</h1>', '<p class="title">%s</p>' % e(s['title'])]
    out += ['<p class="warning"><span class="mismatch">WARNING</span> %s</p>' % e(w) for w in s['warnings']]
    out += ['<p>%s. Every step below is a record of a hash-chained journal; no secret is ever written there.</p>'
            % e(scope_text(s)[0].upper() + scope_text(s)[1:]),
            '<table><tr><th>journal</th><th>records on this sheet</th><th>records in the journal</th><th>hash chain</th></tr>']
    for j in s['journals']:
        out.append('<tr><td>%s <code>%s</code></td><td>%d</td><td>%d</td><td>%s</td></tr>'
                   % (e(j['host']), e(j['path']), len(j['records']), j['total'],
                      'intact' if j['intact'] else '<span class="mismatch">BROKEN: %s</span>' % e(j['problem'] or '')))
    out += ['</table>', '<h2>Fingerprints, hashes and identifiers: read aloud and compare</h2>',
            '<p>Each value once, in groups of 8 hex digits, with every place it was asked for or found.</p>']
    for part in s['sections']:
        if len(s['sections']) > 1:
            out.append('<h3>%s</h3>' % e(section_title(part)))
        out.append('<table class="values"><tr><th>what</th><th>value</th><th>where</th><th>compared</th></tr>')
        for v in part['values']:
            mark = ('<span class="mismatch">MISMATCH</span>' if v['status'] == 'MISMATCH' else
                    '<span class="match">&#10003; match</span>' if v['status'] == 'match' else e(v['status']))
            shown = ('<td>the same as the %s above</td>' % e(v['same_as']) if v['same_as'] else
                     '<td class="hex">%s</td>' % e(v['grouped']))
            out.append('<tr><td>%s</td>%s<td>%s</td><td>%s</td></tr>'
                       % (e(v['label']), shown, '<br>'.join(e(p) for p in v['places']), mark))
        out.append('</table>')
        if part['corrected']:
            out.append('<p>%s</p><ul>' % e(CORRECTED))
            for c in part['corrected']:
                out.append('<li class="corrected">%s, %s: <s class="hex">%s</s> at %s (%s)</li>'
                           % (e(c['label']), e(c['how']), e(c['grouped']), e(c['place']), e(c['time'])))
            out.append('</ul>')
    out += ['<h2>Steps</h2>', '<table><tr><th>#</th><th>time (UTC)</th><th>host</th><th>user</th><th>step</th>'
            '<th>outcome</th><th>what came out</th></tr>']
    for i, r in enumerate(s['steps'], 1):
        host = r['inventory_host'] + ('' if r.get('host') == r['inventory_host'] else ' (%s)' % r.get('host'))
        out.append('<tr%s><td>%d</td><td class="time">%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>'
                   % (' class="failed"' if r.get('outcome') == 'failed' else '', i, e(r['time'].replace('T', ' ')[:19]), e(host),
                      e(str(r.get('user'))), e(str(r.get('module'))), e(str(r.get('outcome'))),
                      '<br>'.join(e(t) for t in step_text(r))))
    out += ['</table>', '<h2>Journal heads: read aloud, then sign</h2>',
            '<p>Each journal\'s chain ends in the hash below. With this page signed, a journal rewritten later no longer '
            'leads to the head written here (<code>keyceremony.byok.journal_info</code> with <code>expect_head</code> '
            'checks it).</p>', '<table class="heads">']
    for j in s['journals']:
        out.append('<tr class="head"><td>%s <code>%s</code><br>%d records</td><td><span class="hex">%s</span><br>%s'
                   '</td></tr>' % (e(j['host']), e(j['path']), j['total'], e(j['head_grouped'] or ''),
                                   e(j['head_words'] or '')))
    out += ['</table>', '<h2>Witnesses</h2>',
            '<table class="sign"><tr><th>name</th><th>role</th><th>signature</th><th>date</th></tr>']
    out += ['<tr><td></td><td>%s</td><td></td><td></td></tr>' % e(role) for role in WITNESS_ROLES]
    out += ['</table>', '</body></html>']
    return '\n'.join(out) + '\n'
