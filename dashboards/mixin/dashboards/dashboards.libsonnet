// The Grafana dashboards, keyed by file name (the monitoring-mixins convention), built
// from $._config so that an override of it (selector, label names, thresholds, uids)
// reaches every panel and variable.
{
  grafanaDashboards+:: {
    'replication-overview.json': (import 'replication-overview.libsonnet')($._config),
    'node-detail.json': (import 'node-detail.libsonnet')($._config),
    'xmpp.json': (import 'xmpp.libsonnet')($._config),
    'replmon.json': (import 'replmon.libsonnet')($._config),
  },
}
