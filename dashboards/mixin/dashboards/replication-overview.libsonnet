// Replication overview: every MariaDB cluster and replication link. c is _config.
function(c)
  local g = (import 'lib.libsonnet')(c);
  g.dashboard(
    c.dashboardUids.overview,
    'replmon / Replication overview',
    'Every MariaDB cluster and replication link replmon watches: threads, lag, errors, pair checks.',
    ['mariadb'],
    g.variables('mariadb_up'),
    [
      [
        [g.stat(
          'MariaDB nodes up',
          "mariadb_up per node: UP when replmon's last poll of the node connected and every statement succeeded. DOWN also when a missing grant leaves replmon blind (see the replmon dashboard for the reason).",
          [g.target(g.sel('mariadb_up'), g.nodeLegend)],
          'none',
          g.upMap,
          g.thresholds('text'),
          links=g.nodeLink,
        ), 6, 5],
        [g.stat(
          'Expected links up',
          'mariadb_replica_link_up of every expected replication link (node ← source): UP when the link exists with both threads running; DOWN when it is broken or missing (RESET SLAVE ALL).',
          [g.target(
            g.sel('mariadb_replica_link_up')
            + ' and on (%s, instance, %s, node, source) (' % [c.jobLabel, c.clusterLabel]
            + g.sel('mariadb_replica_link_expected') + ' == 1)',
            g.link,
          )],
          'none',
          g.upMap,
          g.thresholds('text'),
          links=g.nodeLink,
        ), 6, 5],
        [g.stat(
          'Stalled links',
          'mariadb_replica_stalled: STALLED when the IO thread says Yes but neither heartbeats nor GTIDs have moved for stall_after while the source holds transactions the node has not received.',
          [g.target(g.sel('mariadb_replica_stalled'), g.link)],
          'none',
          g.valueMappings([[0, 'flowing', 'green'], [1, 'STALLED', 'red']]),
          g.thresholds('text'),
          links=g.nodeLink,
        ), 6, 5],
        [g.stat(
          'Failing pair checks',
          'How many of the cluster\'s pair checks (mariadb_cluster_check_ok) fail now; the "Pair checks" panel below says which.',
          [g.target('sum by (%s) (1 - %s)' % [c.clusterLabel, g.sel('mariadb_cluster_check_ok')], g.cl)],
          'none',
          steps=g.thresholds('green', [[1, 'red']]),
          decimals=0,
        ), 6, 5],
      ],
      [
        [g.stateTimeline(
          'IO thread state per link',
          "mariadb_replica_io_state: the state of each replication connection's IO thread (Slave_IO_Running): Yes, Connecting (the source is unreachable), Preparing, No (stopped).",
          [g.target(g.weighted('mariadb_replica_io_state', 'state', g.ioWeights), g.link + ' {{connection}}')],
          g.ioMap,
          links=g.nodeLink,
        ), 12, 8],
        [g.stateTimeline(
          'SQL thread per link',
          "mariadb_replica_sql_running: whether each replication connection's SQL thread (Slave_SQL_Running) applies changes.",
          [g.target(g.sel('mariadb_replica_sql_running'), g.link + ' {{connection}}')],
          g.runningMap,
          links=g.nodeLink,
        ), 12, 8],
      ],
      [
        [g.timeseries(
          'Heartbeat lag per link',
          "mariadb_heartbeat_lag_seconds: how far the node trails the source, from replmon's heartbeats: 0 on a link that keeps up (less than one poll interval behind), else within half a poll interval of the delay. Keeps growing when the source stops answering; NaN when the source is read-only. A replica delayed on purpose (MASTER_DELAY) reads its delay here: the alerts judge only the lag beyond it (the panel below).",
          [g.target(g.sel('mariadb_heartbeat_lag_seconds'), g.link)],
          's',
          g.lagSteps,
          min=0,
          links=g.nodeLink,
        ), 12, 8],
        [g.timeseries(
          'Seconds_Behind_Master per link',
          'mariadb_replica_seconds_behind_master as MariaDB reports it: NULL (a gap) when a thread stops, 0 after a restart, and blind to a frozen source. Compare with the heartbeat lag.',
          [g.target(g.sel('mariadb_replica_seconds_behind_master'), g.link + ' {{connection}}')],
          's',
          g.lagSteps,
          min=0,
          links=g.nodeLink,
        ), 12, 8],
      ],
      [
        [g.timeseries(
          'Replication lag as the alerts see it',
          "cluster_node_source:mariadb_replica_lag_seconds (recording rule), from mariadb_replica_lag_beyond_delay_seconds: the heartbeat lag where there is one, else Seconds_Behind_Master, less the link's MASTER_DELAY (0 for a delayed replica that keeps its delay), as replmon's health judges it. MariaDBHeartbeatLagWarning fires at %(lagWarningSeconds)s s, MariaDBHeartbeatLagCritical at %(lagCriticalSeconds)s s, each after 2 minutes." % c,
          [g.target(g.sel('cluster_node_source:mariadb_replica_lag_seconds'), g.link)],
          's',
          g.lagSteps,
          min=0,
          links=g.nodeLink,
        ), 12, 8],
        [g.timeseries(
          'Transactions behind per link',
          "mariadb_replica_transactions_behind: the source's binlog sequence number in its own GTID domain minus what the node has applied in that domain. Grows while a thread is stopped, whatever Seconds_Behind_Master says.",
          [g.target(g.sel('mariadb_replica_transactions_behind'), g.link + ' (domain {{domain}})')],
          'short',
          min=0,
          decimals=0,
          links=g.nodeLink,
        ), 12, 8],
      ],
      [
        [g.stateTimeline(
          'Replication error class per link',
          "mariadb_replica_error_class: the class of each link's current replication error. Duplicate key and row not found are write conflicts between the two writers (MariaDBWriteConflict).",
          [g.target(g.weighted('mariadb_replica_error_class', 'class', g.errorWeights), g.link)],
          g.errorMap,
          links=g.nodeLink,
        ), 12, 8],
        [g.stateTimeline(
          'Replication links up',
          'mariadb_replica_link_up of every link, expected or not: up when the link exists with both threads running, down when it is broken or missing.',
          [g.target(g.sel('mariadb_replica_link_up'), g.link)],
          g.upMap,
          links=g.nodeLink,
        ), 12, 8],
      ],
      [
        [g.stateTimeline(
          'Pair checks',
          'mariadb_cluster_check_ok per check: server_id_unique, gtid_domain_per_writer, auto_increment_safe, log_slave_updates_on, binlog_format_row, writers_as_intended. README.md, "Pair checks", says what to do when one fails.',
          [g.target(g.sel('mariadb_cluster_check_ok'), g.cl + ' {{check}}')],
          g.valueMappings([[0, 'FAIL', 'red'], [1, 'ok', 'green']]),
        ), 12, 8],
        [g.stateTimeline(
          'Read-only per node',
          'mariadb_read_only (@@read_only) per node. In multi-master mode every node should be read-write; in active-passive exactly one.',
          [g.target(g.sel('mariadb_read_only'), g.nodeLegend)],
          g.readOnlyMap,
          links=g.nodeLink,
        ), 12, 8],
      ],
      [
        [g.stateTimeline(
          'Semi-sync per writer',
          "mariadb_semisync_master_active (Rpl_semi_sync_master_status): waiting while the node's commits wait for a replica's acknowledgement; async when semi-sync is off or fell back after rpl_semi_sync_master_timeout. On a cluster with semisync: required, MariaDBSemiSyncFallback fires after a minute of async.",
          [g.target(g.sel('mariadb_semisync_master_active'), g.nodeLegend)],
          g.valueMappings([[0, 'async', 'orange'], [1, 'waiting', 'green']]),
          links=g.nodeLink,
        ), 12, 8],
        [g.timeseries(
          'Commits without acknowledgement',
          "rate(mariadb_semisync_master_unacknowledged_transactions_total) (Rpl_semi_sync_master_no_tx): commits a semi-sync writer made without a replica's acknowledgement, which a failover may lose. Zero on a healthy semi-sync pair.",
          [g.target(
            'rate(%s[$__rate_interval])' % g.sel('mariadb_semisync_master_unacknowledged_transactions_total'),
            g.nodeLegend,
          )],
          'cps',
          min=0,
          links=g.nodeLink,
        ), 12, 8],
        [g.timeseries(
          'Binlog horizon of broken links',
          "mariadb_replica_binlog_horizon_seconds: how long a broken link can stay broken before its source purges the binlogs the node needs (then error 1236 and a rebuild). Empty while every link is healthy (NaN) or the source never purges (+Inf). MariaDBBinlogHorizonHalfSpent fires at half the source's retention.",
          [g.target(g.sel('mariadb_replica_binlog_horizon_seconds'), g.link)],
          's',
          g.thresholds('red', [[3600, 'orange'], [86400, 'green']]),
          min=0,
          links=g.nodeLink,
        ), 12, 8],
      ],
    ],
  )
