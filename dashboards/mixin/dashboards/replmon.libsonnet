// replmon: replmon itself, its probes and the age of its data. c is _config.
function(c)
  local g = (import 'lib.libsonnet')(c);
  local kindNode = '{{kind}} {{node}}';
  g.dashboard(
    c.dashboardUids.replmon,
    'replmon / replmon',
    'replmon itself: whether its probes succeed, how long they take, why they fail, how fresh its data is.',
    ['replmon-self'],
    g.variables('replmon_probe_success'),
    [
      [
        [g.stat(
          'Probes succeeding',
          'replmon_probe_success per probe (kind mariadb, xmpp for the HTTP API, xmpp_stream for the c2s stream probe).',
          [g.target(g.sel('replmon_probe_success'), kindNode)],
          'none',
          g.valueMappings([[0, 'FAILING', 'red'], [1, 'ok', 'green']]),
          g.thresholds('text'),
        ), 14, 5],
        [g.table(
          'replmon version',
          'replmon_build_info: version and revision of each replmon instance.',
          [g.target(g.sel('replmon_build_info', cluster=false), table=true)],
          'none',
          hide=['Value'],
        ), 10, 5],
      ],
      [
        [g.timeseries(
          'Probe duration',
          "replmon_probe_duration_seconds: how long each target's last probe took. A frozen node shows connect_timeout + query_timeout.",
          [g.target(g.sel('replmon_probe_duration_seconds'), kindNode)],
          's',
          min=0,
        ), 12, 8],
        [g.timeseries(
          'Probe errors per second by reason',
          "rate(replmon_probe_errors_total) by kind, node and reason (MariaDB: connect, auth, timeout, privilege, query; XMPP API: connect, timeout, auth, permission, http, parse; stream: connect, timeout, stream, tls, parse). The reason's text is in replmon's log.",
          [g.target(
            'sum by (%s, instance, kind, %s, node, reason) (rate(%s[$__rate_interval]))'
            % [c.jobLabel, c.clusterLabel, g.sel('replmon_probe_errors_total')],
            kindNode + ' {{reason}}',
          )],
          'cps',
          min=0,
        ), 12, 8],
      ],
      [
        [g.timeseries(
          'Seconds since the last successful probe',
          'time() - replmon_last_success_timestamp_seconds: the age of the data replmon serves for each target (targets never probed successfully are left out). Stays near the poll interval while all is well.',
          [g.target('time() - (%s > 0)' % g.sel('replmon_last_success_timestamp_seconds'), kindNode)],
          's',
          min=0,
        ), 12, 8],
        [g.stateTimeline(
          'Health state per node',
          "replmon_target_state: replmon's verdict on each node (the same as /health/<node>): ok, warning, critical, unknown.",
          [g.target(g.weighted('replmon_target_state', 'state', g.stateWeights), g.nodeLegend)],
          g.stateMap,
        ), 12, 8],
      ],
    ],
  )
