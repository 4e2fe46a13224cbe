#!/bin/bash
# A real OpenStack Keystone (Debian 12's packages, release Zed) on 127.0.0.1, for the tests of
# auth_strategy = keystone (test/keystone-auth.test.ts) and for trying the services by hand.
#
#   bash scripts/keystone-up.sh          # install if missing, configure, start; prints the URL
#   bash scripts/keystone-down.sh        # stop it (state kept: the next start is quick)
#   bash scripts/keystone-down.sh --purge  # stop it and delete its state directory
#
# Environment:
#   KEYSTONE_STATE  state directory: config, SQLite database, keys, logs, pid (default
#                   /tmp/tricircle-keystone)
#   KEYSTONE_PORT   port on 127.0.0.1 (default 35357, so as not to clash with a Keystone on 5000)
#
# Idempotent: each step is skipped when already done, and a running Keystone is reused.
# Concurrent runs with the same state directory wait for each other (flock).
# Log lines go to standard error; standard output is only the Keystone URL, as its last line.
#
# What exists once it has run (all in domain Default, region CentralRegion):
#   admin/admin          role admin in project admin (keystone-manage bootstrap)
#   tricircle/tricircle  role admin in project service: the service user that validates tokens
#   demo/demo            role member in project demo: an ordinary, non-admin user
# This Keystone is for tests: SQLite, cheap password hashing, no TLS. Never use it in production.
set -euo pipefail

STATE="${KEYSTONE_STATE:-/tmp/tricircle-keystone}"
PORT="${KEYSTONE_PORT:-35357}"
URL="http://127.0.0.1:$PORT/v3"
ETC="$STATE/etc"; LOG="$STATE/log"; RUN="$STATE/run"; DATA="$STATE/data"
# Debian's tools and python, not a pyenv/venv one that may come first in PATH.
export PATH="/usr/sbin:/usr/bin:/sbin:/bin:$PATH"
PY=/usr/bin/python3

log() { echo "[keystone-up $(date +%H:%M:%S)] $*" >&2; }
t0=$(date +%s)

# ---------------------------------------------------------------- 0. packages
# Only when one is missing (a fresh CI machine): this is the slow part, minutes.
PKGS="keystone uwsgi uwsgi-plugin-python3 python3-openstackclient curl"
missing=""
for p in $PKGS; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo -n"
  log "installing:$missing"
  # Debian's keystone postinst asks (debconf) whether to configure a database, an admin
  # project and a catalog endpoint: answer "no" to all; this script configures by hand.
  $SUDO debconf-set-selections <<'EOF'
keystone keystone/configure_db boolean false
keystone keystone/create-admin-tenant boolean false
keystone keystone/register-endpoint boolean false
EOF
  # Without an init system, keep the postinst from trying to start Debian's own keystone.
  created_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod +x /usr/sbin/policy-rc.d
    created_policy=1
  fi
  $SUDO apt-get update -q >&2
  # Only the missing ones: naming an installed package would upgrade it.
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold $missing >&2
  if [ "$created_policy" = 1 ]; then $SUDO rm -f /usr/sbin/policy-rc.d; fi
fi

# ---------------------------------------------------------------- 1. one run at a time
mkdir -p "$ETC" "$LOG" "$RUN" "$DATA"
exec 9>"$STATE/.lock"
flock 9

is_running() { [ -f "$RUN/keystone.pid" ] && kill -0 "$(cat "$RUN/keystone.pid")" 2>/dev/null; }
answers() { curl -sf -o /dev/null --max-time 2 "$URL"; }
wait_http() { # seconds; gives up at once if uwsgi has exited
  local i
  for i in $(seq 1 $(($1 * 5))); do answers && return 0; is_running || return 1; sleep 0.2; done
  return 1
}

# A Keystone already started by this script, on this port, and answering: nothing to do.
if is_running && [ "$(cat "$RUN/keystone.port" 2>/dev/null)" = "$PORT" ] && answers \
   && [ -f "$DATA/.provisioned" ]; then
  log "already running"
  echo "$URL"
  exit 0
fi
# Started earlier on another port (or not answering): stop it and start afresh.
if is_running; then
  log "restarting the Keystone of $STATE"
  bash "$(dirname "${BASH_SOURCE[0]}")/keystone-down.sh" >&2
fi
# Something else on the port (another state directory's Keystone, another service).
if answers; then
  echo "port $PORT already answers, but not with the Keystone of $STATE; stop that or set KEYSTONE_PORT" >&2
  exit 1
fi

# ---------------------------------------------------------------- 2. configuration
# Written on every start, so that a changed port or path takes effect.
cat > "$ETC/keystone.conf" <<EOF
[DEFAULT]
log_dir = $LOG
log_file = keystone.log
debug = false
[database]
connection = sqlite:///$DATA/keystone.sqlite
[identity]
# bcrypt's cheapest setting: every password check costs ~1 ms instead of ~250 ms.
password_hash_rounds = 4
[token]
provider = fernet
expiration = 86400
[fernet_tokens]
key_repository = $DATA/fernet-keys
[fernet_receipts]
key_repository = $DATA/fernet-keys
[credential]
key_repository = $DATA/credential-keys
[oslo_policy]
policy_dirs = /etc/keystone/policy.d
[cache]
# No cache: a revoked token must be refused at once (the tests revoke tokens).
enabled = false
EOF
cat > "$ETC/uwsgi.ini" <<EOF
[uwsgi]
plugins = python3
http-socket = 127.0.0.1:$PORT
wsgi-file = /usr/bin/keystone-wsgi-public
env = OS_KEYSTONE_CONFIG_DIR=$ETC
env = OS_KEYSTONE_CONFIG_FILES=keystone.conf
master = true
# One worker, one thread: SQLite connections must not cross threads (more threads give
# "SQLite objects created in a thread can only be used in that same thread"), and a second
# worker process makes writes fail with "database is locked" while the first holds a read.
processes = 1
threads = 1
lazy-apps = true
# uwsgi's http-socket does not do keep-alive but does not say so: clients then reuse the
# closed connection ("Connection reset by peer"). Say it.
add-header = Connection: close
buffer-size = 65535
die-on-term = true
no-orphans = true
listen = 100
need-app = true
chdir = $DATA
logto = $LOG/uwsgi.log
EOF

# ---------------------------------------------------------------- 3. database, keys, admin
KM="keystone-manage --config-file $ETC/keystone.conf"
if [ ! -f "$DATA/.db_synced" ]; then
  log "creating the database (keystone-manage db_sync, SQLite)"
  $KM db_sync >>"$LOG/keystone-manage.log" 2>&1
  touch "$DATA/.db_synced"
fi
# WAL journal: Keystone (Zed) leaves a read transaction open after each token-authenticated
# request (federation's get_enabled_service_providers reads after its session has ended) until
# Python's garbage collector frees it. With SQLite's default journal that reader blocks the
# next write in the same process, so e.g. POST /v3/services fails with "database is locked";
# in WAL mode readers do not block the writer. The mode is kept in the database file.
$PY -c 'import sqlite3, sys; sqlite3.connect(sys.argv[1]).execute("PRAGMA journal_mode=WAL")' "$DATA/keystone.sqlite"
if [ ! -f "$DATA/fernet-keys/0" ]; then
  log "creating fernet and credential keys"
  $KM fernet_setup --keystone-user "$(id -un)" --keystone-group "$(id -gn)" >>"$LOG/keystone-manage.log" 2>&1
  $KM credential_setup --keystone-user "$(id -un)" --keystone-group "$(id -gn)" >>"$LOG/keystone-manage.log" 2>&1
fi
# The bootstrap writes the port into the catalog's identity endpoints: redo it when the
# port changes (bootstrap updates what exists). The marker holds the port it was run with.
if [ "$(cat "$DATA/.bootstrapped" 2>/dev/null)" != "$PORT" ]; then
  log "bootstrap: admin/admin in project admin, region CentralRegion"
  $KM bootstrap --bootstrap-password admin \
    --bootstrap-username admin --bootstrap-project-name admin \
    --bootstrap-role-name admin --bootstrap-service-name keystone \
    --bootstrap-region-id CentralRegion \
    --bootstrap-admin-url "$URL/" \
    --bootstrap-internal-url "$URL/" \
    --bootstrap-public-url "$URL/" >>"$LOG/keystone-manage.log" 2>&1
  echo "$PORT" > "$DATA/.bootstrapped"
fi

# ---------------------------------------------------------------- 4. start
log "starting keystone (uwsgi) on 127.0.0.1:$PORT"
# setsid: its own session, so that it outlives the shell (or test) that started it;
# 9>&-: it must not inherit (and so hold forever) the lock of this script.
setsid uwsgi --ini "$ETC/uwsgi.ini" </dev/null >>"$LOG/uwsgi.out" 2>&1 9>&- &
echo $! > "$RUN/keystone.pid"
echo "$PORT" > "$RUN/keystone.port"
if ! wait_http 60; then
  echo "keystone did not start answering on $URL; see $LOG/uwsgi.log and $LOG/keystone.log" >&2
  tail -n 20 "$LOG/uwsgi.log" >&2 || true
  exit 1
fi

# ---------------------------------------------------------------- 5. service and demo users
# Through Keystone's REST API in one python process (the openstack CLI would take ~2 s per
# command). Each step looks before it creates, so a half-done run is completed next time.
if [ ! -f "$DATA/.provisioned" ]; then
  log "creating project service + user tricircle (admin), project demo + user demo (member)"
  KEYSTONE_URL="$URL" $PY - <<'EOF'
import json, os, urllib.error, urllib.request

URL = os.environ['KEYSTONE_URL']

def call(method, path, body=None, token=None):
    headers = {'Content-Type': 'application/json'}
    if token:
        headers['X-Auth-Token'] = token
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(URL + path, data=data, headers=headers, method=method)
    with urllib.request.urlopen(request, timeout=30) as response:
        text = response.read()
        return response.headers, (json.loads(text) if text else None)

def admin_token():
    headers, _ = call('POST', '/auth/tokens', {'auth': {
        'identity': {'methods': ['password'], 'password': {'user': {
            'name': 'admin', 'password': 'admin', 'domain': {'id': 'default'}}}},
        'scope': {'project': {'name': 'admin', 'domain': {'id': 'default'}}}}})
    return headers['X-Subject-Token']

TOKEN = admin_token()

def ensure(collection, name, extra):
    """The id of the named project/user/role, created with `extra` when missing."""
    _, found = call('GET', f'/{collection}?name={name}', token=TOKEN)
    if found[collection]:
        return found[collection][0]['id']
    _, created = call('POST', f'/{collection}', {collection[:-1]: {'name': name, **extra}}, token=TOKEN)
    return created[collection[:-1]]['id']

member = ensure('roles', 'member', {})
admin = ensure('roles', 'admin', {})
for project, user, role in (('service', 'tricircle', admin), ('demo', 'demo', member)):
    project_id = ensure('projects', project, {'domain_id': 'default'})
    user_id = ensure('users', user, {'domain_id': 'default', 'password': user,
                                     'default_project_id': project_id})
    # PUT is idempotent: granting a role twice is fine.
    call('PUT', f'/projects/{project_id}/users/{user_id}/roles/{role}', token=TOKEN)
EOF
  touch "$DATA/.provisioned"
fi

cat > "$STATE/adminrc" <<EOF
export OS_AUTH_URL=$URL
export OS_IDENTITY_API_VERSION=3
export OS_USERNAME=admin
export OS_PASSWORD=admin
export OS_PROJECT_NAME=admin
export OS_USER_DOMAIN_NAME=Default
export OS_PROJECT_DOMAIN_NAME=Default
export OS_REGION_NAME=CentralRegion
EOF
log "keystone up in $(( $(date +%s) - t0 )) s: $URL (credentials: . $STATE/adminrc)"
echo "$URL"
