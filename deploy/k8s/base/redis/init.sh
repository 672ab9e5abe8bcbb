#!/bin/sh
# Writes this pod's redis.conf and sentinel.conf into /conf (an emptyDir: Sentinel rewrites its
# file). The primary is whatever the running sentinels say; on a fresh start (no sentinel answers)
# it is redis-0. Names, not addresses: a pod's address changes when it restarts, its name in the
# headless Service does not (sentinel resolve-hostnames / announce-hostnames).
set -eu

: "${REDIS_PASSWORD:?REDIS_PASSWORD is not set}"
service=redis-headless
self="$(hostname).$service"
primary=""

for i in 0 1 2; do
  peer="redis-$i.$service"
  [ "$peer" = "$self" ] && continue
  answer=$(timeout 3 redis-cli -h "$peer" -p 26379 sentinel get-master-addr-by-name mymaster 2>/dev/null | head -n 1) || answer=""
  if [ -n "$answer" ]; then
    primary=$answer
    break
  fi
done
[ -n "$primary" ] || primary="redis-0.$service"
echo "primary: $primary (this pod: $self)"

cat > /conf/redis.conf <<CONF
port 6379
bind * -::*
protected-mode no
requirepass "$REDIS_PASSWORD"
masterauth "$REDIS_PASSWORD"
replica-announce-ip $self
# Holds, limits and notices only: nothing is kept on disk (a lost hold is picked again).
save ""
appendonly no
dir /data
maxmemory ${REDIS_MAXMEMORY:-200mb}
maxmemory-policy noeviction
CONF
if [ "$primary" != "$self" ]; then
  echo "replicaof $primary 6379" >> /conf/redis.conf
fi

cat > /conf/sentinel.conf <<CONF
port 26379
dir /data
sentinel resolve-hostnames yes
sentinel announce-hostnames yes
sentinel announce-ip $self
sentinel monitor mymaster $primary 6379 2
sentinel auth-pass mymaster $REDIS_PASSWORD
sentinel down-after-milliseconds mymaster 5000
sentinel failover-timeout mymaster 60000
sentinel parallel-syncs mymaster 1
CONF
