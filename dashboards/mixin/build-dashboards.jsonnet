// The Grafana dashboards shipped in dashboards/grafana/, as
// `jsonnet -m dashboards dashboards/mixin/build-dashboards.jsonnet` writes them (paths
// relative to dashboards/). Apart from build.jsonnet because that one needs -S for the
// YAML text, while JSON is best left to jsonnet's own writer: std.manifestJsonEx is
// written in jsonnet in 0.18 and takes far longer on dashboards this size.
local mixin = import 'mixin.libsonnet';

{
  ['grafana/' + name]: mixin.grafanaDashboards[name]
  for name in std.objectFields(mixin.grafanaDashboards)
}
