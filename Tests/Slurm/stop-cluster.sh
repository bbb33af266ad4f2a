#!/bin/bash
# Stops the cluster start-cluster.sh started under $1 and waits (at most 20 s) until its daemons
# are gone (munged is left running: it is shared).
dir=$1
pids=""
for d in slurmd slurmctld; do
  if [ -s "$dir/$d.pid" ]; then
    pid=$(cat "$dir/$d.pid")
    kill "$pid" 2>/dev/null && pids="$pids $pid"
  fi
done
for _ in $(seq 40); do
  alive=""
  for pid in $pids; do kill -0 "$pid" 2>/dev/null && alive="$alive $pid"; done
  [ -z "$alive" ] && exit 0
  sleep 0.5
done
kill -9 $alive 2>/dev/null || true
