# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""witness_sheet: the ceremony at hand only, each value once with match / MISMATCH, corrected inputs as corrected."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import re

from ansible_collections.keyceremony.byok.plugins.module_utils._journal import Journal
from ansible_collections.keyceremony.byok.plugins.modules import journal_info, witness_sheet
from ansible_collections.keyceremony.byok.tests.unit.helpers import run_module

ROOT = '97221e73a655b2b59b4cbc30b5187001f21990ec5e5e3178a20c2cfa6eb1a7c7'
KEY_BYOK = '11' * 32
KEY_ADRMS = '22' * 32
KEY_ELSE = '33' * 32
PACKAGE = '44' * 32
TENANT = '44f40634-b7cc-418a-83fe-2f0cc9b0207e'
TYPO = '44f40634-b7cc-418a-83fe-2f0cc9b0207f'


def grouped(value):
    return ' '.join(value[i:i + 8] for i in range(0, 64, 8))


def byok_ceremony(offline, online):
    """A BYOK ceremony: a run with a mistyped tenant ID, corrected; then the activation run."""
    for journal in (offline, online):
        journal.append('ceremony_preflight', 'verified', {'ceremony': 'byok_over_internet', 'activate': False},
                       result={'ceremony': 'byok_over_internet', 'activate': False})
    offline.append('hsm_key', 'changed', {'ident': 'contosokey'}, result={'spki_sha256': KEY_BYOK})
    offline.append('kek_package_verify', 'verified', {'root_hash': grouped(ROOT).upper()}, result={'root_hash': ROOT})
    offline.append('transfer_package', 'changed', {'ident': 'contosokey', 'tenant_id': TYPO},
                   result={'tenant_id': TYPO, 'sha256': '55' * 32, 'spki_sha256': KEY_BYOK})
    for journal in (offline, online):
        journal.append('ceremony_preflight', 'verified', {'ceremony': 'byok_over_internet', 'activate': True},
                       result={'ceremony': 'byok_over_internet', 'activate': True})
    offline.append('transfer_package', 'changed', {'ident': 'contosokey', 'tenant_id': TENANT},
                   result={'tenant_id': TENANT, 'sha256': PACKAGE, 'spki_sha256': KEY_BYOK})
    online.append('tenant_key', 'changed', {'spki_sha256': KEY_BYOK, 'key_file_sha256': PACKAGE},
                  result={'spki_sha256': KEY_BYOK})
    online.append('tenant_key_info', 'verified', {'expect_spki_sha256': KEY_BYOK},
                  result={'possession': {'verified': True, 'spki_sha256': KEY_BYOK, 'key_identifier': 'k-1'}})


def migration(offline, online, active=KEY_ADRMS):
    for journal in (offline, online):
        journal.append('ceremony_preflight', 'verified', {'ceremony': 'migrate_adrms_hsm', 'activate': True},
                       result={'ceremony': 'migrate_adrms_hsm', 'activate': True})
    offline.append('hsm_key', 'changed', {'ident': 'adrms2019'}, result={'spki_sha256': KEY_ADRMS})
    online.append('tpd_import', 'changed', {'tpd_file': 'contoso-tpd-2019.xml'},
                  result={'tpd_id': '7d3c2b1a-0f9e-4d8c-8b7a-6f5e4d3c2b1a', 'slc_spki_sha256': KEY_ADRMS})
    online.append('tenant_key_info', 'verified', {},
                  result={'possession': {'verified': True, 'spki_sha256': active, 'key_identifier': 'k-2'}})


def _sheet(tmp_path, name, offline, online, **args):
    journals = []
    for host, journal in (('offline-ws', offline), ('online-ws', online)):
        read = run_module(journal_info, {'path': journal.path}).result
        journals.append(dict(read, host=host, path=journal.path))
    dest = str(tmp_path / 'transfer' / name)
    run = run_module(witness_sheet, dict({'journals': journals, 'title': name, 'dest': dest}, **args))
    assert not run.failed, run.result
    return run, open(dest).read(), open(dest[:-3] + '.html').read()


def _journals(tmp_path):
    for folder in ('offline', 'online', 'transfer'):
        os.mkdir(str(tmp_path / folder), 0o700)
    return Journal(str(tmp_path / 'offline' / 'journal.jsonl')), Journal(str(tmp_path / 'online' / 'journal.jsonl'))


def test_each_value_once_with_its_places_and_the_corrected_input_as_corrected(tmp_path):
    offline, online = _journals(tmp_path)
    byok_ceremony(offline, online)
    run, md, html = _sheet(tmp_path, 'byok.md', offline, online)
    assert run['ceremony'] == 'byok_over_internet' and run['mismatches'] == 0 and run['changed']
    values = md[md.index('## Fingerprints'):md.index('## Steps')]
    # each value once, grouped, with every place; the typed root hash (upper case, grouped) is the one found
    assert values.count(grouped(KEY_BYOK)) == 1 and values.count(grouped(ROOT)) == 1
    row = [line for line in values.splitlines() if grouped(KEY_BYOK) in line][0]
    for place in ('offline-ws: hsm_key spki_sha256', 'offline-ws: transfer_package spki_sha256',
                  'online-ws: tenant_key asked spki_sha256', 'online-ws: tenant_key_info possession.spki_sha256'):
        assert place in row
    assert row.endswith('| **match** |')
    # the mistyped tenant ID shows as corrected, the current one as the value
    assert '| Tenant ID | `%s` |' % TENANT in values
    assert 'Tenant ID, input corrected: `%s` at offline-ws transfer_package tenant_id' % TYPO in values
    assert TYPO not in values.split('Values replaced by a later run')[0]
    assert html.count(grouped(KEY_BYOK)) == 1 and '&#10003; match' in html and 'MISMATCH' not in html
    assert '<s class="hex">%s</s>' % TYPO in html and '@media print' in html
    # the heads to sign
    head = Journal(offline.path).read()[0][-1]['hash']
    assert '  - head: `%s`' % grouped(head) in md and grouped(head) in html
    assert os.stat(str(tmp_path / 'transfer' / 'byok.html')).st_mode & 0o777 == 0o600


def test_the_migration_sheet_leaves_the_earlier_ceremony_out_and_marks_a_mismatch(tmp_path):
    offline, online = _journals(tmp_path)
    byok_ceremony(offline, online)
    migration(offline, online, active=KEY_ELSE)
    run, md, html = _sheet(tmp_path, 'migration.md', offline, online)
    assert run['ceremony'] == 'migrate_adrms_hsm' and run['mismatches'] == 2
    assert run['sheet_warnings'] == []  # the BYOK ceremony left out ended with its possession proof
    body = md[md.index('## Fingerprints'):]
    assert KEY_BYOK not in md and TENANT not in md and 'byok_over_internet' not in body
    assert '(10 earlier records of other ceremonies are left out: offline-ws: 6 of byok_over_internet, ' in md, md[:600]
    assert re.search(r'\| Tenant key fingerprint \(SPKI SHA-256\) \| `%s` \| .* \| \*\*MISMATCH\*\* \|' % grouped(KEY_ADRMS), md)
    assert '<span class="mismatch">MISMATCH</span>' in html
    # the AD RMS licensor key is the key migrated: its value is shown once, the second row refers to it
    assert md.count(grouped(KEY_ADRMS)) == 1 and html.count(grouped(KEY_ADRMS)) == 1
    assert '| AD RMS server licensor key fingerprint (SPKI SHA-256) | the same as the Tenant key fingerprint (SPKI ' \
           'SHA-256) above | online-ws: tpd_import slc_spki_sha256 |' in md
    # scope all: the rehearsal's sheet of every ceremony
    run, md, html = _sheet(tmp_path, 'all.md', offline, online, scope='all')
    assert KEY_BYOK in md and 'every record of the journals' in md
    # each ceremony has its own values: the BYOK key and the AD RMS key are no mismatch, the planted answer is
    assert run['mismatches'] == 2 and '### Ceremony byok_over_internet, from ' in md
    byok = md[md.index('### Ceremony byok_over_internet'):md.index('### Ceremony migrate_adrms_hsm')]
    assert '| Tenant key fingerprint (SPKI SHA-256) | `%s` |' % grouped(KEY_BYOK) in byok and 'MISMATCH' not in byok
    assert '<h3>Ceremony migrate_adrms_hsm, from ' in html


def test_a_ceremony_run_again_after_its_end_is_a_new_sheet_and_a_sheet_is_never_written_over(tmp_path):
    offline, online = _journals(tmp_path)
    byok_ceremony(offline, online)
    byok_ceremony(offline, online)  # the same playbook months later: the possession proof ended the first
    run, md, html = _sheet(tmp_path, 'again.md', offline, online)
    assert '(10 earlier records of other ceremonies are left out: ' in md
    assert 'an earlier ceremony of the same name (byok_over_internet), ended by a possession proof' in md
    (tmp_path / 'transfer' / 'signed.md').write_text('signed')
    run, md, html = _sheet(tmp_path, 'again.md', offline, online)
    assert run['kept'] and not run['changed']


def test_a_hostile_record_brings_no_markup_and_a_planted_preflight_shows(tmp_path):
    offline, online = _journals(tmp_path)
    byok_ceremony(offline, online)
    # and a preflight of a made-up ceremony, then the real one again: the real ceremony's earlier records leave the
    # sheet, but the sheet says which ceremony took them, and when
    for journal in (offline, online):
        journal.append('ceremony_preflight', 'verified', {'ceremony': 'nothing-to-see'}, result={})
        journal.append('ceremony_preflight', 'verified', {'ceremony': 'byok_over_internet'}, result={})
    # then whoever can run a module on the workstation: a record whose text would be a link, an image, HTML, a cell break
    offline.append('hsm_key', 'failed', {'ident': 'x'},
                   error='![seen](https://evil.example/p.png) <img src=x onerror=alert(1)> | cell [link](https://x) '
                         'fingerprint \u202e9f3a\u200b\nnext line')
    run, md, html = _sheet(tmp_path, 'hostile.md', offline, online)
    assert '<img' not in html and '&lt;img src=x onerror=alert(1)&gt;' in html
    assert '\\<img src=x' in md and '\\[link\\](https://x)' in md and '<img' not in md.replace('\\<img', '')
    assert '| cell' not in md and '/ cell' in md
    # what would reorder, hide or break the text is shown as its code, in both
    for text in (md, html):
        assert '\\u202e9f3a\\u200b\\u000anext line' in text
        assert '\u202e' not in text and '\u200b' not in text
    assert 'offline-ws: 6 of byok_over_internet' in md and 'offline-ws: 1 of nothing-to-see' in md


def test_an_input_given_no_more_is_no_current_value(tmp_path):
    offline, online = _journals(tmp_path)
    # a run with a mistyped tenant ID given by hand, refused; the next run leaves it unset and uses the media's
    offline.append('ceremony_preflight', 'verified', {'ceremony': 'byok_over_internet', 'tenant_id': TYPO},
                   result={'ceremony': 'byok_over_internet'})
    offline.append('ceremony_preflight', 'verified', {'ceremony': 'byok_over_internet'},
                   result={'ceremony': 'byok_over_internet'})
    offline.append('transfer_package', 'changed', {'ident': 'contosokey', 'tenant_id': TENANT}, result={'tenant_id': TENANT})
    run, md, html = _sheet(tmp_path, 'unset.md', offline, online)
    assert run['mismatches'] == 0 and '| Tenant ID | `%s` |' % TENANT in md
    assert 'Tenant ID, input given no more: `%s` at offline-ws ceremony_preflight tenant_id' % TYPO in md


def test_a_later_failed_run_does_not_erase_a_mismatch(tmp_path):
    """A key uploaded that is not the one made (a fact of a changed step) stays on the sheet, MISMATCH, whatever
    failed run comes after it."""
    offline, online = _journals(tmp_path)
    for journal in (offline, online):
        journal.append('ceremony_preflight', 'verified', {'ceremony': 'byok_over_internet'}, result={})
    offline.append('hsm_key', 'changed', {'ident': 'contosokey'}, result={'spki_sha256': KEY_BYOK})
    online.append('tenant_key', 'changed', {'spki_sha256': KEY_ELSE}, result={'spki_sha256': KEY_ELSE})
    online.append('tenant_key', 'failed', {'key_file': '/nonexistent'}, error='cannot read key_file')
    run, md, html = _sheet(tmp_path, 'erase.md', offline, online, ceremony='byok_over_internet')
    assert run['mismatches'] == 2 and md.count('**MISMATCH**') == 2
    assert grouped(KEY_ELSE) in md.split('## Steps')[0].split('Values replaced')[0]


def test_a_planted_preflight_cuts_nothing_and_is_named_at_the_top(tmp_path):
    offline, online = _journals(tmp_path)
    byok_ceremony(offline, online)
    # someone with a shell on the online workstation, during the activation run
    online.append('ceremony_preflight', 'verified', {'ceremony': 'byok_over_internet_'}, result={})
    run, md, html = _sheet(tmp_path, 'planted.md', offline, online, ceremony='byok_over_internet')
    assert run['ceremony'] == 'byok_over_internet' and run['sheet_warnings']
    warning = '**WARNING: The journal of online-ws holds a preflight record of another ceremony (byok_over_internet_)'
    assert md.index(warning) < md.index('## Fingerprints')
    assert 'earlier records' not in md  # nothing is left out: every record of both journals is on the sheet
    assert grouped(KEY_BYOK) in md and '<span class="mismatch">WARNING</span> The journal of online-ws' in html


def test_a_possession_proof_of_the_old_key_ends_no_ceremony(tmp_path):
    offline, online = _journals(tmp_path)
    for journal in (offline, online):
        journal.append('ceremony_preflight', 'verified', {'ceremony': 'byok_azure_key_vault'}, result={})
    offline.append('hsm_key', 'changed', {'ident': 'contosokv'}, result={'spki_sha256': KEY_BYOK})
    # before the activation: a proof of the tenant's old key, with no key expected
    online.append('tenant_key_info', 'verified', {}, result={'possession': {'verified': True, 'spki_sha256': KEY_ELSE}})
    for journal in (offline, online):
        journal.append('ceremony_preflight', 'verified', {'ceremony': 'byok_azure_key_vault', 'activate': True}, result={})
    run, md, html = _sheet(tmp_path, 'kv.md', offline, online, ceremony='byok_azure_key_vault')
    assert 'earlier records' not in md and '| hsm_key | changed |' in md


def test_the_archived_tpds_keys_are_their_own(tmp_path):
    offline, online = _journals(tmp_path)
    for journal in (offline, online):
        journal.append('ceremony_preflight', 'verified', {'ceremony': 'migrate_adrms_hsm'}, result={})
    offline.append('hsm_key', 'changed', {'ident': 'adrms2019'}, result={'spki_sha256': KEY_ADRMS})
    online.append('tpd_import', 'changed', {'tpd_file': 'tpd-2019.xml', 'active': True},
                  result={'tpd_id': 'tpd-2019', 'slc_spki_sha256': KEY_ADRMS,
                          'key': {'SpkiSha256': KEY_ADRMS, 'KeyIdentifier': 'k-2019'}})
    online.append('tpd_import', 'changed', {'tpd_file': 'tpd-2016.xml', 'active': False},
                  result={'tpd_id': 'tpd-2016', 'slc_spki_sha256': KEY_ELSE,
                          'key': {'SpkiSha256': KEY_ELSE, 'KeyIdentifier': 'k-2016'}})
    run, md, html = _sheet(tmp_path, 'tpds.md', offline, online, ceremony='migrate_adrms_hsm')
    assert run['mismatches'] == 0, md
    assert '| Key of an archived TPD (SPKI SHA-256) | `%s` |' % grouped(KEY_ELSE) in md
    assert 'Values replaced' not in md


def test_neither_half_of_a_sheet_is_written_over_nor_written_outside(tmp_path):
    offline, online = _journals(tmp_path)
    byok_ceremony(offline, online)
    (tmp_path / 'transfer' / 'signed.html').write_text('<p>signed, printed</p>')
    journals = [dict(run_module(journal_info, {'path': j.path}).result, host=h, path=j.path)
                for h, j in (('offline-ws', offline), ('online-ws', online))]
    kept = run_module(witness_sheet, {'journals': journals, 'title': 't', 'dest': str(tmp_path / 'transfer' / 'signed.md')})
    assert kept['kept'] and not kept['changed'] and not (tmp_path / 'transfer' / 'signed.md').exists()
    assert (tmp_path / 'transfer' / 'signed.html').read_text() == '<p>signed, printed</p>'
    outside = run_module(witness_sheet, {'journals': journals, 'title': 't',
                                         'dest': str(tmp_path / 'transfer' / '..' / 'outside.md')})
    assert outside.failed and 'without .. in it' in outside['msg'] and not (tmp_path / 'outside.md').exists()


def test_a_journal_begun_without_a_preflight_record(tmp_path):
    """Fresh hosts: the first run's preflight found no journal, so its records come before any preflight record. They
    belong to that ceremony, and not to the next one once it has ended."""
    offline, online = _journals(tmp_path)
    offline.append('hsm_key', 'changed', {'ident': 'contosokey'}, result={'spki_sha256': KEY_BYOK})
    online.append('tenant_key', 'changed', {'spki_sha256': KEY_BYOK}, result={'spki_sha256': KEY_BYOK})
    for journal in (offline, online):  # the activation run
        journal.append('ceremony_preflight', 'verified', {'ceremony': 'byok_over_internet', 'activate': True}, result={})
    online.append('tenant_key_info', 'verified', {'expect_spki_sha256': KEY_BYOK},
                  result={'possession': {'verified': True, 'spki_sha256': KEY_BYOK, 'key_identifier': 'k-1'}})
    run, md, html = _sheet(tmp_path, 'first.md', offline, online, ceremony='byok_over_internet')
    assert 'earlier records' not in md and '| hsm_key | changed |' in md and run['mismatches'] == 0
    migration(offline, online)
    run, md, html = _sheet(tmp_path, 'second.md', offline, online, ceremony='migrate_adrms_hsm')
    assert '| hsm_key | changed | ident' not in md and KEY_BYOK not in md
    assert 'earlier records of other ceremonies are left out' in md


def test_a_typed_root_hash_corrected_later_is_no_mismatch(tmp_path):
    offline, online = _journals(tmp_path)
    wrong = 'ab' * 32
    offline.append('ceremony_preflight', 'verified', {'ceremony': 'byok_over_internet', 'root_hash': wrong}, result={})
    offline.append('kek_package_verify', 'failed', {'root_hash': wrong}, error='KEK package check "root" failed')
    offline.append('ceremony_preflight', 'verified', {'ceremony': 'byok_over_internet', 'root_hash': ROOT}, result={})
    offline.append('kek_package_verify', 'verified', {'root_hash': ROOT}, result={'root_hash': ROOT})
    run, md, html = _sheet(tmp_path, 'root.md', offline, online, ceremony='byok_over_internet')
    assert run['mismatches'] == 0 and 'Vendor root hash (pinned out of band, found in the toolset), input corrected' in md


def test_a_forged_end_between_two_runs_is_a_warning_and_the_key_is_still_compared(tmp_path):
    """Someone with a shell on the online workstation proves possession against a tenant of their own between the
    run before the upload and the activation run, to cut the first run off the sheet."""
    offline, online = _journals(tmp_path)
    for journal in (offline, online):
        journal.append('ceremony_preflight', 'verified', {'ceremony': 'byok_over_internet'}, result={})
    offline.append('hsm_key', 'changed', {'ident': 'contosokey'}, result={'spki_sha256': KEY_BYOK})
    online.append('tenant_key_info', 'verified', {'expect_spki_sha256': KEY_ELSE},
                  result={'possession': {'verified': True, 'spki_sha256': KEY_ELSE}})
    for journal in (offline, online):
        journal.append('ceremony_preflight', 'verified', {'ceremony': 'byok_over_internet', 'activate': True}, result={})
    # the activation run: hsm_key finds the key it made and says so; the planted key is uploaded
    offline.append('hsm_key', 'verified', {'ident': 'contosokey'}, result={'spki_sha256': KEY_BYOK})
    online.append('tenant_key', 'changed', {'spki_sha256': KEY_ELSE}, result={'spki_sha256': KEY_ELSE})
    run, md, html = _sheet(tmp_path, 'forged.md', offline, online, ceremony='byok_over_internet')
    assert run['mismatches'] == 2
    assert any('an earlier ceremony of the same name (byok_over_internet), ended by a possession proof' in w
               for w in run['sheet_warnings'])


def test_another_key_of_the_hsm_is_no_second_tenant_key(tmp_path):
    """The AD RMS key a rehearsal makes before the BYOK ceremony (for the migration after it) is in the same journal."""
    offline, online = _journals(tmp_path)
    offline.append('hsm_key', 'changed', {'app_name': 'mscapi', 'ident': 'adrms2019'}, result={'spki_sha256': KEY_ADRMS})
    byok_ceremony(offline, online)
    run, md, html = _sheet(tmp_path, 'other.md', offline, online, ceremony='byok_over_internet')
    assert run['mismatches'] == 0, md
    assert '| Another key of the HSM, not the one packaged (SPKI SHA-256) | `%s` |' % grouped(KEY_ADRMS) in md
