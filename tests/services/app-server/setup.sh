#!/bin/sh
# Runs once in the image build (docker build RUN): turns the debootstrapped Debian into the runbook's app server.
set -eu
B=/tmp/build

# The host's Node 20 is at /usr/local/bin/node (Debian 12's nodejs is 18; the backend needs >= 20.11).
# Running it fails the build if one of its libraries is missing from the image.
/usr/local/bin/node --version
ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm
/usr/local/bin/npm --version

# deploy: runs the backend and owns the app; auditor: can log in but has no sudo rules.
# No password, but not locked ('*', not '!'), so key logins work whatever sshd's UsePAM is.
groupadd --gid 2001 deploy
useradd --uid 2001 --gid 2001 --create-home --shell /bin/bash deploy
groupadd --gid 2002 auditor
useradd --uid 2002 --gid 2002 --create-home --shell /bin/bash auditor
usermod -p '*' deploy
usermod -p '*' auditor

# sudo for systemctl and journalctl only, without a password (the module runs "sudo -n").
install -m 0440 "$B/sudoers-deploy" /etc/sudoers.d/deploy
visudo -cf /etc/sudoers.d/deploy

# The runbook's paths, writable by deploy as on the real servers.
install -d -o deploy -g deploy -m 0755 /app /app/yieldvault-backend /var/log/yieldvault /var/backups/yieldvault /var/lib/yieldvault-ops

# The unit is installed here and enabled per run (Start-TestAppServer adds the wants/ link when it copies an app in).
# Its template for blue-green slots (yieldvault-backend@<port>) is started by YieldVault.Ops, never at boot.
install -m 0644 "$B/yieldvault-backend.service" /etc/systemd/system/yieldvault-backend.service
install -m 0644 "$B/yieldvault-backend@.service" /etc/systemd/system/yieldvault-backend@.service

# nginx (Debian's) for blue-green: no default site (it would listen on port 80 of the host's network), not started at
# boot unless Start-TestAppServer -ProxyPort enables it with a server on 127.0.0.1:<ProxyPort>. The upstream file that
# YieldVault.Ops rewrites on every switch lives in a directory of deploy's own, included from conf.d.
rm -f /etc/nginx/sites-enabled/default /etc/systemd/system/multi-user.target.wants/nginx.service
install -d -o deploy -g deploy -m 0755 /etc/nginx/yieldvault
/usr/sbin/nginx -t -q
install -m 0644 "$B/sshd-yieldvault.conf" /etc/ssh/sshd_config.d/50-yieldvault.conf

# Host keys come per run; an empty machine-id makes systemd create one at boot.
rm -f /etc/ssh/ssh_host_*
: > /etc/machine-id
