#!/usr/bin/env bash
# Starts a single-node Slurm cluster on loopback, for tests and for trying
# `turnkey --use-slurm` on one machine (see README, "Running on a Slurm cluster").
#
#   scripts/slurm/start.sh BASE     # config, state, logs and pid files under BASE
#   export SLURM_CONF=BASE/slurm.conf
#   ...
#   scripts/slurm/stop.sh BASE      # stops what this script started
#
# Needs root (it starts slurmd and munged). Installs Debian's slurmctld,
# slurmd, slurm-client and munge when they are missing (idempotent). No
# systemd, cgroups or accounting database: see RECIPES.md "Slurm".
# Prints `SLURM_CONF=BASE/slurm.conf` as its last line. SLURM_CPUS=N makes
# the node offer N CPUs (default: nproc).
set -euo pipefail

BASE=${1:?usage: $0 BASE_DIR}
say() { echo "slurm-start: $*" >&2; }
die() { echo "slurm-start: error: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (slurmd and munged need it); run it with sudo"

# --- install --------------------------------------------------------------
need_install=0
for b in slurmctld slurmd sbatch squeue scontrol sinfo munged mungekey; do
    command -v "$b" >/dev/null 2>&1 || PATH=$PATH:/usr/sbin:/sbin command -v "$b" >/dev/null 2>&1 || need_install=1
done
export PATH=$PATH:/usr/sbin:/sbin
if [ "$need_install" = 1 ]; then
    command -v apt-get >/dev/null 2>&1 || die "Slurm is not installed and apt-get is not available: install slurmctld, slurmd, slurm-client and munge"
    pkgs="slurmctld slurmd slurm-client munge"
    say "installing $pkgs"
    export DEBIAN_FRONTEND=noninteractive
    # A fresh machine may have no package lists yet: update only when needed.
    if ! apt-get install -y -q --no-install-recommends $pkgs >/dev/null 2>&1; then
        apt-get update -q >/dev/null
        apt-get install -y -q --no-install-recommends $pkgs >/dev/null
    fi
fi

mkdir -p "$BASE"
BASE=$(cd "$BASE" && pwd)
CONF=$BASE/slurm.conf
# The daemons run as `slurm`: they must reach BASE (a mktemp folder is 0700).
chmod 755 "$BASE"
mkdir -p "$BASE/state/ctld" "$BASE/state/d" "$BASE/log" "$BASE/run"
chown -R slurm:slurm "$BASE/state" "$BASE/log" "$BASE/run"

# --- munge ----------------------------------------------------------------
if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    say "munged already running: using it"
else
    if [ ! -s /etc/munge/munge.key ]; then
        mungekey --create --keyfile=/etc/munge/munge.key
    fi
    chown munge:munge /etc/munge/munge.key
    chmod 0400 /etc/munge/munge.key
    mkdir -p /run/munge /var/log/munge /var/lib/munge
    chown munge:munge /run/munge /var/log/munge /var/lib/munge
    chmod 0755 /run/munge
    # As root munged refuses to start ("Logfile is insecure").
    runuser -u munge -- /usr/sbin/munged
    for _ in $(seq 50); do
        munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break
        sleep 0.1
    done
    munge -n | unmunge >/dev/null || die "munged did not start: see /var/log/munge/munged.log"
    # Remember that this cluster started it, so stop.sh stops it (and only then).
    cp /run/munge/munged.pid "$BASE/run/munged.pid"
fi

# --- slurm.conf -----------------------------------------------------------
# A node name slurmd can resolve: this host's name if it resolves, else localhost.
NODE=$(hostname -s 2>/dev/null || echo localhost)
getent hosts "$NODE" >/dev/null 2>&1 || NODE=localhost

alive() { [ -n "${1:-}" ] && [ -e "/proc/$1" ] && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }
pid_of() { [ -s "$1" ] && cat "$1" || true; }

if alive "$(pid_of "$BASE/run/slurmctld.pid")" && alive "$(pid_of "$BASE/run/slurmd.pid")"; then
    say "already running in $BASE"
else
    # Free ports, so a cluster left behind by a killed test does not block this one.
    port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
    CTLD_PORT=6817
    while ! port_free "$CTLD_PORT" || ! port_free $((CTLD_PORT + 1)); do
        CTLD_PORT=$((CTLD_PORT + 2))
        [ "$CTLD_PORT" -lt 6917 ] || die "no free port pair in 6817..6917"
    done
    # SLURM_CPUS=N offers N CPUs whatever the machine has (config_overrides),
    # so sleeping test jobs do not hold back the others.
    CPUS=${SLURM_CPUS:-$(nproc)}
    OVERRIDE=""
    [ "$CPUS" -gt "$(nproc)" ] && OVERRIDE="SlurmdParameters=config_overrides"
    # A little under the total: slurmd drains a node that has less than RealMemory.
    MEM=$(awk '/^MemTotal:/ { printf "%d", $2 / 1024 * 0.95 }' /proc/meminfo)
    cat >"$CONF" <<CONF
ClusterName=turnkeyci
SlurmctldHost=$NODE(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$((CTLD_PORT + 1))
SlurmUser=slurm
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=$BASE/state/ctld
SlurmdSpoolDir=$BASE/state/d
SlurmctldPidFile=$BASE/run/slurmctld.pid
SlurmdPidFile=$BASE/run/slurmd.pid
SlurmctldLogFile=$BASE/log/slurmctld.log
SlurmdLogFile=$BASE/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$BASE/log/jobcomp.log
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
MailProg=/bin/true
# Keep ended jobs visible to squeue/scontrol for 5 minutes (no sacct here).
MinJobAge=300
$OVERRIDE
NodeName=$NODE NodeAddr=127.0.0.1 NodeHostname=$NODE CPUs=$CPUS RealMemory=$MEM State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
    chmod 644 "$CONF"
    export SLURM_CONF=$CONF
    # In the foreground (-D) but in the background here, so that this script
    # knows their pids and keeps what they print before their log is open
    # (a daemon that cannot reach its state or log folder says why only there).
    rm -f "$BASE/run/slurmctld.pid" "$BASE/run/slurmd.pid"
    slurmctld -D -f "$CONF" </dev/null >"$BASE/run/slurmctld.out" 2>&1 &
    CTLD_PID=$!
    slurmd -D -f "$CONF" -N "$NODE" </dev/null >"$BASE/run/slurmd.out" 2>&1 &
    SLURMD_PID=$!
fi
CTLD_PID=${CTLD_PID:-$(pid_of "$BASE/run/slurmctld.pid")}
SLURMD_PID=${SLURMD_PID:-$(pid_of "$BASE/run/slurmd.pid")}

# The line that says why a daemon stopped: its last fatal or error line,
# from its own output or its log file, else the last line it wrote.
why() { # name
    local f line
    for f in "$BASE/run/$1.out" "$BASE/log/$1.log"; do
        line=$(grep -aE 'fatal|error' "$f" 2>/dev/null | tail -n1 || true)
        [ -n "$line" ] && { echo "$line"; return; }
    done
    for f in "$BASE/run/$1.out" "$BASE/log/$1.log"; do
        line=$(tail -n1 "$f" 2>/dev/null || true)
        [ -n "$line" ] && { echo "$line"; return; }
    done
    echo "it wrote nothing"
}

export SLURM_CONF=$CONF
state=""
for i in $(seq 150); do
    # A daemon that died at start is not waited for.
    for d in slurmctld:$CTLD_PID slurmd:$SLURMD_PID; do
        alive "${d#*:}" || die "${d%%:*} stopped at start: $(why "${d%%:*}") (see $BASE/run/${d%%:*}.out and $BASE/log/${d%%:*}.log)"
    done
    state=$(timeout 5 sinfo -h -n "$NODE" -o %T 2>/dev/null | head -n1 || true)
    case "$state" in
        idle | mixed | allocated) break ;;
        down* | drain* | drained*)
            scontrol update nodename="$NODE" state=resume >/dev/null 2>&1 || true ;;
    esac
    sleep 0.2
done
case "$state" in
    idle | mixed | allocated) ;;
    *) die "node $NODE is '${state:-unknown}', not idle: see $BASE/log/slurmctld.log and $BASE/log/slurmd.log" ;;
esac
say "node $NODE is $state (SLURM_CONF=$CONF)"
echo "SLURM_CONF=$CONF"
