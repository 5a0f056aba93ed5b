// The alerts of the group replmon.self: replmon about itself. c is _config.
function(c) [
  // A probe that has failed for 5 minutes, one alert per failure reason. MariaDBNodeDown,
  // MariaDBUnreachableFromMonitor, XMPPServerDown, XMPPStreamProbeFailing,
  // XMPPLoginFailing and XMPPDeliveryFailing inhibit it for their node or delivery pair
  // (Alertmanager still shows it, with its reason): it pages on its own only for
  // failures no other alert covers.
  {
    alert: 'ReplmonProbeFailing',
    expr: |||
      (rate(replmon_probe_errors_total%(selectorBraces)s[5m]) > 0)
      and on (%(jobLabel)s, instance, kind, %(clusterLabel)s, node)
      (replmon_probe_success%(selectorBraces)s == 0)
    ||| % c,
    'for': c.alertFor.ReplmonProbeFailing,
    labels: { severity: 'warning' },
    annotations: {
      summary: 'A replmon probe keeps failing.',
      description: "replmon ({{ $labels.instance }}) has not been able to probe {{ $labels.node }} (cluster {{ $labels.%(clusterLabel)s }}, kind {{ $labels.kind }}) for <for>; failures with reason {{ $labels.reason }} at {{ $value | humanize }}/s. auth, privilege and permission mean the monitoring account or its grants; connect and timeout the network or the server; query, http, parse, stream and tls are logged with the server's answer." % c,
      runbook_url: c.runbookUrl + '#replmonprobefailing',
    },
  },
]
