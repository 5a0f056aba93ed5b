// replmon's monitoring mixin: Prometheus rules (prometheusAlerts) and Grafana dashboards
// (grafanaDashboards), configured by _config (config.libsonnet). build.jsonnet writes the
// files shipped in dashboards/ from it: `make dashboards-generate`.
(import 'config.libsonnet')
+ (import 'rules/rules.libsonnet')
+ (import 'alerts/alerts.libsonnet')
