/* Reading a YAML file the way every replmon file is read (the configuration, the web
 * configuration): a bounded regular file, one document, limited nesting, and the first
 * error as one line "FILE:LINE:COL: message". */
#ifndef REPLMON_YAML_FILE_H
#define REPLMON_YAML_FILE_H

#include "buf.h"

#include <stddef.h>
#include <yaml.h>

struct yaml_file {
  const char *path;
  yaml_document_t doc;
  int loaded;          /* doc holds a document */
  struct buf error;    /* the first error; later ones are not reported */
  struct buf warnings; /* lines worth logging that do not stop the load */
  void *owner;         /* what the caller builds from the file */
};

/* Reads path (a regular file of at most limit bytes, one YAML document, nesting at most 32
 * deep) into f->doc. 0, or a negative errno with the error recorded. */
int yf_load(struct yaml_file *f, const char *path, size_t limit);
/* The warnings recorded so far (newline-separated; owned by the caller), or NULL. */
char *yf_take_warnings(struct yaml_file *f);
/* Frees the document; returns the recorded error (owned by the caller) or NULL. */
char *yf_close(struct yaml_file *f);

/* Records "FILE:LINE:COL: message" at node (1:1 for NULL) unless an error is already there;
 * returns -EINVAL. */
int yf_fail(struct yaml_file *f, const yaml_node_t *node, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int yf_fail_mark(struct yaml_file *f, yaml_mark_t mark, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

yaml_node_t *yf_node(struct yaml_file *f, int index);
/* The text of a scalar node, or NULL for a mapping or sequence. */
const char *yf_scalar(const yaml_node_t *node);
/* A non-empty string without NUL bytes, copied into *out (replacing it). */
int yf_expect_string(struct yaml_file *f, const yaml_node_t *node, const char *what, char **out);

/* Calls visit for every pair of a mapping, refusing duplicate and non-string keys. */
typedef int (*yf_visitor)(struct yaml_file *f, const yaml_node_t *key, yaml_node_t *value,
                          void *ctx);
int yf_each_pair(struct yaml_file *f, yaml_node_t *map, const char *what, yf_visitor visit,
                 void *ctx);
int yf_unknown_key(struct yaml_file *f, const yaml_node_t *key, const char *what);

/* path relative to the directory of file (absolute paths unchanged); NULL when out of memory. */
char *yf_resolve_path(const char *file, const char *path);
/* Records a warning when the file at path (a secret) is readable by its group or others. */
void yf_warn_if_readable(struct yaml_file *f, const char *path, const char *what);
/* A secret from a file (relative to f's file; trailing newlines dropped) or from the
 * environment variable the node names. */
int yf_read_secret_file(struct yaml_file *f, const yaml_node_t *node, const char *what, char **out);
int yf_read_secret_env(struct yaml_file *f, const yaml_node_t *node, const char *what, char **out);
/* The file that node names (relative to f's file), read whole with yf_read_regular_file:
 * *data (NUL-terminated, *len bytes) and, when path is not NULL, *path (resolved) are owned
 * by the caller. A failure is recorded at node as "WHAT: cannot read 'PATH': why". */
int yf_read_named_file(struct yaml_file *f, const yaml_node_t *node, const char *what, size_t limit,
                       char **path, char **data, size_t *len);
/* A whole regular file of at most limit bytes (not a FIFO or a device). 0, or -errno with
 * *why set. */
int yf_read_regular_file(const char *path, size_t limit, char **out, size_t *len, const char **why);

#endif
