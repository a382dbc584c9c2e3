#!/usr/bin/env bash
# One-node SLURM cluster on localhost for CI (Debian packages slurmctld slurmd
# slurm-client munge; needs root). No systemd: daemons are started by hand and
# stopped by PID. Usage: .ci/slurm.sh install | start | stop
set -euo pipefail
state=${SLURM_CI_STATE:-/tmp/seqlantern-slurm}
conf=/etc/slurm/slurm.conf

install() {
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq slurmctld slurmd slurm-client munge >/dev/null
}

start() {
  stop  # a cluster left from an earlier run would hold the ports
  mkdir -p "$state" /run/munge /run/slurm /etc/slurm
  chown munge:munge /run/munge
  [ -s /etc/munge/munge.key ] || {
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
    chown munge:munge /etc/munge/munge.key
    chmod 400 /etc/munge/munge.key
  }
  # munged refuses to run as root: run it as its own user.
  su -s /bin/sh munge -c "/usr/sbin/munged --pid-file=/run/munge/munged.pid"
  local cpus mem
  cpus=$(nproc)
  mem=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 2048 ))
  cat > "$conf" <<CONF
ClusterName=seqlantern-ci
SlurmctldHost=localhost(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
StateSaveLocation=$state/ctld
SlurmdSpoolDir=$state/d
SlurmctldPidFile=/run/slurm/slurmctld.pid
SlurmdPidFile=/run/slurm/slurmd.pid
SlurmctldLogFile=$state/slurmctld.log
SlurmdLogFile=$state/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SwitchType=switch/none
ReturnToService=2
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SlurmdParameters=config_overrides
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=main Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF
  mkdir -p "$state/ctld" "$state/d"
  /usr/sbin/slurmctld -i
  # The host name is not `localhost`: name the node explicitly.
  /usr/sbin/slurmd -N localhost
  for _ in $(seq 1 30); do
    if sinfo -h -o '%T' 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then
      sinfo
      return 0
    fi
    sleep 1
  done
  echo "slurm did not come up; logs follow" >&2
  tail -20 "$state"/slurm*.log >&2 || true
  return 1
}

stop() {
  local pid
  for pidfile in /run/slurm/slurmd.pid /run/slurm/slurmctld.pid /run/munge/munged.pid; do
    [ -s "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.2
    done
    rm -f "$pidfile"
  done
}

"${1:?usage: .ci/slurm.sh install|start|stop}"
