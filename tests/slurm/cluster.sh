#!/usr/bin/env bash
# A real single-node SLURM cluster for the integration test (Debian's slurm-wlm + munge), run as root.
#   cluster.sh install         apt-get install slurm-wlm munge (if missing)
#   cluster.sh start DIR       write DIR/slurm.conf (+ gres.conf), start munged, slurmctld, slurmd
#   cluster.sh stop DIR        stop the daemons started from DIR
# The node offers one GPU as a generic resource backed by /dev/null, so that jobs asking for gpu=1 (the
# extraction rules in profiles/slurm) are scheduled through the real gres path on a machine without GPUs;
# the job itself then finds no CUDA device and runs on the CPU.
set -euo pipefail
cmd=${1:?usage: cluster.sh install|start DIR|stop DIR}

if [[ $cmd == install ]]; then
    command -v slurmctld >/dev/null && command -v munged >/dev/null && exit 0
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null
    exit 0
fi

dir=$(realpath "${2:?state directory}")
mkdir -p "$dir"/{state,spool,log,munge}
conf=$dir/slurm.conf
if [[ $cmd == stop ]]; then
    for pid in "$dir"/slurmd.pid "$dir"/slurmctld.pid "$dir"/munge/munged.pid; do
        [[ -f $pid ]] && kill "$(cat "$pid")" 2>/dev/null || true
    done
    for f in slurm.conf gres.conf; do  # only the links this script made
        [[ -L /etc/slurm/$f && $(readlink /etc/slurm/$f) == "$dir/$f" ]] && rm -f "/etc/slurm/$f"
    done
    exit 0
fi
# Jobs call srun, which looks for /etc/slurm/slurm.conf: link it there, never over a site's own config.
mkdir -p /etc/slurm
for f in slurm.conf gres.conf; do
    if [[ -e /etc/slurm/$f && ! -L /etc/slurm/$f ]]; then
        echo "/etc/slurm/$f exists and is not ours; not starting a test cluster over it" >&2
        exit 3
    fi
done

host=$(hostname -s)
# The node announces the size of a typical GPU node (config_overrides: slurmd believes slurm.conf), so that
# profiles/slurm is scheduled unchanged; the jobs themselves are tiny.
cpus=16
mem=131072
cat > "$conf" <<CONF
ClusterName=emobasis-test
SlurmctldHost=$host
SlurmctldPort=16817
SlurmdPort=16818
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$dir/munge/munge.socket
CredType=cred/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
ReturnToService=2
SlurmdParameters=config_overrides
MinJobAge=86400
GresTypes=gpu
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem Gres=gpu:1 State=UNKNOWN
PartitionName=main Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
echo "NodeName=$host Name=gpu File=/dev/null" > "$dir/gres.conf"
ln -sfn "$dir/slurm.conf" /etc/slurm/slurm.conf
ln -sfn "$dir/gres.conf" /etc/slurm/gres.conf

key=$dir/munge/munge.key
[[ -f $key ]] || { dd if=/dev/urandom of="$key" bs=1 count=1024 status=none; chmod 400 "$key"; }
munged --force --key-file="$key" --socket="$dir/munge/munge.socket" --pid-file="$dir/munge/munged.pid" \
    --log-file="$dir/munge/munged.log" --seed-file="$dir/munge/munged.seed"
export SLURM_CONF=$conf
slurmctld -f "$conf"
slurmd -f "$conf"
for _ in $(seq 60); do
    if sinfo -h -o %T 2>/dev/null | grep -q -E '^(idle|mixed|allocated)'; then
        echo "SLURM_CONF=$conf"
        exit 0
    fi
    sleep 0.5
done
echo "SLURM did not come up; logs in $dir/log" >&2
tail -n 20 "$dir"/log/*.log >&2 || true
exit 1
