#!/bin/sh
# Installs what building and testing td2hf needs on Debian/Ubuntu, if
# anything is missing.  Uses sudo when not run as root.  With --tests, also
# the launchers tests/cli/parts.sh runs td2hf under (Open MPI's mpirun,
# MPICH's mpiexec).
set -eu
PKGS="gcc make autoconf automake pkg-config flex bison libcjson-dev libcunit1-dev libisal-dev libzstd-dev"
[ "${1:-}" = --tests ] && PKGS="$PKGS openmpi-bin mpich"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "td2hf: installing build dependencies:$missing"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing
