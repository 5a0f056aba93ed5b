#include "prosody.h"
#include "buf.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LABELS 32

static bool name_start(char c) {
  return isalpha((unsigned char)c) || c == '_' || c == ':';
}

static bool name_char(char c) {
  return isalnum((unsigned char)c) || c == '_' || c == ':';
}

/* Parses one sample line [p, end). Label values are unescaped into *scratch. */
static int parse_sample(const char *p, const char *end, struct buf *scratch,
                        exposition_visitor visit, void *ctx) {
  size_t offsets[2 * MAX_LABELS + 1];
  size_t n_labels = 0;
  buf_reset(scratch);
  const char *name = p;
  if (p == end || !name_start(*p))
    return -EINVAL;
  while (p < end && name_char(*p))
    p++;
  offsets[0] = scratch->len;
  buf_append(scratch, name, (size_t)(p - name));
  buf_putc(scratch, '\0');
  if (p < end && *p == '{') {
    p++;
    while (p < end && *p != '}') {
      if (n_labels == MAX_LABELS || !name_start(*p))
        return -EINVAL;
      const char *label = p;
      while (p < end && name_char(*p))
        p++;
      offsets[1 + 2 * n_labels] = scratch->len;
      buf_append(scratch, label, (size_t)(p - label));
      buf_putc(scratch, '\0');
      if (p + 1 >= end || p[0] != '=' || p[1] != '"')
        return -EINVAL;
      p += 2;
      offsets[2 + 2 * n_labels] = scratch->len;
      for (;;) {
        if (p >= end)
          return -EINVAL;
        if (*p == '"')
          break;
        if (*p == '\\') {
          if (p + 1 >= end)
            return -EINVAL;
          p++;
          buf_putc(scratch, *p == 'n' ? '\n' : *p);
        } else {
          buf_putc(scratch, *p);
        }
        p++;
      }
      buf_putc(scratch, '\0');
      p++; /* the closing quote */
      n_labels++;
      if (p < end && *p == ',')
        p++;
      else if (p < end && *p != '}')
        return -EINVAL;
    }
    if (p >= end)
      return -EINVAL;
    p++; /* } */
  }
  if (p >= end || *p != ' ')
    return -EINVAL;
  while (p < end && *p == ' ')
    p++;
  const char *value_start = p;
  while (p < end && *p != ' ')
    p++;
  char value_text[64];
  size_t value_len = (size_t)(p - value_start);
  if (value_len == 0 || value_len >= sizeof(value_text))
    return -EINVAL;
  memcpy(value_text, value_start, value_len);
  value_text[value_len] = '\0';
  char *value_end;
  double value = strtod(value_text, &value_end);
  if (*value_end)
    return -EINVAL;
  /* An optional timestamp may follow; it is not needed here. */
  if (scratch->failed)
    return -ENOMEM;
  const char *names[MAX_LABELS], *values[MAX_LABELS];
  for (size_t i = 0; i < n_labels; i++) {
    names[i] = scratch->data + offsets[1 + 2 * i];
    values[i] = scratch->data + offsets[2 + 2 * i];
  }
  struct exposition_sample sample = {scratch->data + offsets[0], names, values, n_labels, value};
  visit(&sample, ctx);
  return 0;
}

int exposition_parse(const char *text, size_t len, exposition_visitor visit, void *ctx,
                     struct probe_error *err) {
  struct buf scratch = BUF_INIT;
  const char *p = text, *end = text + len;
  size_t line_no = 0;
  int rc = 0;
  while (p < end) {
    line_no++;
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    const char *line_end = eol ? eol : end;
    if (!eol) {
      /* A last line without its newline: a body cut short. */
      rc = -EINVAL;
    } else if (line_end > p && *p != '#') {
      rc = parse_sample(p, line_end, &scratch, visit, ctx);
    }
    if (rc) {
      size_t shown = (size_t)(line_end - p) < 60 ? (size_t)(line_end - p) : 60;
      probe_error_set(err, REASON_PARSE, "not an OpenMetrics answer: line %zu: '%.*s'", line_no,
                      (int)shown, p);
      break;
    }
    p = line_end + 1;
  }
  buf_free(&scratch);
  return rc;
}

struct c2s_sum {
  double sessions;
};

static void add_c2s(const struct exposition_sample *s, void *ctx) {
  if (strcmp(s->name, "prosody_mod_c2s__connections") != 0)
    return;
  for (size_t i = 0; i < s->n_labels; i++) {
    if (strcmp(s->label_names[i], "type") == 0 && strcmp(s->label_values[i], "c2s") == 0 &&
        !isnan(s->value)) {
      ((struct c2s_sum *)ctx)->sessions += s->value;
      return;
    }
  }
}

int prosody_parse_c2s(const char *text, size_t len, double *sessions, struct probe_error *err) {
  struct c2s_sum sum = {0};
  int rc = exposition_parse(text, len, add_c2s, &sum, err);
  if (rc == 0)
    *sessions = sum.sessions;
  return rc;
}

int prosody_poll(struct http_client *client, const char *metrics_url, struct xmpp_status *out,
                 struct probe_error *err) {
  xmpp_status_reset(out);
  struct http_answer answer;
  int rc = http_client_request(client, metrics_url, NULL,
                               "application/openmetrics-text; version=1.0.0, text/plain;q=0.5",
                               &answer, err);
  if (rc)
    return rc;
  if (answer.status == 401 || answer.status == 403) {
    probe_error_set(err, REASON_AUTH,
                    "HTTP %ld: check openmetrics_allow_ips / openmetrics_allow_cidr on Prosody",
                    answer.status);
    rc = -EACCES;
  } else if (answer.status != 200) {
    probe_error_set(err, REASON_HTTP, "HTTP status %ld from the metrics URL", answer.status);
    rc = -EIO;
  } else {
    out->up = true;
    rc = prosody_parse_c2s(answer.body, answer.len, &out->c2s_sessions, err);
    if (rc)
      out->up = false;
  }
  http_answer_clear(&answer);
  return rc;
}
