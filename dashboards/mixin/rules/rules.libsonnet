// The recording rules, by the group of the alerts that use them (alerts/alerts.libsonnet
// puts them first in that group).
{
  _recordingRules+:: {
    'replmon.mariadb': (import 'mariadb.libsonnet')($._config),
    'replmon.xmpp': (import 'xmpp.libsonnet')($._config),
    'replmon.self': [],
  },
}
