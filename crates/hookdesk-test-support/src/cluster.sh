# One private PostgreSQL cluster, run by this shell for a test binary whose pipe is our
# standard input: when that pipe closes (the binary ended, however it ended, SIGKILL
# included), the server is stopped and its folder removed.
# Arguments: the folder of the server programs, a port, the folder to make ours in.
# Commands on standard input, one per line: "down" (answers "down" once stopped) and "up"
# (answers "ready", or "failed: why"); the start answers "folder PATH", then as "up" does.
set -u
bin=$1 port=$2 parent=$3
# Signals meant for the test binary (Ctrl-C, a closed terminal) must not end us before we
# clean up, nor must the binary's end while we answer.
trap '' INT TERM HUP QUIT PIPE
dir=$(mktemp -d "$parent/hookdesk-test-postgres.XXXXXX") || { echo "failed: no folder in $parent"; exit 1; }
echo "folder $dir"
pid=
stop() {
    [ -n "$pid" ] && kill -INT "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    pid=
}
# However we end, the server stops (a fast shutdown) and the folder goes.
trap 'stop; rm -rf "$dir"' EXIT
last_lines() { tail -n 3 "$1" | tr '\n' ' '; }
if ! "$bin/initdb" -D "$dir/data" -A trust -U postgres --no-sync >"$dir/initdb.log" 2>&1; then
    echo "failed: initdb: $(last_lines "$dir/initdb.log")"
    exit 1
fi
# A zombie still answers kill -0: alive means a process that has not exited.
alive() { [ -r "/proc/$pid/stat" ] && ! grep -q '^[0-9]* ([^)]*) Z' "/proc/$pid/stat"; }
ready() { case $(sed -n 8p "$dir/data/postmaster.pid" 2>/dev/null) in ready*) true ;; *) false ;; esac; }
up() {
    "$bin/postgres" -D "$dir/data" -p "$port" -k "$dir" -c listen_addresses=127.0.0.1 \
        -c fsync=off -c full_page_writes=off -c synchronous_commit=off \
        -c max_connections=200 -c shared_buffers=32MB >>"$dir/server.log" 2>&1 &
    pid=$!
    # Ready when the server writes so in its pid file (as pg_ctl -w reads it), not when the
    # port answers: another server may hold the port.
    polls=0
    until ready; do
        if ! alive || [ "$polls" -ge 1200 ]; then
            echo "failed: postgres: $(last_lines "$dir/server.log")"
            exit 1
        fi
        sleep 0.05
        polls=$((polls + 1))
    done
    echo ready
}
up
while read -r command; do
    case $command in
        down) stop; echo down ;;
        up) up ;;
    esac
done
