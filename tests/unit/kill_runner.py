# -*- coding: utf-8 -*-
# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run a module as Ansible does, in a process of its own, and kill -9 it at its Nth step (the fault-injection sweep).

Usage: python kill_runner.py MODULE_FILE ARGS_FILE COUNT_FILE KILL_AT

A step is each PKCS#11 call the collection makes and each file-system change (write, fsync, rename, replace, link,
mkdir, rmdir, unlink), counted before and after it, so a kill lands both in the middle of an operation's sequence and
right after one finished. KILL_AT=0 runs to the end and writes the number of steps to COUNT_FILE; otherwise the
process sends itself SIGKILL at step KILL_AT: no finally block, no atexit, no flush, as a kill -9 or a power cut.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import runpy
import signal
import sys


def main():
    module_file, args_file, count_file, kill_at = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    steps = [0]
    kill = os.kill
    pid = os.getpid()

    def step():
        steps[0] += 1
        if steps[0] == kill_at:
            kill(pid, signal.SIGKILL)

    def counted(fn):
        def wrapper(*args, **kwargs):
            step()
            try:
                return fn(*args, **kwargs)
            finally:
                step()
        return wrapper

    from ansible_collections.keyceremony.byok.plugins.module_utils import _hsm
    _hsm.Session.call = counted(_hsm.Session.call)
    for name in ('write', 'fsync', 'rename', 'replace', 'link', 'mkdir', 'rmdir', 'unlink'):
        setattr(os, name, counted(getattr(os, name)))

    def report():
        with open(count_file, 'w') as f:
            f.write(str(steps[0]))
    import atexit
    atexit.register(report)
    sys.argv = [module_file, args_file]
    runpy.run_path(module_file, run_name='__main__')


if __name__ == '__main__':
    main()
