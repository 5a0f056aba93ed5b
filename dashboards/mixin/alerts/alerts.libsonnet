// The rule groups. A recording rule sits in the group of the alerts that use it, before
// them: the rules of one group are evaluated in order, while separate groups run
// independently, so an alert in another group could see the recorded value one evaluation
// late. Hence one list, prometheusAlerts, holds the recording rules too, and
// prometheusRules is empty: load the one generated file.
{
  _alertRules+:: {
    'replmon.mariadb': (import 'mariadb.libsonnet')($._config),
    'replmon.xmpp': (import 'xmpp.libsonnet')($._config),
    'replmon.self': (import 'self.libsonnet')($._config),
  },

  prometheusAlerts+:: {
    groups+: [
      { name: g, rules: $._recordingRules[g] + $._alertRules[g] }
      for g in ['replmon.mariadb', 'replmon.xmpp', 'replmon.self']
    ],
  },

  prometheusRules+:: { groups+: [] },
}
