#include "yaml_file.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Records the first error as one line: text quoted from the file (a node name with a
 * newline in it, say) cannot break it. */
static int vfail(struct yaml_file *p, size_t line, size_t col, const char *fmt, va_list ap) {
  if (p->error.len)
    return -EINVAL;
  struct buf message = BUF_INIT;
  buf_vprintf(&message, fmt, ap);
  buf_printf(&p->error, "%s:%zu:%zu: ", p->path, line, col);
  for (size_t i = 0; i < message.len; i++) {
    unsigned char c = (unsigned char)message.data[i];
    if (c == '\n')
      buf_puts(&p->error, "\\n");
    else if (c < ' ' || c == 0x7f)
      buf_putc(&p->error, '?');
    else
      buf_putc(&p->error, (char)c);
  }
  if (message.failed)
    p->error.failed = true;
  buf_free(&message);
  return -EINVAL;
}

int yf_fail(struct yaml_file *p, const yaml_node_t *node, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int rc = vfail(p, node ? node->start_mark.line + 1 : 1, node ? node->start_mark.column + 1 : 1,
                 fmt, ap);
  va_end(ap);
  return rc;
}

yaml_node_t *yf_node(struct yaml_file *p, int index) {
  return yaml_document_get_node(&p->doc, index);
}

const char *yf_scalar(const yaml_node_t *node) {
  return node->type == YAML_SCALAR_NODE ? (const char *)node->data.scalar.value : NULL;
}

int yf_expect_string(struct yaml_file *p, const yaml_node_t *node, const char *what, char **out) {
  const char *text = yf_scalar(node);
  if (!text)
    return yf_fail(p, node, "%s: expected a string", what);
  if (!*text)
    return yf_fail(p, node, "%s: must not be empty", what);
  if (strlen(text) != node->data.scalar.length)
    return yf_fail(p, node, "%s: contains a NUL byte", what);
  free(*out);
  *out = strdup(text);
  if (!*out)
    return yf_fail(p, node, "out of memory");
  return 0;
}

/* Calls visit(p, key, value, ctx) for every pair of a mapping, refusing duplicate keys. */

int yf_each_pair(struct yaml_file *p, yaml_node_t *map, const char *what, yf_visitor visit,
                 void *ctx) {
  if (map->type != YAML_MAPPING_NODE)
    return yf_fail(p, map, "%s: expected a mapping", what);
  for (yaml_node_pair_t *pair = map->data.mapping.pairs.start; pair < map->data.mapping.pairs.top;
       pair++) {
    yaml_node_t *key = yf_node(p, pair->key);
    yaml_node_t *value = yf_node(p, pair->value);
    if (!yf_scalar(key))
      return yf_fail(p, key, "%s: keys must be strings", what);
    for (yaml_node_pair_t *earlier = map->data.mapping.pairs.start; earlier < pair; earlier++) {
      const char *other = yf_scalar(yf_node(p, earlier->key));
      if (other && strcmp(other, yf_scalar(key)) == 0)
        return yf_fail(p, key, "%s: duplicate key '%s'", what, yf_scalar(key));
    }
    int rc = visit(p, key, value, ctx);
    if (rc)
      return rc;
  }
  return 0;
}

int yf_unknown_key(struct yaml_file *p, const yaml_node_t *key, const char *what) {
  return yf_fail(p, key, "%s: unknown key '%s'", what, yf_scalar(key));
}

/* A relative path (password_file, socket) is relative to the configuration file, as in Prometheus.
 */
char *yf_resolve_path(const char *config_path, const char *path) {
  struct buf full = BUF_INIT;
  const char *slash = strrchr(config_path, '/');
  if (path[0] != '/' && slash)
    buf_append(&full, config_path, (size_t)(slash - config_path + 1));
  buf_puts(&full, path);
  return buf_steal(&full, NULL);
}

#define SECRET_FILE_LIMIT 4096
#define YAML_DEPTH_LIMIT 32

int yf_read_regular_file(const char *path, size_t limit, char **out, size_t *len,
                         const char **why) {
  *out = NULL;
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) {
    *why = strerror(errno);
    return -errno;
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    *why = S_ISDIR(st.st_mode) ? "it is a directory" : "not a regular file";
    close(fd);
    return -EINVAL;
  }
  if ((size_t)st.st_size > limit) {
    *why = "the file is too large";
    close(fd);
    return -EFBIG;
  }
  char *data = malloc((size_t)st.st_size + 1);
  if (!data) {
    close(fd);
    *why = "out of memory";
    return -ENOMEM;
  }
  size_t got = 0;
  while (got < (size_t)st.st_size) {
    ssize_t n = read(fd, data + got, (size_t)st.st_size - got);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    got += (size_t)n;
  }
  close(fd);
  data[got] = '\0';
  *out = data;
  *len = got;
  return 0;
}

/* A secret others can read is worth a warning, not a refusal (ops may have reasons). */
void yf_warn_if_readable(struct yaml_file *p, const char *path, const char *what) {
  struct stat st;
  if (stat(path, &st) == 0 && (st.st_mode & (S_IRWXG | S_IRWXO)) & (S_IRGRP | S_IROTH)) {
    if (p->warnings.len)
      buf_putc(&p->warnings, '\n');
    buf_printf(&p->warnings, "%s: '%s' is readable by %s (mode %04o): chmod 0600 it", what, path,
               st.st_mode & S_IROTH ? "every user" : "its group", (unsigned)(st.st_mode & 07777));
  }
}

int yf_read_named_file(struct yaml_file *p, const yaml_node_t *node, const char *what, size_t limit,
                       char **path, char **data, size_t *len) {
  char *resolved = yf_resolve_path(p->path, yf_scalar(node));
  if (!resolved)
    return yf_fail(p, node, "out of memory");
  const char *why;
  int rc = yf_read_regular_file(resolved, limit, data, len, &why);
  if (rc)
    rc = yf_fail(p, node, "%s: cannot read '%s': %s", what, resolved, why);
  if (rc || !path)
    free(resolved);
  else
    *path = resolved;
  return rc;
}

int yf_read_secret_file(struct yaml_file *p, const yaml_node_t *node, const char *what,
                        char **out) {
  char *path, *secret;
  size_t len;
  int rc = yf_read_named_file(p, node, what, SECRET_FILE_LIMIT, &path, &secret, &len);
  if (rc)
    return rc;
  yf_warn_if_readable(p, path, what);
  free(path);
  while (len && (secret[len - 1] == '\n' || secret[len - 1] == '\r'))
    secret[--len] = '\0';
  if (memchr(secret, '\0', len)) {
    explicit_bzero(secret, len);
    free(secret);
    return yf_fail(p, node, "%s: contains a NUL byte", what);
  }
  *out = secret;
  return 0;
}

int yf_read_secret_env(struct yaml_file *p, const yaml_node_t *node, const char *what, char **out) {
  const char *secret = getenv(yf_scalar(node));
  if (!secret)
    return yf_fail(p, node, "%s: environment variable %s is not set", what, yf_scalar(node));
  *out = strdup(secret);
  return *out ? 0 : yf_fail(p, node, "out of memory");
}

int yf_fail_mark(struct yaml_file *p, yaml_mark_t mark, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int rc = vfail(p, mark.line + 1, mark.column + 1, fmt, ap);
  va_end(ap);
  return rc;
}

static int yaml_failed(struct yaml_file *p, const yaml_parser_t *parser) {
  yaml_mark_t mark = parser->problem_mark;
  return yf_fail_mark(p, mark, "invalid YAML: %s%s%s",
                      parser->problem ? parser->problem : "parse error", parser->context ? " " : "",
                      parser->context ? parser->context : "");
}

/* A first pass over the events refuses nesting deeper than any configuration needs before
 * libyaml's loader, which slows down badly on deep nesting, sees the text. */
static int check_depth(struct yaml_file *p, const char *text, size_t len) {
  yaml_parser_t parser;
  if (!yaml_parser_initialize(&parser))
    return yf_fail(p, NULL, "out of memory");
  yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
  int depth = 0, rc = 0;
  for (bool done = false; !done && !rc;) {
    yaml_event_t event;
    if (!yaml_parser_parse(&parser, &event)) {
      rc = yaml_failed(p, &parser);
      break;
    }
    if (event.type == YAML_SEQUENCE_START_EVENT || event.type == YAML_MAPPING_START_EVENT) {
      if (++depth > YAML_DEPTH_LIMIT)
        rc = yf_fail_mark(p, event.start_mark, "nested deeper than %d levels", YAML_DEPTH_LIMIT);
    } else if (event.type == YAML_SEQUENCE_END_EVENT || event.type == YAML_MAPPING_END_EVENT) {
      depth--;
    }
    done = event.type == YAML_STREAM_END_EVENT;
    yaml_event_delete(&event);
  }
  yaml_parser_delete(&parser);
  return rc;
}

static int load_document(struct yaml_file *p, const char *text, size_t len) {
  int rc = check_depth(p, text, len);
  if (rc)
    return rc;
  yaml_parser_t parser;
  if (!yaml_parser_initialize(&parser))
    return yf_fail(p, NULL, "out of memory");
  yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
  if (!yaml_parser_load(&parser, &p->doc)) {
    rc = yaml_failed(p, &parser);
  } else {
    yaml_document_t second;
    if (!yaml_parser_load(&parser, &second)) {
      rc = yaml_failed(p, &parser);
    } else {
      yaml_node_t *root = yaml_document_get_root_node(&second);
      if (root)
        rc = yf_fail(p, root, "only one YAML document is allowed");
      yaml_document_delete(&second);
    }
    if (rc)
      yaml_document_delete(&p->doc);
  }
  yaml_parser_delete(&parser);
  return rc;
}

int yf_load(struct yaml_file *f, const char *path, size_t limit) {
  char *text = NULL;
  size_t len = 0;
  const char *why = NULL;
  f->path = path;
  int rc = yf_read_regular_file(path, limit, &text, &len, &why);
  if (rc) {
    if (!f->error.len)
      buf_printf(&f->error, "%s:1:1: cannot read: %s", path, why);
    return rc;
  }
  rc = load_document(f, text, len);
  free(text);
  if (rc == 0)
    f->loaded = 1;
  return rc;
}

char *yf_take_warnings(struct yaml_file *f) {
  return f->warnings.len ? buf_steal(&f->warnings, NULL) : NULL;
}

char *yf_close(struct yaml_file *f) {
  if (f->loaded)
    yaml_document_delete(&f->doc);
  f->loaded = 0;
  buf_free(&f->warnings);
  if (!f->error.len) {
    buf_free(&f->error);
    return NULL;
  }
  char *error = buf_steal(&f->error, NULL);
  return error ? error : strdup("out of memory while reporting an error");
}
