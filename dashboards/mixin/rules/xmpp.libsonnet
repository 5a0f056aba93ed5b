// Recording rules of the group replmon.xmpp, evaluated before its alerts. c is _config.
function(c) [
  // Client sessions of a whole XMPP cluster (NaN of a node that cannot be polled left
  // out). Used by XMPPSessionsDroppedSharply and the "XMPP" dashboard.
  {
    record: 'cluster:xmpp_c2s_sessions:sum',
    expr: |||
      sum by (%(jobLabel)s, instance, %(clusterLabel)s) (xmpp_c2s_sessions%(selectorBraces)s >= 0)
    ||| % c,
  },
  // Days until the earliest-expiring certificate of the chain a node presents on a
  // port expires (c2s, direct TLS, s2s: the `port` label), from blackbox_exporter's
  // probe_ssl_earliest_cert_expiry, which replmon exports under that name. NaN without
  // a completed handshake. Only replmon's XMPP nodes (those with xmpp_up): a
  // blackbox_exporter scraped by the same Prometheus exports the same name, and its
  // targets have their own alerts. Used by XMPPCertificateExpiringSoon and the "XMPP"
  // dashboard.
  {
    record: 'cluster_node_port:xmpp_tls_cert_days_left',
    expr: |||
      (probe_ssl_earliest_cert_expiry%(selectorBraces)s - time()) / 86400
      and on (%(jobLabel)s, instance, %(clusterLabel)s, node) xmpp_up%(selectorBraces)s
    ||| % c,
  },
  // Every XMPP node, value 1, with `database` = the MariaDB node it keeps its data on
  // (depends_on) when it depends on exactly one, and without `database` when it depends
  // on none or on several. The XMPP alerts join it to carry `database`, which
  // MariaDBNodeDown carries too, so that Alertmanager inhibits the alerts that a down
  // database explains. Not xmpp_node_database_info itself: a node with two databases
  // has two of its series, and `group_left` refuses two series on its "one" side, which
  // would fail the whole rule for every node; and an alert can carry only one
  // `database` value for `equal` to compare. The nodes come from xmpp_up, which every
  // XMPP node has, so that a join with this rule keeps the nodes without a database.
  {
    record: 'cluster_node:xmpp_database:info',
    expr: |||
      group by (%(jobLabel)s, instance, %(clusterLabel)s, node, database) (
        xmpp_node_database_info%(selectorBraces)s
        unless on (%(jobLabel)s, instance, %(clusterLabel)s, node)
        (count by (%(jobLabel)s, instance, %(clusterLabel)s, node) (xmpp_node_database_info%(selectorBraces)s) > 1)
      )
      or on (%(jobLabel)s, instance, %(clusterLabel)s, node)
      group by (%(jobLabel)s, instance, %(clusterLabel)s, node) (xmpp_up%(selectorBraces)s)
    ||| % c,
  },
]
