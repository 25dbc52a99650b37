# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The collection as users get it: the tarball ansible-galaxy builds, installed into an empty collections path, and
used from there only (no ansible.cfg of the repository, no .collections link, another home folder)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import filecmp
import glob
import json
import os
import re
import subprocess
import sys
import tarfile

import pytest

from ansible_collections.keyceremony.byok.tests.unit.helpers import free_port

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)

# What a user needs, beside every module, role and playbook of the repository
NEEDED = ['MANIFEST.json', 'FILES.json', 'README.md', 'COPYING', 'CHANGELOG.rst', 'changelogs/changelog.yaml',
          'meta/runtime.yml', 'meta/execution-environment.yml', 'meta/ee-requirements.txt', 'bindep.txt',
          'docs/awx.md', 'tenant/cli.py']
# What only serves development: never in the tarball
DEVELOPMENT = re.compile(r'^(\.venv|\.collections|\.demo|\.build|\.ci|\.hypothesis|\.pytest_cache|\.git|bench|scripts'
                         r'|tests|molecule)(/|$)|(^|/)(__pycache__|[^/]*\.pyc|Makefile|pytest\.ini|\.ansible-lint'
                         r'|results\.json|[^/]*\.tar\.gz)$')


def repo_files(pattern):
    return sorted(os.path.relpath(p, REPO_ROOT) for p in glob.glob(os.path.join(REPO_ROOT, pattern)))


def run(args, env, cwd, check=True):
    out = subprocess.run(args, capture_output=True, text=True, env=env, cwd=cwd, check=False)
    if check:
        assert out.returncode == 0, ' '.join(args) + '\n' + out.stdout + out.stderr
    return out


@pytest.fixture(scope='module')
def installed(tmp_path_factory):
    """Build the tarball from the working tree and install it into an empty collections path."""
    base = tmp_path_factory.mktemp('installed')
    home = base / 'home'
    home.mkdir()
    collections = base / 'collections'
    # ansible.cfg of the repository is not read: the commands run in a folder of their own, with an empty one
    (base / 'ansible.cfg').write_text('[defaults]\n')
    env = {'PATH': BIN + os.pathsep + os.environ.get('PATH', ''), 'HOME': str(home), 'LANG': 'C.UTF-8',
           'ANSIBLE_COLLECTIONS_PATH': str(collections), 'ANSIBLE_NOCOLOR': '1',
           'ANSIBLE_CONFIG': str(base / 'ansible.cfg')}
    run([os.path.join(BIN, 'ansible-galaxy'), 'collection', 'build', '--output-path', str(base / 'dist'), REPO_ROOT],
        env, str(base))
    tarball, = glob.glob(str(base / 'dist' / 'keyceremony-byok-*.tar.gz'))
    run([os.path.join(BIN, 'ansible-galaxy'), 'collection', 'install', '--offline', '-p', str(collections), tarball],
        env, str(base))
    return {'base': base, 'env': env, 'tarball': tarball,
            'root': collections / 'ansible_collections' / 'keyceremony' / 'byok'}


@pytest.mark.skipif(not os.path.exists(os.path.join(BIN, 'ansible-galaxy')), reason='needs the venv of make setup')
def test_tarball_holds_what_users_need_and_nothing_of_development(installed):
    with tarfile.open(installed['tarball']) as tar:
        names = [m.name.rstrip('/') for m in tar.getmembers()]
        manifest = json.load(tar.extractfile('MANIFEST.json'))
    galaxy_version = re.search(r'^version: *(\S+)', open(os.path.join(REPO_ROOT, 'galaxy.yml')).read(), re.M).group(1)
    assert manifest['collection_info']['version'] == galaxy_version
    assert manifest['collection_info']['license'] == ['GPL-3.0-or-later']
    needed = NEEDED + repo_files('plugins/*/*.py') + repo_files('roles/*/*/*.yml') + repo_files('playbooks/*.yml') \
        + repo_files('docs/*.md') + repo_files('plugins/module_utils/*.py')
    missing = sorted(set(n for n in needed if '__pycache__' not in n) - set(names))
    assert not missing, 'missing from the tarball: %s' % missing
    development = sorted(n for n in names if DEVELOPMENT.search(n))
    assert not development, 'development files in the tarball: %s' % development
    # the changelog in the tarball names the version it carries
    assert 'v%s\n' % galaxy_version in open(os.path.join(str(installed['root']), 'CHANGELOG.rst')).read()


@pytest.mark.skipif(not os.path.exists(os.path.join(BIN, 'ansible-doc')), reason='needs the venv of make setup')
def test_ansible_doc_lists_every_module_and_role(installed):
    env, cwd = installed['env'], str(installed['base'])
    listed = json.loads(run([os.path.join(BIN, 'ansible-doc'), '--list', '--json', 'keyceremony.byok'], env, cwd).stdout)
    modules = ['keyceremony.byok.' + os.path.basename(p)[:-3] for p in repo_files('plugins/modules/*.py')
               if not p.endswith('__init__.py')]
    assert sorted(listed) == sorted(modules)
    roles = json.loads(run([os.path.join(BIN, 'ansible-doc'), '-t', 'role', '--list', '--json', 'keyceremony.byok'],
                           env, cwd).stdout)
    assert sorted(roles) == sorted('keyceremony.byok.' + os.path.basename(p) for p in repo_files('roles/*'))
    # each module's page renders from the installed copy
    for module in modules:
        page = run([os.path.join(BIN, 'ansible-doc'), module], env, cwd).stdout
        assert str(installed['root']) in page, module


@pytest.mark.skipif(not os.path.exists(os.path.join(BIN, 'ansible-playbook')), reason='needs the venv of make setup')
def test_rehearsal_from_the_installed_collection(installed):
    env, cwd, root = installed['env'], str(installed['base']), installed['root']
    # byok-tenant without the repository's .venv wrapper: the installed collection's module, on its collections path
    cli = run([sys.executable, '-m', 'ansible_collections.keyceremony.byok.tenant.cli', '--help'],
              dict(env, PYTHONPATH=str(installed['base'] / 'collections')), cwd)
    assert 'serve' in cli.stdout
    demo = installed['base'] / 'rehearsal'
    out = run([os.path.join(BIN, 'ansible-playbook'), 'keyceremony.byok.rehearsal', '-e', 'rehearsal_dir=%s' % demo,
               '-e', 'rehearsal_listen=127.0.0.1:%d' % free_port(),
               '-e', 'rehearsal_keyvault_listen=127.0.0.1:%d' % free_port()], env, cwd)
    assert re.search(r'localhost\s+: ok=\d+\s+changed=\d+\s+unreachable=0\s+failed=0', out.stdout)
    assert 'Match            YES' in out.stdout and 'Possession       verified=True' in out.stdout
    # the tenant ran from the installed collection's code, copied by the rehearsal_tenant role
    copied = demo / 'byok-tenant' / 'ansible_collections' / 'keyceremony' / 'byok'
    for name in ('tenant/cli.py', 'tenant/api.py', 'plugins/module_utils/_byok.py'):
        assert filecmp.cmp(str(copied / name), str(root / name), shallow=False), name
    # nothing was written into the repository or the installed collection
    assert not (root / '.demo').exists()
    admin = json.load(open(str(demo / 'tenant.admin.json')))
    assert admin['admin_password'] not in out.stdout + out.stderr
