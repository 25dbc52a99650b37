# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""keyceremony.byok.from_media, run by ansible-playbook (a local connection) under each strategy: what lands on the
host, idempotence, check mode, and every refusal."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
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
      keyceremony.byok.from_media:
        dest: "{{ host }}/work"
        files:
          - src: "{{ media }}/package.byok"
            sha256: "{{ package_sha256 | upper }}"
          - src: "{{ media }}/kek-pkg"
    - name: again
      keyceremony.byok.from_media:
        dest: "{{ host }}/work"
        files:
          - src: "{{ media }}/package.byok"
            sha256: "{{ package_sha256 }}"
          - src: "{{ media }}/kek-pkg"
    - name: check mode
      keyceremony.byok.from_media:
        dest: "{{ host }}/work"
        files:
          - src: "{{ media }}/changed-later"
      check_mode: true
    - name: planted
      keyceremony.byok.from_media:
        dest: "{{ host }}/planted"
        files:
          - src: "{{ media }}/kek-pkg"
          - src: "{{ media }}/planted.byok"
            sha256: "{{ package_sha256 }}"
    - name: missing
      keyceremony.byok.from_media:
        dest: "{{ host }}/work"
        files:
          - src: "{{ media }}/not-there.byok"
    - name: linked source
      keyceremony.byok.from_media:
        dest: "{{ host }}/work"
        files:
          - src: "{{ media }}/link.byok"
    - name: a pipe
      keyceremony.byok.from_media:
        dest: "{{ host }}/work"
        files:
          - src: "{{ media }}/pipe"
    - name: odd name
      keyceremony.byok.from_media:
        dest: "{{ host }}/work"
        files:
          - src: "{{ media }}/.hidden"
    - name: named twice
      keyceremony.byok.from_media:
        dest: "{{ host }}/work"
        files:
          - src: "{{ media }}/kek-pkg"
          - src: "{{ media }}/sub/kek-pkg"
    - name: through a link
      keyceremony.byok.from_media:
        dest: "{{ host }}/linked"
        files:
          - src: "{{ media }}/kek-pkg"
    - name: shared folder
      keyceremony.byok.from_media:
        dest: "{{ host }}/shared"
        files:
          - src: "{{ media }}/kek-pkg"
    - name: relative
      keyceremony.byok.from_media:
        dest: work
        files:
          - src: "{{ media }}/kek-pkg"
    - name: module alone
      keyceremony.byok.from_media:
        dest: "{{ host }}/alone"
        files: []
        _data: ["{{ 'forged' | b64encode }}"]
"""


@pytest.mark.bad_input
@pytest.mark.parametrize('strategy', STRATEGIES)
def test_from_media(tmp_path, strategy):
    media, host = tmp_path / 'media', tmp_path / 'host'
    (media / 'sub').mkdir(parents=True)
    host.mkdir()
    package = b'a wrapped key' * 100
    (media / 'package.byok').write_bytes(package)
    (media / 'kek-pkg').write_bytes(b'kek')
    (media / 'sub' / 'kek-pkg').write_bytes(b'kek')
    (media / 'changed-later').write_bytes(b'new')
    (media / 'planted.byok').write_bytes(b'another key')
    (media / '.hidden').write_bytes(b'x')
    os.symlink(str(media / 'package.byok'), str(media / 'link.byok'))
    os.mkfifo(str(media / 'pipe'))
    (host / 'linked-target').mkdir()
    (host / 'linked').mkdir()
    os.symlink(str(host / 'elsewhere'), str(host / 'linked' / 'kek-pkg'))
    (host / 'shared').mkdir()
    os.chmod(str(host / 'shared'), 0o777)
    results, stdout = each_task_of(tmp_path, PLAYBOOK, {
        'media': str(media), 'host': str(host), 'package_sha256': hashlib.sha256(package).hexdigest()}, strategy)
    work = host / 'work'

    first = results['first']
    assert not first.get('failed') and first['changed'], first.get('msg')
    carried = [(os.path.basename(f['path']), f['changed']) for f in first['files']]
    assert carried == [('package.byok', True), ('kek-pkg', True)]
    assert (work / 'package.byok').read_bytes() == package and (work / 'kek-pkg').read_bytes() == b'kek'
    assert stat.S_IMODE(os.stat(str(work)).st_mode) == 0o700
    for name in ('package.byok', 'kek-pkg'):
        assert stat.S_IMODE(os.stat(str(work / name)).st_mode) == 0o600
    # the files' bytes stay out of the result
    assert 'invocation' not in first and base64.b64encode(package).decode() not in stdout

    assert not results['again']['changed']
    check = results['check mode']
    assert check['changed'] and not check.get('failed') and not (work / 'changed-later').exists(), check

    refusals = {
        'planted': 'not %s as the workstation that made it recorded' % hashlib.sha256(package).hexdigest(),
        'missing': 'is not on the transfer media',
        'linked source': 'is a symbolic link: bring the file itself',
        'odd name': 'is not a plain file name',
        'named twice': 'kek-pkg is named twice',
        'through a link': 'is a symbolic link: remove it',
        'shared folder': 'can be written by others',
        'relative': 'is not an absolute path',
        'module alone': 'Unsupported parameters',  # _names and _data come from the action only
        'a pipe': 'is not a regular file',
    }
    for name, said in refusals.items():
        assert results[name].get('failed') and said in results[name]['msg'], (name, results[name])
    assert not (host / 'planted').exists(), 'a refused task wrote part of what it was given'
    assert not (host / 'elsewhere').exists() and not (host / 'shared' / 'kek-pkg').exists()
    assert not (host / 'alone' / 'x.byok').exists()
