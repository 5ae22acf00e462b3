#!/usr/bin/env bash
# Configures and starts a single-node Slurm on this machine (Debian's slurm-wlm and munge), for
# the opt-in test of `optlab slurm` (crates/optlab/tests/slurm.rs, docs/cluster.md).
#
#   tools/slurm/localhost.sh          # install if needed, configure, (re)start munged, slurmctld, slurmd
#   tools/slurm/localhost.sh stop     # stop the three daemons
#
# Runs as root (it writes /etc/slurm/slurm.conf and starts daemons). No cgroups, no accounting
# database: process tracking by process group, every CPU of the machine in one partition `debug`.
set -euo pipefail

pidof_exact() { pgrep -x "$1" || true; }

stop() {
    for d in slurmd slurmctld munged; do
        for p in $(pidof_exact "$d"); do kill "$p" 2>/dev/null || true; done
    done
    for _ in $(seq 50); do
        [[ -z "$(pidof_exact slurmd)$(pidof_exact slurmctld)$(pidof_exact munged)" ]] && return 0
        sleep 0.2
    done
    echo "localhost.sh: the daemons did not stop" >&2
    return 1
}

if [[ "${1:-}" == stop ]]; then
    stop
    exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
    echo "localhost.sh: run as root (it configures and starts slurmctld, slurmd and munged)" >&2
    exit 2
fi
if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends slurm-wlm munge
fi

host=$(hostname -s)
cpus=$(nproc)
mem=$(awk '/MemTotal/ { print int($2 / 1024 * 0.8) }' /proc/meminfo)
stop

mkdir -p /etc/slurm /var/lib/slurm/slurmctld /var/lib/slurm/slurmd /var/log/slurm /run/munge /var/lib/munge /var/log/munge
if [[ ! -s /etc/munge/munge.key ]]; then
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
fi
chown -R munge:munge /etc/munge /run/munge /var/lib/munge /var/log/munge 2>/dev/null || true
chmod 0700 /etc/munge
chmod 0400 /etc/munge/munge.key

cat > /etc/slurm/slurm.conf <<CONF
# Written by optlab's tools/slurm/localhost.sh: a single-node cluster on $host.
ClusterName=optlab-local
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
MpiDefault=none
ProctrackType=proctrack/pgid
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
StateSaveLocation=/var/lib/slurm/slurmctld
SlurmdSpoolDir=/var/lib/slurm/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
MinJobAge=300
KillWait=10
Waittime=0
NodeName=$host CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF

# munged refuses to run as root unless forced; as the munge user when it exists.
if id munge >/dev/null 2>&1; then
    su -s /bin/sh munge -c "/usr/sbin/munged" || /usr/sbin/munged --force
else
    /usr/sbin/munged --force
fi
munge -n | unmunge >/dev/null

/usr/sbin/slurmctld -i
/usr/sbin/slurmd
for _ in $(seq 100); do
    if sinfo -h -o '%T' 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then
        sinfo
        exit 0
    fi
    sleep 0.3
done
echo "localhost.sh: the node did not come up; logs:" >&2
tail -n 30 /var/log/slurm/slurmctld.log /var/log/slurm/slurmd.log >&2 || true
exit 1
