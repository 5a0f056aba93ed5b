// Building blocks of the Grafana dashboards, so that every panel gets the same data
// source, selectors and layout. They follow grafana/dashboard-linter's rules, which
// tests/dashboards/lint_dashboards.py checks: a `datasource` variable; `job`, `instance`
// and `cluster` variables (multi, include All as ".+", refreshed on time range change);
// every panel on `${datasource}` with a title, a description and a unit; every selector
// with the job, instance and (where the metric has it) cluster variables; rate() over
// $__rate_interval; not editable. c is _config.
function(c) {
  local g = self,

  ds:: { type: 'prometheus', uid: '${datasource}' },

  // The variables keep their names whatever the labels are called: the linter and the
  // links between dashboards (their URLs carry var-cluster=...) rely on them.
  jobInstance:: c.selectorComma + '%s=~"$job", instance=~"$instance"' % c.jobLabel,
  jiCluster:: g.jobInstance + ', %s=~"$cluster"' % c.clusterLabel,

  // Legends; `cl` stands for the cluster label.
  cl:: '{{' + c.clusterLabel + '}}',
  nodeLegend:: g.cl + ' {{node}}',
  link:: g.cl + ' {{node}} ← {{source}}',
  pair:: g.cl + ' {{from}} → {{to}}',
  port:: g.cl + ' {{node}} :{{port}}',
  s2s:: g.cl + ' {{node}} → {{remote}}',

  // metric{job=~"$job", instance=~"$instance"[, cluster=~"$cluster"][, extra]}
  sel(metric, extra='', cluster=true)::
    metric + '{' + (if cluster then g.jiCluster else g.jobInstance)
    + (if extra != '' then ', ' + extra else '') + '}',

  // One series per label set without `label`, whose value is the weight of the label
  // value that is currently 1 (metrics such as mariadb_replica_io_state have one series
  // per state, the current one 1): a state timeline can then map the weights to names.
  weighted(metric, label, weights, extra='')::
    'max without (%s) (\n  %s\n)' % [label, std.join('\n  or ', [
      local m = '%s="%s"' % [label, w[0]];
      '%s * %d' % [g.sel(metric, if extra != '' then extra + ', ' + m else m), w[1]]
      for w in weights
    ])],

  target(expr, legend='', ref='A', table=false)::
    {
      datasource: g.ds,
      refId: ref,
      expr: expr,
      editorMode: 'code',
      legendFormat: if legend == '' then '__auto' else legend,
      range: !table,
      instant: table,
      [if table then 'format']: 'table',
    },

  // pairs: [[value, text, color]]; NaN and null map to "unknown".
  valueMappings(pairs)::
    local n = std.length(pairs);
    [
      {
        type: 'value',
        options: {
          [std.toString(pairs[i][0])]: { text: pairs[i][1], color: pairs[i][2], index: i }
          for i in std.range(0, n - 1)
        },
      },
      { type: 'special', options: { match: 'nan', result: { text: 'unknown', color: 'text', index: n } } },
      { type: 'special', options: { match: 'null', result: { text: 'unknown', color: 'text', index: n + 1 } } },
    ],

  // A base color, then [value, color] pairs.
  thresholds(base, steps=[])::
    {
      mode: 'absolute',
      steps: [{ color: base, value: null }] + [{ color: s[1], value: s[0] } for s in steps],
    },

  // To the Node detail dashboard of the node a field belongs to.
  nodeLink:: [{
    title: 'Node detail: ${__field.labels.node}',
    targetBlank: false,
    url: '/d/%s/replmon-node-detail?${datasource:queryparam}&' % c.dashboardUids.node
         + '${job:queryparam}&${instance:queryparam}&'
         + 'var-cluster=${__field.labels.%s}&var-node=${__field.labels.node}&' % c.clusterLabel
         + '${__url_time_range}',
  }],

  local base(kind, title, description, targets, unit, defaults, options, links) = {
    type: kind,
    title: title,
    description: description,
    datasource: g.ds,
    targets: targets,
    fieldConfig: {
      defaults: { unit: unit, [if links != null then 'links']: links } + defaults,
      overrides: [],
    },
    options: options,
  },

  timeseries(title,
             description,
             targets,
             unit,
             steps=null,
             min=null,
             decimals=null,
             links=null,
             fill=0)::
    local defaults = {
      color: { mode: 'palette-classic' },
      custom: {
        drawStyle: 'line',
        lineInterpolation: 'linear',
        lineWidth: 1,
        fillOpacity: fill,
        showPoints: 'never',
        spanNulls: false,
        axisPlacement: 'auto',
        axisSoftMin: 0,
        thresholdsStyle: { mode: if steps != null then 'line+area' else 'off' },
      },
      thresholds: if steps != null then steps else g.thresholds('green'),
      mappings: [],
      [if min != null then 'min']: min,
      [if decimals != null then 'decimals']: decimals,
    };
    local options = {
      legend: {
        displayMode: 'table',
        placement: 'bottom',
        showLegend: true,
        calcs: ['lastNotNull', 'max'],
      },
      tooltip: { mode: 'multi', sort: 'desc' },
    };
    base('timeseries', title, description, targets, unit, defaults, options, links),

  stat(title,
       description,
       targets,
       unit,
       mappings=[],
       steps=null,
       decimals=null,
       links=null,
       textMode='value_and_name')::
    local defaults = {
      color: { mode: 'thresholds' },
      mappings: mappings,
      thresholds: if steps != null then steps else g.thresholds('green'),
      [if decimals != null then 'decimals']: decimals,
    };
    local options = {
      reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
      colorMode: 'background',
      graphMode: 'none',
      justifyMode: 'auto',
      orientation: 'auto',
      textMode: textMode,
      wideLayout: true,
      showPercentChange: false,
    };
    base('stat', title, description, targets, unit, defaults, options, links),

  stateTimeline(title, description, targets, mappings, unit='none', links=null)::
    base('state-timeline', title, description, targets, unit, {
      color: { mode: 'thresholds' },
      mappings: mappings,
      thresholds: g.thresholds('text'),
      custom: { fillOpacity: 80, lineWidth: 0 },
    }, {
      showValue: 'never',
      mergeValues: true,
      alignValue: 'left',
      rowHeight: 0.85,
      legend: { showLegend: false, displayMode: 'list', placement: 'bottom' },
      tooltip: { mode: 'single', sort: 'none' },
    }, links),

  table(title, description, targets, unit, hide=[], rename={})::
    base('table', title, description, targets, unit, {
      color: { mode: 'thresholds' },
      mappings: [],
      thresholds: g.thresholds('green'),
      custom: { align: 'auto', cellOptions: { type: 'auto' } },
    }, {
      showHeader: true,
      cellHeight: 'sm',
      footer: { show: false, reducer: ['sum'], fields: '' },
    }, null) + {
      transformations: [
        { id: 'merge', options: {} },
        {
          id: 'organize',
          options: {
            excludeByName: { [n]: true for n in ['Time', '__name__', 'job'] + hide },
            indexByName: {},
            renameByName: rename,
          },
        },
      ],
    },

  // Places panels left to right in rows of 24 columns, numbering them from 1. rows: a
  // list of rows, each a list of [panel, width, height]; a row that does not fit in 24
  // columns wraps.
  layout(rows)::
    local place(st, item) =
      local p = item[0], w = item[1], h = item[2];
      local wrap = st.x + w > 24;
      local x = if wrap then 0 else st.x;
      local y = if wrap then st.y + st.rowH else st.y;
      local rowH = if wrap then 0 else st.rowH;
      {
        panels: st.panels + [p { id: std.length(st.panels) + 1, gridPos: { x: x, y: y, w: w, h: h } }],
        x: x + w,
        y: y,
        rowH: std.max(rowH, h),
      };
    local newRow(st, row) =
      local s = std.foldl(place, row, st);
      s { x: 0, y: s.y + s.rowH, rowH: 0 };
    std.foldl(newRow, rows, { panels: [], x: 0, y: 0, rowH: 0 }).panels,

  datasourceVar:: {
    name: 'datasource',
    label: 'Data source',
    type: 'datasource',
    query: 'prometheus',
    current: {},
    hide: 0,
    includeAll: false,
    multi: false,
    options: [],
    refresh: 1,
    regex: '',
    skipUrlSync: false,
  },

  queryVar(name, label, query, multi=true):: {
    name: name,
    label: label,
    type: 'query',
    datasource: g.ds,
    query: query,
    definition: query,
    refresh: 2,
    sort: 1,
    regex: '',
    hide: 0,
    options: [],
    skipUrlSync: false,
    multi: multi,
    includeAll: multi,
    current: if multi then { selected: true, text: 'All', value: '$__all' } else {},
    [if multi then 'allValue']: '.+',
  },

  variables(clusterMetric, extra=[])::
    [
      g.datasourceVar,
      g.queryVar('job', 'Job', 'label_values(replmon_build_info%s, %s)'
                               % [c.selectorBraces, c.jobLabel]),
      g.queryVar('instance', 'Instance', 'label_values(replmon_build_info{%s%s=~"$job"}, instance)'
                                         % [c.selectorComma, c.jobLabel]),
      g.queryVar('cluster', 'Cluster', 'label_values(%s{%s}, %s)'
                                       % [clusterMetric, g.jobInstance, c.clusterLabel]),
    ] + extra,

  dashboard(uid, title, description, tags, variables, rows):: {
    uid: uid,
    title: title,
    description: description,
    tags: c.dashboardTags + tags,
    editable: false,
    graphTooltip: 1,
    schemaVersion: 39,
    version: 1,
    time: { from: c.dashboardFrom, to: 'now' },
    timepicker: {},
    timezone: c.dashboardTimezone,
    refresh: c.dashboardRefresh,
    fiscalYearStartMonth: 0,
    liveNow: false,
    weekStart: '',
    annotations: { list: [{
      builtIn: 1,
      datasource: { type: 'grafana', uid: '-- Grafana --' },
      enable: true,
      hide: true,
      iconColor: 'rgba(0, 211, 255, 1)',
      name: 'Annotations & Alerts',
      type: 'dashboard',
    }] },
    links: [{
      title: 'replmon dashboards',
      type: 'dashboards',
      tags: c.dashboardTags,
      asDropdown: true,
      includeVars: true,
      keepTime: true,
      icon: 'external link',
      targetBlank: false,
      tooltip: '',
      url: '',
    }],
    templating: { list: variables },
    panels: g.layout(rows),
  },

  // Shared value mappings, weights and thresholds.
  upMap:: g.valueMappings([[0, 'DOWN', 'red'], [1, 'UP', 'green']]),
  runningMap:: g.valueMappings([[0, 'stopped', 'red'], [1, 'running', 'green']]),
  ioWeights:: [['no', 0], ['connecting', 1], ['preparing', 2], ['yes', 3]],
  ioMap:: g.valueMappings([
    [0, 'No', 'red'],
    [1, 'Connecting', 'orange'],
    [2, 'Preparing', 'yellow'],
    [3, 'Yes', 'green'],
  ]),
  errorWeights:: [
    ['duplicate_key', 1],
    ['row_not_found', 2],
    ['connect', 3],
    ['auth', 4],
    ['other', 5],
    ['binlog_purged', 6],
  ],
  errorMap:: g.valueMappings([
    [0, 'no error', 'green'],
    [1, 'duplicate key (1062)', 'red'],
    [2, 'row not found (1032)', 'red'],
    [3, 'connect (2003/2013)', 'orange'],
    [4, 'auth (1045)', 'purple'],
    [5, 'other', 'yellow'],
    [6, 'binlog purged (1236)', 'dark-red'],
  ]),
  stateWeights:: [['ok', 0], ['warning', 1], ['critical', 2], ['unknown', 3]],
  stateMap:: g.valueMappings([
    [0, 'ok', 'green'],
    [1, 'warning', 'orange'],
    [2, 'critical', 'red'],
    [3, 'unknown', 'text'],
  ]),
  readOnlyMap:: g.valueMappings([[0, 'read-write', 'blue'], [1, 'read-only', 'purple']]),
  lagSteps:: g.thresholds('green', [[c.lagWarningSeconds, 'orange'], [c.lagCriticalSeconds, 'red']]),
}
