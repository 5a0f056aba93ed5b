#include "mariadb.h"
#include "buf.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <mysql.h>
#include <mysqld_error.h>
#include <errmsg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

struct mariadb_probe {
  struct mariadb_target target;
  MYSQL *conn;                  /* NULL while disconnected */
  unsigned long server_version; /* of the connection: 110800 for 11.8.0 */
  /* The last poll found semi-sync on or a binlog size limit: the status counters that say
   * how they fare are read too (see STATE_STATUS). */
  bool read_status;
};

const char *replica_io_state_name(enum replica_io_state state) {
  static const char *const names[IO_STATE_COUNT] = {"yes", "connecting", "preparing", "no"};
  return state >= 0 && state < IO_STATE_COUNT ? names[state] : "no";
}

/* ---- parsing SHOW ALL SLAVES STATUS rows ---- */

static const char *column(const char *const *names, const char *const *values, size_t ncols,
                          const char *name, bool *present) {
  for (size_t i = 0; i < ncols; i++) {
    if (names[i] && strcasecmp(names[i], name) == 0) {
      *present = true;
      return values[i];
    }
  }
  *present = false;
  return NULL;
}

/* NaN for NULL, a missing column or text that is not a number. */
static double number_or_nan(const char *const *names, const char *const *values, size_t ncols,
                            const char *name) {
  bool present;
  const char *text = column(names, values, ncols, name, &present);
  if (!text || !*text)
    return NAN;
  char *end;
  errno = 0;
  double v = strtod(text, &end);
  if (errno || *end)
    return NAN;
  return v;
}

static int io_state_parse(const char *text, enum replica_io_state *out) {
  static const struct {
    const char *text;
    enum replica_io_state state;
  } states[] = {{"Yes", IO_STATE_YES},
                {"Connecting", IO_STATE_CONNECTING},
                {"Preparing", IO_STATE_PREPARING},
                {"No", IO_STATE_NO}};
  for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++) {
    if (strcasecmp(text, states[i].text) == 0) {
      *out = states[i].state;
      return 0;
    }
  }
  return -EINVAL;
}

static char *dup_or_empty(const char *s) {
  return strdup(s ? s : "");
}

int mariadb_parse_replica_row(const char *const *names, const char *const *values, size_t ncols,
                              struct replica_status *out, struct probe_error *err) {
  static const char *const required[] = {"Connection_name", "Master_Host", "Master_Port",
                                         "Slave_IO_Running", "Slave_SQL_Running"};
  memset(out, 0, sizeof(*out));
  for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
    bool present;
    const char *value = column(names, values, ncols, required[i], &present);
    if (!present || (!value && i > 0)) {
      probe_error_set(err, REASON_QUERY, "SHOW ALL SLAVES STATUS: column %s is %s", required[i],
                      present ? "NULL" : "missing");
      return -EINVAL;
    }
  }
  bool present;
  const char *io = column(names, values, ncols, "Slave_IO_Running", &present);
  const char *sql = column(names, values, ncols, "Slave_SQL_Running", &present);
  if (io_state_parse(io, &out->io_state) != 0) {
    probe_error_set(err, REASON_QUERY, "SHOW ALL SLAVES STATUS: unknown Slave_IO_Running '%.40s'",
                    io);
    return -EINVAL;
  }
  if (strcasecmp(sql, "Yes") != 0 && strcasecmp(sql, "No") != 0) {
    probe_error_set(err, REASON_QUERY, "SHOW ALL SLAVES STATUS: unknown Slave_SQL_Running '%.40s'",
                    sql);
    return -EINVAL;
  }
  out->sql_running = strcasecmp(sql, "Yes") == 0;

  double port = number_or_nan(names, values, ncols, "Master_Port");
  if (!(port >= 0 && port <= 65535)) {
    probe_error_set(err, REASON_QUERY, "SHOW ALL SLAVES STATUS: Master_Port is not a port");
    return -EINVAL;
  }
  out->master_port = (unsigned)port;
  out->seconds_behind_master = number_or_nan(names, values, ncols, "Seconds_Behind_Master");
  out->time_diff_seconds = number_or_nan(names, values, ncols, "Master_Slave_time_diff");
  column(names, values, ncols, "Master_Slave_time_diff", &out->has_time_diff);
  out->sql_delay_seconds = number_or_nan(names, values, ncols, "SQL_Delay");
  out->last_io_errno = number_or_nan(names, values, ncols, "Last_IO_Errno");
  out->last_sql_errno = number_or_nan(names, values, ncols, "Last_SQL_Errno");
  out->relay_log_space_bytes = number_or_nan(names, values, ncols, "Relay_Log_Space");
  out->retried_transactions = number_or_nan(names, values, ncols, "Retried_transactions");
  out->received_heartbeats = number_or_nan(names, values, ncols, "Slave_received_heartbeats");
  out->heartbeat_period_s = number_or_nan(names, values, ncols, "Slave_heartbeat_period");

  out->progress_unix = NAN;
  /* A position this parser does not understand leaves the list empty: stall detection then
   * relies on the received heartbeats alone. */
  if (gtid_list_parse(column(names, values, ncols, "Gtid_IO_Pos", &present), &out->gtid_io_pos) ==
      -ENOMEM) {
    probe_error_set(err, REASON_QUERY, "out of memory");
    return -ENOMEM;
  }
  out->connection = dup_or_empty(column(names, values, ncols, "Connection_name", &present));
  out->master_host = dup_or_empty(column(names, values, ncols, "Master_Host", &present));
  out->last_io_error = dup_or_empty(column(names, values, ncols, "Last_IO_Error", &present));
  out->last_sql_error = dup_or_empty(column(names, values, ncols, "Last_SQL_Error", &present));
  if (!out->connection || !out->master_host || !out->last_io_error || !out->last_sql_error) {
    replica_status_clear(out);
    probe_error_set(err, REASON_QUERY, "out of memory");
    return -ENOMEM;
  }
  return 0;
}

void replica_status_clear(struct replica_status *r) {
  gtid_list_clear(&r->gtid_io_pos);
  free(r->connection);
  free(r->master_host);
  free(r->source);
  free(r->last_io_error);
  free(r->last_sql_error);
  memset(r, 0, sizeof(*r));
}

void mariadb_status_clear(struct mariadb_status *s) {
  for (size_t i = 0; i < s->n_replicas; i++)
    replica_status_clear(&s->replicas[i]);
  free(s->replicas);
  free(s->binlog_format);
  free(s->heartbeats);
  free(s->heartbeat_error);
  gtid_list_clear(&s->binlog_pos);
  gtid_list_clear(&s->slave_pos);
  gtid_list_clear(&s->binlog_state);
  memset(s, 0, sizeof(*s));
  s->server_id = s->read_only = NAN;
  s->read_unix = s->read_spread_s = s->clock_offset_s = s->gtid_domain_id = NAN;
  s->auto_increment_increment = s->auto_increment_offset = NAN;
  s->log_slave_updates = s->log_bin = NAN;
  s->heartbeat_written_unix = NAN;
  mariadb_parse_server_values(NULL, NULL, &s->binlog_retention, &s->semisync);
  mariadb_memory_clear(&s->memory);
}

void mariadb_memory_clear(struct mariadb_memory *memory) {
  memory->server_id = memory->gtid_domain_id = memory->clock_offset_s = NAN;
  memory->read_unix = NAN;
  for (size_t i = 0; i < MARIADB_HEARTBEAT_WRITES; i++)
    memory->heartbeat_write[i] = NAN;
  memory->first_heartbeat_write = NAN;
  memory->binlog_retention = (struct mariadb_binlog_retention){NAN, NAN, NAN};
}

void mariadb_memory_note_write(struct mariadb_memory *memory, double written_unix) {
  memmove(&memory->heartbeat_write[1], &memory->heartbeat_write[0],
          (MARIADB_HEARTBEAT_WRITES - 1) * sizeof(memory->heartbeat_write[0]));
  memory->heartbeat_write[0] = written_unix;
  if (isnan(memory->first_heartbeat_write))
    memory->first_heartbeat_write = written_unix;
}

static char *dup_maybe(const char *s, bool *failed) {
  char *copy = s ? strdup(s) : NULL;
  *failed = *failed || (s && !copy);
  return copy;
}

int mariadb_status_copy(const struct mariadb_status *from, struct mariadb_status *to) {
  *to = *from;
  to->replicas = NULL;
  to->n_replicas = 0;
  to->heartbeats = NULL;
  to->n_heartbeats = 0;
  to->binlog_pos = (struct gtid_list){0, NULL};
  to->slave_pos = (struct gtid_list){0, NULL};
  to->binlog_state = (struct gtid_list){0, NULL};
  bool failed = false;
  to->binlog_format = dup_maybe(from->binlog_format, &failed);
  to->heartbeat_error = dup_maybe(from->heartbeat_error, &failed);
  failed = failed || gtid_list_copy(&from->binlog_pos, &to->binlog_pos) != 0 ||
           gtid_list_copy(&from->slave_pos, &to->slave_pos) != 0 ||
           gtid_list_copy(&from->binlog_state, &to->binlog_state) != 0;
  if (!failed && from->n_heartbeats) {
    to->heartbeats = malloc(from->n_heartbeats * sizeof(*to->heartbeats));
    failed = !to->heartbeats;
    if (!failed) {
      memcpy(to->heartbeats, from->heartbeats, from->n_heartbeats * sizeof(*to->heartbeats));
      to->n_heartbeats = from->n_heartbeats;
    }
  }
  if (!failed && from->n_replicas) {
    to->replicas = calloc(from->n_replicas, sizeof(*to->replicas));
    failed = !to->replicas;
    for (size_t i = 0; !failed && i < from->n_replicas; i++) {
      const struct replica_status *f = &from->replicas[i];
      struct replica_status *t = &to->replicas[i];
      *t = *f;
      t->connection = dup_maybe(f->connection, &failed);
      t->master_host = dup_maybe(f->master_host, &failed);
      t->source = dup_maybe(f->source, &failed);
      t->last_io_error = dup_maybe(f->last_io_error, &failed);
      t->last_sql_error = dup_maybe(f->last_sql_error, &failed);
      t->gtid_io_pos = (struct gtid_list){0, NULL};
      failed = failed || gtid_list_copy(&f->gtid_io_pos, &t->gtid_io_pos) != 0;
      to->n_replicas = i + 1;
    }
  }
  if (failed) {
    mariadb_status_clear(to);
    return -ENOMEM;
  }
  return 0;
}

int mariadb_status_carry_unknown(const struct mariadb_status *from, struct mariadb_status *to) {
  mariadb_status_clear(to);
  if (from)
    to->memory = from->memory;
  if (!from || from->n_replicas == 0)
    return 0;
  to->replicas = calloc(from->n_replicas, sizeof(*to->replicas));
  if (!to->replicas)
    return -ENOMEM;
  for (size_t i = 0; i < from->n_replicas; i++) {
    const struct replica_status *f = &from->replicas[i];
    struct replica_status *t = &to->replicas[to->n_replicas];
    t->connection = strdup(f->connection);
    t->master_host = strdup(f->master_host);
    t->source = f->source ? strdup(f->source) : NULL;
    t->last_io_error = strdup("");
    t->last_sql_error = strdup("");
    to->n_replicas++;
    if (!t->connection || !t->master_host || (f->source && !t->source) || !t->last_io_error ||
        !t->last_sql_error) {
      mariadb_status_clear(to);
      return -ENOMEM;
    }
    t->master_port = f->master_port;
    t->io_state = IO_STATE_NO; /* not rendered: an unknown status renders NaN */
    t->seconds_behind_master = t->time_diff_seconds = t->sql_delay_seconds = NAN;
    t->has_time_diff = f->has_time_diff;
    t->last_io_errno = t->last_sql_errno = NAN;
    t->relay_log_space_bytes = t->retried_transactions = NAN;
    t->heartbeat_period_s = NAN;
    /* What arrived by the last good poll, so that the next one tells progress from it
     * instead of taking every connection for new. */
    t->received_heartbeats = f->received_heartbeats;
    if (gtid_list_copy(&f->gtid_io_pos, &t->gtid_io_pos) != 0) {
      mariadb_status_clear(to);
      return -ENOMEM;
    }
    t->progress_unix = f->progress_unix;
    t->progress_seen = f->progress_seen;
  }
  return 0;
}

/* ---- the connection ---- */

static bool identifier(const char *s, size_t len) {
  if (len == 0 || len > 64)
    return false;
  for (size_t i = 0; i < len; i++)
    if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '$')
      return false;
  return true;
}

int mariadb_quote_table(const char *schema_table, char **quoted) {
  *quoted = NULL;
  const char *dot = strchr(schema_table, '.');
  if (!dot || !identifier(schema_table, (size_t)(dot - schema_table)) ||
      !identifier(dot + 1, strlen(dot + 1)))
    return -EINVAL;
  struct buf text = BUF_INIT;
  buf_printf(&text, "`%.*s`.`%s`", (int)(dot - schema_table), schema_table, dot + 1);
  *quoted = buf_steal(&text, NULL);
  return *quoted ? 0 : -ENOMEM;
}

static void free_target_copy(struct mariadb_target *t) {
  free((char *)t->host);
  free((char *)t->socket);
  free((char *)t->user);
  if (t->password) {
    explicit_bzero((char *)t->password, strlen(t->password));
    free((char *)t->password);
  }
  free((char *)t->heartbeat_table);
  free((char *)t->tls.ca_file);
  free((char *)t->tls.cert_file);
  free((char *)t->tls.key_file);
}

static char *copy_or_null(const char *s, bool *failed) {
  char *copy = s ? strdup(s) : NULL;
  *failed = *failed || (s && !copy);
  return copy;
}

struct mariadb_probe *mariadb_probe_new(const struct mariadb_target *target) {
  struct mariadb_probe *probe = calloc(1, sizeof(*probe));
  if (!probe)
    return NULL;
  bool failed = false;
  probe->target = *target;
  probe->target.host = copy_or_null(target->host, &failed);
  probe->target.socket = copy_or_null(target->socket, &failed);
  probe->target.user = copy_or_null(target->user, &failed);
  probe->target.password = copy_or_null(target->password, &failed);
  probe->target.heartbeat_table = NULL;
  if (target->heartbeat_table &&
      mariadb_quote_table(target->heartbeat_table, (char **)&probe->target.heartbeat_table) != 0)
    failed = true; /* the configuration checked it: only out of memory is left */
  probe->target.tls.ca_file = copy_or_null(target->tls.ca_file, &failed);
  probe->target.tls.cert_file = copy_or_null(target->tls.cert_file, &failed);
  probe->target.tls.key_file = copy_or_null(target->tls.key_file, &failed);
  if (failed) {
    free_target_copy(&probe->target);
    free(probe);
    return NULL;
  }
  return probe;
}

static void disconnect(struct mariadb_probe *probe) {
  if (probe->conn) {
    mysql_close(probe->conn);
    probe->conn = NULL;
  }
}

void mariadb_probe_free(struct mariadb_probe *probe) {
  if (!probe)
    return;
  disconnect(probe);
  free_target_copy(&probe->target);
  free(probe);
}

bool mariadb_probe_connected(const struct mariadb_probe *probe) {
  return probe->conn != NULL;
}

static unsigned whole_seconds(double seconds) {
  double up = ceil(seconds);
  return up < 1 ? 1 : up > 3600 ? 3600 : (unsigned)up;
}

/* The reason for a failed call: by error number, except that a client-side failure that
 * took the whole timeout is a timeout whatever number the library chose for it. */
static enum probe_reason classify(unsigned errnum, double elapsed, double timeout) {
  switch (errnum) {
  case ER_ACCESS_DENIED_ERROR:
  case ER_ACCESS_DENIED_NO_PASSWORD_ERROR:
  case ER_HOST_NOT_PRIVILEGED:
  case ER_DBACCESS_DENIED_ERROR:
    return REASON_AUTH;
  case ER_SPECIFIC_ACCESS_DENIED_ERROR:
  case ER_TABLEACCESS_DENIED_ERROR:
  case ER_COLUMNACCESS_DENIED_ERROR:
  case ER_PROCACCESS_DENIED_ERROR:
    return REASON_PRIVILEGE;
  case ER_STATEMENT_TIMEOUT:
    return REASON_TIMEOUT;
  case ER_CON_COUNT_ERROR:
  case ER_TOO_MANY_USER_CONNECTIONS:
  case ER_HOST_IS_BLOCKED:
    return REASON_CONNECT;
  default:
    break;
  }
  if (errnum >= CR_MIN_ERROR && errnum <= CR_MAX_ERROR) {
    if (elapsed >= whole_seconds(timeout) - 0.05)
      return REASON_TIMEOUT;
    return REASON_CONNECT;
  }
  return REASON_QUERY;
}

static bool is_client_error(unsigned errnum) {
  return errnum >= CR_MIN_ERROR && errnum <= CR_MAX_ERROR;
}

/* TLS or nothing. With verify_server_cert libmariadb refuses a server that offers no TLS
 * before it logs in; without, it would log in over plaintext (libmariadb 3.3 drops TLS when
 * the server does not offer it), and only the cipher check after the connect catches that.
 * So the login is limited to plugins that never send the password itself: a downgraded or
 * fake server cannot ask for the cleartext one. */
static int set_tls_options(MYSQL *conn, const struct mariadb_tls *tls) {
  my_bool on = 1, verify = tls->verify_server_cert;
  return mysql_optionsv(conn, MYSQL_OPT_SSL_ENFORCE, &on) ||
         mysql_optionsv(conn, MARIADB_OPT_RESTRICTED_AUTH,
                        "mysql_native_password,client_ed25519") ||
         mysql_optionsv(conn, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &verify) ||
         (tls->ca_file && mysql_optionsv(conn, MYSQL_OPT_SSL_CA, tls->ca_file)) ||
         (tls->cert_file && mysql_optionsv(conn, MYSQL_OPT_SSL_CERT, tls->cert_file)) ||
         (tls->key_file && mysql_optionsv(conn, MYSQL_OPT_SSL_KEY, tls->key_file));
}

/* With TLS 1.3 a server checks the client certificate after the client's side of the
 * handshake is done: a refused certificate reaches the client as the connection reset while
 * it sends its login (CR_SERVER_LOST "at 'sending authentication information'"), not as a
 * TLS error. With a client certificate configured, that is taken for a TLS failure. */
static bool client_certificate_refused(const struct mariadb_tls *tls, MYSQL *conn,
                                       unsigned errnum) {
  return tls->enabled && tls->cert_file && errnum == CR_SERVER_LOST &&
         strstr(mysql_error(conn), "sending authentication information");
}

/* libmariadb gives each connection a packet buffer of net_buffer_length bytes (8 KiB by
 * default) that grows to fit the largest packet received, up to max_allowed_packet (1 GiB).
 * Our statements and most of their rows fit in 1 KiB (the server's own minimum for the
 * variable); a longer row grows the buffer of its connection only. 7 KiB less per node. */
#define NET_BUFFER_LENGTH 1024

static pthread_once_t net_buffer_once = PTHREAD_ONCE_INIT;

/* The option sets a process-wide variable, not the handle's: once, before any connection. */
static void set_net_buffer_length(void) {
  size_t length = NET_BUFFER_LENGTH;
  MYSQL *conn = mysql_init(NULL);
  if (conn) {
    mysql_optionsv(conn, MYSQL_OPT_NET_BUFFER_LENGTH, &length);
    mysql_close(conn);
  }
}

static int connect_node(struct mariadb_probe *probe, struct probe_error *err) {
  const struct mariadb_target *t = &probe->target;
  pthread_once(&net_buffer_once, set_net_buffer_length);
  MYSQL *conn = mysql_init(NULL);
  if (!conn) {
    probe_error_set(err, REASON_CONNECT, "mysql_init: out of memory");
    return -ENOMEM;
  }
  unsigned connect_timeout = whole_seconds(t->connect_timeout_s);
  unsigned query_timeout = whole_seconds(t->query_timeout_s);
  my_bool off = 0;
  unsigned protocol = t->socket ? MYSQL_PROTOCOL_SOCKET : MYSQL_PROTOCOL_TCP;
  if (mysql_optionsv(conn, MYSQL_OPT_CONNECT_TIMEOUT, &connect_timeout) ||
      mysql_optionsv(conn, MYSQL_OPT_READ_TIMEOUT, &query_timeout) ||
      mysql_optionsv(conn, MYSQL_OPT_WRITE_TIMEOUT, &query_timeout) ||
      mysql_optionsv(conn, MYSQL_OPT_RECONNECT, &off) ||
      mysql_optionsv(conn, MYSQL_OPT_LOCAL_INFILE, &off) ||
      mysql_optionsv(conn, MYSQL_OPT_PROTOCOL, &protocol) ||
      (t->tls.enabled && set_tls_options(conn, &t->tls))) {
    probe_error_set(err, REASON_CONNECT, "mysql_optionsv: %s", mysql_error(conn));
    mysql_close(conn);
    return -EINVAL;
  }
  double started = clock_monotonic_seconds();
  if (!mysql_real_connect(conn, t->host, t->user, t->password, NULL, t->port, t->socket, 0)) {
    unsigned errnum = mysql_errno(conn);
    double elapsed = clock_monotonic_seconds() - started;
    enum probe_reason reason = classify(errnum, elapsed, t->connect_timeout_s);
    /* The handshake or the certificate failed, or the server offers no TLS. (On an open TLS
     * session the same number only means that the connection was lost.) */
    bool refused = reason != REASON_TIMEOUT && client_certificate_refused(&t->tls, conn, errnum);
    if (refused || (errnum == CR_SSL_CONNECTION_ERROR && reason != REASON_TIMEOUT))
      reason = REASON_TLS;
    probe_error_set(err, reason, "connect: %s (%u)%s", mysql_error(conn), errnum,
                    refused ? "; the server probably refused the client certificate" : "");
    mysql_close(conn);
    return reason == REASON_TIMEOUT ? -ETIMEDOUT : reason == REASON_AUTH ? -EACCES : -ECONNREFUSED;
  }
  if (t->tls.enabled && !mysql_get_ssl_cipher(conn)) {
    /* A server without TLS, with verify_server_cert off: refused after the login. */
    probe_error_set(err, REASON_TLS, "connect: the connection is not TLS although tls is set");
    mysql_close(conn);
    return -EPROTO;
  }
  /* The connection attributes (client name, version, pid) went out in the handshake and only
   * a reconnect, which is off, would send them again; libmariadb keeps them for the handle's
   * life in an 8 KiB hash. */
  mysql_optionsv(conn, MYSQL_OPT_CONNECT_ATTR_RESET, NULL);
  probe->conn = conn;
  probe->server_version = mysql_get_server_version(conn);
  return 0;
}

/* 'user@host' as CURRENT_USER() says it, turned into the account of a GRANT statement. */
static void grant_hint(struct mariadb_probe *probe, struct buf *hint) {
  const char *fallback = probe->target.user;
  if (mysql_query(probe->conn, "SELECT CURRENT_USER()") == 0) {
    MYSQL_RES *res = mysql_store_result(probe->conn);
    MYSQL_ROW row = res ? mysql_fetch_row(res) : NULL;
    const char *account = row && row[0] ? row[0] : NULL;
    const char *at = account ? strrchr(account, '@') : NULL;
    if (at) {
      buf_printf(hint, "'%.*s'@'%s'", (int)(at - account), account, at + 1);
      mysql_free_result(res);
      return;
    }
    if (res)
      mysql_free_result(res);
  }
  buf_printf(hint, "'%s'@'<host>'", fallback);
}

/* Records a failed statement in *err and returns its negative errno. */
static int statement_failed(struct mariadb_probe *probe, const char *statement, double started,
                            struct probe_error *err) {
  unsigned errnum = mysql_errno(probe->conn);
  double elapsed = clock_monotonic_seconds() - started;
  enum probe_reason reason = classify(errnum, elapsed, probe->target.query_timeout_s);
  if (reason == REASON_PRIVILEGE) {
    /* grant_hint runs a statement, which clears the error: keep its text first. */
    struct buf refused = BUF_INIT, hint = BUF_INIT;
    buf_puts(&refused, mysql_error(probe->conn));
    grant_hint(probe, &hint);
    probe_error_set(err, reason, "%s: %s (%u); run: GRANT SLAVE MONITOR ON *.* TO %s", statement,
                    refused.data ? refused.data : "", errnum, hint.data ? hint.data : "");
    buf_free(&refused);
    buf_free(&hint);
    /* A session keeps the global privileges it logged in with: only a new one sees the
     * GRANT, so the next poll connects again. */
    disconnect(probe);
    return -EACCES;
  }
  probe_error_set(err, reason, "%s: %s (%u)", statement, mysql_error(probe->conn), errnum);
  if (is_client_error(errnum))
    disconnect(probe);
  return reason == REASON_TIMEOUT ? -ETIMEDOUT : -EIO;
}

static int query_replicas(struct mariadb_probe *probe, struct mariadb_status *out,
                          struct probe_error *err) {
  static const char statement[] = "SHOW ALL SLAVES STATUS";
  double started = clock_monotonic_seconds();
  if (mysql_query(probe->conn, statement) != 0)
    return statement_failed(probe, statement, started, err);
  MYSQL_RES *res = mysql_store_result(probe->conn);
  if (!res)
    return statement_failed(probe, statement, started, err);

  int rc = 0;
  size_t ncols = mysql_num_fields(res);
  size_t nrows = mysql_num_rows(res);
  MYSQL_FIELD *fields = mysql_fetch_fields(res);
  const char **names = calloc(ncols ? ncols : 1, sizeof(*names));
  out->replicas = calloc(nrows ? nrows : 1, sizeof(*out->replicas));
  if (!names || !out->replicas) {
    probe_error_set(err, REASON_QUERY, "out of memory");
    rc = -ENOMEM;
    goto out;
  }
  for (size_t i = 0; i < ncols; i++)
    names[i] = fields[i].name;
  for (MYSQL_ROW row; (row = mysql_fetch_row(res)) != NULL && out->n_replicas < nrows;) {
    rc = mariadb_parse_replica_row(names, (const char *const *)row, ncols,
                                   &out->replicas[out->n_replicas], err);
    if (rc)
      goto out;
    out->n_replicas++;
  }
out:
  free(names);
  mysql_free_result(res);
  return rc;
}

/* NaN unless the whole text is a number. */
static double strict_number(const char *text) {
  if (!text)
    return NAN;
  char *end;
  errno = 0;
  double v = strtod(text, &end);
  return end == text || *end || errno ? NAN : v;
}

/* A variable's value as a number: ON/OFF as 1/0; NaN when it is neither. */
static double server_value(const char *text, size_t len) {
  char copy[64];
  if (len == 0 || len >= sizeof(copy))
    return NAN;
  memcpy(copy, text, len);
  copy[len] = '\0';
  if (strcasecmp(copy, "ON") == 0)
    return 1;
  if (strcasecmp(copy, "OFF") == 0)
    return 0;
  return strict_number(copy);
}

struct server_value_slot {
  const char *name;
  double *value;
};

static void assign_server_values(const char *list, const struct server_value_slot *slots,
                                 size_t n_slots) {
  for (const char *p = list; p && *p;) {
    const char *end = strchr(p, ',');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    const char *eq = memchr(p, '=', len);
    for (size_t i = 0; eq && i < n_slots; i++) {
      size_t name_len = strlen(slots[i].name);
      if ((size_t)(eq - p) == name_len && strncasecmp(p, slots[i].name, name_len) == 0)
        *slots[i].value = server_value(eq + 1, len - (size_t)(eq - p) - 1);
    }
    p = end ? end + 1 : p + len;
  }
}

void mariadb_parse_server_values(const char *variables, const char *status,
                                 struct mariadb_binlog_retention *retention,
                                 struct mariadb_semisync *semisync) {
  double expire_seconds = NAN, expire_days = NAN;
  *retention = (struct mariadb_binlog_retention){NAN, NAN, NAN};
  *semisync = (struct mariadb_semisync){NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN};
  double timeout_ms = NAN;
  const struct server_value_slot variable_slots[] = {
      {"BINLOG_EXPIRE_LOGS_SECONDS", &expire_seconds},
      {"EXPIRE_LOGS_DAYS", &expire_days},
      {"MAX_BINLOG_TOTAL_SIZE", &retention->max_total_size_bytes},
      {"RPL_SEMI_SYNC_MASTER_ENABLED", &semisync->master_enabled},
      {"RPL_SEMI_SYNC_SLAVE_ENABLED", &semisync->slave_enabled},
      {"RPL_SEMI_SYNC_MASTER_TIMEOUT", &timeout_ms},
  };
  const struct server_value_slot status_slots[] = {
      {"BINLOG_BYTES_WRITTEN", &retention->bytes_written},
      {"RPL_SEMI_SYNC_MASTER_STATUS", &semisync->master_status},
      {"RPL_SEMI_SYNC_SLAVE_STATUS", &semisync->slave_status},
      {"RPL_SEMI_SYNC_MASTER_CLIENTS", &semisync->master_clients},
      {"RPL_SEMI_SYNC_MASTER_YES_TX", &semisync->master_yes_tx},
      {"RPL_SEMI_SYNC_MASTER_NO_TX", &semisync->master_no_tx},
  };
  assign_server_values(variables, variable_slots,
                       sizeof(variable_slots) / sizeof(variable_slots[0]));
  assign_server_values(status, status_slots, sizeof(status_slots) / sizeof(status_slots[0]));
  /* Since 10.6 the two are one setting in two units; an older server has only the days. */
  retention->expire_s = !isnan(expire_seconds) ? expire_seconds : expire_days * 86400;
  semisync->master_timeout_s = timeout_ms / 1000;
}

double mariadb_parse_datetime(const char *text) {
  struct tm tm = {0};
  int consumed = 0;
  char sep;
  if (!text ||
      sscanf(text, "%4d-%2d-%2d%c%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &sep,
             &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &consumed) != 7 ||
      (sep != ' ' && sep != 'T'))
    return NAN;
  double fraction = 0;
  const char *rest = text + consumed;
  if (*rest == '.') {
    char *end;
    fraction = strtod(rest, &end);
    if (end == rest + 1 || *end)
      return NAN;
  } else if (*rest) {
    return NAN;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  time_t seconds = timegm(&tm);
  return seconds == (time_t)-1 ? NAN : (double)seconds + fraction;
}

/* Columns of the state SELECT, in order. */
enum state_column {
  COL_NOW,
  COL_SERVER_ID,
  COL_READ_ONLY,
  COL_DOMAIN,
  COL_BINLOG_POS,
  COL_SLAVE_POS,
  COL_INCREMENT,
  COL_OFFSET,
  COL_LOG_SLAVE_UPDATES,
  COL_BINLOG_FORMAT,
  COL_LOG_BIN,
  COL_BINLOG_STATE,
  COL_EXPIRE_LOGS_SECONDS,
  COL_EXPIRE_LOGS_DAYS,
  COL_MAX_BINLOG_TOTAL_SIZE,
  COL_SEMISYNC_MASTER_ENABLED,
  COL_SEMISYNC_SLAVE_ENABLED,
  COL_SEMISYNC_MASTER_TIMEOUT,
  COL_SERVER_STATUS,
  COL_HB_SERVER_ID,
  COL_HB_TS,
};

/* GLOBAL values: a session keeps the ones it started with, and this connection lives long.
 * A variable the server's version lacks is selected as NULL (an unknown one would fail the
 * whole SELECT). */
#define STATE_VARIABLES                                                                            \
  "SELECT NOW(6), @@GLOBAL.server_id, @@GLOBAL.read_only, @@GLOBAL.gtid_domain_id, "               \
  "@@GLOBAL.gtid_binlog_pos, @@GLOBAL.gtid_slave_pos, @@GLOBAL.auto_increment_increment, "         \
  "@@GLOBAL.auto_increment_offset, @@GLOBAL.log_slave_updates, @@GLOBAL.binlog_format, "           \
  "@@GLOBAL.log_bin, @@GLOBAL.gtid_binlog_state"
#define BINLOG_EXPIRE_LOGS_SECONDS_SINCE 100601 /* MariaDB 10.6.1 */
#define MAX_BINLOG_TOTAL_SIZE_SINCE 110400      /* MariaDB 11.4.0 */
#define STATE_SEMISYNC_VARIABLES                                                                   \
  "@@GLOBAL.rpl_semi_sync_master_enabled, @@GLOBAL.rpl_semi_sync_slave_enabled, "                  \
  "@@GLOBAL.rpl_semi_sync_master_timeout"
/* Status counters exist only as GLOBAL_STATUS rows, and reading that table makes the server
 * add up every connection's counters, a cost that grows with its connections: they are read
 * only while the last poll found semi-sync on or a binlog size limit set, the only cases
 * that need them (as "NAME=value" pairs). */
#define STATE_STATUS                                                                               \
  "(SELECT GROUP_CONCAT(VARIABLE_NAME, '=', VARIABLE_VALUE) "                                      \
  "FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME IN ("                                 \
  "'BINLOG_BYTES_WRITTEN', 'RPL_SEMI_SYNC_MASTER_STATUS', 'RPL_SEMI_SYNC_SLAVE_STATUS', "          \
  "'RPL_SEMI_SYNC_MASTER_CLIENTS', 'RPL_SEMI_SYNC_MASTER_YES_TX', 'RPL_SEMI_SYNC_MASTER_NO_TX'))"

/* One SELECT for every variable and, with a heartbeat table, every heartbeat row: each row
 * repeats the variables (a LEFT JOIN keeps one row when the table is empty). */
static int run_state_select(struct mariadb_probe *probe, bool with_heartbeat, struct buf *sql,
                            double *started, double *finished) {
  buf_reset(sql);
  buf_puts(sql, STATE_VARIABLES);
  buf_puts(sql, probe->server_version >= BINLOG_EXPIRE_LOGS_SECONDS_SINCE
                    ? ", @@GLOBAL.binlog_expire_logs_seconds"
                    : ", NULL");
  buf_puts(sql, ", @@GLOBAL.expire_logs_days");
  buf_puts(sql, probe->server_version >= MAX_BINLOG_TOTAL_SIZE_SINCE
                    ? ", @@GLOBAL.max_binlog_total_size"
                    : ", NULL");
  buf_puts(sql, ", " STATE_SEMISYNC_VARIABLES);
  buf_puts(sql, probe->read_status ? ", " STATE_STATUS : ", NULL");
  if (with_heartbeat)
    buf_printf(sql, ", h.server_id, h.ts FROM (SELECT 1) AS one LEFT JOIN %s AS h ON 1",
               probe->target.heartbeat_table);
  if (sql->failed)
    return -ENOMEM;
  *started = clock_unix_seconds();
  int rc = mysql_query(probe->conn, sql->data);
  *finished = clock_unix_seconds();
  return rc;
}

static bool heartbeat_table_problem(unsigned errnum) {
  return errnum == ER_NO_SUCH_TABLE || errnum == ER_TABLEACCESS_DENIED_ERROR ||
         errnum == ER_BAD_FIELD_ERROR || errnum == ER_BAD_DB_ERROR ||
         errnum == ER_COLUMNACCESS_DENIED_ERROR || errnum == ER_DBACCESS_DENIED_ERROR;
}

static int read_state_row(MYSQL_ROW row, unsigned ncols, struct mariadb_status *out) {
  if (ncols < COL_SERVER_STATUS + 1 || !row[COL_SERVER_ID] || !row[COL_READ_ONLY])
    return -EINVAL;
  out->server_id = strict_number(row[COL_SERVER_ID]);
  double read_only = strict_number(row[COL_READ_ONLY]);
  out->read_only = isnan(read_only) ? NAN : read_only != 0;
  out->clock_offset_s = mariadb_parse_datetime(row[COL_NOW]) - out->read_unix;
  out->gtid_domain_id = strict_number(row[COL_DOMAIN]);
  out->auto_increment_increment = strict_number(row[COL_INCREMENT]);
  out->auto_increment_offset = strict_number(row[COL_OFFSET]);
  out->log_slave_updates = strict_number(row[COL_LOG_SLAVE_UPDATES]);
  out->log_bin = strict_number(row[COL_LOG_BIN]);
  out->binlog_format = strdup(row[COL_BINLOG_FORMAT] ? row[COL_BINLOG_FORMAT] : "");
  if (!out->binlog_format)
    return -ENOMEM;
  /* A position that does not parse is left empty: GTID metrics are then absent. */
  if (gtid_list_parse(row[COL_BINLOG_POS], &out->binlog_pos) == -ENOMEM ||
      gtid_list_parse(row[COL_SLAVE_POS], &out->slave_pos) == -ENOMEM ||
      gtid_list_parse(row[COL_BINLOG_STATE], &out->binlog_state) == -ENOMEM)
    return -ENOMEM;
  /* The variables as the "NAME=value" list mariadb_parse_server_values reads. */
  static const struct {
    enum state_column column;
    const char *name;
  } variables[] = {{COL_EXPIRE_LOGS_SECONDS, "BINLOG_EXPIRE_LOGS_SECONDS"},
                   {COL_EXPIRE_LOGS_DAYS, "EXPIRE_LOGS_DAYS"},
                   {COL_MAX_BINLOG_TOTAL_SIZE, "MAX_BINLOG_TOTAL_SIZE"},
                   {COL_SEMISYNC_MASTER_ENABLED, "RPL_SEMI_SYNC_MASTER_ENABLED"},
                   {COL_SEMISYNC_SLAVE_ENABLED, "RPL_SEMI_SYNC_SLAVE_ENABLED"},
                   {COL_SEMISYNC_MASTER_TIMEOUT, "RPL_SEMI_SYNC_MASTER_TIMEOUT"}};
  struct buf list = BUF_INIT;
  for (size_t i = 0; i < sizeof(variables) / sizeof(variables[0]); i++)
    if (row[variables[i].column])
      buf_printf(&list, "%s=%.40s,", variables[i].name, row[variables[i].column]);
  if (list.failed) {
    buf_free(&list);
    return -ENOMEM;
  }
  mariadb_parse_server_values(list.data, row[COL_SERVER_STATUS], &out->binlog_retention,
                              &out->semisync);
  buf_free(&list);
  return 0;
}

static int query_state(struct mariadb_probe *probe, struct mariadb_status *out,
                       struct probe_error *err) {
  static const char statement[] = "SELECT of the variables";
  bool with_heartbeat = probe->target.heartbeat_table != NULL;
  struct buf sql = BUF_INIT;
  double started, finished;
  int rc = run_state_select(probe, with_heartbeat, &sql, &started, &finished);
  if (rc == -ENOMEM) {
    buf_free(&sql);
    probe_error_set(err, REASON_QUERY, "out of memory");
    return rc;
  }
  if (rc != 0 && with_heartbeat && heartbeat_table_problem(mysql_errno(probe->conn))) {
    /* The heartbeat table is missing or refused: say so, and still report the node. */
    struct buf why = BUF_INIT;
    buf_printf(&why, "%s: %s (%u)", probe->target.heartbeat_table, mysql_error(probe->conn),
               mysql_errno(probe->conn));
    out->heartbeat_error = buf_steal(&why, NULL);
    with_heartbeat = false;
    rc = run_state_select(probe, false, &sql, &started, &finished);
  }
  buf_free(&sql);
  if (rc != 0)
    return statement_failed(probe, statement, clock_monotonic_seconds() - (finished - started),
                            err);
  MYSQL_RES *res = mysql_store_result(probe->conn);
  if (!res)
    return statement_failed(probe, statement, clock_monotonic_seconds(), err);
  out->read_unix = (started + finished) / 2;
  out->read_spread_s = (finished - started) / 2;
  unsigned ncols = mysql_num_fields(res);
  size_t nrows = mysql_num_rows(res);
  rc = 0;
  if (with_heartbeat) {
    out->heartbeats = calloc(nrows ? nrows : 1, sizeof(*out->heartbeats));
    if (!out->heartbeats)
      rc = -ENOMEM;
    out->heartbeat_read = true;
  }
  MYSQL_ROW row;
  bool first = true;
  while (rc == 0 && (row = mysql_fetch_row(res)) != NULL) {
    if (first) {
      rc = read_state_row(row, ncols, out);
      first = false;
    }
    if (rc == 0 && with_heartbeat && ncols > COL_HB_TS && row[COL_HB_SERVER_ID]) {
      struct heartbeat_row *hb = &out->heartbeats[out->n_heartbeats];
      hb->server_id = strict_number(row[COL_HB_SERVER_ID]);
      hb->ts = mariadb_parse_datetime(row[COL_HB_TS]);
      if (!isnan(hb->server_id) && !isnan(hb->ts))
        out->n_heartbeats++;
    }
  }
  mysql_free_result(res);
  if (rc == 0 && first)
    rc = -EINVAL;
  if (rc)
    probe_error_set(err, REASON_QUERY, "%s: %s", statement,
                    rc == -ENOMEM ? "out of memory" : "unexpected answer");
  return rc;
}

/* Writes this node's heartbeat. A refused write is reported in heartbeat_error (the node
 * stays up); a lost connection fails the poll like any statement. */
static int write_heartbeat(struct mariadb_probe *probe, struct mariadb_status *out,
                           struct probe_error *err) {
  struct buf sql = BUF_INIT;
  buf_printf(&sql,
             "INSERT INTO %s (server_id, ts) VALUES (@@server_id, NOW(6)) "
             "ON DUPLICATE KEY UPDATE ts = VALUES(ts)",
             probe->target.heartbeat_table);
  if (sql.failed) {
    buf_free(&sql);
    probe_error_set(err, REASON_QUERY, "out of memory");
    return -ENOMEM;
  }
  double started = clock_unix_seconds();
  double started_mono = clock_monotonic_seconds();
  int rc = mysql_query(probe->conn, sql.data);
  double finished = clock_unix_seconds();
  buf_free(&sql);
  if (rc == 0) {
    out->heartbeat_written_unix = (started + finished) / 2;
    return 0;
  }
  unsigned errnum = mysql_errno(probe->conn);
  if (is_client_error(errnum))
    return statement_failed(probe, "heartbeat INSERT", started_mono, err);
  struct buf why = BUF_INIT;
  buf_printf(&why, "heartbeat INSERT into %s: %s (%u)", probe->target.heartbeat_table,
             mysql_error(probe->conn), errnum);
  free(out->heartbeat_error);
  out->heartbeat_error = buf_steal(&why, NULL);
  return 0;
}

int mariadb_probe_poll(struct mariadb_probe *probe, struct mariadb_status *out,
                       struct probe_error *err) {
  mariadb_status_clear(out);
  probe_error_clear(err);
  int rc = 0;
  if (!probe->conn && (rc = connect_node(probe, err)) != 0)
    return rc;
  if ((rc = query_replicas(probe, out, err)) != 0 || (rc = query_state(probe, out, err)) != 0 ||
      (probe->target.heartbeat_table && probe->target.heartbeat_write && out->read_only == 0 &&
       out->heartbeat_read && (rc = write_heartbeat(probe, out, err)) != 0)) {
    mariadb_status_clear(out);
    return rc;
  }
  out->known = true;
  probe->read_status = out->semisync.master_enabled == 1 || out->semisync.slave_enabled == 1 ||
                       out->binlog_retention.max_total_size_bytes > 0;
  return 0;
}
