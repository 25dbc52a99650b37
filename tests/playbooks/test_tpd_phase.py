# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The online workstation's TPD phase against a served tenant: a TPD and a key package of another key, consistent with
each other, planted on the transfer media, are refused against the pin from the offline workstation; the real ones
are imported. The TPDs are real-format exports built by hand (tests/unit/independent_tpd.py)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import hashlib
import json
import os
import re
import subprocess
import sys

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from ansible_collections.keyceremony.byok.tenant import datadir
from ansible_collections.keyceremony.byok.tests.unit import independent_tpd as ind
from ansible_collections.keyceremony.byok.tests.unit.helpers import (
    STRATEGIES, TenantServer, software_package, strategy_env)

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ANSIBLE_PLAYBOOK = os.path.join(os.path.dirname(sys.executable), 'ansible-playbook')
pytestmark = pytest.mark.skipif(not os.path.exists(ANSIBLE_PLAYBOOK), reason='needs the venv of make setup')

PASSWORD = 'tpd-password-of-the-phase-test-7'
ADMIN = 'tenant-admin-password-of-the-phase-test-8'
PACKAGE = 'KeyTransferPackage-adrms2019.byok'
PLAYBOOK = '''
- hosts: localhost
  gather_facts: false
  roles:
    - role: keyceremony.byok.online_workstation
      vars:
        online_workstation_phase: tpd
        online_workstation_activate: true
        online_workstation_install: false
'''


def _run(tmp_path, variables, strategy):
    (tmp_path / 'play.yml').write_text(PLAYBOOK)
    (tmp_path / 'vars.json').write_text(json.dumps(variables))
    env = dict(os.environ, HOME=str(tmp_path / 'home'), ANSIBLE_CONFIG=os.path.join(REPO_ROOT, 'ansible.cfg'),
               ANSIBLE_NOCOLOR='1', **strategy_env(strategy))
    out = subprocess.run([ANSIBLE_PLAYBOOK, '-i', 'localhost,', '-e', 'ansible_connection=local', '-e',
                          'ansible_python_interpreter=' + sys.executable, '-e', '@' + str(tmp_path / 'vars.json'),
                          str(tmp_path / 'play.yml')], capture_output=True, text=True, env=env, cwd=REPO_ROOT,
                         check=False)
    return out.returncode, ' '.join((out.stdout + out.stderr).split())


@pytest.mark.bad_input
@pytest.mark.parametrize('strategy', STRATEGIES)
def test_a_planted_tpd_and_package_of_another_key_are_refused(tmp_path, strategy):
    info = datadir.init(str(tmp_path / 'tenant'), admin_password=ADMIN)
    tenant = datadir.Tenant(info['data_dir'])
    real, planted = rsa.generate_private_key(65537, 2048), rsa.generate_private_key(65537, 2048)
    real_package = software_package(tenant, 'adrms2019', key=real)[0]
    planted_package = software_package(tenant, 'adrms2019', key=planted)[0]
    media = tmp_path / 'media'
    media.mkdir(mode=0o700)
    # the offline workstation's record, as it wrote it: the real key and its package
    (media / 'offline-offline-ws.json').write_text(json.dumps({
        'spki_sha256': ind.spki_sha256(real), 'package': PACKAGE,
        'package_sha256': hashlib.sha256(real_package).hexdigest()}))
    tpd_id = '91111111-2222-4333-8444-555555555555'

    def tpd_of(key):
        return ind.export(PASSWORD, ind.inner(ind.slc(key, tpd_id), [], container='adrms2019'), None)
    server = TenantServer(info['data_dir']).start()
    try:
        variables = {
            'online_workstation_tenant_url': server.url, 'online_workstation_admin_user': info['admin_user'],
            'online_workstation_admin_password': ADMIN, 'online_workstation_ca_path': info['ca_path'],
            'online_workstation_transfer_dir': str(media), 'online_workstation_work_dir': str(tmp_path / 'online'),
            # read aloud from the offline workstation
            'online_workstation_key_spki_sha256': ind.spki_sha256(real),
            'online_workstation_tpds': [{'file': 'contoso-tpd-2019.xml', 'password': PASSWORD,
                                         'hsm_key_file': PACKAGE}]}
        # a TPD and a package of another key, consistent with each other: every module check passes, the pin does not
        (media / 'contoso-tpd-2019.xml').write_bytes(tpd_of(planted))
        (media / PACKAGE).write_bytes(planted_package)
        code, out = _run(tmp_path, variables, strategy)
        assert code == 2 and 'is not what the offline workstation made: key %s in %s' % (
            ind.spki_sha256(real), PACKAGE) in out, out[-3000:]
        assert tenant.service.store.tpds(tenant.tenant_id) == []
        assert ind.spki_sha256(planted) not in [k['spki_sha256'] for k in tenant.service.store.keys(tenant.tenant_id)]
        assert PASSWORD not in out and ADMIN not in out
        # the record rewritten too, for the planted package: only the key pinned from the offline workstation stops it
        record = json.loads((media / 'offline-offline-ws.json').read_text())
        (media / 'offline-offline-ws.json').write_text(json.dumps(
            dict(record, package_sha256=hashlib.sha256(planted_package).hexdigest())))
        code, out = _run(tmp_path, variables, strategy)
        assert code == 2 and 'is not what the offline workstation made: key %s in %s' % (
            ind.spki_sha256(real), PACKAGE) in out, out[-3000:]
        assert tenant.service.store.tpds(tenant.tenant_id) == []
        (media / 'offline-offline-ws.json').write_text(json.dumps(record))
        # the real files: imported, the first active, the possession proof against the pinned key
        (media / 'contoso-tpd-2019.xml').write_bytes(tpd_of(real))
        (media / PACKAGE).write_bytes(real_package)
        code, out = _run(tmp_path, variables, strategy)
        assert code == 0, out[-3000:]
        # the fingerprint is read little-endian; when the modulus reads as a key either way, the other one is shown too
        shown = re.search(r'contoso-tpd-2019.xml: TPD %s, mode 2, key hsm, SLC key ([0-9a-f]{64}) '
                          r'(?:\(or ([0-9a-f]{64}), read big-endian\) )?\(v2 password\)' % tpd_id, out)
        assert shown and ind.spki_sha256(real) in shown.groups(), out[-3000:]
        active = [k for k in tenant.service.store.keys(tenant.tenant_id) if k['status'] == 'Active']
        assert [k['spki_sha256'] for k in active] == [ind.spki_sha256(real)]
        assert PASSWORD not in out and ADMIN not in out
    finally:
        server.stop()
