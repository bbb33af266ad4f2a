#!/bin/bash
# Stops the cluster start-cluster.sh started under $1 (munged is left running: it is shared).
dir=$1
for d in slurmd slurmctld; do
  [ -s "$dir/$d.pid" ] && kill "$(cat "$dir/$d.pid")" 2>/dev/null || true
done
