// The alerts of the group replmon.mariadb (mixin.libsonnet puts the group together). c is _config.
function(c) [
  // NodeDown also carries `source` = the down node: Alertmanager's inhibit rules can
  // only compare a label of the same name on both sides (`equal`), and the links that
  // read from the down node carry its name in `source`. For the same reason it carries
  // `database` and `to_database` = the down node: the XMPP alerts of the chat nodes that
  // keep their data on it (depends_on) carry its name in `database`, and the delivery
  // alerts towards such a node in `to_database`.
  //
  // Down only when no peer sees it alive: a node that a peer's replication connection
  // still hears from (mariadb_node_alive_per_peer 1) serves, and only replmon's path to
  // it is broken: MariaDBUnreachableFromMonitor.
  {
    alert: 'MariaDBNodeDown',
    expr: |||
      label_replace(
        label_replace(
          label_replace(
            (mariadb_up%(selectorBraces)s == 0)
            unless on (%(jobLabel)s, instance, %(clusterLabel)s, node) (mariadb_node_alive_per_peer%(selectorBraces)s == 1),
            "source", "$1", "node", "(.*)"),
          "database", "$1", "node", "(.*)"),
        "to_database", "$1", "node", "(.*)")
    ||| % c,
    'for': c.alertFor.MariaDBNodeDown,
    labels: { severity: 'critical' },
    annotations: {
      summary: 'A MariaDB node is down or unreadable.',
      description: 'replmon could not poll {{ $labels.node }} (cluster {{ $labels.%(clusterLabel)s }}) for more than <for> (mariadb_up = {{ $value }}), and no peer that replicates from it hears from it: the server is down, frozen, cut from the network, or refuses the monitor account and has no peer to vouch for it. The replmon log and replmon_probe_errors_total{node="{{ $labels.node }}"} give the reason.' % c,
      runbook_url: c.runbookUrl + '#mariadbnodedown',
    },
  },
  // replmon cannot poll the node, but a peer's replication connection from it is
  // connected and receiving (heartbeats or events): the server runs and serves its
  // binlog, and what broke is replmon's path to it (the monitoring network, a
  // firewall) or the monitor account. A warning: nothing pages as if the database had
  // died. Once the peers stop hearing from it too, MariaDBNodeDown takes over.
  {
    alert: 'MariaDBUnreachableFromMonitor',
    expr: |||
      (mariadb_up%(selectorBraces)s == 0)
      and on (%(jobLabel)s, instance, %(clusterLabel)s, node) (mariadb_node_alive_per_peer%(selectorBraces)s == 1)
    ||| % c,
    'for': c.alertFor.MariaDBUnreachableFromMonitor,
    labels: { severity: 'warning' },
    annotations: {
      summary: 'A MariaDB node is unreachable from replmon but alive for its peers.',
      description: 'replmon could not poll {{ $labels.node }} (cluster {{ $labels.%(clusterLabel)s }}) for more than <for> (mariadb_up = {{ $value }}), while a peer that replicates from it still receives its heartbeats or events (mariadb_node_alive_per_peer{node="{{ $labels.node }}"} names it): the server is up. Check the network between replmon and {{ $labels.node }} (firewall, routes) and the monitor account; the replmon log and replmon_probe_errors_total{node="{{ $labels.node }}"} give the reason. Its own replication and lag are unknown meanwhile.' % c,
      runbook_url: c.runbookUrl + '#mariadbunreachablefrommonitor',
    },
  },
  // One alert per stopped thread: `thread` is io or sql.
  {
    alert: 'MariaDBReplicationThreadDown',
    expr: |||
      label_replace(mariadb_replica_io_running%(selectorBraces)s == 0, "thread", "io", "", "")
      or
      label_replace(mariadb_replica_sql_running%(selectorBraces)s == 0, "thread", "sql", "", "")
    ||| % c,
    'for': c.alertFor.MariaDBReplicationThreadDown,
    labels: { severity: 'critical' },
    annotations: {
      summary: 'A replication thread has stopped.',
      description: 'The {{ $labels.thread | toUpper }} thread of the replication connection "{{ $labels.connection }}" on {{ $labels.node }}, reading from {{ $labels.source }} (cluster {{ $labels.%(clusterLabel)s }}), has not been running for more than <for> (value {{ $value }}). Changes from {{ $labels.source }} are not applied on {{ $labels.node }}: the pair is drifting apart. SHOW ALL SLAVES STATUS on {{ $labels.node }} gives Last_IO_Error / Last_SQL_Error.' % c,
      runbook_url: c.runbookUrl + '#mariadbreplicationthreaddown',
    },
  },
  // Only a link that does not exist at all (RESET SLAVE ALL, a node rebuilt without its
  // CHANGE MASTER): a link that exists but is stopped is MariaDBReplicationThreadDown.
  {
    alert: 'MariaDBReplicationLinkMissing',
    expr: |||
      (mariadb_replica_link_up%(selectorBraces)s == 0)
      and on (%(jobLabel)s, instance, %(clusterLabel)s, node, source) (mariadb_replica_link_expected%(selectorBraces)s == 1)
      unless on (%(jobLabel)s, instance, %(clusterLabel)s, node, source) mariadb_replica_io_running%(selectorBraces)s
    ||| % c,
    'for': c.alertFor.MariaDBReplicationLinkMissing,
    labels: { severity: 'critical' },
    annotations: {
      summary: 'An expected replication link is missing.',
      description: '{{ $labels.node }} (cluster {{ $labels.%(clusterLabel)s }}) has no replication connection to {{ $labels.source }}, although that link is expected (link_up = {{ $value }}). It was removed (RESET SLAVE ALL) or never configured: run CHANGE MASTER TO ... and START SLAVE on {{ $labels.node }}.' % c,
      runbook_url: c.runbookUrl + '#mariadbreplicationlinkmissing',
    },
  },
  {
    alert: 'MariaDBHeartbeatLagWarning',
    expr: |||
      cluster_node_source:mariadb_replica_lag_seconds%(selectorBraces)s >= %(lagWarningSeconds)s
    ||| % c,
    'for': c.alertFor.MariaDBHeartbeatLagWarning,
    labels: { severity: 'warning' },
    annotations: {
      summary: 'A MariaDB replica lags behind its source.',
      description: "Replication from {{ $labels.source }} to {{ $labels.node }} (cluster {{ $labels.%(clusterLabel)s }}) has been at least %(lagWarningSeconds)s s behind for <for>; now {{ $value | humanizeDuration }} (heartbeat lag, or Seconds_Behind_Master where there is no heartbeat table, beyond the link's MASTER_DELAY)." % c,
      runbook_url: c.runbookUrl + '#mariadbheartbeatlagwarning',
    },
  },
  {
    alert: 'MariaDBHeartbeatLagCritical',
    expr: |||
      cluster_node_source:mariadb_replica_lag_seconds%(selectorBraces)s >= %(lagCriticalSeconds)s
    ||| % c,
    'for': c.alertFor.MariaDBHeartbeatLagCritical,
    labels: { severity: 'critical' },
    annotations: {
      summary: 'A MariaDB replica lags far behind its source.',
      description: "Replication from {{ $labels.source }} to {{ $labels.node }} (cluster {{ $labels.%(clusterLabel)s }}) has been at least %(lagCriticalSeconds)s s behind for <for> (beyond the link's MASTER_DELAY); now {{ $value | humanizeDuration }}. Reads from {{ $labels.node }} are stale and a failover to it would lose or conflict with recent writes." % c,
      runbook_url: c.runbookUrl + '#mariadbheartbeatlagcritical',
    },
  },
  {
    alert: 'MariaDBReplicationStalled',
    expr: |||
      mariadb_replica_stalled%(selectorBraces)s == 1
    ||| % c,
    'for': c.alertFor.MariaDBReplicationStalled,
    labels: { severity: 'critical' },
    annotations: {
      summary: 'A replication link is stalled.',
      description: 'The IO thread of {{ $labels.node }} says Yes, but neither heartbeats nor GTIDs from {{ $labels.source }} (cluster {{ $labels.%(clusterLabel)s }}) have arrived for a while although {{ $labels.source }} has binlogged transactions that {{ $labels.node }} has not received (stalled = {{ $value }}). Usually a half-open connection or a frozen source: STOP SLAVE; START SLAVE on {{ $labels.node }}, and check {{ $labels.source }}.' % c,
      runbook_url: c.runbookUrl + '#mariadbreplicationstalled',
    },
  },
  // Half the time a broken link can stay broken is gone: the source purges the binlogs
  // the node needs to resume after the other half, and the node must then be rebuilt.
  // The horizon is NaN while the link is healthy and +Inf when the source never purges
  // (+Inf < +Inf is false; `<=` would fire), so neither fires.
  {
    alert: 'MariaDBBinlogHorizonHalfSpent',
    expr: |||
      mariadb_replica_binlog_horizon_seconds%(selectorBraces)s
      < on (%(jobLabel)s, instance, %(clusterLabel)s, node, source)
      %(binlogHorizonFraction)s * mariadb_replica_binlog_retention_seconds%(selectorBraces)s
    ||| % c,
    'for': c.alertFor.MariaDBBinlogHorizonHalfSpent,
    labels: { severity: 'critical' },
    annotations: {
      summary: 'A source will soon purge the binlogs a broken link needs.',
      description: 'The link {{ $labels.node }} <- {{ $labels.source }} (cluster {{ $labels.%(clusterLabel)s }}) has been broken for so long that what is left of the time {{ $labels.source }} keeps binlogs is under %(binlogHorizonFraction)s times that time. In about {{ $value | humanizeDuration }} it may purge the binlogs {{ $labels.node }} still needs; the link then fails with error 1236 (class binlog_purged) and {{ $labels.node }} must be rebuilt from a backup. Repair the link now (SHOW ALL SLAVES STATUS on {{ $labels.node }}), or raise binlog_expire_logs_seconds on {{ $labels.source }} to gain time.' % c,
      runbook_url: c.runbookUrl + '#mariadbbinloghorizonhalfspent',
    },
  },
  // semisync_active and no_errant_gtid have alerts of their own (MariaDBSemiSyncFallback,
  // MariaDBErrantTransactions per node and domain).
  {
    alert: 'MariaDBClusterCheckFailed',
    expr: |||
      mariadb_cluster_check_ok{%(selectorComma)scheck!~"semisync_active|no_errant_gtid"} == 0
    ||| % c,
    'for': c.alertFor.MariaDBClusterCheckFailed,
    labels: { severity: 'warning' },
    annotations: {
      summary: 'A pair check of a MariaDB cluster fails.',
      description: 'The configuration check {{ $labels.check }} of cluster {{ $labels.%(clusterLabel)s }} has failed for <for> (value {{ $value }}). The replmon log names the nodes and values; README.md, "Pair checks", says what to change.' % c,
      runbook_url: c.runbookUrl + '#mariadbclustercheckfailed',
    },
  },
  // A cluster configured with `semisync: required` (the only one with this check):
  // commits no longer wait for a replica, so a failover may lose them. Sooner than the
  // other checks' 5m: a fall-back is a state of the data, not of the configuration.
  {
    alert: 'MariaDBSemiSyncFallback',
    expr: |||
      mariadb_cluster_check_ok{%(selectorComma)scheck="semisync_active"} == 0
    ||| % c,
    'for': c.alertFor.MariaDBSemiSyncFallback,
    labels: { severity: 'warning' },
    annotations: {
      summary: 'Semi-synchronous replication is not in effect.',
      description: "Cluster {{ $labels.%(clusterLabel)s }} is configured with semisync: required, but for more than <for> a writable node has committed without waiting for a replica's acknowledgement (semisync_active = {{ $value }}): it fell back to asynchronous replication after rpl_semi_sync_master_timeout, usually because its replica's IO thread stopped or fell behind, or semi-sync is off on a node. Commits made now can be lost in a failover. mariadb_semisync_master_active and mariadb_semisync_master_unacknowledged_transactions_total show which node; the replmon log and status page give the reason. A writer returns to semi-sync by itself once a replica has caught up." % c,
      runbook_url: c.runbookUrl + '#mariadbsemisyncfallback',
    },
  },
  {
    alert: 'MariaDBWriteConflict',
    expr: |||
      mariadb_replica_error_class{%(selectorComma)sclass=~"duplicate_key|row_not_found"} == 1
    ||| % c,
    'for': c.alertFor.MariaDBWriteConflict,
    labels: { severity: 'critical' },
    annotations: {
      summary: 'A write conflict stopped replication.',
      description: 'The SQL thread of {{ $labels.node }} (cluster {{ $labels.%(clusterLabel)s }}) stopped on a {{ $labels.class }} error while applying a change from {{ $labels.source }} (value {{ $value }}): both nodes wrote the same row. The nodes now differ; find the row in Last_SQL_Error, decide which version is right, fix it on {{ $labels.node }} with SET sql_log_bin=0, then START SLAVE.' % c,
      runbook_url: c.runbookUrl + '#mariadbwriteconflict',
    },
  },
  // A write on the wrong node: a transaction in a writer's GTID domain from another
  // server_id, or a replica ahead of its source. The binlog state keeps it until an
  // administrator cleans it up, so the alert stays until someone has looked.
  {
    alert: 'MariaDBErrantTransactions',
    expr: |||
      mariadb_gtid_errant_transactions%(selectorBraces)s > 0
    ||| % c,
    'for': c.alertFor.MariaDBErrantTransactions,
    labels: { severity: 'warning' },
    annotations: {
      summary: 'A MariaDB node holds errant transactions.',
      description: "{{ $labels.node }} (cluster {{ $labels.%(clusterLabel)s }}) holds {{ $value }} transaction(s) in GTID domain {{ $labels.domain }} that the domain's writer did not write (or it applied more than its source wrote): a write on the wrong node, which replication does not flag. The replmon log (check no_errant_gtid) names the GTIDs; README.md, \"Errant transactions\", says how to compare the data and clean up." % c,
      runbook_url: c.runbookUrl + '#mariadberranttransactions',
    },
  },
]
