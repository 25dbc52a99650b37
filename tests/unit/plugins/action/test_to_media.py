# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""keyceremony.byok.to_media, run by ansible-playbook (a local connection) under each strategy: what lands on the
media, idempotence, check mode, and every refusal."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import hashlib
import os
import stat
import sys

import pytest

from ansible_collections.keyceremony.byok.tests.unit.helpers import STRATEGIES, each_task_of

ANSIBLE_PLAYBOOK = os.path.join(os.path.dirname(sys.executable), 'ansible-playbook')
pytestmark = pytest.mark.skipif(not os.path.exists(ANSIBLE_PLAYBOOK), reason='needs the venv of make setup')

PLAYBOOK = """
- hosts: ws
  gather_facts: false
  tasks:
    - name: first
      keyceremony.byok.to_media:
        dest: "{{ media }}"
        files:
          - src: "{{ made }}/package.byok"
            sha256: "{{ package_sha256 }}"
          - src: "{{ made }}/kek-pkg"
            dir: toolset
        content:
          package.byok.sha256: "{{ package_sha256 }}  package.byok\\n"
    - name: again
      keyceremony.byok.to_media:
        dest: "{{ media }}"
        files:
          - src: "{{ made }}/package.byok"
            sha256: "{{ package_sha256 | upper }}"
          - src: "{{ made }}/kek-pkg"
            dir: toolset
        content:
          package.byok.sha256: "{{ package_sha256 }}  package.byok\\n"
    - name: check mode
      keyceremony.byok.to_media:
        dest: "{{ media }}"
        files:
          - src: "{{ made }}/not-made-yet.byok"
        content:
          package.byok.sha256: another line
      check_mode: true
    - name: planted
      keyceremony.byok.to_media:
        dest: "{{ media }}"
        files:
          - src: "{{ made }}/kek-pkg"
            dir: before-the-planted-one
          - src: "{{ made }}/planted.byok"
            sha256: "{{ package_sha256 }}"
    - name: a SHA-1 for a SHA-256
      keyceremony.byok.to_media:
        dest: "{{ media }}"
        files:
          - src: "{{ made }}/kek-pkg"
            sha256: "{{ package_sha256[:40] }}"
    - name: missing
      keyceremony.byok.to_media:
        dest: "{{ media }}"
        files:
          - src: "{{ made }}/not-made-yet.byok"
    - name: climbing name
      keyceremony.byok.to_media:
        dest: "{{ media }}"
        content:
          ../outside.txt: x
    - name: climbing folder
      keyceremony.byok.to_media:
        dest: "{{ media }}"
        files:
          - src: "{{ made }}/kek-pkg"
            dir: ..
    - name: named twice
      keyceremony.byok.to_media:
        dest: "{{ media }}"
        files:
          - src: "{{ made }}/package.byok"
        content:
          package.byok: x
    - name: through a link
      keyceremony.byok.to_media:
        dest: "{{ media }}"
        content:
          link.txt: x
    - name: through a linked folder
      keyceremony.byok.to_media:
        dest: "{{ media }}"
        files:
          - src: "{{ made }}/kek-pkg"
            dir: linked
    - name: a media folder reached through a link
      keyceremony.byok.to_media:
        dest: "{{ media_link }}"
        content:
          through-the-mount.txt: x
    - name: shared folder
      keyceremony.byok.to_media:
        dest: "{{ shared }}"
        content:
          a.txt: x
    - name: relative
      keyceremony.byok.to_media:
        dest: media
        content:
          a.txt: x
"""


def _run(tmp_path, strategy):
    made, media, shared = tmp_path / 'made', tmp_path / 'media', tmp_path / 'shared'
    made.mkdir()
    shared.mkdir()
    os.chmod(str(shared), 0o777)
    package = b'a wrapped key' * 100
    (made / 'package.byok').write_bytes(package)
    (made / 'kek-pkg').write_bytes(b'kek')
    (made / 'planted.byok').write_bytes(b'another key')
    media.mkdir(mode=0o700)
    os.symlink(str(tmp_path / 'elsewhere.txt'), str(media / 'link.txt'))
    os.makedirs(str(tmp_path / 'elsewhere'))
    os.symlink(str(tmp_path / 'elsewhere'), str(media / 'linked'))
    os.symlink(str(media), str(tmp_path / 'mount'))
    results = each_task_of(tmp_path, PLAYBOOK, {
        'made': str(made), 'media': str(media), 'shared': str(shared), 'media_link': str(tmp_path / 'mount'),
        'package_sha256': hashlib.sha256(package).hexdigest()}, strategy)
    return results, package


@pytest.mark.bad_input
@pytest.mark.parametrize('strategy', STRATEGIES)
def test_to_media(tmp_path, strategy):
    (results, stdout), package = _run(tmp_path, strategy)
    assert 'a wrapped key' not in stdout, "a file's bytes reached the output"
    media = tmp_path / 'media'

    first = results['first']
    assert not first.get('failed') and first['changed'], first.get('msg')
    assert [(os.path.relpath(f['path'], str(media)), f['changed']) for f in first['files']] == [
        ('package.byok', True), ('toolset/kek-pkg', True), ('package.byok.sha256', True)]
    assert (media / 'package.byok').read_bytes() == package
    assert (media / 'package.byok.sha256').read_text() == '%s  package.byok\n' % hashlib.sha256(package).hexdigest()
    assert (media / 'toolset' / 'kek-pkg').read_bytes() == b'kek'
    for path in (media / 'package.byok', media / 'package.byok.sha256', media / 'toolset' / 'kek-pkg'):
        assert stat.S_IMODE(os.stat(str(path)).st_mode) == 0o600, path
    assert stat.S_IMODE(os.stat(str(media / 'toolset')).st_mode) == 0o700

    assert not results['again']['changed'] and not any(f['changed'] for f in results['again']['files'])

    check = results['check mode']
    assert check['changed'] and not check.get('failed'), check
    assert [f['changed'] for f in check['files']] == [True, True]
    assert not (media / 'not-made-yet.byok').exists()
    assert (media / 'package.byok.sha256').read_text().endswith('  package.byok\n'), 'check mode wrote'

    refusals = {
        'planted': 'not %s as the step that made it reported' % hashlib.sha256(package).hexdigest(),
        'missing': 'cannot fetch',
        'a SHA-1 for a SHA-256': 'a SHA-1 hash',
        'climbing name': 'is not a plain file name',
        'climbing folder': 'files: dir',
        'named twice': 'package.byok is named twice',
        'through a link': 'is a symbolic link',
        'through a linked folder': 'linked on the media is a symbolic link',
        'shared folder': 'can be written by others',
        'relative': 'is not an absolute path',
    }
    for name, said in refusals.items():
        assert results[name].get('failed') and said in results[name]['msg'], (name, results[name])
    assert not (media / 'planted.byok').exists() and not (tmp_path / 'outside.txt').exists()
    assert not (media / 'before-the-planted-one').exists(), 'a refused task wrote part of what it was given'
    assert not (tmp_path / 'elsewhere.txt').exists() and not (tmp_path / 'shared' / 'a.txt').exists()
    assert not os.listdir(str(tmp_path / 'elsewhere'))
    assert not results['a media folder reached through a link'].get('failed')
    assert (media / 'through-the-mount.txt').read_text() == 'x'
    assert not [n for n in os.listdir(str(media)) if n.startswith('.')], 'a temporary file was left on the media'
