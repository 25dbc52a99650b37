# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: keyceremony.byok contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The molecule scenarios' connection: containers.podman.podman with pipelining.

containers.podman's connection runs ``podman exec`` without ``-i``, so it cannot pipe a module
to Python's stdin and says it has no pipelining. Each task then costs three ``podman exec``
(make a temporary folder, run the module, remove the folder). With ``-i``, the module goes to
Python's stdin and a task costs one. The scenarios run as root without become, where piping is
safe; this plugin is for the tests only and is not part of the collection.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = """
    name: podman_pipe
    short_description: Run tasks in an existing podman container, modules piped to Python
    description:
        - containers.podman.podman with C(podman exec -i), so that modules are pipelined.
    author: keyceremony.byok contributors
    options:
      remote_addr:
        description: The name or ID of the container.
        default: inventory_hostname
        vars:
          - name: ansible_host
          - name: inventory_hostname
          - name: ansible_podman_host
      remote_user:
        description: The user that runs the commands in the container.
        vars:
          - name: ansible_user
      podman_extra_args:
        description: Extra arguments to the podman command line.
        default: ''
        vars:
          - name: ansible_podman_extra_args
      podman_executable:
        description: The podman command.
        default: podman
        vars:
          - name: ansible_podman_executable
"""

import shlex

from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.connection import ensure_connect
from ansible_collections.containers.podman.plugins.connection.podman import Connection as PodmanConnection


class Connection(PodmanConnection):
    """containers.podman.podman, with the module piped to ``podman exec -i``."""

    transport = "podman_pipe"
    has_pipelining = True
    always_pipeline_modules = True

    @ensure_connect
    def exec_command(self, cmd, in_data=None, sudoable=False):
        """Run ``cmd`` in the container; ``in_data`` (a pipelined module) goes to its stdin."""
        if in_data is None:
            return super(Connection, self).exec_command(cmd, in_data=in_data, sudoable=sudoable)
        args = ["exec", "-i"]
        if self.user:
            args.extend(("--user", self.user))
        return self._podman(args, shlex.split(to_native(cmd, errors="surrogate_or_strict")), in_data)
