#!/bin/bash
# t/faults/svc.sh DIR ACTION: stops, kills and starts the services of the
# private stack in DIR (made by scripts/stack.sh up) exactly the way
# scripts/stack.sh starts and stops them, for the fault-injection tests.
#
#   pg-stop          pg_ctl -m fast stop as user postgres (stack.sh down)
#   pg-start         pg_ctl start as user postgres (stack.sh up)
#   redis-stop       redis-cli shutdown nosave (the data set is lost)
#   redis-start      redis-server with stack.sh's options (no persistence)
#   validator-kill9  kill -9 of the validator (pid file)
#   validator-stop   SIGTERM, bounded wait
#   validator-start  setsid acme-validator -c $VALIDATOR_CONF (stack.sh up)
#   nginx-kill-worker  kill -9 of one nginx worker; prints its pid
#   nginx-reload     nginx -s reload; waits for the new workers
#   nginx-quit       nginx -s quit; waits for the master to exit
#   nginx-start      nginx (stack.sh up); waits until it answers
#   nginx-workers    prints the pids of the current workers
set -euo pipefail

. "$(dirname "$0")/../../scripts/lib-stack.sh"

DIR=${1:?usage: svc.sh DIR ACTION}
ACTION=${2:?usage: svc.sh DIR ACTION}
stk_load_env "$DIR" || stk_die "no stack env in $DIR"
export SOFTHSM2_CONF

nginx_master() {
    local pid
    pid=$(head -n1 "$DIR/nginx/logs/nginx.pid" 2>/dev/null) || return 1
    [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
    echo "$pid"
}

nginx_workers() {
    local m
    m=$(nginx_master) || return 0
    pgrep -P "$m" 2>/dev/null || true
}

nginx_ready() {
    curl -sf --max-time 3 --cacert "$ACME_TLS_CA_BUNDLE" -o /dev/null \
        "$ACME_DIRECTORY_URL"
}

redis_ping() {
    [ "$(redis-cli -h 127.0.0.1 -p "$REDISPORT" ping 2>/dev/null)" = PONG ]
}

pg_ready() {
    "$PGBIN/psql" -X -q -d "$ACME_DB_CONNINFO" -c 'SELECT 1'
}

case $ACTION in
pg-stop)
    (cd "$DIR/pg" && timeout 60 runuser -u postgres -- "$PGBIN/pg_ctl" \
        -D "$DIR/pg/data" -m fast -w -t 50 stop > /dev/null 2>&1)
    ;;
pg-start)
    (cd "$DIR/pg" && runuser -u postgres -- "$PGBIN/pg_ctl" \
        -D "$DIR/pg/data" -l "$DIR/pg/postgres.log" -w -t 60 start \
        > "$DIR/pg/pg_ctl.log" 2>&1 9>&-) \
        || { stk_tail "$DIR/pg/pg_ctl.log"; exit 1; }
    stk_wait 20 postgresql pg_ready
    ;;
redis-stop)
    timeout 10 redis-cli -h 127.0.0.1 -p "$REDISPORT" shutdown nosave \
        > /dev/null 2>&1 || true
    stk_kill_pidfile "$DIR/redis/redis.pid" redis 10
    ;;
redis-start)
    d="$DIR/redis"
    redis-server --bind 127.0.0.1 --port "$REDISPORT" --save "" \
        --appendonly no --daemonize yes --pidfile "$d/redis.pid" \
        --logfile "$d/redis.log" --dir "$d" --unixsocket "" \
        --protected-mode yes > /dev/null 9>&-
    stk_wait 20 redis redis_ping
    ;;
validator-kill9)
    pid=$(head -n1 "$DIR/validator.pid")
    kill -KILL "$pid"
    for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    echo "$pid"
    ;;
validator-stop)
    stk_kill_pidfile "$DIR/validator.pid" validator 15
    ;;
validator-start)
    setsid "$ACME_REPO/build/acme-validator" -c "$VALIDATOR_CONF" \
        >> "$DIR/validator.log" 2>&1 < /dev/null 9>&- &
    echo $! > "$DIR/validator.pid"
    sleep 1
    stk_pid_alive "$DIR/validator.pid" \
        || { stk_tail "$DIR/validator.log"; exit 1; }
    ;;
nginx-workers)
    nginx_workers
    ;;
nginx-kill-worker)
    w=$(nginx_workers | head -n1)
    [ -n "$w" ] || stk_die "no nginx worker"
    kill -KILL "$w"
    echo "$w"
    ;;
nginx-reload)
    old=$(nginx_workers | tr '\n' ' ')
    "$NGINX_BIN" -p "$NGINX_PREFIX" -c conf/nginx.conf -e logs/error.log \
        -s reload
    # new workers up: at least one pid not in the old set
    for ((i = 0; i < 100; i++)); do
        for w in $(nginx_workers); do
            [[ " $old " == *" $w "* ]] || break 2
        done
        sleep 0.1
    done
    ;;
nginx-quit)
    m=$(nginx_master) || exit 0
    "$NGINX_BIN" -p "$NGINX_PREFIX" -c conf/nginx.conf -e logs/error.log \
        -s quit
    for ((i = 0; i < 300; i++)); do
        kill -0 "$m" 2>/dev/null || exit 0
        sleep 0.1
    done
    stk_die "nginx master $m did not quit in 30s"
    ;;
nginx-start)
    "$NGINX_BIN" -p "$NGINX_PREFIX" -c conf/nginx.conf -e logs/error.log \
        9>&-
    stk_wait 30 nginx nginx_ready
    ;;
*)
    stk_die "unknown action $ACTION"
    ;;
esac
