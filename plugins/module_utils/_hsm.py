# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The PKCS#11 layer: load the library, find a token by label, log in, and map every
PKCS#11 error (CKR_*) to a message that says what to change. No PIN is ever part of a
message: PyKCS11's errors carry only the return code, and this file adds only labels.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import ctypes
import ctypes.util
import os
import traceback
from contextlib import contextmanager

try:
    from urllib.parse import unquote_to_bytes
except ImportError:  # Python 2's ansible-test import sanity only
    from urllib import unquote as unquote_to_bytes

from ansible_collections.keyceremony.byok.plugins.module_utils._errors import HsmError
from ansible_collections.keyceremony.byok.plugins.module_utils._values import (
    TOKEN_URI_ATTRIBUTES, is_token_uri, token_uri_secrets, uri_name)

try:
    import PyKCS11
    HAS_PYKCS11 = True
    PYKCS11_IMPORT_ERROR = None
except ImportError:
    HAS_PYKCS11 = False
    PYKCS11_IMPORT_ERROR = traceback.format_exc()

# Where distributions put SoftHSM2's library, in the order they are tried.
SOFTHSM2_CANDIDATES = (
    '/usr/lib/softhsm/libsofthsm2.so',
    '/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so',
    '/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so',
    '/usr/lib64/pkcs11/libsofthsm2.so',
    '/usr/lib/pkcs11/libsofthsm2.so',
    '/usr/local/lib/softhsm/libsofthsm2.so',
    '/opt/homebrew/lib/softhsm/libsofthsm2.so',
)

TOKEN_LABEL_MAX = 32

# RFC 5649 AES key wrap with padding, by the numbers libraries offer it under, in the order they are taken: PKCS#11
# 3.0's CKM_AES_KEY_WRAP_KWP, then CKM_AES_KEY_WRAP_PAD (SoftHSM2, PKCS#11 2.40), known-answer tested
RFC5649_MECHANISMS = ('CKM_AES_KEY_WRAP_KWP', 'CKM_AES_KEY_WRAP_PAD')

# What a library's policy answers when it will not make the known-answer test's objects (a known-value key, a
# non-sensitive secret): the test is then not run, and transfer_package says so
KAT_REFUSED = ('CKR_ATTRIBUTE_VALUE_INVALID', 'CKR_ATTRIBUTE_TYPE_INVALID', 'CKR_ATTRIBUTE_READ_ONLY',
               'CKR_TEMPLATE_INCONSISTENT', 'CKR_TEMPLATE_INCOMPLETE', 'CKR_FUNCTION_NOT_SUPPORTED',
               'CKR_KEY_TYPE_INCONSISTENT', 'CKR_ACTION_PROHIBITED')

USER = 'user'
SO = 'so'

# One table for the whole collection: CKR name -> what it means and what to change.
_CKR_ADVICE = {
    'CKR_PIN_INCORRECT': 'the PIN was refused',
    'CKR_PIN_LOCKED': 'the PIN is locked after too many wrong attempts; the security officer must unlock it',
    'CKR_PIN_EXPIRED': 'the PIN has expired; set a new one with the token vendor\'s tool',
    'CKR_PIN_LEN_RANGE': 'the PIN length is outside what the token accepts',
    'CKR_PIN_INVALID': 'the PIN has characters the token does not accept',
    'CKR_USER_PIN_NOT_INITIALIZED': ('the token has no user PIN: its security world was never finished; '
                                     're-run keyceremony.byok.security_world with the same options to finish it'),
    'CKR_USER_NOT_LOGGED_IN': 'the operation needs a logged-in session',
    'CKR_USER_ALREADY_LOGGED_IN': 'a session of this process is already logged in to the token',
    'CKR_USER_ANOTHER_ALREADY_LOGGED_IN': 'another user is logged in to the token; close the other session and retry',
    'CKR_USER_TYPE_INVALID': 'the token does not know this user type',
    'CKR_SESSION_READ_ONLY_EXISTS': 'a read-only session is open on the token; the security officer needs it closed',
    'CKR_TOKEN_NOT_PRESENT': 'the token is not present; check the HSM is connected (for SoftHSM2: SOFTHSM2_CONF)',
    'CKR_TOKEN_NOT_RECOGNIZED': 'the token is not recognised by the PKCS#11 library',
    'CKR_TOKEN_WRITE_PROTECTED': 'the token is write-protected',
    'CKR_SLOT_ID_INVALID': 'the slot disappeared; the library renumbered its slots, retry',
    'CKR_MECHANISM_INVALID': 'the PKCS#11 library does not support this mechanism',
    'CKR_MECHANISM_PARAM_INVALID': 'the PKCS#11 library refused the mechanism parameters',
    'CKR_KEY_NOT_WRAPPABLE': ('the key may only leave the HSM wrapped under a key that the security officer '
                              'marked trusted, and this wrapping key is not trusted'),
    'CKR_KEY_UNEXTRACTABLE': 'the key is not extractable and can never leave the HSM',
    'CKR_KEY_SIZE_RANGE': 'the HSM does not support this key size',
    'CKR_KEY_TYPE_INCONSISTENT': 'the key type does not fit this mechanism',
    'CKR_KEY_FUNCTION_NOT_PERMITTED': 'the key\'s attributes do not permit this use',
    'CKR_ATTRIBUTE_SENSITIVE': 'the attribute is sensitive and cannot be read outside the HSM',
    'CKR_ATTRIBUTE_READ_ONLY': 'the attribute cannot be changed (only the security officer may set some attributes)',
    'CKR_ATTRIBUTE_TYPE_INVALID': 'the HSM does not know one of the attributes asked for',
    'CKR_ATTRIBUTE_VALUE_INVALID': 'the HSM refused one of the attribute values',
    'CKR_TEMPLATE_INCOMPLETE': 'the key template lacks an attribute the HSM requires',
    'CKR_TEMPLATE_INCONSISTENT': 'the key template has attributes the HSM finds contradictory',
    'CKR_OBJECT_HANDLE_INVALID': 'the object was removed from the token while in use',
    'CKR_DEVICE_MEMORY': 'the token has no room left',
    'CKR_DEVICE_ERROR': 'the HSM reported a device error; check the token storage (for SoftHSM2: its tokendir)',
    'CKR_GENERAL_ERROR': ('the PKCS#11 library reported a general error; for SoftHSM2 check that SOFTHSM2_CONF '
                          'names a readable configuration whose tokendir exists and is writable'),
    'CKR_FUNCTION_NOT_SUPPORTED': 'the PKCS#11 library does not implement this function',
    'CKR_ARGUMENTS_BAD': 'the PKCS#11 library refused the arguments',
    'CKR_WRAPPED_KEY_INVALID': 'the wrapped key is damaged or was not wrapped under this key',
    'CKR_WRAPPED_KEY_LEN_RANGE': 'the wrapped key has a wrong length: the package is truncated or damaged',
    'CKR_ENCRYPTED_DATA_INVALID': 'the encrypted data is damaged or not for this key',
    'CKR_SIGNATURE_INVALID': 'the signature does not verify',
    'CKR_CRYPTOKI_NOT_INITIALIZED': 'the PKCS#11 library is not initialised',
}


_LIBCRYPTO = {}


def clear_openssl_errors():
    """Empty this thread's OpenSSL error queue.

    SoftHSM2's OpenSSL backend leaves errors there (its C_Initialize looks for engines that
    OpenSSL 3 does not have: "could not load the shared library", NO_SUCH_ENGINE). Python's ssl
    module uses the same libcrypto, and a later TLS read in the same thread that meets a closed
    connection then raises the stale error instead of seeing the end of the stream. Nothing here
    reads the queue, so emptying it loses nothing.
    """
    if 'lib' not in _LIBCRYPTO:
        _LIBCRYPTO['lib'] = _libcrypto()
    if _LIBCRYPTO['lib'] is not None:
        try:
            _LIBCRYPTO['lib'].ERR_clear_error()
        except (AttributeError, OSError):
            _LIBCRYPTO['lib'] = None


def _libcrypto():
    """The libcrypto Python's ssl links (its error queue is the one that matters), else the system's; None when
    neither can be had. Never raises: clearing is a courtesy to later TLS, not a step of the ceremony."""
    candidates = []
    try:
        import _ssl
        candidates.append(_ssl.__file__)
    except (ImportError, AttributeError):
        pass
    try:
        candidates.append(ctypes.util.find_library('crypto'))
    except (OSError, RuntimeError):
        pass
    for name in candidates:
        if not name:
            continue
        try:
            lib = ctypes.CDLL(name)
            lib.ERR_clear_error.restype = None
            return lib
        except (OSError, AttributeError):
            continue
    return None


def ckr_name(value):
    """The CKR_* name of a PyKCS11 return code (or a hex code when unknown)."""
    if HAS_PYKCS11 and value in PyKCS11.CKR:
        return PyKCS11.CKR[value]
    return '0x%08X' % (value & 0xFFFFFFFF)


def hsm_error(exc, action):
    """Turn a PyKCS11Error into the collection's HsmError: '<action>: <advice> (CKR_X)'."""
    name = ckr_name(exc.value)
    advice = _CKR_ADVICE.get(name, 'the PKCS#11 library returned an error')
    return HsmError('%s: %s (%s)' % (action, advice, name), ckr=name)


@contextmanager
def pkcs11_errors(action):
    """Every PKCS#11 call runs inside this: the one place CKR_* becomes an HsmError."""
    try:
        yield
    except PyKCS11.PyKCS11Error as e:
        raise hsm_error(e, action)
    finally:
        clear_openssl_errors()


def resolve_pkcs11_module(path=None):
    """The library to load: the option, else $PKCS11_MODULE, else SoftHSM2 where it is installed."""
    if path:
        source = 'pkcs11_module'
    elif os.environ.get('PKCS11_MODULE'):
        path, source = os.environ['PKCS11_MODULE'], 'the PKCS11_MODULE environment variable'
    else:
        for candidate in SOFTHSM2_CANDIDATES:
            if os.path.isfile(candidate):
                return candidate
        raise HsmError('no PKCS#11 library found: SoftHSM2 is not installed in any of %s; install it '
                       '(Debian: apt-get install softhsm2) or set pkcs11_module (or PKCS11_MODULE) to your '
                       'HSM vendor\'s library' % ', '.join(SOFTHSM2_CANDIDATES))
    if not os.path.isfile(path):
        raise HsmError('PKCS#11 library %s (from %s) does not exist; give the path of the HSM vendor\'s '
                       'PKCS#11 library' % (path, source))
    return path


def clean_label(raw):
    """Token labels are blank- or NUL-padded to 32 bytes."""
    return raw.rstrip('\x00 ') if raw else ''


# A token URI names a token by token, serial, manufacturer and model (_values.TOKEN_URI_ATTRIBUTES). Any other part is
# refused: a mistyped serial= must not be taken as pinned, library-* and module-* do not choose the library
# (pkcs11_module does), slot-* are never trusted, and a PIN never goes in a token_label.
def token_ref(value):
    """(label, {field: value}) of a token named by its label, or by an RFC 7512 URI as ``p11tool --list-tokens``
    prints it (``pkcs11:model=...;manufacturer=...;serial=...;token=...``). The URI's other attributes are
    checks the token found by its label must pass (check_token_match)."""
    if not is_token_uri(value):
        return value, {}
    # before any message that shows the value: a URI with another part may carry a PIN, and is never shown
    if token_uri_secrets(value):
        raise HsmError('token_label is a PKCS#11 URI with a part other than token, serial, manufacturer and model (a '
                       'PIN, a query, library-* or slot-*, a mistyped name, blanks); it is not shown here. Give only those '
                       'four: the library is pkcs11_module, and a PIN never goes in a token URI')
    fields = {}
    for part in value[7:].split(';'):
        if not part:
            continue
        name, _sep, raw = part.partition('=')
        name = uri_name(name)
        try:
            text = unquote_to_bytes(raw).decode('utf-8')
        except ValueError:
            raise HsmError('token_label %r: the value of %s is not UTF-8 once percent-decoded' % (value, name))
        if TOKEN_URI_ATTRIBUTES[name] in fields:
            raise HsmError('token_label %r names %s twice' % (value, name))
        # a token made before labels were blank-padded may carry NUL bytes, which p11tool prints as %00
        fields[TOKEN_URI_ATTRIBUTES[name]] = clean_label(text) if name == 'token' else text
    if 'label' not in fields:
        raise HsmError('token_label %r is a PKCS#11 URI without token=<label>: tokens are found by their label, '
                       'give token= (and serial= to pin the one token)' % value)
    label = fields.pop('label')
    check_token_label(label)
    return label, fields


def check_token_match(token, match, given):
    """The token found by its label is the one the URI ``given`` names (serial, manufacturer, model)."""
    for field, wanted in sorted(match.items()):
        if getattr(token, field) != wanted:
            raise HsmError('%s has %s %r, but %s names %s %r: it is not the token (or the HSM) the URI names'
                           % ('token %r' % token.label if token.initialized else 'the free slot %s' % token.slot,
                              field, getattr(token, field), given, field, wanted))


def padded_label(label):
    """The 32 bytes of CK_TOKEN_INFO.label as PKCS#11 requires them: blank-padded, never NUL-padded (tools that
    compare the whole field, p11-kit's URI matching among them, match no NUL-padded label)."""
    return label + ' ' * (TOKEN_LABEL_MAX - len(label.encode('utf-8')))


def check_token_label(label):
    if not label or len(label.encode('utf-8')) > TOKEN_LABEL_MAX:
        raise HsmError('token_label %r must be 1 to %d bytes long' % (label, TOKEN_LABEL_MAX))
    if label != label.strip() or '\x00' in label:
        raise HsmError('token_label %r must not start or end with blanks' % label)


class TokenInfo(object):
    """What the library says of the token in one slot."""

    def __init__(self, slot, info):
        self.slot = slot
        self.label = clean_label(info.label)
        self.serial = clean_label(info.serialNumber)
        self.manufacturer = clean_label(info.manufacturerID)
        self.model = clean_label(info.model)
        self.flags = info.flags
        self.initialized = bool(info.flags & PyKCS11.CKF_TOKEN_INITIALIZED)
        self.user_pin_initialized = bool(info.flags & PyKCS11.CKF_USER_PIN_INITIALIZED)
        self.free_private_memory = _known(info.ulFreePrivateMemory)
        self.free_public_memory = _known(info.ulFreePublicMemory)
        fw = info.firmwareVersion
        self.firmware = '%s.%s' % (fw[0], fw[1]) if isinstance(fw, (tuple, list)) else str(fw)

    def to_dict(self):
        return {
            'label': self.label,
            'serial': self.serial,
            'manufacturer': self.manufacturer,
            'model': self.model,
            'firmware': self.firmware,
            'initialized': self.initialized,
            'user_pin_initialized': self.user_pin_initialized,
            'free_private_memory': self.free_private_memory,
            'free_public_memory': self.free_public_memory,
        }


def _known(value):
    # CK_UNAVAILABLE_INFORMATION (all ones) arrives as -1 or as a huge unsigned number
    if value is None or value < 0 or value >= 0xFFFFFFFF:
        return None
    return value


class Hsm(object):
    """One loaded PKCS#11 library. Use as a context manager so it is always unloaded."""

    # PyKCS11 shares one loaded library per path in a process, and SoftHSM2 reads SOFTHSM2_CONF
    # only when first initialised: two configurations at once would silently share the first.
    _open = {}

    def __init__(self, pkcs11_module=None):
        if not HAS_PYKCS11:
            raise HsmError('the Python library PyKCS11 is not installed; install it on the host that has the HSM')
        self.module_path = resolve_pkcs11_module(pkcs11_module)
        self.lib = None
        conf = os.environ.get('SOFTHSM2_CONF')
        opened = Hsm._open.get(self.module_path)
        if opened and opened[0] != conf:
            raise HsmError('%s is already open in this process with SOFTHSM2_CONF=%s; close it before opening it with '
                           '%s' % (self.module_path, opened[0], conf))
        # A fresh PyKCS11Lib each time: re-using one whose load failed crashes the process.
        lib = PyKCS11.PyKCS11Lib()
        try:
            lib.load(self.module_path)
        except PyKCS11.PyKCS11Error as e:
            clear_openssl_errors()
            if e.value == -1:
                raise HsmError('cannot load PKCS#11 library %s: it is not a PKCS#11 library for this '
                               'platform or a library it needs is missing' % self.module_path)
            raise hsm_error(e, 'initialising PKCS#11 library %s' % self.module_path)
        clear_openssl_errors()
        self.lib = lib
        Hsm._open[self.module_path] = (conf, (opened[1] if opened else 0) + 1)

    def close(self):
        if self.lib is not None:
            self.lib.unload()
            clear_openssl_errors()
            self.lib = None
            conf, count = Hsm._open[self.module_path]
            if count > 1:
                Hsm._open[self.module_path] = (conf, count - 1)
            else:
                del Hsm._open[self.module_path]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def tokens(self):
        with pkcs11_errors('listing the tokens of %s' % self.module_path):
            return [TokenInfo(slot, self.lib.getTokenInfo(slot)) for slot in self.lib.getSlotList(tokenPresent=True)]

    def find_token(self, label, required=True):
        """The initialised token with this label; slot numbers are never trusted (SoftHSM2 renumbers them)."""
        tokens = self.tokens()
        found = [t for t in tokens if t.initialized and t.label == label]
        if len(found) > 1:
            raise HsmError('%d tokens carry the label %r (serials %s); token labels must be unique, re-label '
                           'or remove the others' % (len(found), label, ', '.join(t.serial for t in found)))
        if found:
            return found[0]
        if not required:
            return None
        labels = sorted(t.label for t in tokens if t.initialized)
        raise HsmError('no token labelled %r in %s; the tokens there are: %s. Check token_label, or for '
                       'SoftHSM2 that SOFTHSM2_CONF names the configuration that holds it'
                       % (label, self.module_path, ', '.join(repr(x) for x in labels) if labels else 'none'))

    def free_slot(self):
        return self.free_token().slot

    def free_token(self):
        """What the library says of the first slot with no initialised token, where a new world's token is made."""
        for token in self.tokens():
            if not token.initialized:
                return token
        raise HsmError('the HSM has no free slot to initialise a new token in; free one with the vendor\'s tool '
                       '(SoftHSM2 always offers one: check that its tokendir is writable)')

    def init_token(self, slot, label, so_pin):
        check_token_label(label)
        with pkcs11_errors('initialising a token labelled %r' % label):
            self.lib.initToken(slot, so_pin, padded_label(label))
        return self.find_token(label)

    def mechanisms(self, slot):
        """{CKM name: (flags, min key size, max key size)} of every mechanism the slot's token offers.

        A number PyKCS11 has no name for is kept as its hexadecimal value."""
        # PyKCS11 1.5.20's getMechanismList() adds 0x1D to what the library says: the low-level calls are used
        numbers = PyKCS11.LowLevel.ckulonglist()
        with pkcs11_errors('listing the mechanisms of %s' % self.module_path):
            rv = self.lib.lib.C_GetMechanismList(slot, numbers)
            if rv != PyKCS11.CKR_OK:
                raise PyKCS11.PyKCS11Error(rv)
        offered = {}
        for number in numbers:
            info = PyKCS11.LowLevel.CK_MECHANISM_INFO()
            if self.lib.lib.C_GetMechanismInfo(slot, number, info) != PyKCS11.CKR_OK:
                continue  # listed but not described: taken as not offered
            name = PyKCS11.CKM.get(number)
            offered[name if isinstance(name, str) else '0x%X' % number] = (
                info.flags, _known(info.ulMinKeySize), _known(info.ulMaxKeySize))
        return offered

    @contextmanager
    def session(self, label, login=None, pin=None, rw=False, who=None):
        """Open a session on the token ``label``, optionally logged in as USER or SO.

        ``who`` names the credential in errors ("the world's module credential", "the
        security officer PIN rebuilt from the cards"). Logout and close happen on every
        path, and closing the session destroys its session objects.
        """
        token = self.find_token(label)
        flags = PyKCS11.CKF_SERIAL_SESSION | (PyKCS11.CKF_RW_SESSION if rw or login == SO else 0)
        with pkcs11_errors('opening a session on token %r' % label):
            raw = self.lib.openSession(token.slot, flags)
        session = Session(raw, token, self)
        try:
            if login:
                session.login(login, pin, who)
            yield session
        finally:
            session.logout()
            try:
                raw.closeSession()
            except PyKCS11.PyKCS11Error:
                pass


class Session(object):
    """A thin wrapper over a PyKCS11 session whose every call maps errors the same way.

    Object handles are only valid until the next login change: look objects up again after
    ``login`` (SoftHSM2 re-issues handles when the login state changes).
    """

    def __init__(self, raw, token, hsm):
        self.raw = raw
        self.token = token
        self.hsm = hsm
        self.role = None
        self._kwp = {}
        self.kwp_check = None

    def login(self, role, pin, who=None):
        """Log in as USER or SO; a session already logged in is logged out first."""
        self.logout()
        user_type = PyKCS11.CKU_SO if role == SO else PyKCS11.CKU_USER
        name = 'security officer' if role == SO else 'user'
        with pkcs11_errors('logging in to token %r as %s with %s' % (self.token.label, name, who or 'the given PIN')):
            self.raw.login(pin, user_type)
        self.role = role

    def logout(self):
        if self.role is not None:
            try:
                self.raw.logout()
            except PyKCS11.PyKCS11Error:
                pass
            self.role = None

    def call(self, action, fn, *args, **kwargs):
        with pkcs11_errors('%s on token %r' % (action, self.token.label)):
            return fn(*args, **kwargs)

    def find(self, template):
        return self.call('searching objects', self.raw.findObjects, template)

    def find_one(self, label, cls, what=None):
        """The one object of class ``cls`` (e.g. 'CKO_PUBLIC_KEY') labelled ``label``, or None."""
        found = self.find(attribute_template([('CKA_LABEL', label), ('CKA_CLASS', constant(cls))]))
        if len(found) > 1:
            raise HsmError('%d objects (%s) carry the label %r on token %r; labels must be unique'
                           % (len(found), what or cls, label, self.token.label))
        return found[0] if found else None

    def attributes(self, obj, names):
        """Attribute values by CKA name (e.g. 'CKA_LABEL'); a sensitive or unknown one reads as None."""
        types = [getattr(PyKCS11, n) for n in names]
        values = self.call('reading attributes', self.raw.getAttributeValue, obj, types)
        return dict(zip(names, values))

    def raw_attribute_rv(self, obj, name):
        """The bare return code of C_GetAttributeValue for one attribute (tests and checks use it)."""
        template = PyKCS11.LowLevel.ckattrlist(1)
        template[0].SetType(getattr(PyKCS11, name))
        return ckr_name(self.raw.lib.C_GetAttributeValue(self.raw.session, obj, template))

    def init_user_pin(self, pin):
        self.call('setting the user PIN', self.raw.initPin, pin)

    def create(self, action, pairs):
        return self.call(action, self.raw.createObject, attribute_template(pairs))

    def generate_key(self, action, pairs, mech='CKM_AES_KEY_GEN'):
        return self.call(action, self.raw.generateKey, attribute_template(pairs), mecha=mechanism(mech))

    def wrap(self, action, wrapping_key, key, mech):
        return bytes(self.call(action, self.raw.wrapKey, wrapping_key, key, mecha=mech))

    def unwrap(self, action, unwrapping_key, data, pairs, mech):
        return self.call(action, self.raw.unwrapKey, unwrapping_key, data, attribute_template(pairs), mecha=mech)

    def sign(self, action, key, data, mech):
        return bytes(self.call(action, self.raw.sign, key, data, mecha=mech))

    def destroy(self, action, obj):
        self.call(action, self.raw.destroyObject, obj)

    def aes_key_wrap_pad(self, unwrap=False):
        """RFC 5649 AES key wrap with padding, under the number this library offers it by.

        PKCS#11 3.0 numbers it CKM_AES_KEY_WRAP_KWP (0x210B); SoftHSM2 and libraries of PKCS#11 2.40 offer it as
        CKM_AES_KEY_WRAP_PAD (0x210A). KWP is taken where the library offers it for the use (wrap, and unwrap with
        ``unwrap``: the same rule as _capabilities.check); else PAD, once a known-answer test showed that the
        library's PAD gives RFC 5649's bytes (2.40 left PAD's padding open, and some libraries pad as PKCS#7).
        ``kwp_check`` says what the test found: ``kwp`` (not needed), ``rfc5649``, ``zero-padded`` (SoftHSM2's
        deviation, docs/hsm.md) or ``not run`` (the library would not make the test's objects)."""
        key = bool(unwrap)
        if key not in self._kwp:
            name = rfc5649_mechanism(self.hsm.mechanisms(self.token.slot), unwrap)
            self.kwp_check = 'kwp' if name == RFC5649_MECHANISMS[0] else self._check_rfc5649(mechanism(name), name)
            self._kwp[key] = mechanism(name)
        return self._kwp[key]

    def _check_rfc5649(self, mech, name):
        """Wrap a known 20-byte secret under a known AES-256 key (both session objects, destroyed on every path) and
        compare with RFC 5649. A library that cannot make such objects (a strict HSM policy) is taken at its word."""
        from cryptography.hazmat.primitives.keywrap import aes_key_wrap_with_padding
        kek, secret = bytes(range(32)), bytes(range(100, 120))
        made = []
        try:
            try:
                made.append(self.raw.createObject(attribute_template([
                    ('CKA_CLASS', PyKCS11.CKO_SECRET_KEY), ('CKA_KEY_TYPE', PyKCS11.CKK_AES), ('CKA_TOKEN', False),
                    ('CKA_PRIVATE', False), ('CKA_VALUE', kek), ('CKA_WRAP', True), ('CKA_UNWRAP', False),
                    ('CKA_ENCRYPT', False), ('CKA_DECRYPT', False), ('CKA_SIGN', False), ('CKA_VERIFY', False),
                    ('CKA_DERIVE', False), ('CKA_LABEL', 'rfc5649-check-kek')])))
                made.append(self.raw.createObject(attribute_template([
                    ('CKA_CLASS', PyKCS11.CKO_SECRET_KEY), ('CKA_KEY_TYPE', PyKCS11.CKK_GENERIC_SECRET),
                    ('CKA_TOKEN', False), ('CKA_PRIVATE', False), ('CKA_VALUE', secret), ('CKA_SENSITIVE', False),
                    ('CKA_EXTRACTABLE', True), ('CKA_SIGN', False), ('CKA_VERIFY', False), ('CKA_DERIVE', False),
                    ('CKA_WRAP', False), ('CKA_UNWRAP', False),
                    ('CKA_LABEL', 'rfc5649-check-secret')])))
            except PyKCS11.PyKCS11Error as e:
                # only a policy that refuses such objects: any other error is the library's, and says so
                if ckr_name(e.value) in KAT_REFUSED:
                    return 'not run'
                raise hsm_error(e, 'making the objects of the RFC 5649 known-answer test')
            result = bytes(self.call('checking %s against RFC 5649' % name, self.raw.wrapKey, made[0], made[1],
                                     mecha=mech))
        finally:
            for obj in reversed(made):
                try:
                    self.raw.destroyObject(obj)
                except PyKCS11.PyKCS11Error:
                    pass
        if result == aes_key_wrap_with_padding(kek, secret):
            return 'rfc5649'
        if result == aes_key_wrap_with_padding(kek, secret + b'\0' * (-len(secret) % 8)):
            # SoftHSM2 (2.6.1 at least) pads what it wraps with zero bytes to a multiple of 8 before RFC 5649, so
            # the length RFC 5649 records counts them: the receiver unwraps the PKCS#8 key followed by up to 7 zero
            # bytes. Known and documented (docs/hsm.md); the rehearsal's receiver reads it.
            return 'zero-padded'
        raise HsmError('%s of %s does not give RFC 5649\'s bytes (a known-answer test failed): the transfer '
                       'package would not open at the receiving end. Use a PKCS#11 library that offers RFC 5649 '
                       'as CKM_AES_KEY_WRAP_KWP (0x210B) or CKM_AES_KEY_WRAP_PAD (0x210A)'
                       % (name, self.hsm.module_path))

    def rsa_public_numbers(self, obj):
        """(modulus, exponent) of an RSA key object, public or private."""
        a = self.attributes(obj, ['CKA_MODULUS', 'CKA_PUBLIC_EXPONENT'])
        return int.from_bytes(bytes(a['CKA_MODULUS']), 'big'), int.from_bytes(bytes(a['CKA_PUBLIC_EXPONENT']), 'big')


def rfc5649_mechanism(offered, unwrap=False):
    """The number RFC 5649 is taken by, from Hsm.mechanisms(): the first of RFC5649_MECHANISMS the library offers
    with CKF_WRAP (and CKF_UNWRAP with ``unwrap``); PAD when none is (the call then says what the library lacks).
    The one rule for the steps and for _capabilities.check."""
    uses = 0x20000 | (0x40000 if unwrap else 0)  # CKF_WRAP, CKF_UNWRAP
    for name in RFC5649_MECHANISMS:
        if name in offered and offered[name][0] & uses == uses:
            return name
    return RFC5649_MECHANISMS[-1]


def attribute_template(pairs):
    """[('CKA_TOKEN', True), ...] -> PyKCS11 template; names keep templates readable and import-safe."""
    return [(getattr(PyKCS11, name), value) for name, value in pairs]


def constant(name):
    return getattr(PyKCS11, name)


def mechanism(name, param=None):
    return PyKCS11.Mechanism(getattr(PyKCS11, name), param)


def oaep_sha1():
    """RSA-OAEP with SHA-1 and MGF1-SHA-1: the only OAEP hash SoftHSM2 2.6.1 wraps with."""
    return PyKCS11.RSAOAEPMechanism(PyKCS11.CKM_SHA_1, PyKCS11.CKG_MGF1_SHA1)


def pss_sha256():
    """RSA-PSS with SHA-256, MGF1-SHA-256 and a 32-byte salt (PS256)."""
    return PyKCS11.RSA_PSS_Mechanism(PyKCS11.CKM_SHA256_RSA_PKCS_PSS, PyKCS11.CKM_SHA256, PyKCS11.CKG_MGF1_SHA256, 32)
