# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""byok-tenant: the rehearsal tenant service, the cloud's half of the ceremony.

    byok-tenant init        --data-dir DIR [--tenant-id GUID] [--admin-user U] [--server-name NAME ...] [--credentials FILE]
    byok-tenant add-tenant  --data-dir DIR [--tenant-id GUID] [--admin-user U] [--credentials FILE]
    byok-tenant info        --data-dir DIR [--tenant-id GUID]
    byok-tenant keys        --data-dir DIR [--tenant-id GUID]
    byok-tenant toolset     --data-dir DIR [--tenant-id GUID] --region NA --out OUT
    byok-tenant receive     --data-dir DIR [--tenant-id GUID] --package FILE
    byok-tenant serve       --data-dir DIR [--listen 127.0.0.1:8443] [--keyvault-listen 127.0.0.1:8444] [--session-ttl 3600]
                            [--login-failures-per-user 5] [--login-failures-per-address 20] [--login-failure-window 900]
    byok-tenant status      --data-dir DIR [--pid-file DIR.pid]
    byok-tenant stop        --data-dir DIR [--pid-file DIR.pid] [--timeout 30]
    byok-tenant openapi

Every command but serve prints one JSON object on success; a refusal prints one line on stderr
and exits 1; status exits 3 when the service is not running, and 4 when it cannot tell (the
process the pid file names is alive but /proc does not show its command line). The
administrator's password and the Key Vault application's client secret are printed by init and
add-tenant, this once only; with --credentials FILE they are written to FILE (0600, atomically)
instead, and not printed.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import argparse
import json
import os
import sys

from ansible_collections.keyceremony.byok.plugins.module_utils._errors import ByokError
from ansible_collections.keyceremony.byok.plugins.module_utils._files import write_private_json
from ansible_collections.keyceremony.byok.plugins.module_utils._kek import REGIONS


CREDENTIALS_HELP = ("write the result, with the administrator's password and the client secret, to this file "
                    "(0600, atomically) and print it without them")
SHOWN_ONCE = ('admin_password', 'client_secret')


def parser():
    p = argparse.ArgumentParser(prog='byok-tenant', description='The rehearsal tenant: the cloud side of a BYOK ceremony.')
    p.add_argument('--pkcs11-module', help='PKCS#11 library (default: SoftHSM2)')
    sub = p.add_subparsers(dest='command', required=True)
    c = sub.add_parser('init', help='create the service and its first tenant')
    c.add_argument('--data-dir', required=True)
    c.add_argument('--tenant-id', help='the tenant ID (a GUID); random when not given')
    c.add_argument('--admin-user', help='the tenant administrator (default admin@<tenant id>)')
    c.add_argument('--server-name', action='append', default=[],
                   help='a name or address clients use to reach the service (repeat; localhost and 127.0.0.1 always)')
    c.add_argument('--credentials', help=CREDENTIALS_HELP)
    c = sub.add_parser('add-tenant', help='add a tenant to the service')
    c.add_argument('--data-dir', required=True)
    c.add_argument('--tenant-id')
    c.add_argument('--admin-user')
    c.add_argument('--credentials', help=CREDENTIALS_HELP)
    for name, text in (('info', 'print the tenant ID, root hash and KEKs'),
                       ('keys', "list the tenant's keys, the active one first"),
                       ('toolset', 'write the regional BYOK toolset (KEK and security-world packages)'),
                       ('receive', 'check a transfer package and import its key (it becomes the active key)')):
        c = sub.add_parser(name, help=text)
        c.add_argument('--data-dir', required=True)
        c.add_argument('--tenant-id', help='which tenant (needed when the service has several)')
        if name == 'toolset':
            c.add_argument('--region', required=True, choices=REGIONS)
            c.add_argument('--out', required=True)
        if name == 'receive':
            c.add_argument('--package', required=True)
    c = sub.add_parser('serve', help='serve the tenant API over HTTPS')
    c.add_argument('--data-dir', required=True)
    c.add_argument('--listen', default='127.0.0.1:8443', help='address:port (default 127.0.0.1:8443)')
    c.add_argument('--keyvault-listen', help='also serve the rehearsal\'s Azure Key Vault on address:port (for example '
                                             '127.0.0.1:8444), at the root of that origin')
    c.add_argument('--session-ttl', type=int, default=3600, help='seconds a Connect session lasts (default 3600)')
    c.add_argument('--login-failures-per-user', type=int, default=5, metavar='N',
                   help='failed sign-ins a user name (or Key Vault client ID) may have in the window (default 5)')
    c.add_argument('--login-failures-per-address', type=int, default=20, metavar='N',
                   help='failed sign-ins a client address may have in the window (default 20)')
    c.add_argument('--login-failure-window', type=int, default=900, metavar='SECONDS',
                   help='the sliding window of those limits (default 900, 15 minutes)')
    for name, text in (('status', 'whether the pid file names the byok-tenant serve of this data folder (exit 0) '
                                  'or not (exit 3), or cannot be told (exit 4: its command line is unreadable)'),
                       ('stop', 'stop the byok-tenant serve the pid file names, only if it is the one of this data '
                                'folder; a stale pid file is removed and nothing is signalled')):
        c = sub.add_parser(name, help=text)
        c.add_argument('--data-dir', required=True)
        c.add_argument('--pid-file', help='default: <data dir>.pid, where the rehearsal_tenant role writes it')
        if name == 'stop':
            c.add_argument('--timeout', type=int, default=30, help='seconds to wait for it to stop (default 30)')
    sub.add_parser('openapi', help='print the API description (OpenAPI 3)')
    return p


def run(args):
    from ansible_collections.keyceremony.byok.tenant import datadir
    if args.command == 'init':
        return _shown_once(args, datadir.init(args.data_dir, args.tenant_id, args.pkcs11_module,
                                              admin_user=args.admin_user, server_names=args.server_name))
    if args.command == 'openapi':
        from ansible_collections.keyceremony.byok.tenant import api
        return api.create_app(None).openapi()
    if args.command in ('status', 'stop'):
        from ansible_collections.keyceremony.byok.tenant import process
        pid_file = args.pid_file or process.default_pid_file(args.data_dir)
        if args.command == 'status':
            return process.status(args.data_dir, pid_file)
        return process.stop(args.data_dir, pid_file, args.timeout)
    service = datadir.Service(args.data_dir, args.pkcs11_module)
    if args.command == 'add-tenant':
        info = datadir.add_tenant(service, args.tenant_id, admin_user=args.admin_user)
        info.update(data_dir=service.dir, ca_path=service.ca_path)
        return _shown_once(args, info)
    if args.command == 'serve':
        from ansible_collections.keyceremony.byok.tenant import api
        from ansible_collections.keyceremony.byok.tenant.limits import Limits
        try:
            limits = Limits(args.login_failures_per_user, args.login_failures_per_address, args.login_failure_window)
        except ValueError as e:
            raise ByokError('%s: give --login-failures-per-user, --login-failures-per-address and '
                            '--login-failure-window of 1 or more' % e)
        api.serve(service, args.listen, args.session_ttl, args.keyvault_listen, limits)
        return None
    tenant = service.tenant(args.tenant_id)
    if args.command == 'info':
        return tenant.info()
    if args.command == 'keys':
        from ansible_collections.keyceremony.byok.tenant.store import key_view
        keys = [key_view(k) for k in service.store.keys(tenant.tenant_id)]
        return {'tenant_id': tenant.tenant_id, 'keys': sorted(keys, key=lambda k: k['Status'] != 'Active')}
    if args.command == 'toolset':
        return tenant.toolset(args.region, args.out)
    try:
        with open(args.package, 'rb') as f:
            data = f.read()
    except IOError as e:
        raise ByokError('cannot read the package %s: %s' % (args.package, e.strerror))
    return tenant.receive(data)


def _shown_once(args, info):
    """The administrator's password and the client secret leave this process once: in the credentials file, or
    printed."""
    if not args.credentials:
        return info
    write_private_json(args.credentials, info)
    shown = dict((k, v) for k, v in info.items() if k not in SHOWN_ONCE)
    shown['credentials'] = os.path.abspath(args.credentials)
    return shown


def main(argv=None):
    os.umask(0o077)
    args = parser().parse_args(argv)
    try:
        out = run(args)
    except ByokError as e:
        sys.stderr.write('byok-tenant: refused: %s\n' % e)
        return 1
    if out is not None:
        sys.stdout.write(json.dumps(out, indent=2, sort_keys=True) + '\n')
    if args.command == 'status' and out['running'] is None:
        return 4  # as an init script's status: unknown (stop refuses then too)
    if args.command == 'status' and not out['running']:
        return 3  # as an init script's status: not running
    return 0


if __name__ == '__main__':
    sys.exit(main())
