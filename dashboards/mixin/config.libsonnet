// What a user of the mixin may override, e.g. in their own jsonnet:
//   (import 'replmon-mixin/mixin.libsonnet') + { _config+:: { replmonSelector: 'job="replmon"' } }
{
  _config+:: {
    // Label matchers added to every metric of the rules and the dashboards, e.g.
    // 'job="replmon"' when other jobs export metrics of the same names. Empty: every job.
    replmonSelector: '',

    // The label that names the scrape job, and the one that carries replmon's cluster
    // name (README.md, "Metrics"): relabel `cluster` to another name when an external
    // label of that name is taken, and say so here.
    jobLabel: 'job',
    clusterLabel: 'cluster',

    // Where each alert's runbook_url points (then #alertname in lower case):
    // docs/runbook.md, one section per alert, where the Debian package installs it
    // (`make install` puts it under $(PREFIX)/share/doc/replmon/). Point it at a copy
    // that a browser reaches (a wiki, a repository browser) to make the links work
    // for everyone.
    runbookUrl: 'file:///usr/share/doc/replmon/runbook.md',

    // Thresholds.
    lagWarningSeconds: 5,  // MariaDBHeartbeatLagWarning, beyond MASTER_DELAY
    lagCriticalSeconds: 30,  // MariaDBHeartbeatLagCritical
    binlogHorizonFraction: 0.5,  // MariaDBBinlogHorizonHalfSpent: share of the retention left
    certExpiryWarningDays: 14,  // XMPPCertificateExpiringSoon
    deliverySlowSeconds: 2,  // XMPPDeliverySlow
    sessionsDropRatio: 0.5,  // XMPPSessionsDroppedSharply: below this share of ...
    sessionsDropWindow: '15m',  // ... the sessions this long ago,
    sessionsDropMin: 10,  // and at least this many fewer.

    // How long each alert's condition must hold before it fires.
    alertFor: {
      MariaDBNodeDown: '1m',
      MariaDBUnreachableFromMonitor: '1m',
      MariaDBReplicationThreadDown: '1m',
      MariaDBReplicationLinkMissing: '2m',
      MariaDBHeartbeatLagWarning: '2m',
      MariaDBHeartbeatLagCritical: '2m',
      MariaDBReplicationStalled: '2m',
      MariaDBBinlogHorizonHalfSpent: '1m',
      MariaDBClusterCheckFailed: '5m',
      MariaDBSemiSyncFallback: '1m',
      MariaDBWriteConflict: '1m',
      MariaDBErrantTransactions: '1m',
      XMPPServerDown: '1m',
      XMPPStreamProbeFailing: '2m',
      XMPPSessionsDroppedSharply: '3m',
      XMPPCertificateExpiringSoon: '15m',
      XMPPCertificateNotVerified: '10m',
      XMPPLoginFailing: '2m',
      XMPPS2SPingFailing: '5m',
      XMPPDeliveryFailing: '2m',
      XMPPDeliverySlow: '5m',
      XMPPClusterSplit: '1m',
      ReplmonProbeFailing: '5m',
    },

    // Grafana dashboards (grafanaDashboards). Their uids are fixed so that provisioning
    // updates them and links between them keep working; every dashboard carries
    // dashboardTags, which the dashboard links at the top list.
    dashboardUids: {
      overview: 'replmon-overview',
      node: 'replmon-node',
      xmpp: 'replmon-xmpp',
      replmon: 'replmon-self',
    },
    dashboardTags: ['replmon'],
    dashboardFrom: 'now-6h',  // default time range: from this to now
    dashboardRefresh: '30s',
    dashboardTimezone: '',  // '' is the browser's or the user's preference

    // Derived: the selector inside braces of its own, and before other matchers.
    selectorBraces: if self.replmonSelector == '' then '' else '{' + self.replmonSelector + '}',
    selectorComma: if self.replmonSelector == '' then '' else self.replmonSelector + ', ',
  },
}
