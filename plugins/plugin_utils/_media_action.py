# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the two actions that carry files across the transfer media share (to_media, from_media): their options
checked, and the collection's errors as one clear failure."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible.errors import AnsibleError
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase

from ansible_collections.keyceremony.byok.plugins.module_utils._errors import ByokError


class MediaAction(ActionBase):
    """An action that checks ARGUMENT_SPEC, then calls ``carry(args, task_vars)`` -> result dict; a ByokError is the
    task's failure, with its message."""

    TRANSFERS_FILES = False
    _requires_connection = True
    ARGUMENT_SPEC = {}

    def run(self, tmp=None, task_vars=None):
        result = super(MediaAction, self).run(tmp, task_vars)
        del tmp
        try:
            dummy, args = self.validate_argument_spec(argument_spec=self.ARGUMENT_SPEC)
        except AnsibleError as e:
            return dict(result, failed=True, msg=to_text(e))
        try:
            result.update(self.carry(args, task_vars or {}))
        except ByokError as e:
            return dict(result, failed=True, msg=to_text(e))
        return result

    def carry(self, args, task_vars):
        raise NotImplementedError
