// The alerts of the group replmon.xmpp (mixin.libsonnet puts the group together). c is _config.
function(c) [
  {
    alert: 'XMPPServerDown',
    expr: |||
      xmpp_up%(selectorBraces)s == 0
    ||| % c,
    'for': c.alertFor.XMPPServerDown,
    labels: { severity: 'critical' },
    annotations: {
      summary: 'An XMPP server does not answer.',
      description: "The HTTP API of {{ $labels.node }} (cluster {{ $labels.%(clusterLabel)s }}) has not answered replmon's polls for more than <for> (xmpp_up = {{ $value }}). The server is down or its API listener, permissions or credentials changed." % c,
      runbook_url: c.runbookUrl + '#xmppserverdown',
    },
  },
  {
    alert: 'XMPPStreamProbeFailing',
    expr: |||
      xmpp_stream_probe_success%(selectorBraces)s == 0
    ||| % c,
    'for': c.alertFor.XMPPStreamProbeFailing,
    labels: { severity: 'critical' },
    annotations: {
      summary: 'Clients cannot open a stream on an XMPP server.',
      description: "replmon's c2s stream probe of {{ $labels.node }} (cluster {{ $labels.%(clusterLabel)s }}) has failed for <for> (value {{ $value }}): clients probably cannot connect (port closed, host-unknown, TLS handshake failing). The replmon log names the stream error." % c,
      runbook_url: c.runbookUrl + '#xmppstreamprobefailing',
    },
  },
  {
    alert: 'XMPPSessionsDroppedSharply',
    expr: |||
      (cluster:xmpp_c2s_sessions:sum%(selectorBraces)s < %(sessionsDropRatio)s * cluster:xmpp_c2s_sessions:sum%(selectorBraces)s offset %(sessionsDropWindow)s)
      and
      (cluster:xmpp_c2s_sessions:sum%(selectorBraces)s offset %(sessionsDropWindow)s - cluster:xmpp_c2s_sessions:sum%(selectorBraces)s > %(sessionsDropMin)s)
    ||| % c,
    'for': c.alertFor.XMPPSessionsDroppedSharply,
    labels: { severity: 'warning' },
    annotations: {
      summary: 'XMPP client sessions dropped sharply.',
      description: 'Cluster {{ $labels.%(clusterLabel)s }} has {{ $value }} client sessions, under %(sessionsDropRatio)s times as many as %(sessionsDropWindow)s earlier and more than %(sessionsDropMin)s fewer, for <for>. Clients are being disconnected or cannot log in (authentication backend, network, a node restarted without its clients coming back).' % c,
      runbook_url: c.runbookUrl + '#xmppsessionsdroppedsharply',
    },
  },
  {
    alert: 'XMPPCertificateExpiringSoon',
    expr: |||
      cluster_node_port:xmpp_tls_cert_days_left%(selectorBraces)s < %(certExpiryWarningDays)s
    ||| % c,
    'for': c.alertFor.XMPPCertificateExpiringSoon,
    labels: { severity: 'warning' },
    annotations: {
      summary: 'The TLS certificate of an XMPP server expires soon.',
      description: 'The certificate chain {{ $labels.node }} (cluster {{ $labels.%(clusterLabel)s }}) presents on port {{ $labels.port }} expires in {{ $value | printf "%%.1f" }} days (its earliest certificate). Renew it and reload the server before clients and peer servers start refusing it.' % c,
      runbook_url: c.runbookUrl + '#xmppcertificateexpiringsoon',
    },
  },
  // The certificate a node presents on a port does not verify: expired or not yet
  // valid, not chained to a trusted CA (the node's tls.ca_file, else the system's
  // store), self-signed, or not naming the XMPP domain. Clients that check certificates
  // refuse it, and so do servers that federate with secure s2s authentication. Not
  // critical: clients that accept it still chat. NaN (no handshake) is
  // XMPPStreamProbeFailing's case, not this one. A node with tls.insecure_skip_verify
  // reports its certificate as it is (0 when it does not verify): silence the alert for
  // it in Alertmanager.
  {
    alert: 'XMPPCertificateNotVerified',
    expr: |||
      xmpp_tls_cert_verified%(selectorBraces)s == 0
    ||| % c,
    'for': c.alertFor.XMPPCertificateNotVerified,
    labels: { severity: 'warning' },
    annotations: {
      summary: 'The TLS certificate of an XMPP server does not verify.',
      description: 'The certificate {{ $labels.node }} (cluster {{ $labels.%(clusterLabel)s }}) presents on port {{ $labels.port }} has not verified for <for>: it is expired or not yet valid, does not chain to a trusted CA, is self-signed, or does not name the XMPP domain. Clients that check certificates refuse it; on the s2s port, so do servers that federate with secure authentication. The replmon log, its status page and GET /health/{{ $labels.node }} name the reason.' % c,
      runbook_url: c.runbookUrl + '#xmppcertificatenotverified',
    },
  },
  // The logged-in probe (probe_account): the monitoring account cannot log in, or its
  // session no longer answers a ping. `database` as cluster_node:xmpp_database:info
  // says (the `or` keeps a node missing from it). `for: 2m`, longer than
  // MariaDBNodeDown's 1m: when the database is what broke the logins, its alert is
  // already firing, and inhibiting this one, by the time this one would be sent.
  // The description asks Prometheus for the failures' reasons of the last 5 minutes.
  {
    alert: 'XMPPLoginFailing',
    expr: |||
      (xmpp_login_success%(selectorBraces)s == 0)
      * on (%(jobLabel)s, instance, %(clusterLabel)s, node) group_left (database)
      cluster_node:xmpp_database:info%(selectorBraces)s
      or on (%(jobLabel)s, instance, %(clusterLabel)s, node)
      (xmpp_login_success%(selectorBraces)s == 0)
    ||| % c,
    'for': c.alertFor.XMPPLoginFailing,
    labels: { severity: 'critical' },
    annotations: {
      summary: 'The monitoring account cannot log in to an XMPP server.',
      description: "replmon's monitoring account has not been able to log in to {{ $labels.node }} (cluster {{ $labels.%(clusterLabel)s }}) and ping it for <for> (xmpp_login_success = {{ $value }}): users probably cannot log in either. {{ with printf `increase(replmon_probe_errors_total{kind=\"xmpp_login\",job=\"%%s\",instance=\"%%s\",cluster=\"%%s\",node=\"%%s\"}[5m]) > 0` $labels.job $labels.instance $labels.%(clusterLabel)s $labels.node | query | sortByLabel \"reason\" }}Failures in the last 5 minutes by reason:{{ range $i, $f := . }}{{ if $i }},{{ end }} {{ $f.Labels.reason }} {{ $f.Value | printf \"%%.0f\" }}{{ end }}.{{ else }}No failure counted in the last 5 minutes.{{ end }}{{ with $labels.database }} It keeps its data on database {{ . }} (depends_on).{{ end }} auth: the account's password or the server's authentication backend; connect, timeout: the client port or a frozen server; tls: the certificate; stream: a stream error. GET /health/{{ $labels.node }} on replmon and its log say more." % c,
      runbook_url: c.runbookUrl + '#xmpploginfailing',
    },
  },
  // Federation: each poll the monitoring account's session on `node` pings each remote
  // XMPP domain of its s2s_ping (XEP-0199), which the server must carry over s2s. 0 is
  // an error answer (remote-server-not-found, remote-server-timeout, ...) or none at
  // all; NaN while the account is not logged in, which XMPPLoginFailing says. Not
  // critical: the node's own users still chat with each other. `database` as for
  // XMPPLoginFailing, so that a database that is down inhibits it; the `or` keeps a
  // node missing from cluster_node:xmpp_database:info.
  {
    alert: 'XMPPS2SPingFailing',
    expr: |||
      (xmpp_s2s_ping_success%(selectorBraces)s == 0)
      * on (%(jobLabel)s, instance, %(clusterLabel)s, node) group_left (database)
      cluster_node:xmpp_database:info%(selectorBraces)s
      or on (%(jobLabel)s, instance, %(clusterLabel)s, node, remote)
      (xmpp_s2s_ping_success%(selectorBraces)s == 0)
    ||| % c,
    'for': c.alertFor.XMPPS2SPingFailing,
    labels: { severity: 'warning' },
    annotations: {
      summary: 'An XMPP server cannot reach a remote domain over s2s.',
      description: "For 5 minutes, the ping that replmon's monitoring account on {{ $labels.node }} (cluster {{ $labels.%(clusterLabel)s }}) sends to the remote domain {{ $labels.remote }} has failed (xmpp_s2s_ping_success = {{ $value }}): users of {{ $labels.node }} probably cannot reach {{ $labels.remote }}.{{ with $labels.database }} {{ $labels.node }} keeps its data on database {{ . }}.{{ end }} The replmon log, its status page and GET /health/{{ $labels.node }} name the stanza error: remote-server-not-found (the domain has no XMPP service that resolves), remote-server-timeout (no s2s connection: the peer is down or refuses, or dialback or certificate authentication failed), or no answer at all (a frozen peer, or federation that works in one direction only)." % c,
      runbook_url: c.runbookUrl + '#xmpps2spingfailing',
    },
  },
  // Delivery across the cluster: each poll the monitoring account on node `from` sends
  // a message to the one on node `to`. A message needs both nodes, and a database that
  // is down breaks either end (the account cannot log in again, the message cannot be
  // stored), so the alert carries the database of each end where it has one:
  // `database` for `from` and `to_database` for `to`. label_replace renames the
  // recording rule's `node` to `from`, then to `to`, for the two joins; `on (cluster)`
  // alone could not tell which end a database belongs to, and would fail on a cluster
  // with two databases. MariaDBNodeDown carries both names, and Alertmanager has one
  // inhibit rule for each. The `or` keeps a pair whose nodes the recording rule lacks.
  {
    alert: 'XMPPDeliveryFailing',
    expr: |||
      (xmpp_delivery_success%(selectorBraces)s == 0)
      * on (%(jobLabel)s, instance, %(clusterLabel)s, from) group_left (database)
      label_replace(cluster_node:xmpp_database:info%(selectorBraces)s, "from", "$1", "node", "(.+)")
      * on (%(jobLabel)s, instance, %(clusterLabel)s, to) group_left (to_database)
      label_replace(
        label_replace(cluster_node:xmpp_database:info%(selectorBraces)s, "to", "$1", "node", "(.+)"),
        "to_database", "$1", "database", "(.*)")
      or on (%(jobLabel)s, instance, %(clusterLabel)s, from, to)
      (xmpp_delivery_success%(selectorBraces)s == 0)
    ||| % c,
    'for': c.alertFor.XMPPDeliveryFailing,
    labels: { severity: 'critical' },
    annotations: {
      summary: 'Messages between two XMPP nodes do not arrive.',
      description: "For 2 minutes, no message that replmon's monitoring account on {{ $labels.from }} sent to the one on {{ $labels.to }} (cluster {{ $labels.%(clusterLabel)s }}) has arrived (xmpp_delivery_success = {{ $value }}): users of the two nodes probably cannot reach each other.{{ with $labels.database }} {{ $labels.from }} keeps its data on database {{ . }}.{{ end }}{{ with $labels.to_database }} {{ $labels.to }} keeps its data on database {{ . }}.{{ end }} Look for a node that is down or frozen, an ejabberd cluster that split (XMPPClusterSplit, xmpp_cluster_members), then GET /health/{{ $labels.from }} and /health/{{ $labels.to }} on replmon and its log." % c,
      runbook_url: c.runbookUrl + '#xmppdeliveryfailing',
    },
  },
  // The same pairs and labels as XMPPDeliveryFailing; a lost message is NaN, not slow.
  {
    alert: 'XMPPDeliverySlow',
    expr: |||
      (xmpp_delivery_seconds%(selectorBraces)s > %(deliverySlowSeconds)s)
      * on (%(jobLabel)s, instance, %(clusterLabel)s, from) group_left (database)
      label_replace(cluster_node:xmpp_database:info%(selectorBraces)s, "from", "$1", "node", "(.+)")
      * on (%(jobLabel)s, instance, %(clusterLabel)s, to) group_left (to_database)
      label_replace(
        label_replace(cluster_node:xmpp_database:info%(selectorBraces)s, "to", "$1", "node", "(.+)"),
        "to_database", "$1", "database", "(.*)")
      or on (%(jobLabel)s, instance, %(clusterLabel)s, from, to)
      (xmpp_delivery_seconds%(selectorBraces)s > %(deliverySlowSeconds)s)
    ||| % c,
    'for': c.alertFor.XMPPDeliverySlow,
    labels: { severity: 'warning' },
    annotations: {
      summary: 'Messages between two XMPP nodes arrive slowly.',
      description: "Messages from replmon's monitoring account on {{ $labels.from }} to the one on {{ $labels.to }} (cluster {{ $labels.%(clusterLabel)s }}) have taken more than %(deliverySlowSeconds)s s to arrive for <for>; the last one {{ $value | humanizeDuration }}. Within one cluster a message takes milliseconds: look for an overloaded node, the network between the nodes, or a slow database.{{ with $labels.database }} {{ $labels.from }} keeps its data on database {{ . }}.{{ end }}{{ with $labels.to_database }} {{ $labels.to }} keeps its data on database {{ . }}.{{ end }}" % c,
      runbook_url: c.runbookUrl + '#xmppdeliveryslow',
    },
  },
  // The ejabberd nodes of a `clustered: true` cluster do not list the same, complete
  // cluster (members_agree): split in two, or a node left. NaN (no node answered) is
  // not a split: XMPPServerDown says that. No `database`: the check is the cluster's.
  {
    alert: 'XMPPClusterSplit',
    expr: |||
      xmpp_cluster_check_ok{%(selectorComma)scheck="members_agree"} == 0
    ||| % c,
    'for': c.alertFor.XMPPClusterSplit,
    labels: { severity: 'critical' },
    annotations: {
      summary: 'An ejabberd cluster is split or incomplete.',
      description: 'The ejabberd nodes of cluster {{ $labels.%(clusterLabel)s }} have not all listed the same, complete set of members for more than <for> (members_agree = {{ $value }}). Either a node stopped or left the cluster, or the cluster split and each part serves its own users, who cannot reach the others. xmpp_cluster_members shows how many nodes each one lists, the replmon log what each lists; a node that restarted with its own database must be joined again (ejabberdctl join_cluster).' % c,
      runbook_url: c.runbookUrl + '#xmppclustersplit',
    },
  },
]
