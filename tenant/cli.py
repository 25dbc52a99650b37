# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""byok-tenant: the rehearsal tenant, the cloud's half of the ceremony.

    byok-tenant init     --data-dir DIR [--tenant-id GUID]   create the tenant (token, root, KEKs)
    byok-tenant info     --data-dir DIR                      what operators need: tenant id, root hash
    byok-tenant toolset  --data-dir DIR --region NA --out OUT
    byok-tenant receive  --data-dir DIR --package FILE       check and import a transfer package

Every command prints one JSON object on success; a refusal prints one line on stderr and exits 1.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import argparse
import json
import sys

from ansible_collections.keyceremony.byok.plugins.module_utils._errors import ByokError
from ansible_collections.keyceremony.byok.plugins.module_utils._kek import REGIONS
from ansible_collections.keyceremony.byok.tenant import datadir


def parser():
    p = argparse.ArgumentParser(prog='byok-tenant', description='The rehearsal tenant: the cloud side of a BYOK ceremony.')
    p.add_argument('--pkcs11-module', help='PKCS#11 library (default: SoftHSM2)')
    sub = p.add_subparsers(dest='command', required=True)
    c = sub.add_parser('init', help='create a tenant: its SoftHSM2 token, vendor root, attestation key and KEKs')
    c.add_argument('--data-dir', required=True)
    c.add_argument('--tenant-id', help='the tenant ID (a GUID); random when not given')
    c = sub.add_parser('info', help='print the tenant ID, root hash and KEKs')
    c.add_argument('--data-dir', required=True)
    c = sub.add_parser('toolset', help='write the regional BYOK toolset (KEK and security-world packages)')
    c.add_argument('--data-dir', required=True)
    c.add_argument('--region', required=True, choices=REGIONS)
    c.add_argument('--out', required=True)
    c = sub.add_parser('receive', help='check a transfer package and import its key into the tenant token')
    c.add_argument('--data-dir', required=True)
    c.add_argument('--package', required=True)
    return p


def run(args):
    if args.command == 'init':
        return datadir.init(args.data_dir, args.tenant_id, args.pkcs11_module)
    tenant = datadir.Tenant(args.data_dir, args.pkcs11_module)
    if args.command == 'info':
        return tenant.info()
    if args.command == 'toolset':
        return tenant.toolset(args.region, args.out)
    try:
        with open(args.package, 'rb') as f:
            data = f.read()
    except IOError as e:
        raise ByokError('cannot read the package %s: %s' % (args.package, e.strerror))
    return tenant.receive(data)


def main(argv=None):
    args = parser().parse_args(argv)
    try:
        out = run(args)
    except ByokError as e:
        sys.stderr.write('byok-tenant: refused: %s\n' % e)
        return 1
    sys.stdout.write(json.dumps(out, indent=2, sort_keys=True) + '\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
