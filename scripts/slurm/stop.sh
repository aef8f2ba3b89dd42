#!/usr/bin/env bash
# Stops the cluster that scripts/slurm/start.sh BASE started: cancels its
# jobs, then stops slurmd, slurmctld and (only if start.sh started it)
# munged, by the pids in their pid files. Safe to run again.
set -uo pipefail

BASE=${1:?usage: $0 BASE_DIR}
say() { echo "slurm-stop: $*" >&2; }
[ -d "$BASE" ] || { say "$BASE does not exist: nothing to stop"; exit 0; }
BASE=$(cd "$BASE" && pwd)
export PATH=$PATH:/usr/sbin:/sbin
export SLURM_CONF=$BASE/slurm.conf

alive() { [ -n "${1:-}" ] && [ -e "/proc/$1" ] && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }

stop_pid() { # name pidfile
    local name=$1 file=$2 pid
    [ -s "$file" ] || return 0
    pid=$(cat "$file")
    if alive "$pid"; then
        kill -TERM "$pid" 2>/dev/null
        for _ in $(seq 100); do alive "$pid" || break; sleep 0.1; done
        if alive "$pid"; then
            say "$name ($pid) ignored SIGTERM for 10 s: SIGKILL"
            kill -KILL "$pid" 2>/dev/null
        fi
        say "stopped $name ($pid)"
    fi
    rm -f "$file"
}

ctld=$(cat "$BASE/run/slurmctld.pid" 2>/dev/null || true)
if alive "$ctld" && [ -f "$SLURM_CONF" ]; then
    # Jobs first, so no job step is left running without its daemons.
    jobs=$(squeue -h -o %i 2>/dev/null | tr '\n' ' ')
    if [ -n "${jobs// /}" ]; then
        say "cancelling jobs $jobs"
        scancel $jobs 2>/dev/null
        for _ in $(seq 50); do
            [ -z "$(squeue -h -t pending,running,completing -o %i 2>/dev/null)" ] && break
            sleep 0.2
        done
    fi
fi
stop_pid slurmd "$BASE/run/slurmd.pid"
stop_pid slurmctld "$BASE/run/slurmctld.pid"
# munged only when start.sh started it (its copy of the pid file says so).
if [ -s "$BASE/run/munged.pid" ]; then
    stop_pid munged "$BASE/run/munged.pid"
fi
exit 0
