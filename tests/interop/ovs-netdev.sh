#!/bin/sh
# Starts Open vSwitch with its userspace datapath (datapath_type=netdev: no kernel module
# needed) in the calling network namespace, for topolab's interop tests and
# `topolab bench openflow`. Every file lives under DIR; the daemons detach, and topolab's
# teardown ends them with the rest of the node's processes.
#
# usage: ovs-netdev.sh DIR DPID TARGETS PORT...
#   DIR      an empty directory for the database, sockets, pid and log files
#   DPID     16 hex digits (the bridge's datapath id)
#   TARGETS  controller targets, space-separated (tcp:IP:PORT, ptcp:PORT:IP …)
#   PORT…    interfaces, given OpenFlow port numbers 1, 2, … in this order
set -eu
dir=$1 dpid=$2 targets=$3
shift 3
export OVS_RUNDIR="$dir" OVS_DBDIR="$dir" OVS_LOGDIR="$dir" OVS_SYSCONFDIR="$dir"
db="unix:$dir/db.sock"
ovsdb-tool create "$dir/conf.db" /usr/share/openvswitch/vswitch.ovsschema
ovsdb-server "$dir/conf.db" --remote="punix:$dir/db.sock" --pidfile="$dir/ovsdb.pid" \
  --detach --log-file="$dir/ovsdb.log"
ovs-vsctl --db="$db" --no-wait init
ovs-vswitchd "$db" --pidfile="$dir/vswitchd.pid" --detach --log-file="$dir/vswitchd.log"
set -- br0 "$@"
args="add-br br0 -- set bridge br0 datapath_type=netdev protocols=OpenFlow13 fail_mode=secure other-config:datapath-id=$dpid"
n=0
for p in "$@"; do
  if [ "$n" -gt 0 ]; then
    args="$args -- add-port br0 $p -- set interface $p ofport_request=$n"
  fi
  n=$((n + 1))
done
# shellcheck disable=SC2086 # word splitting of the assembled arguments is intended
ovs-vsctl --db="$db" $args
# shellcheck disable=SC2086
ovs-vsctl --db="$db" set-controller br0 $targets
