# Copyright (c) keyceremony.byok contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# keyceremony.byok - one command to set up, one to rehearse, one to test.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
COLLECTION_LINK := .collections/ansible_collections/keyceremony/byok
# chromium: the witness sheet's HTML is looked at in a real browser (a screenshot) by the tests and make demo
# tpm2-pkcs11 over swtpm: a second PKCS#11 library, which lacks mechanisms the ceremony needs (the mechanism checks
# tests); gnutls-bin: p11tool, whose RFC 7512 token URIs the tests give as token_label
APT_PACKAGES := softhsm2 opensc shellcheck chromium libtpm2-pkcs11-1 libtss2-tcti-swtpm0 swtpm gnutls-bin
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
PYTEST_ARGS ?=
# the tests spread over every core (pytest-xdist); PYTEST_WORKERS=0 runs them in one process
PYTEST_WORKERS ?= auto

.PHONY: help setup apt-packages demo test pytest sanity lint molecule containers ee ee-test bench clean

help:
	@echo "make setup   install Debian packages, the pinned .venv and the collection link"
	@echo "make demo    set up, then run the rehearsal ceremony on a SoftHSM2 token in .demo/"
	@echo "make test    set up, then run every test suite (unit/module tests on SoftHSM2, ansible-test sanity, molecule)"
	@echo "make lint    ansible-lint (production profile), antsibull-docs and antsibull-changelog lint"
	@echo "make molecule  the molecule scenarios alone, in podman (sets podman up and builds the image when missing)"
	@echo "make ee      build the execution environment for AWX (docs/awx.md); make ee-test runs the rehearsal in it"
	@echo "make bench   time the ceremony against one process, a fleet, and the HSM floor (docs/performance.md; not in make test)"

setup: apt-packages $(BIN)/.installed $(COLLECTION_LINK) $(BIN)/byok-tenant

# Only what is missing is installed, so a second run costs a few dpkg look-ups.
apt-packages:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

$(BIN)/.installed: requirements.txt meta/ee-requirements.txt
	[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

# A link, not a copy, so ansible-doc and ansible always see the working tree.
$(COLLECTION_LINK):
	mkdir -p $(dir $@)
	ln -sfn ../../.. $@

# The rehearsal tenant's command, on the same module_utils as the modules.
$(BIN)/byok-tenant: Makefile $(BIN)/.installed
	printf '#!%s\n# made by make setup: the rehearsal tenant of keyceremony.byok\nimport sys\nsys.path.insert(0, %s)\nfrom ansible_collections.keyceremony.byok.tenant.cli import main\nsys.exit(main())\n' \
	  "$(CURDIR)/$(BIN)/python" "'$(CURDIR)/.collections'" > $@.tmp
	chmod 0755 $@.tmp && mv $@.tmp $@

# The witness sheet is looked at in a real browser: a screenshot next to it (headless Chromium, from make setup).
demo: setup
	$(BIN)/ansible-playbook playbooks/rehearsal.yml
	@chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1280,3000 \
	  --screenshot=.demo/transfer/ceremony-transcript.png "file://$(CURDIR)/.demo/transfer/ceremony-transcript.html" \
	  >/dev/null 2>&1 && chmod 0600 .demo/transfer/ceremony-transcript.png \
	  && echo "witness sheet: .demo/transfer/ceremony-transcript.html (to print), its screenshot .demo/transfer/ceremony-transcript.png"

test: setup pytest sanity lint molecule ee-test

pytest:
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

sanity:
	ANSIBLE_TEST=$(CURDIR)/$(BIN)/ansible-test scripts/sanity.sh

# ansible-lint (production profile), antsibull-docs and antsibull-changelog lint (scripts/lint.sh)
lint: setup
	scripts/lint.sh

# podman with runc, and the scenarios' image built from Debian's packages (only when missing).
containers: setup
	scripts/containers-setup.sh
	PIP=$(CURDIR)/$(BIN)/pip scripts/build-image.sh

molecule: containers
	scripts/molecule.sh

# The execution environment for AWX / Automation Platform (docs/awx.md), with ansible-builder on the project's own
# Debian base image; ee-test runs the rehearsal ceremony inside it through ansible-runner (scripts/ee.sh).
ee: containers
	scripts/ee.sh build

ee-test: ee
	scripts/ee.sh test

# Not part of `make test`: timings, not assertions. BENCH_ARGS="--before <commit>" measures an earlier
# tree beside this one; "--runs 5", "--only keys" and the others: python bench/bench.py --help.
BENCH_ARGS ?=
bench: setup
	$(BIN)/python bench/bench.py $(BENCH_ARGS)

clean:
	rm -rf .demo .build tests/output .pytest_cache .hypothesis
