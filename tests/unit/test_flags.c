/* The command line (flags.c): a repeatable --web.listen-address, --web.systemd-socket, and one
 * line naming the bad flag otherwise. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "flags.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Parses args (NULL-terminated, after "replmon"); *err_text (static) holds what was printed
 * to standard error. */
static enum flags_outcome parse(struct flags *flags, const char **err_text,
                                const char *const *args) {
  static char *argv[64];
  static char err_buf[1024];
  int argc = 0;
  argv[argc++] = "replmon";
  for (size_t i = 0; args[i] && argc < 63; i++)
    argv[argc++] = (char *)args[i];
  argv[argc] = NULL;
  FILE *out = fopen("/dev/null", "w");
  FILE *err = fmemopen(err_buf, sizeof(err_buf), "w");
  assert_non_null(out);
  assert_non_null(err);
  enum flags_outcome outcome = flags_parse(argc, argv, flags, out, err);
  fclose(out);
  fclose(err);
  *err_text = err_buf;
  return outcome;
}

static void test_listen_addresses(void **state) {
  (void)state;
  struct flags f;
  const char *err;
  assert_int_equal(parse(&f, &err, (const char *[]){"--config.file=x.yml", NULL}), FLAGS_RUN);
  assert_int_equal(f.n_listen_addresses, 1);
  assert_string_equal(f.listen_addresses[0], ":9873");
  assert_false(f.systemd_socket);

  assert_int_equal(
      parse(&f, &err,
            (const char *[]){"--config.file=x.yml", "--web.listen-address=127.0.0.1:1",
                             "--web.listen-address", "[::1]:2", "--web.systemd-socket", NULL}),
      FLAGS_RUN);
  assert_int_equal(f.n_listen_addresses, 2);
  assert_string_equal(f.listen_addresses[0], "127.0.0.1:1");
  assert_string_equal(f.listen_addresses[1], "[::1]:2");
  assert_true(f.systemd_socket);
}

static void test_errors(void **state) {
  (void)state;
  struct flags f;
  const char *err;
  assert_int_equal(parse(&f, &err,
                         (const char *[]){"--config.file=x.yml", "--web.listen-address=:1",
                                          "--web.listen-address=nope", NULL}),
                   FLAGS_EXIT_USAGE);
  assert_string_equal(err, "replmon: --web.listen-address must be host:port, :port or [v6]:port "
                           "with a port from 1 to 65535, not 'nope'\n");
  static char addresses[FLAGS_MAX_LISTEN_ADDRESSES + 1][48];
  char *argv[FLAGS_MAX_LISTEN_ADDRESSES + 4]; /* name, config, one too many, NULL */
  int argc = 0;
  argv[argc++] = "replmon";
  argv[argc++] = "--config.file=x.yml";
  for (int i = 0; i <= FLAGS_MAX_LISTEN_ADDRESSES; i++) {
    snprintf(addresses[i], sizeof(addresses[i]), "--web.listen-address=:%d", 1000 + i);
    argv[argc++] = addresses[i];
  }
  argv[argc] = NULL;
  char err_buf[256];
  FILE *out = fopen("/dev/null", "w");
  FILE *errf = fmemopen(err_buf, sizeof(err_buf), "w");
  assert_int_equal(flags_parse(argc, argv, &f, out, errf), FLAGS_EXIT_USAGE);
  fclose(out);
  fclose(errf);
  assert_string_equal(err_buf, "replmon: --web.listen-address given more than 16 times\n");
  assert_int_equal(
      parse(&f, &err, (const char *[]){"--config.file=x.yml", "--web.systemd-socket=yes", NULL}),
      FLAGS_EXIT_USAGE);
  assert_string_equal(err, "replmon: flag --web.systemd-socket is missing its value or takes "
                           "none (see --help)\n");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_listen_addresses),
      cmocka_unit_test(test_errors),
  };
  return cmocka_run_group_tests_name("flags", tests, NULL, NULL);
}
