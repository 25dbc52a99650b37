# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fixtures for the tenant service: a real `byok-tenant serve` with two tenants."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.keyceremony.byok.tenant import datadir
from ansible_collections.keyceremony.byok.tests.unit.helpers import TENANT_A, TENANT_B, TenantServer


@pytest.fixture(scope='module')
def service(tmp_path_factory):
    base = tmp_path_factory.mktemp('service')
    a = datadir.init(str(base / 'data'), TENANT_A, admin_password='password-of-tenant-a')
    b = datadir.add_tenant(datadir.Service(a['data_dir']), TENANT_B, admin_password='password-of-tenant-b')
    server = TenantServer(a['data_dir']).start()
    server.admins = {TENANT_A: (a['admin_user'], 'password-of-tenant-a'), TENANT_B: (b['admin_user'], 'password-of-tenant-b')}
    yield server
    server.stop()
