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
    byok-tenant openapi

Every command but serve prints one JSON object on success; a refusal prints one line on stderr
and exits 1. The administrator's password and the Key Vault application's client secret are
printed by init and add-tenant, this once only; with --credentials FILE they are written to FILE
(0600, atomically) instead, and not printed.
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
    service = datadir.Service(args.data_dir, args.pkcs11_module)
    if args.command == 'add-tenant':
        info = datadir.add_tenant(service, args.tenant_id, admin_user=args.admin_user)
        info.update(data_dir=service.dir, ca_path=service.ca_path)
        return _shown_once(args, info)
    if args.command == 'serve':
        from ansible_collections.keyceremony.byok.tenant import api
        api.serve(service, args.listen, args.session_ttl, args.keyvault_listen)
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
    return 0


if __name__ == '__main__':
    sys.exit(main())
