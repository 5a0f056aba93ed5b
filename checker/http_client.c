#include "http_client.h"
#include "buf.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct http_client {
  CURL *curl;
  struct http_client_options options;
  char error[CURL_ERROR_SIZE]; /* curl's contract: it writes at most this much */
};

struct body {
  struct buf data;
  bool too_large;
};

static size_t collect(char *data, size_t size, size_t count, void *userdata) {
  struct body *body = userdata;
  size_t len = size * count;
  if (body->data.len + len > HTTP_BODY_LIMIT) {
    body->too_large = true;
    return 0; /* makes curl stop with CURLE_WRITE_ERROR */
  }
  buf_append(&body->data, data, len);
  return body->data.failed ? 0 : len;
}

static long milliseconds(double seconds) {
  return seconds <= 0 ? 1 : (long)(seconds * 1000 + 0.5);
}

static void free_options_copy(struct http_client_options *o) {
  free((char *)o->basic_user);
  if (o->password) {
    explicit_bzero((char *)o->password, strlen(o->password));
    free((char *)o->password);
  }
  if (o->raw_authorization) {
    explicit_bzero((char *)o->raw_authorization, strlen(o->raw_authorization));
    free((char *)o->raw_authorization);
  }
}

struct http_client *http_client_new(const struct http_client_options *options) {
  struct http_client *client = calloc(1, sizeof(*client));
  if (!client)
    return NULL;
  client->options = *options;
  struct http_client_options *o = &client->options;
  o->basic_user = options->basic_user ? strdup(options->basic_user) : NULL;
  o->password = options->password ? strdup(options->password) : NULL;
  o->raw_authorization = options->raw_authorization ? strdup(options->raw_authorization) : NULL;
  if ((options->basic_user && !o->basic_user) || (options->password && !o->password) ||
      (options->raw_authorization && !o->raw_authorization)) {
    free_options_copy(o);
    free(client);
    return NULL;
  }
  client->curl = curl_easy_init();
  if (!client->curl) {
    free_options_copy(o);
    free(client);
    return NULL;
  }
  CURL *c = client->curl;
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L); /* threads: no SIGALRM for DNS timeouts */
  /* A resolver that never answers keeps getaddrinfo() busy for resolv.conf's timeout times
   * its attempts (10 s by default). Without this curl waits for its resolver thread when the
   * request times out, so the poll overruns connect_timeout; with it the thread is left to
   * finish (and free itself) on its own. */
#if LIBCURL_VERSION_NUM >= 0x075700 /* 7.87.0 */
  curl_easy_setopt(c, CURLOPT_QUICK_EXIT, 1L);
#endif
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, milliseconds(options->connect_timeout_s));
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, milliseconds(options->total_timeout_s));
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "replmon");
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, client->error);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
  if (o->basic_user) {
    curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
    curl_easy_setopt(c, CURLOPT_USERNAME, o->basic_user);
    curl_easy_setopt(c, CURLOPT_PASSWORD, o->password ? o->password : "");
  }
  return client;
}

void http_client_free(struct http_client *client) {
  if (!client)
    return;
  curl_easy_cleanup(client->curl);
  free_options_copy(&client->options);
  free(client);
}

void http_answer_clear(struct http_answer *answer) {
  free(answer->body);
  answer->body = NULL;
  answer->len = 0;
  answer->status = 0;
}

/* A time-out before the name lookup finished (its time stays 0) is the host name not
 * resolving in time: like a name that does not resolve at all, the server cannot be reached,
 * so the poller backs off, and few abandoned resolver threads (see CURLOPT_QUICK_EXIT) wait
 * for a silent resolver at the same time. A host that drops the SYN has resolved: timeout,
 * as the stream probe and MariaDB call it. */
static enum probe_reason classify(CURL *c, CURLcode code) {
  curl_off_t lookup = -1;
  switch (code) {
  case CURLE_OPERATION_TIMEDOUT:
    if (curl_easy_getinfo(c, CURLINFO_NAMELOOKUP_TIME_T, &lookup) == CURLE_OK && lookup == 0)
      return REASON_CONNECT;
    return REASON_TIMEOUT;
  case CURLE_GOT_NOTHING:
  case CURLE_WEIRD_SERVER_REPLY:
    return REASON_HTTP;
  default:
    return REASON_CONNECT;
  }
}

int http_client_request(struct http_client *client, const char *url, const char *post_json,
                        const char *accept, struct http_answer *answer, struct probe_error *err) {
  memset(answer, 0, sizeof(*answer));
  CURL *c = client->curl;
  struct body body = {BUF_INIT, false};
  struct curl_slist *headers = NULL;
  struct buf header = BUF_INIT;
  int rc = 0;

  if (accept) {
    buf_printf(&header, "Accept: %s", accept);
    headers = curl_slist_append(headers, header.data ? header.data : "Accept: */*");
  }
  if (post_json)
    headers = curl_slist_append(headers, "Content-Type: application/json");
  if (client->options.raw_authorization) {
    buf_reset(&header);
    buf_printf(&header, "Authorization: %s", client->options.raw_authorization);
    if (header.data)
      headers = curl_slist_append(headers, header.data);
    explicit_bzero(header.data, header.cap);
  }
  buf_free(&header);

  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
  if (post_json) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, post_json);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(post_json));
  } else {
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
  }
  client->error[0] = '\0';
  CURLcode code = curl_easy_perform(c);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
  curl_slist_free_all(headers);

  if (code == CURLE_WRITE_ERROR && body.too_large) {
    probe_error_set(err, REASON_PARSE, "the answer is larger than %d bytes", HTTP_BODY_LIMIT);
    rc = -EFBIG;
  } else if (code != CURLE_OK) {
    probe_error_set(err, classify(c, code), "%s",
                    client->error[0] ? client->error : curl_easy_strerror(code));
    rc = code == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT : -ECONNREFUSED;
  } else if (body.data.failed) {
    probe_error_set(err, REASON_PARSE, "out of memory");
    rc = -ENOMEM;
  }
  if (rc) {
    buf_free(&body.data);
    return rc;
  }
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &answer->status);
  buf_append(&body.data, "", 0); /* an empty body is "" rather than NULL */
  answer->body = buf_steal(&body.data, &answer->len);
  if (!answer->body) {
    probe_error_set(err, REASON_PARSE, "out of memory");
    return -ENOMEM;
  }
  return 0;
}
