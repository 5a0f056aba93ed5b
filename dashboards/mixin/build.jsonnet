// The files shipped in dashboards/, as `jsonnet -S -m dashboards dashboards/mixin/build.jsonnet`
// writes them (paths relative to dashboards/).
local yaml = import 'lib/yaml.libsonnet';
local mixin = import 'mixin.libsonnet';

local rulesHeader = [
  'Prometheus rules for replmon: alerts, and the recording rules that the alerts and the',
  'Grafana dashboards (dashboards/grafana/) share. Load with',
  '`rule_files: [/etc/prometheus/replmon.rules.yml]`.',
  '',
  'GENERATED from the monitoring mixin in dashboards/mixin/ (`make dashboards`):',
  'edit the mixin, not this file. Its comments say why each rule is written as it is;',
  'docs/runbook.md says what to do for each alert.',
  '',
  'Label conventions (README.md, "Metrics"): `cluster` and `node` are names from replmon\'s',
  'configuration; on a replication link `node` is the replica and `source` the node it',
  "reads from. Every series also carries the scrape's `job` and `instance`.",
  '',
  'Flapping: every alert needs its condition to hold at each evaluation for its whole',
  '`for:`, so a signal that alternates (a thread that keeps restarting, a lag that dips',
  'under the threshold now and then) resets the timer and does not page. The tests in',
  'tests/dashboards/rules_test.yml show it for each alert.',
];

{
  'prometheus/replmon.rules.yml': yaml.rulesFile(rulesHeader, mixin.prometheusAlerts.groups),
}
