// Recording rules of the group replmon.mariadb, evaluated before its alerts. c is _config.
function(c) [
  // Replication lag as replmon's own health rules see it: the heartbeat lag where there
  // is one, else Master_Slave_time_diff (MariaDB 11.6+), else Seconds_Behind_Master,
  // less the link's MASTER_DELAY (replmon computes it: a replica delayed on purpose lags
  // only by what it trails beyond its delay). NaN when no lag is known, hence the `>= 0`.
  // Used by the lag alerts and the "Replication overview" panel;
  // mariadb_heartbeat_lag_seconds stays the raw figure.
  {
    record: 'cluster_node_source:mariadb_replica_lag_seconds',
    expr: |||
      mariadb_replica_lag_beyond_delay_seconds%(selectorBraces)s >= 0
    ||| % c,
  },
]
