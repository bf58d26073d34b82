#!/bin/sh
# Generate ./configure and the Makefile templates from configure.ac and
# Makefile.am.  Needs autoconf, automake, libtool and pkg-config.
set -e
cd "$(dirname "$0")"
mkdir -p m4
autoreconf --install --force
