// replmon's monitoring mixin: Prometheus rules (prometheusAlerts) and Grafana dashboards
// (grafanaDashboards), configured by _config (config.libsonnet). From it build.jsonnet
// writes the rules file shipped in dashboards/, build-dashboards.jsonnet the dashboards:
// `make dashboards`.
(import 'config.libsonnet')
+ (import 'rules/rules.libsonnet')
+ (import 'alerts/alerts.libsonnet')
+ (import 'dashboards/dashboards.libsonnet')
