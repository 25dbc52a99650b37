# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The tenant service's TLS: its own CA (the file clients pin) and a server certificate."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import ipaddress
import os

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ansible_collections.keyceremony.byok.plugins.module_utils._files import ensure_private_dir, write_private_file

CA_NAME = 'ca.pem'


def _key_pem(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _name(common_name):
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, 'keyceremony.byok rehearsal tenant'),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_pki(folder, server_names, days=825):
    """Write ca.pem, ca.key, server.pem, server.key in ``folder``; keys 0600. Returns the CA path."""
    ensure_private_dir(folder)
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = (x509.CertificateBuilder().subject_name(_name('rehearsal tenant CA')).issuer_name(_name('rehearsal tenant CA'))
               .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=days))
               .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
               .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
               .sign(ca_key, hashes.SHA256()))
    server_key = ec.generate_private_key(ec.SECP256R1())
    alt = []
    for name in server_names:
        try:
            alt.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            alt.append(x509.DNSName(name))
    server_cert = (x509.CertificateBuilder().subject_name(_name(server_names[0])).issuer_name(ca_cert.subject)
                   .public_key(server_key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(minutes=5))
                   .not_valid_after(now + datetime.timedelta(days=days))
                   .add_extension(x509.SubjectAlternativeName(alt), critical=False)
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
                   .sign(ca_key, hashes.SHA256()))
    write_private_file(os.path.join(folder, 'ca.key'), _key_pem(ca_key))
    write_private_file(os.path.join(folder, 'server.key'), _key_pem(server_key))
    write_private_file(os.path.join(folder, 'server.pem'), server_cert.public_bytes(serialization.Encoding.PEM))
    ca_path = os.path.join(folder, CA_NAME)
    write_private_file(ca_path, ca_cert.public_bytes(serialization.Encoding.PEM))
    # the CA certificate is public: clients on other accounts pin it
    os.chmod(ca_path, 0o644)
    return ca_path
