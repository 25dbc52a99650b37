# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""`make bench`: what a ceremony costs, against the HSM work it does.

In one run, side by side, each figure the median of several runs with min and max:

ceremony  playbooks/byok_over_internet.yml with both workstations on this machine (local
          connections, the offline token in its own SoftHSM2 folder) against a running rehearsal
          tenant, wall time and time per step (the ansible.posix.json callback times each task),
          against bench/baseline.py, which makes the same module calls in one Python process.
fleet     playbooks/byok_fleet.yml with N = 1, 4, 16 offline workstations (one token and one
          tenant each) and one online workstation, forks N + 1: wall time per ceremony, and the
          speed-up over N = 1.
keys      bench/keys.py: RSA generation, two-step wrap and unwrap alone (the physical floor).

With --before REF, the ceremony and the fleet also run the playbooks and roles of git commit REF
(a worktree in .build/bench), interleaved with the working tree's runs, so that before and after
come from the same run on the same machine.

Each run starts from a copy of a pristine tenant service, made once (tenant creation is not
timed). Results go to a JSON file, and a table to docs/performance.md between its bench markers.

    python bench/bench.py [--runs 3] [--fleet 1,4,16] [--only ceremony,fleet,keys] [--before REF]
                          [--strategy linear,mitogen_linear]

Every playbook figure is taken under each strategy (Ansible's linear, and Mitogen's mitogen_linear, a persistent
interpreter per host), interleaved run by run, with the CPU time (user + system) of ansible-playbook and everything it
started.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import argparse
import datetime
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO_ROOT, '.collections'))

# pylint: disable=wrong-import-position
from ansible_collections.keyceremony.byok.plugins.module_utils._files import write_private_json  # noqa: E402
from ansible_collections.keyceremony.byok.tenant import datadir  # noqa: E402
from ansible_collections.keyceremony.byok.tests.unit.helpers import TenantServer, strategy_env  # noqa: E402

BIN = os.path.dirname(sys.executable)
STEPS = ['tenant_info', 'byok_toolset', 'security_world', 'hsm_key', 'world_backup', 'kek_package_verify', 'key_acl',
         'transfer_package', 'tenant_key_info', 'tenant_key', 'journal_info']
OTHER = 'other tasks'
STARTUP = 'start-up and between steps'
CONNECTION = ('url', 'admin_user', 'admin_password', 'ca_path', 'root_hash')
MARK_BEGIN, MARK_END = '<!-- bench:begin -->', '<!-- bench:end -->'


def say(text):
    print('bench: %s' % text, file=sys.stderr)
    sys.stderr.flush()


def stats(values):
    return {'median': statistics.median(values), 'min': min(values), 'max': max(values), 'runs': values}


# --- tenants -----------------------------------------------------------------------------------

class Tenants(object):
    """A pristine rehearsal tenant service with ``count`` tenants; each run serves a fresh copy."""

    def __init__(self, base, count):
        self.base = base
        self.pristine = os.path.join(base, 'pristine-%d' % count)
        say('making a rehearsal tenant service with %d tenant(s) (not timed)' % count)
        first = datadir.init(self.pristine, admin_password='bench-admin-password-1')
        self.tenants = [first]
        service = datadir.Service(self.pristine)
        for i in range(2, count + 1):
            self.tenants.append(datadir.add_tenant(service, admin_password='bench-admin-password-%d' % i))
        self.copies = 0
        self.server = None

    def serve_copy(self):
        """Copy the pristine service, start it; returns [{url, admin_user, admin_password, ca_path, root_hash}]."""
        self.copies += 1
        data = os.path.join(self.base, 'serve-%d' % self.copies)
        shutil.copytree(self.pristine, data, symlinks=True)
        datadir._write_conf(data)  # pylint: disable=protected-access
        self.server = TenantServer(data).start()
        return [{'url': self.server.url, 'admin_user': t['admin_user'], 'admin_password': t['admin_password'],
                 'ca_path': self.server.ca_path, 'root_hash': t['root_hash_grouped'], 'tenant_id': t['tenant_id']}
                for t in self.tenants]

    def stop(self):
        if self.server:
            self.server.stop()
            shutil.rmtree(self.server.data_dir, ignore_errors=True)
            self.server = None


# --- running the playbooks ---------------------------------------------------------------------

def collections_of(tree, base):
    """The collections path under which ``tree`` is keyceremony.byok."""
    if tree == REPO_ROOT:
        return os.path.join(REPO_ROOT, '.collections')
    link = os.path.join(base, 'collections-before', 'ansible_collections', 'keyceremony', 'byok')
    if not os.path.islink(link):
        os.makedirs(os.path.dirname(link))
        os.symlink(tree, link)
    return os.path.join(base, 'collections-before')


def cpu_of_children():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def playbook(tree, base, name, inventory, extra, forks, strategy='linear'):
    """Run ``name`` of ``tree`` with ``strategy``; returns (wall seconds, CPU seconds of ansible-playbook and all it
    started, [(action, seconds)] per task, [(play name, seconds)] per play)."""
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(tree, 'ansible.cfg'), ANSIBLE_NOCOLOR='1',
               ANSIBLE_STDOUT_CALLBACK='ansible.posix.json', ANSIBLE_FORKS=str(forks),
               ANSIBLE_COLLECTIONS_PATH=collections_of(tree, base), HOME=os.path.join(base, 'home'),
               ANSIBLE_DEPRECATION_WARNINGS='0', **strategy_env(strategy))
    env.pop('SOFTHSM2_CONF', None)
    files = []
    for data in (inventory, extra):
        fd, path = tempfile.mkstemp(suffix='.json', dir=base)
        with os.fdopen(fd, 'w') as f:
            json.dump(data, f)
        files.append(path)
    start, cpu = time.time(), cpu_of_children()
    out = subprocess.run([os.path.join(BIN, 'ansible-playbook'), '-i', files[0], '-e', '@' + files[1],
                          os.path.join(tree, 'playbooks', name)], cwd=tree, env=env, capture_output=True, text=True,
                         check=False)
    wall, cpu = time.time() - start, cpu_of_children() - cpu
    if out.returncode != 0:
        raise SystemExit('bench: %s failed (exit %d):\n%s\n%s'
                         % (name, out.returncode, out.stdout[-4000:], out.stderr[-2000:]))
    report = json.loads(out.stdout)
    tasks, plays = [], []
    for play in report['plays']:
        plays.append((play['play']['name'], iso(play['play']['duration']['end'])
                      - iso(play['play']['duration']['start'])))
        for task in play['tasks']:
            actions = set(r.get('action', '') for r in task['hosts'].values())
            seconds = (iso(task['task']['duration']['end']) - iso(task['task']['duration']['start']))
            tasks.append((actions.pop() if len(actions) == 1 else '', seconds))
    return wall, cpu, tasks, plays


def iso(text):
    return datetime.datetime.strptime(text, '%Y-%m-%dT%H:%M:%S.%fZ').timestamp()


def workstation_dirs(work, host):
    folder = os.path.join(work, host)
    return {'offline_workstation_softhsm_dir': folder, 'offline_workstation_world_dir': os.path.join(folder, 'world'),
            'offline_workstation_media_dir': os.path.join(folder, 'media'),
            'offline_workstation_backup_dir': os.path.join(folder, 'backup')}


def cards(work, host):
    return [{'path': os.path.join(work, host, 'cards', 'card%d' % i), 'pin': 'bench-card-pin-%d' % i} for i in (1, 2, 3)]


def local(**extra):
    return dict(extra, ansible_connection='local', ansible_python_interpreter=sys.executable)


def ceremony_playbook(tree, strategy, base, work, tenant):
    os.makedirs(os.path.join(work, 'transfer'))
    inventory = {'all': {'children': {
        'online': {'hosts': {'online-ws': local()}},
        'offline': {'hosts': {'offline-ws': local(**workstation_dirs(work, 'offline'))}}}}}
    extra = {'byok_transfer_dir': os.path.join(work, 'transfer'), 'byok_tenant_url': tenant['url'],
             'byok_tenant_admin_user': tenant['admin_user'], 'byok_tenant_admin_password': tenant['admin_password'],
             'byok_tenant_ca_path': tenant['ca_path'], 'byok_root_hash': tenant['root_hash'],
             'byok_admin_cards': cards(work, 'offline'), 'byok_activate': True,
             'online_workstation_work_dir': os.path.join(work, 'online')}
    wall, cpu, tasks = playbook(tree, base, 'byok_over_internet.yml', inventory, extra, forks=2, strategy=strategy)[:3]
    steps = dict((s, 0.0) for s in STEPS + [OTHER])
    other = {}
    for action, seconds in tasks:
        step = action.replace('keyceremony.byok.', '')
        if step not in steps:
            other.setdefault(action, []).append(seconds)
            step = OTHER
        steps[step] += seconds
    steps[STARTUP] = wall - sum(seconds for action, seconds in tasks)
    return wall, cpu, steps, other, len(tasks)


def ceremony_baseline(base, work, tenant):
    path = os.path.join(base, 'baseline-tenant.json')
    write_private_json(path, tenant)  # the administrator's password: 0600
    env = dict(os.environ)
    env.pop('SOFTHSM2_CONF', None)
    start, cpu = time.time(), cpu_of_children()
    out = subprocess.run([sys.executable, os.path.join(REPO_ROOT, 'bench', 'baseline.py'), '--work', work,
                          '--tenant', path], env=env, capture_output=True, text=True, check=False)
    wall, cpu = time.time() - start, cpu_of_children() - cpu
    if out.returncode != 0:
        raise SystemExit('bench: the baseline failed:\n%s' % (out.stdout + out.stderr)[-4000:])
    steps = dict((s, 0.0) for s in STEPS)
    for step, seconds in json.loads(out.stdout)['steps']:
        steps[step] += seconds
    steps[STARTUP] = wall - sum(steps.values())
    return wall, cpu, steps


def fleet_playbook(tree, strategy, base, work, tenants):
    n = len(tenants)
    names = ['t%02d' % (i + 1) for i in range(n)]
    offline = dict(('off%02d' % (i + 1), local(byok_tenant=names[i], offline_workstation_key_ident='key%02d' % (i + 1),
                                               byok_admin_cards=cards(work, 'off%02d' % (i + 1)),
                                               **workstation_dirs(work, 'off%02d' % (i + 1))))
                   for i in range(n))
    inventory = {'all': {'children': {'online': {'hosts': {'online-ws': local()}}, 'offline': {'hosts': offline}}}}
    extra = {'byok_transfer_dir': os.path.join(work, 'transfer'), 'byok_activate': True,
             'online_workstation_fleet_dir': os.path.join(work, 'online'),
             'byok_tenants': dict((names[i], dict((k, t[k]) for k in CONNECTION)) for i, t in enumerate(tenants))}
    for name in names:
        os.makedirs(os.path.join(work, 'transfer', name))
    wall, cpu, dummy, plays = playbook(tree, base, 'byok_fleet.yml', inventory, extra, forks=n + 1, strategy=strategy)
    # the online workstation serves the tenants one after the other: its plays do not shrink with more cores
    return wall, cpu, sum(seconds for name, seconds in plays if name.startswith('Online workstation'))


# --- the runs ----------------------------------------------------------------------------------

def run_ceremony(base, variants, runs, results):
    """``variants``: label -> (tree, strategy); each run goes through every variant and the baseline, interleaved."""
    tenants = Tenants(base, 1)
    labels = list(variants) + ['baseline']
    walls, cpus = dict((label, []) for label in labels), dict((label, []) for label in labels)
    steps = dict((label, dict()) for label in labels)
    tasks, others = {}, {}
    for run in range(runs):
        for label in labels:
            work = os.path.join(base, 'ceremony-%s-%d' % (label.replace(' ', '-'), run))
            tenant = tenants.serve_copy()[0]
            try:
                if label == 'baseline':
                    wall, cpu, by_step = ceremony_baseline(base, work, tenant)
                else:
                    wall, cpu, by_step, other, tasks[label] = ceremony_playbook(variants[label][0], variants[label][1],
                                                                                base, work, tenant)
                    for action, seconds in other.items():
                        others.setdefault(label, {}).setdefault(action, []).append(sum(seconds))
            finally:
                tenants.stop()
            shutil.rmtree(work, ignore_errors=True)
            say('ceremony run %d, %s: %.1f s, %.1f s of CPU' % (run + 1, label, wall, cpu))
            walls[label].append(wall)
            cpus[label].append(cpu)
            for step, seconds in by_step.items():
                steps[label].setdefault(step, []).append(seconds)
    results['ceremony'] = dict(
        (label, {'wall': stats(walls[label]), 'cpu': stats(cpus[label]), 'tasks': tasks.get(label),
                 'steps': dict((s, stats(v)) for s, v in steps[label].items()),
                 'other_tasks': dict((a, stats(v)) for a, v in others.get(label, {}).items())}) for label in labels)
    results['ceremony']['ratio'] = dict(
        (label, results['ceremony'][label]['wall']['median'] / results['ceremony']['baseline']['wall']['median'])
        for label in variants)


def run_fleet(base, variants, sizes, runs, results):
    tenants = Tenants(base, max(sizes))
    walls = dict((label, dict((n, []) for n in sizes)) for label in variants)
    cpus = dict((label, dict((n, []) for n in sizes)) for label in variants)
    onlines = dict((label, dict((n, []) for n in sizes)) for label in variants)
    for n in sizes:
        for run in range(runs):
            for label, (tree, strategy) in variants.items():  # interleaved: every variant sees the same machine
                work = os.path.join(base, 'fleet-%s-%d-%d' % (label.replace(' ', '-'), n, run))
                try:
                    wall, cpu, online = fleet_playbook(tree, strategy, base, work, tenants.serve_copy()[:n])
                finally:
                    tenants.stop()
                shutil.rmtree(work, ignore_errors=True)
                say('fleet %s N=%d run %d: %.1f s, %.1f s of CPU' % (label, n, run + 1, wall, cpu))
                walls[label][n].append(wall)
                cpus[label][n].append(cpu)
                onlines[label][n].append(online / n)
    results['fleet'] = {}
    for label in variants:
        per = dict((str(n), {'wall': stats(walls[label][n]), 'per_ceremony': stats([w / n for w in walls[label][n]]),
                             'cpu_per_ceremony': stats([c / n for c in cpus[label][n]]),
                             'online_per_tenant': stats(onlines[label][n])})
                   for n in sizes)
        one = per[str(sizes[0])]['per_ceremony']['median'] if sizes[0] == 1 else None
        for n in sizes:
            per[str(n)]['speedup'] = one / per[str(n)]['per_ceremony']['median'] if one else None
        results['fleet'][label] = per


def run_keys(base, runs, results):
    work = os.path.join(base, 'keys')
    env = dict(os.environ)
    env.pop('SOFTHSM2_CONF', None)
    out = subprocess.run([sys.executable, os.path.join(REPO_ROOT, 'bench', 'keys.py'), '--work', work,
                          '--runs', str(runs)], env=env, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit('bench: keys failed:\n%s' % (out.stdout + out.stderr)[-4000:])
    got = json.loads(out.stdout)
    results['keys'] = dict((op, dict((size, stats(v)) for size, v in sizes.items())) for op, sizes in got.items())
    say('keys: done')


def worktree(base, ref):
    path = os.path.join(base, 'before')
    subprocess.run(['git', 'worktree', 'remove', '--force', path], cwd=REPO_ROOT, capture_output=True, check=False)
    subprocess.run(['git', 'worktree', 'add', '--detach', path, ref], cwd=REPO_ROOT, check=True, capture_output=True)
    sha = subprocess.run(['git', 'rev-parse', '--short', ref], cwd=REPO_ROOT, check=True, capture_output=True,
                         text=True).stdout.strip()
    return path, sha


def machine():
    cpu = ''
    try:
        with open('/proc/cpuinfo') as f:
            cpu = next((line.split(':', 1)[1].strip() for line in f if line.startswith('model name')), '')
    except IOError:
        pass
    with open('/proc/meminfo') as f:
        mem = int(f.readline().split()[1]) // (1024 * 1024)
    versions = subprocess.run([os.path.join(BIN, 'ansible'), '--version'], capture_output=True, text=True,
                              check=False).stdout.splitlines()[0]
    return {'cpus': os.cpu_count(), 'cpu': cpu, 'memory_gib': mem, 'system': platform.platform(),
            'python': platform.python_version(), 'ansible': versions,
            'commit': subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], cwd=REPO_ROOT, capture_output=True,
                                     text=True, check=False).stdout.strip()}


# --- the table ---------------------------------------------------------------------------------

def m(entry):
    if entry['max'] < 0.1:
        return '%.1f ms (%.1f-%.1f)' % (entry['median'] * 1000, entry['min'] * 1000, entry['max'] * 1000)
    return '%.2f (%.2f-%.2f)' % (entry['median'], entry['min'], entry['max'])


def table(results):
    lines = ['Measured %s on %s: %d CPUs (%s), %d GiB, %s, Python %s, %s; commit %s%s. Seconds: median (min-max) '
             'of %d runs.' % (results['date'], results['machine']['system'], results['machine']['cpus'],
                              results['machine']['cpu'], results['machine']['memory_gib'], 'SoftHSM2',
                              results['machine']['python'], results['machine']['ansible'],
                              results['machine']['commit'],
                              ', before = %s' % results['before'] if results.get('before') else '', results['runs']),
             '']
    cer = results.get('ceremony')
    if cer:
        labels = [k for k in cer if k not in ('baseline', 'ratio')] + ['baseline']
        lines += ['### Ceremony (byok_over_internet.yml, one machine)', '',
                  '| step | ' + ' | '.join('playbook (%s)' % k if k != 'baseline' else 'one process' for k in labels)
                  + ' |', '|---' * (len(labels) + 1) + '|']
        for step in STEPS + [OTHER, STARTUP]:
            lines.append('| %s | %s |' % (step, ' | '.join(m(cer[k]['steps'][step]) if step in cer[k]['steps'] else '-'
                                                           for k in labels)))
        lines.append('| **wall** | %s |' % ' | '.join('**%s**' % m(cer[k]['wall']) for k in labels))
        if all('cpu' in cer[k] for k in labels):
            lines.append('| CPU (user + system) | %s |' % ' | '.join(m(cer[k]['cpu']) for k in labels))
        lines.append('| tasks | %s |' % ' | '.join(str(cer[k].get('tasks') or '-') for k in labels))
        lines += ['', 'Playbook / one process (wall, medians): %s.'
                  % ', '.join('%s %.1f' % (k, v) for k, v in cer['ratio'].items())]
        for k in cer['ratio']:
            if k.startswith('before') and k.replace('before', 'after', 1) in cer:
                lines.append('%s / %s: %.2f.' % (k, k.replace('before', 'after', 1), cer[k]['wall']['median']
                                                 / cer[k.replace('before', 'after', 1)]['wall']['median']))
        lines.append('')
    fleet = results.get('fleet')
    if fleet:
        # one table per variant: N, wall, per ceremony, CPU per ceremony, the online plays per tenant, speed-up
        lines += ['### Fleet (byok_fleet.yml, forks N + 1)', '']
        for k in fleet:
            lines += ['%s:' % k, '', '| N | wall | per ceremony | CPU per ceremony | online plays per tenant | speed-up |',
                      '|---|---|---|---|---|---|']
            for n in fleet[k]:
                lines.append('| %s | %s | %s | %s | %s | %s |' % (
                    n, m(fleet[k][n]['wall']), m(fleet[k][n]['per_ceremony']),
                    m(fleet[k][n]['cpu_per_ceremony']) if 'cpu_per_ceremony' in fleet[k][n] else '-',
                    m(fleet[k][n]['online_per_tenant']) if 'online_per_tenant' in fleet[k][n] else '-',
                    '%.2f' % fleet[k][n]['speedup'] if fleet[k][n]['speedup'] else '-'))
            lines.append('')
    keys = results.get('keys')
    if keys:
        sizes = list(keys['generate'])
        lines += ['### HSM floor (SoftHSM2, one process)', '', '| operation | ' + ' | '.join('RSA %s' % s for s in sizes)
                  + ' |', '|---' * (len(sizes) + 1) + '|']
        for op, label in (('generate', 'generate'), ('wrap', 'wrap (KWP + OAEP)'), ('unwrap', 'unwrap (OAEP + KWP)')):
            lines.append('| %s | %s |' % (label, ' | '.join(m(keys[op][s]) for s in sizes)))
        lines.append('')
    return '\n'.join(lines)


def write_doc(path, text):
    with open(path) as f:
        doc = f.read()
    if MARK_BEGIN not in doc or MARK_END not in doc:
        raise SystemExit('bench: %s has no %s ... %s markers' % (path, MARK_BEGIN, MARK_END))
    head, rest = doc.split(MARK_BEGIN, 1)
    tail = rest.split(MARK_END, 1)[1]
    with open(path + '.tmp', 'w') as f:
        f.write(head + MARK_BEGIN + '\n' + text + '\n' + MARK_END + tail)
    os.replace(path + '.tmp', path)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--runs', type=int, default=3, help='runs of each figure (default 3)')
    parser.add_argument('--fleet', default='1,4,16', help='fleet sizes (default 1,4,16)')
    parser.add_argument('--only', default='ceremony,fleet,keys', help='which parts (default all)')
    parser.add_argument('--before', help='a git commit to measure beside the working tree')
    parser.add_argument('--strategy', default='linear,mitogen_linear',
                        help="Ansible strategies to measure side by side (default linear,mitogen_linear)")
    parser.add_argument('--out', default=os.path.join(REPO_ROOT, 'bench', 'results.json'))
    parser.add_argument('--doc', default=os.path.join(REPO_ROOT, 'docs', 'performance.md'),
                        help='the document whose bench section gets the table ("" for none)')
    args = parser.parse_args()
    parts = args.only.split(',')
    build = os.path.join(REPO_ROOT, '.build', 'bench')
    os.makedirs(build, exist_ok=True)
    base = tempfile.mkdtemp(prefix='run-', dir=build)
    results = {'date': datetime.date.today().isoformat(), 'runs': args.runs, 'machine': machine()}
    trees = {'after' if args.before else 'playbook': REPO_ROOT}
    if args.before:
        path, results['before'] = worktree(build, args.before)
        trees = {'before': path, 'after': REPO_ROOT}
    strategies = args.strategy.split(',')
    results['strategies'] = strategies
    # one strategy: the trees' labels as before; several: each tree under each, 'linear' or 'before mitogen_linear'
    trees = dict(((label if len(strategies) == 1 else ('%s %s' % (label, strategy) if args.before else strategy)),
                  (tree, strategy)) for label, tree in trees.items() for strategy in strategies)
    try:
        if 'keys' in parts:
            run_keys(base, max(args.runs, 5), results)
        if 'ceremony' in parts:
            run_ceremony(base, trees, args.runs, results)
        if 'fleet' in parts:
            run_fleet(base, trees, [int(n) for n in args.fleet.split(',')], args.runs, results)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    with open(args.out + '.tmp', 'w') as f:
        json.dump(results, f, indent=1, sort_keys=True)
    os.replace(args.out + '.tmp', args.out)
    text = table(results)
    print(text)
    if args.doc:
        write_doc(args.doc, text)
    say('results in %s%s' % (os.path.relpath(args.out, REPO_ROOT), ', table in ' + os.path.relpath(args.doc, REPO_ROOT)
                             if args.doc else ''))


if __name__ == '__main__':
    main()
