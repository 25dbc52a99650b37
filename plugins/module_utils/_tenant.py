# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The HTTPS client of the tenant API, for the online workstation's modules.

Every call goes through ``ansible.module_utils.urls.open_url`` with TLS verified against the CA
the operator pinned (``ca_path``). A session is Connect, the calls, and Disconnect on every path.
Errors say what to change; the password and the session token never appear in them.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import ssl

from urllib.error import HTTPError, URLError
from ansible.module_utils.urls import open_url

from ansible_collections.keyceremony.byok.plugins.module_utils._errors import ByokError

API = '/api/v1'


class TenantError(ByokError):
    """The tenant refused a call, or could not be reached."""

    def __init__(self, msg, status=None):
        super(TenantError, self).__init__(msg)
        self.status = status


class TenantClient(object):
    def __init__(self, url, user, password, ca_path=None, validate_certs=True, timeout=60):
        if not url or not url.startswith('https://'):
            raise TenantError('tenant_url %r must be an https:// URL; the tenant API is only spoken over TLS' % (url,))
        self.url = url.rstrip('/')
        self.user = user
        self._password = password
        self.ca_path = ca_path
        self.validate_certs = validate_certs
        self.timeout = timeout
        self._token = None
        self.tenant_id = None

    def call(self, method, path, body=None, action=None, auth=True):
        action = action or '%s %s' % (method, path)
        headers = {'Accept': 'application/json'}
        data = None
        if body is not None:
            data = json.dumps(body)
            headers['Content-Type'] = 'application/json'
        if auth:
            headers['Authorization'] = 'Bearer %s' % self._token
        try:
            resp = open_url(self.url + API + path, data=data, method=method, headers=headers,
                            validate_certs=self.validate_certs, ca_path=self.ca_path, timeout=self.timeout,
                            follow_redirects='none')
            raw = resp.read()
        except HTTPError as e:
            raise TenantError('the tenant refused %s: %s (HTTP %s)' % (action, _error_text(e), e.code), e.code)
        except URLError as e:
            reason = getattr(e, 'reason', e)
            if isinstance(reason, ssl.SSLError) or 'CERTIFICATE_VERIFY_FAILED' in str(reason):
                raise TenantError('TLS verification of %s failed (%s): the certificate is not issued by the CA in '
                                  'ca_path %s; give the CA file the tenant operator handed over'
                                  % (self.url, reason, self.ca_path))
            raise TenantError('cannot reach the tenant at %s for %s: %s; check tenant_url and that the tenant service '
                              'is running' % (self.url, action, reason))
        except ssl.SSLError as e:
            raise TenantError('TLS with %s failed: %s; check ca_path %s' % (self.url, e, self.ca_path))
        except (OSError, ValueError) as e:
            raise TenantError('cannot reach the tenant at %s for %s: %s' % (self.url, action, e))
        try:
            return json.loads(raw.decode('utf-8'))
        except (ValueError, UnicodeDecodeError):
            raise TenantError('the tenant answered %s with something that is not JSON' % action)

    def connect(self):
        got = self.call('POST', '/connect', {'user': self.user, 'password': self._password}, 'Connect', auth=False)
        self._token = got['token']
        self.tenant_id = got['tenant_id']
        return got

    def disconnect(self):
        if self._token is not None:
            try:
                self.call('POST', '/disconnect', action='Disconnect')
            finally:
                self._token = None

    def __enter__(self):
        self.connect()
        return self

    def __exit__(self, *exc):
        try:
            self.disconnect()
        except TenantError:
            if exc[0] is None:
                raise

    def tenant_path(self, suffix=''):
        return '/tenants/%s%s' % (self.tenant_id, suffix)


def _error_text(e):
    try:
        body = json.loads(e.read().decode('utf-8'))
        return body.get('error') or body.get('detail') or str(body)
    except Exception:  # the body of an error page is only a courtesy
        return e.reason if hasattr(e, 'reason') else str(e)
