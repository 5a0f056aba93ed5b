// Node detail: one MariaDB node, chosen with the `node` variable. c is _config.
function(c)
  local g = (import 'lib.libsonnet')(c);
  local n = 'node="$node"';
  local probe = 'kind="mariadb", ' + n;
  local fromLegend = 'from {{source}} {{connection}}';
  g.dashboard(
    c.dashboardUids.node,
    'replmon / Node detail',
    "One MariaDB node (the `node` variable): its health, the replication links into it and out of it, GTID positions and replmon's probe of it.",
    ['mariadb'],
    g.variables('mariadb_up', [
      g.queryVar('node', 'Node', 'label_values(mariadb_up{%s}, node)' % g.jiCluster, multi=false),
    ]),
    [
      [
        [g.stat(
          'Up',
          "mariadb_up: whether replmon's last poll of $node connected and every statement succeeded.",
          [g.target(g.sel('mariadb_up', n), '{{node}}')],
          'none',
          g.upMap,
          g.thresholds('text'),
          textMode='value',
        ), 4, 4],
        [g.stat(
          'Health',
          "replmon_target_state: replmon's own verdict on $node (the same as /health/$node): critical when it does not answer, an expected link is broken or the lag reaches lag_critical; warning at lag_warning or a failing pair check.",
          [g.target(g.weighted('replmon_target_state', 'state', g.stateWeights, n), '{{node}}')],
          'none',
          g.stateMap,
          g.thresholds('text'),
          textMode='value',
        ), 4, 4],
        [g.stat(
          'Read-only',
          'mariadb_read_only (@@read_only) of $node.',
          [g.target(g.sel('mariadb_read_only', n), '{{node}}')],
          'none',
          g.readOnlyMap,
          g.thresholds('text'),
          textMode='value',
        ), 4, 4],
        [g.stat(
          'Server ID',
          'mariadb_server_id (@@server_id) of $node; every node of a cluster needs its own.',
          [g.target(g.sel('mariadb_server_id', n), '{{node}}')],
          'none',
          steps=g.thresholds('blue'),
          decimals=0,
          textMode='value',
        ), 4, 4],
        [g.stat(
          'Probe duration',
          "replmon_probe_duration_seconds: how long replmon's last poll of $node took (its three statements).",
          [g.target(g.sel('replmon_probe_duration_seconds', probe), '{{node}}')],
          's',
          steps=g.thresholds('green', [[0.5, 'orange'], [2, 'red']]),
          textMode='value',
        ), 4, 4],
        [g.stat(
          'Since the last good poll',
          'time() - replmon_last_success_timestamp_seconds: how long ago replmon last polled $node successfully (empty if never).',
          [g.target('time() - (%s > 0)' % g.sel('replmon_last_success_timestamp_seconds', probe), '{{node}}')],
          's',
          steps=g.thresholds('green', [[5, 'orange'], [60, 'red']]),
          decimals=1,
          textMode='value',
        ), 4, 4],
      ],
      [
        [g.stateTimeline(
          'IO thread of the links into $node',
          'mariadb_replica_io_state of each replication connection on $node: Yes, Connecting (the source is unreachable), Preparing, No.',
          [g.target(g.weighted('mariadb_replica_io_state', 'state', g.ioWeights, n), fromLegend)],
          g.ioMap,
        ), 12, 6],
        [g.stateTimeline(
          'SQL thread of the links into $node',
          'mariadb_replica_sql_running of each replication connection on $node.',
          [g.target(g.sel('mariadb_replica_sql_running', n), fromLegend)],
          g.runningMap,
        ), 12, 6],
      ],
      [
        [g.timeseries(
          'Heartbeat lag into $node',
          "mariadb_heartbeat_lag_seconds of the links on which $node replicates (one per source), and mariadb_replica_lag_beyond_delay_seconds: the lag less the link's MASTER_DELAY, which replmon's health and the alerts judge (the same line when there is no delay).",
          [
            g.target(g.sel('mariadb_heartbeat_lag_seconds', n), 'from {{source}}'),
            g.target(g.sel('mariadb_replica_lag_beyond_delay_seconds', n), 'beyond delay, from {{source}}', ref='B'),
          ],
          's',
          g.lagSteps,
          min=0,
        ), 12, 8],
        [g.timeseries(
          'Heartbeat lag of the nodes reading from $node',
          'mariadb_heartbeat_lag_seconds of the links whose source is $node: how far behind $node the other nodes are.',
          [g.target(g.sel('mariadb_heartbeat_lag_seconds', 'source="$node"'), '{{node}}')],
          's',
          g.lagSteps,
          min=0,
        ), 12, 8],
      ],
      [
        [g.timeseries(
          'Seconds_Behind_Master and SQL_Delay on $node',
          'mariadb_replica_seconds_behind_master (NULL, a gap, when a thread stops) and mariadb_replica_sql_delay_seconds (MASTER_DELAY) of each replication connection on $node.',
          [
            g.target(g.sel('mariadb_replica_seconds_behind_master', n), 'behind {{source}} {{connection}}'),
            g.target(g.sel('mariadb_replica_sql_delay_seconds', n), 'SQL_Delay {{source}} {{connection}}', 'B'),
          ],
          's',
          g.lagSteps,
          min=0,
        ), 12, 8],
        [g.timeseries(
          'Transactions behind on $node',
          'mariadb_replica_transactions_behind: per source and GTID domain, the transactions the source has binlogged that $node has not applied.',
          [g.target(g.sel('mariadb_replica_transactions_behind', n), 'from {{source}} (domain {{domain}})')],
          'short',
          min=0,
          decimals=0,
        ), 12, 8],
      ],
      [
        [g.timeseries(
          'GTID sequence numbers on $node',
          'mariadb_gtid_binlog_seq (what $node has binlogged) and mariadb_gtid_slave_seq (what it has applied from replication), per GTID domain.',
          [
            g.target(g.sel('mariadb_gtid_binlog_seq', n), 'binlog, domain {{domain}}'),
            g.target(g.sel('mariadb_gtid_slave_seq', n), 'applied, domain {{domain}}', 'B'),
          ],
          'short',
          decimals=0,
        ), 12, 8],
        [g.timeseries(
          'Relay log space on $node',
          'mariadb_replica_relay_log_space_bytes: the relay logs of each connection. Grows while the SQL thread is stopped or slow.',
          [g.target(g.sel('mariadb_replica_relay_log_space_bytes', n), fromLegend)],
          'bytes',
          min=0,
        ), 12, 8],
      ],
      [
        [g.timeseries(
          'Retried transactions on $node',
          'rate(mariadb_replica_retried_transactions_total): transactions the SQL thread had to retry (deadlocks, lock wait timeouts).',
          [g.target('rate(%s[$__rate_interval])' % g.sel('mariadb_replica_retried_transactions_total', n), fromLegend)],
          'cps',
          min=0,
        ), 8, 8],
        [g.timeseries(
          'Received heartbeats on $node',
          'rate(mariadb_replica_received_heartbeats_total): replication heartbeats the IO thread receives from an idle source. Zero while the IO thread says Yes means a dead connection (see Stalled).',
          [g.target('rate(%s[$__rate_interval])' % g.sel('mariadb_replica_received_heartbeats_total', n), fromLegend)],
          'cps',
          min=0,
        ), 8, 8],
        [g.timeseries(
          'Probe errors of $node by reason',
          'rate(replmon_probe_errors_total) of the MariaDB probe of $node by reason: connect, auth, timeout, privilege, query.',
          [g.target('rate(%s[$__rate_interval])' % g.sel('replmon_probe_errors_total', probe), '{{reason}}')],
          'cps',
          min=0,
        ), 8, 8],
      ],
      [
        [g.stateTimeline(
          'Replication error class on $node',
          'mariadb_replica_error_class of each link into $node.',
          [g.target(g.weighted('mariadb_replica_error_class', 'class', g.errorWeights, n), 'from {{source}}')],
          g.errorMap,
        ), 12, 6],
        [g.table(
          'Last replication errors on $node',
          "Last_IO_Errno and Last_SQL_Errno of each replication connection on $node (0: none). The error texts are in replmon's log and in SHOW ALL SLAVES STATUS.",
          [
            g.target(g.sel('mariadb_replica_last_io_errno', n), ref='A', table=true),
            g.target(g.sel('mariadb_replica_last_sql_errno', n), ref='B', table=true),
          ],
          'none',
          hide=['instance'],
          rename={ 'Value #A': 'Last_IO_Errno', 'Value #B': 'Last_SQL_Errno' },
        ), 12, 6],
      ],
    ],
  )
