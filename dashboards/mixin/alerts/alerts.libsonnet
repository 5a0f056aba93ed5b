// The rule groups. A recording rule sits in the group of the alerts that use it, before
// them: the rules of one group are evaluated in order, while separate groups run
// independently, so an alert in another group could see the recorded value one evaluation
// late. Hence one list, prometheusAlerts, holds the recording rules too, and
// prometheusRules is empty: load the one generated file.
//
// A description says how long its condition has held as <for>: replaced here by the
// alert's `for:` in words, so that overriding _config.alertFor keeps the text true.
local duration = import '../lib/duration.libsonnet';

local withFor(rule) =
  if std.objectHas(rule, 'alert') then rule {
    annotations+: {
      description: std.strReplace(super.description, '<for>', duration.humanize(rule['for'])),
    },
  } else rule;

{
  _alertRules+:: {
    'replmon.mariadb': (import 'mariadb.libsonnet')($._config),
    'replmon.xmpp': (import 'xmpp.libsonnet')($._config),
    'replmon.self': (import 'self.libsonnet')($._config),
  },

  prometheusAlerts+:: {
    groups+: [
      { name: g, rules: $._recordingRules[g] + [withFor(r) for r in $._alertRules[g]] }
      for g in ['replmon.mariadb', 'replmon.xmpp', 'replmon.self']
    ],
  },

  prometheusRules+:: { groups+: [] },
}
