/* /metrics: the entry point and the writers every family uses. The families themselves are
 * in render_mariadb.c, render_cluster.c, render_xmpp.c and render_replmon.c. */
#include "render.h"
#include "render_families.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

void render_label_value(struct buf *out, const char *value) {
  for (const char *p = value; *p; p++) {
    size_t plain = strcspn(p, "\\\"\n");
    buf_append(out, p, plain);
    p += plain;
    if (!*p)
      break;
    buf_puts(out, *p == '\\' ? "\\\\" : *p == '"' ? "\\\"" : "\\n");
  }
}

bool render_selected(const struct snapshot *s, size_t i) {
  return s->only_target < 0 || (size_t)s->only_target == i;
}

void render_family(struct buf *out, const char *name, const char *type, const char *help) {
  buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void render_sample(struct buf *out, const char *name, const struct label *labels, size_t n,
                   double value) {
  buf_puts(out, name);
  if (n) {
    buf_putc(out, '{');
    for (size_t i = 0; i < n; i++) {
      if (i)
        buf_putc(out, ',');
      buf_puts(out, labels[i].name);
      buf_puts(out, "=\"");
      render_label_value(out, labels[i].value);
      buf_putc(out, '"');
    }
    buf_putc(out, '}');
  }
  buf_putc(out, ' ');
  buf_put_double(out, value);
  buf_putc(out, '\n');
}

int render_metrics(const struct snapshot *s, const struct build_info *build, struct buf *out) {
  render_family(
      out, "replmon_build_info", "gauge",
      "A metric with a constant '1' value labeled by the version and revision of replmon.");
  struct label build_labels[] = {{"version", build->version}, {"revision", build->revision}};
  render_sample(out, "replmon_build_info", build_labels, 2, 1);

  if (s->config->n_mariadb) {
    render_mariadb_nodes(s, out);
    render_mariadb_semisync(s, out);
    render_mariadb_replicas(s, out);
    if (s->only_target < 0)
      render_clusters(s, out); /* the pair as a whole: not for one node's /probe */
  }
  if (s->config->n_xmpp) {
    render_xmpp(s, out);
    render_streams(s, out);
    render_logins(s, out);
    render_xmpp_clusters(s, out);
    render_dependencies(s, out);
    render_deliveries(s, out);
  }

  render_probes(s, out);
  if (s->only_target < 0)
    render_states(s, out);
  return out->failed ? -ENOMEM : 0;
}
