#!/usr/bin/env bash
# The backend redeployment runbook (/work/shared/runbook/backend-redeployment-runbook.txt) followed literally,
# as a person with a terminal would, against a backend run by PM2 from a plain git checkout. It is the
# baseline that bench/Invoke-Benchmarks.ps1 measures the module against.
#
# Usage:
#   runbook-as-written.sh [deploy] APP_DIR PORT PM2_HOME TARGET_REF PREVIOUS_REF
#       Step 2.1 (the backup the Quick Rollback reads), then Steps 3-7 "If using PM2", Option A (git).
#   runbook-as-written.sh rollback APP_DIR PORT PM2_HOME TARGET_REF PREVIOUS_REF
#       The Quick Rollback: stop, git checkout <previous commit>, restore env, rebuild, start, verify.
#
#   APP_DIR       the checkout PM2 runs the app from (the runbook's /app/yieldvault-backend)
#   PORT          the backend's port (the runbook's 3000)
#   PM2_HOME      the PM2 daemon that runs the app (pm2 app name: yieldvault-backend)
#   TARGET_REF    what Step 4 checks out (the runbook's "git checkout v1.3.0")
#   PREVIOUS_REF  what runs now / what the rollback goes back to; checked against the commit the
#                 backup recorded (the rollback itself checks out the recorded commit, as written)
#   BACKUP_DIR    (environment, optional) the runbook's /var/backups/yieldvault; default APP_DIR/../backups
#
# Every step prints a line to stderr: "RUNBOOK <epoch-ms> <ISO-8601 UTC> <step> <what>". A step ends where
# the next begins; the last line is "done". Commands' own output goes where it goes in a terminal.
#
# Where the runbook cannot be followed as written, the script says so on stderr (a "deviation"/"correction"
# line) and does the least a person would do instead:
#   * Step 4 "npm ci --production" then "npm run build": the build fails because the TypeScript compiler is
#     a dev dependency. It is run as written; when the build fails, "npm ci" (with dev dependencies) and the
#     build again. Both attempts are in the timings (steps 4.4a/4.5a are the failed ones).
#   * Quick Rollback "cp .env.backup.* .env": with more than one backup the glob names several files and cp
#     fails; then the newest backup is copied.
#   * Quick Rollback "curl http://localhost:3000/health" right after the start: the app is not listening yet
#     and curl fails; then the Step 6.2 wait loop, and the curl again.
#   * "If service won't stop: pkill -9 -f yieldvault-backend" would kill every matching process on the machine
#     (this one is shared): the app's pids from PM2 are killed instead. Never needed with PM2's stop.
#   * 5.1 "grep -E ... .env" prints the secret values: they are masked. 5.2 "npx prisma migrate deploy":
#     the sample backend's "npm run migrate" (node-pg-migrate) stands in; it has no status/validate commands.
#   * 7.4 "pm2 logs yieldvault-backend --lines 50" never returns (it follows the log): --nostream is added.
#     The log file is the app's LOG_FILE from .env (the runbook's /var/log/yieldvault/backend.log).
#   * netstat is used when installed, else ss (same columns for this check).
#   * 6.2's loop stops at the first answer of any kind ("curl -s" succeeds on a 503), so a release whose /health
#     fails passes it. 7.1 compares the answer with the runbook's expected response ("status": "healthy"); when it
#     differs the script stops with exit code 3 ("If deployment fails or causes issues"): the caller then runs the
#     Quick Rollback (the rollback mode), as the person would. Their reaction time is not in the figures.
set -euo pipefail

mode=deploy
case "${1:-}" in deploy|rollback) mode=$1; shift ;; esac
if [ $# -ne 5 ]; then
  echo "usage: $0 [deploy|rollback] APP_DIR PORT PM2_HOME TARGET_REF PREVIOUS_REF" >&2
  exit 2
fi
APP_DIR=$1 PORT=$2 TARGET_REF=$4 PREVIOUS_REF=$5
export PM2_HOME=$3
BACKUP_DIR=${BACKUP_DIR:-$(dirname "$APP_DIR")/backups}
APP=yieldvault-backend
case $PORT in ''|*[!0-9]*) echo "PORT must be a number" >&2; exit 2 ;; esac
[ -d "$APP_DIR/.git" ] || { echo "$APP_DIR is not a git checkout" >&2; exit 2; }
[ -d "$PM2_HOME" ] || { echo "PM2_HOME $PM2_HOME does not exist (the app must already run under PM2)" >&2; exit 2; }
for tool in git node npm pm2 curl jq; do command -v "$tool" >/dev/null || { echo "$tool is not installed" >&2; exit 2; }; done

mark() { # mark <step> <what>
  local ms
  ms=$(date +%s%3N)
  printf 'RUNBOOK %s %s %s %s\n' "$ms" "$(date -u -d "@${ms:0:10}.${ms:10}" +%Y-%m-%dT%H:%M:%S.%3NZ)" "$1" "$2" >&2
}
note() { printf 'RUNBOOK-NOTE %s\n' "$*" >&2; }

# The runbook's 3.2 port check: netstat if installed, else ss.
port_check() {
  if command -v netstat >/dev/null; then
    netstat -tuln | grep -w ":$PORT" || true
  else
    note "netstat is not installed: ss -tuln instead"
    ss -tuln | grep -w ":$PORT" || true
  fi
}

# The runbook's 6.2 loop, verbatim but for the port.
wait_loop() {
  for i in {1..30}; do
    if curl -s "http://localhost:$PORT/health" > /dev/null; then
      echo "✓ Service is up!"
      break
    fi
    echo "Waiting for service... ($i/30)"
    sleep 2
  done
}

if [ "$mode" = deploy ]; then
  cd "$APP_DIR"
  before=$(git rev-parse HEAD)
  if [ "$before" != "$(git rev-parse "$PREVIOUS_REF^{commit}")" ]; then
    echo "$APP_DIR is at $before, not at PREVIOUS_REF $PREVIOUS_REF" >&2
    exit 2
  fi

  # ---- Step 2.1 Backup Current Version (what the Quick Rollback restores from) -------------------------
  mark 2.1 "backup: document current commit, back up .env (node_modules tarball is optional: skipped)"
  mkdir -p "$BACKUP_DIR"
  cd "$APP_DIR"
  git rev-parse HEAD > "$BACKUP_DIR/last_deployed_commit.txt"
  echo "$(date -Iseconds)" >> "$BACKUP_DIR/last_deployed_commit.txt"
  cp .env .env.backup.$(date +%Y%m%d_%H%M%S)

  # ---- Step 3 Stop Current Service ---------------------------------------------------------------------
  mark 3.1 "pm2 stop $APP"
  pm2 stop "$APP"
  mark 3.1-wait "sleep 5 (wait for graceful shutdown)"
  sleep 5

  mark 3.2 "verify service stopped: ps, netstat"
  running=$(ps aux | grep yieldvault-backend | grep -v grep || true)
  [ -z "$running" ] || printf '%s\n' "$running"
  listening=$(port_check)
  [ -z "$listening" ] || printf '%s\n' "$listening"
  # "Should return nothing". The bare pattern also matches other checkouts on a shared machine: what must be
  # gone is this app's process (its path) and whatever listens on its port.
  if [ -n "$(printf '%s\n' "$running" | grep -F -- "$APP_DIR/" || true)" ] || [ -n "$listening" ]; then
    app_pids=$(pm2 pid "$APP" 2>/dev/null | grep -E '^[1-9][0-9]*$' || true)
    note "deviation: the service did not stop; 'pkill -9 -f yieldvault-backend' would hit other processes on this machine: kill -9 of PM2's pids $app_pids"
    mark 3.2-force "force kill (last resort)"
    [ -z "$app_pids" ] || kill -9 $app_pids
    port_check
  fi

  # ---- Step 4 Deploy New Version, Option A: Git-Based Deployment --------------------------------------
  cd "$APP_DIR"
  mark 4.1 "git fetch origin"
  git fetch origin
  mark 4.2 "git checkout $TARGET_REF"
  git checkout "$TARGET_REF"
  mark 4.3 "git log -1 --oneline"
  git log -1 --oneline
  mark 4.4a "npm ci --production (as written)"
  npm ci --production
  mark 4.5a "npm run build (as written)"
  if npm run build; then
    note "the build succeeded after npm ci --production"
  else
    note "correction: 'npm run build' failed after 'npm ci --production' (tsc is a dev dependency); running 'npm ci' with dev dependencies and building again"
    mark 4.4 "npm ci (correction: with dev dependencies)"
    npm ci
    mark 4.5 "npm run build"
    npm run build
  fi
  mark 4.6 "ls -la dist/"
  ls -la dist/

  # ---- Step 5 Update Configuration ---------------------------------------------------------------------
  mark 5.1 "verify environment variables"
  ls -la "$APP_DIR/.env"
  grep -E "STELLAR_RPC_URL|VAULT_CONTRACT_ID|DATABASE_URL" .env | sed 's/=.*/=*** (masked)/'
  node -e "
  require('dotenv').config();
  const required = ['STELLAR_RPC_URL', 'VAULT_CONTRACT_ID', 'DATABASE_URL'];
  const missing = required.filter(k => !process.env[k]);
  if (missing.length > 0) {
    console.error('Missing:', missing);
    process.exit(1);
  }
  console.log('✓ All required variables present');
"
  mark 5.2 "migrations: npm run migrate (stands in for npx prisma migrate deploy)"
  npm run migrate

  # ---- Step 6 Start New Service ------------------------------------------------------------------------
  mark 6.1 "pm2 start $APP; pm2 save"
  pm2 start "$APP"
  pm2 save
  mark 6.2 "wait for startup (curl every 2 s, 30 tries)"
  wait_loop

  # ---- Step 7 Verify Deployment ------------------------------------------------------------------------
  mark 7.1 "curl /health"
  health=$(curl -s "http://localhost:$PORT/health")
  printf '%s\n' "$health" | jq .
  # "Expected response": "status": "healthy". Anything else is the Rollback Procedure's "If deployment fails".
  status=$(printf '%s\n' "$health" | jq -r '.status // empty' 2>/dev/null || true)
  if [ "$status" != healthy ]; then
    note "7.1: /health says status '${status:-<no answer>}', not the expected 'healthy': the deployment failed; the Rollback Procedure follows (exit 3)"
    mark failed "7.1 not healthy"
    exit 3
  fi
  mark 7.2 "curl /ready"
  curl -s "http://localhost:$PORT/ready" | jq .
  mark 7.3 "curl /api/v1/version; git rev-parse HEAD; compare"
  served=$(curl -s "http://localhost:$PORT/api/v1/version" | jq -r .commit)
  head=$(git rev-parse HEAD)
  echo "served $served, checked out $head"
  [ "$served" = "$head" ] || { echo "the backend serves $served, expected $head" >&2; exit 1; }
  mark 7.4 "check logs"
  log_file=$(grep -E '^LOG_FILE=' .env | tail -n 1 | cut -d= -f2-)
  log_file=${log_file:-/var/log/yieldvault/backend.log}
  tail -50 "$log_file"
  grep -i error "$log_file" | tail -20 || true
  grep -i warn "$log_file" | tail -20 || true
  pm2 logs "$APP" --lines 50 --nostream
  mark done "deployed $TARGET_REF"
  exit 0
fi

# ---- Rollback Procedure: Quick Rollback ----------------------------------------------------------------
mark R.1 "stop current service: pm2 stop $APP"
pm2 stop "$APP"

mark R.2 "restore previous version: git checkout <last_deployed_commit>"
cd "$APP_DIR"
recorded=$(cat "$BACKUP_DIR/last_deployed_commit.txt" | head -1)
if [ "$recorded" != "$(git rev-parse "$PREVIOUS_REF^{commit}")" ]; then
  echo "the backup records $recorded, not PREVIOUS_REF $PREVIOUS_REF" >&2
  exit 1
fi
git checkout $(cat "$BACKUP_DIR/last_deployed_commit.txt" | head -1)

mark R.3 "restore environment: cp .env.backup.* .env"
if ! cp .env.backup.* .env; then
  newest=$(ls -1t .env.backup.* | head -n 1)
  note "correction: 'cp .env.backup.* .env' failed ($(ls -1 .env.backup.* | wc -l) backups match); copying the newest, $newest"
  cp "$newest" .env
fi

mark R.4 "rebuild: npm run build"
npm run build

mark R.5 "start service: pm2 start $APP"
pm2 start "$APP"

mark R.6 "verify: curl http://localhost:$PORT/health"
if ! curl "http://localhost:$PORT/health"; then
  echo
  note "correction: the single curl right after the start failed (not listening yet); the Step 6.2 wait loop, then the curl again"
  mark R.6-wait "wait for startup (Step 6.2 loop)"
  wait_loop
  mark R.6 "verify: curl http://localhost:$PORT/health (again)"
  curl "http://localhost:$PORT/health"
fi
echo
served=$(curl -s "http://localhost:$PORT/api/v1/version" | jq -r .commit)
[ "$served" = "$recorded" ] || { echo "after the rollback the backend serves $served, expected $recorded" >&2; exit 1; }
mark done "rolled back to $PREVIOUS_REF"
