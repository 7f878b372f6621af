#!/bin/sh
# Creates the icpedge user and gives it read access to /etc/icpedge.
set -e
if command -v systemd-sysusers >/dev/null 2>&1; then
	systemd-sysusers /usr/lib/sysusers.d/icpedge.conf
elif ! getent passwd icpedge >/dev/null 2>&1; then
	useradd --system --user-group --home-dir /var/lib/icpedge --no-create-home \
		--shell /usr/sbin/nologin --comment "icpedge ICP edge" icpedge
fi
if command -v systemd-tmpfiles >/dev/null 2>&1; then
	systemd-tmpfiles --create /usr/lib/tmpfiles.d/icpedge.conf
else
	chown root:icpedge /etc/icpedge /etc/icpedge/sites
	chmod 0750 /etc/icpedge /etc/icpedge/sites
fi
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload || true
fi
exit 0
