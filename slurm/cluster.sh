#!/usr/bin/env bash
# A single-node SLURM cluster on localhost for bench's tests: munge, MariaDB + slurmdbd,
# slurmctld, slurmd. All state lives in one folder; stop only kills what start started.
#
#   slurm/cluster.sh start [STATE_DIR]   # default /tmp/bench-slurm; prints `export SLURM_CONF=...`
#   slurm/cluster.sh stop  [STATE_DIR]
#   slurm/cluster.sh status [STATE_DIR]
#
# Needs (Debian 12): apt-get install -y --no-install-recommends slurmctld slurmd slurm-client \
#   munge slurmdbd mariadb-server. Runs as root, without systemd or cgroups.
set -euo pipefail

cmd="${1:-}"
ROOT="${2:-${BENCH_SLURM_ROOT:-/tmp/bench-slurm}}"
export SLURM_CONF="$ROOT/etc/slurm.conf"

wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...
    local limit=$1 what=$2; shift 2
    for _ in $(seq 1 $((limit * 10))); do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 0.1
    done
    echo "cluster.sh: $what did not come up within ${limit}s; logs in $ROOT/log" >&2
    return 1
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

kill_pidfile() {  # kill_pidfile FILE [SIGNAL]
    local file=$1 sig=${2:-TERM}
    if [ -f "$file" ]; then
        local pid; pid=$(cat "$file")
        if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill "-$sig" "$pid" 2>/dev/null || true; fi
    fi
}

wait_gone() {  # wait_gone FILE SECONDS
    local file=$1 limit=$2
    [ -f "$file" ] || return 0
    local pid; pid=$(cat "$file")
    for _ in $(seq 1 $((limit * 10))); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
}

start() {
    for tool in munged mariadbd slurmdbd slurmctld slurmd sbatch; do
        command -v "$tool" >/dev/null || {
            echo "cluster.sh: $tool is missing; apt-get install -y --no-install-recommends slurmctld slurmd" \
                 "slurm-client munge slurmdbd mariadb-server" >&2; exit 2; }
    done
    if [ -f "$ROOT/run/slurmctld.pid" ] && kill -0 "$(cat "$ROOT/run/slurmctld.pid")" 2>/dev/null; then
        echo "cluster.sh: a cluster is already running in $ROOT; stop it first" >&2; exit 2
    fi
    rm -rf "$ROOT"
    mkdir -p "$ROOT"/{etc,spool/ctld,spool/d,run,log,db,munge}
    local host cpus mem
    host=$(hostname -s)
    cpus=$(( $(nproc) * 4 ))  # oversubscribe: tests run several small jobs at once
    mem=$(awk '/MemAvailable/ {print int($2 / 1024 * 0.9)}' /proc/meminfo)

    # 1. munge
    chown munge:munge "$ROOT/munge"; chmod 755 "$ROOT/munge"
    head -c 1024 /dev/urandom > "$ROOT/munge/munge.key"
    chown munge:munge "$ROOT/munge/munge.key"; chmod 400 "$ROOT/munge/munge.key"
    runuser -u munge -- munged --key-file="$ROOT/munge/munge.key" --socket="$ROOT/munge/munge.socket.2" \
        --pid-file="$ROOT/munge/munged.pid" --log-file="$ROOT/munge/munged.log" --seed-file="$ROOT/munge/seed"
    cp "$ROOT/munge/munged.pid" "$ROOT/run/munged.pid"

    # 2. MariaDB for accounting (submitit polls job states with sacct only)
    mariadb-install-db --no-defaults --datadir="$ROOT/db/data" --user=root \
        --auth-root-authentication-method=normal --skip-test-db >"$ROOT/log/mariadb-install.log" 2>&1
    mariadbd --no-defaults --datadir="$ROOT/db/data" --user=root --bind-address=127.0.0.1 --port=3306 \
        --socket="$ROOT/db/mysqld.sock" --pid-file="$ROOT/run/mariadbd.pid" --skip-grant-tables=0 \
        --log-error="$ROOT/log/mariadb.log" >/dev/null 2>&1 &
    wait_for 30 "MariaDB" mariadb-admin --socket="$ROOT/db/mysqld.sock" ping
    mariadb --socket="$ROOT/db/mysqld.sock" -u root <<SQL
CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY 'slurm';
CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY 'slurm';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';
FLUSH PRIVILEGES;
SQL

    # 3. configuration
    cat > "$ROOT/etc/slurm.conf" <<CONF
ClusterName=benchci
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$ROOT/munge/munge.socket.2,cred_expire=5
AccountingStoragePass=$ROOT/munge/munge.socket.2
StateSaveLocation=$ROOT/spool/ctld
SlurmdSpoolDir=$ROOT/spool/d
SlurmctldPidFile=$ROOT/run/slurmctld.pid
SlurmdPidFile=$ROOT/run/slurmd.pid
SlurmctldLogFile=$ROOT/log/slurmctld.log
SlurmdLogFile=$ROOT/log/slurmd.log
MailProg=/bin/true
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort=6819
JobCompType=jobcomp/filetxt
JobCompLoc=$ROOT/log/jobcomp.txt
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
SchedulerParameters=bf_interval=1,sched_interval=2
SlurmdParameters=config_overrides
MpiDefault=none
SwitchType=switch/none
ReturnToService=2
EnforcePartLimits=ALL
MinJobAge=300
KillWait=10
InactiveLimit=0
SlurmctldTimeout=30
SlurmdTimeout=30
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
    cat > "$ROOT/etc/slurmdbd.conf" <<CONF
AuthType=auth/munge
AuthInfo=socket=$ROOT/munge/munge.socket.2
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort=6819
SlurmUser=root
LogFile=$ROOT/log/slurmdbd.log
PidFile=$ROOT/run/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=3306
StorageUser=slurm
StoragePass=slurm
StorageLoc=slurm_acct_db
CONF
    chmod 600 "$ROOT/etc/slurmdbd.conf"

    # 4. daemons
    slurmdbd
    wait_for 30 "slurmdbd" port_open 6819
    slurmctld
    wait_for 30 "slurmctld" scontrol ping
    slurmd
    wait_for 30 "slurmd" bash -c '[ "$(sinfo -h -o %t | head -1)" = idle ]'
    echo "export SLURM_CONF=$SLURM_CONF"
}

stop() {
    if [ ! -d "$ROOT/run" ]; then echo "cluster.sh: no cluster state in $ROOT"; return 0; fi
    if [ -f "$ROOT/run/slurmctld.pid" ] && kill -0 "$(cat "$ROOT/run/slurmctld.pid")" 2>/dev/null; then
        scancel --full --quiet --user="$(id -un)" 2>/dev/null || true
        for _ in $(seq 1 100); do
            [ -z "$(squeue -h 2>/dev/null)" ] && break
            sleep 0.1
        done
    fi
    for d in slurmd slurmctld slurmdbd; do kill_pidfile "$ROOT/run/$d.pid"; done
    for d in slurmd slurmctld slurmdbd; do wait_gone "$ROOT/run/$d.pid" 15; done
    kill_pidfile "$ROOT/run/mariadbd.pid"; wait_gone "$ROOT/run/mariadbd.pid" 15
    kill_pidfile "$ROOT/run/munged.pid"; wait_gone "$ROOT/run/munged.pid" 5
    rm -rf "$ROOT"
}

case "$cmd" in
    start) start ;;
    stop) stop ;;
    status) scontrol ping && sinfo ;;
    *) echo "usage: slurm/cluster.sh start|stop|status [STATE_DIR]" >&2; exit 2 ;;
esac
