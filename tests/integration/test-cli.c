/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#include "config.h"

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <signal.h>

#include "lctl-test-utils.h"

static const char two_models[] =
    "model_list:\n"
    "  - model_name: first\n"
    "    litellm_params:\n"
    "      model: openai/first\n"
    "      mock_response: one\n"
    "  - model_name: second\n"
    "    litellm_params:\n"
    "      model: anthropic/second\n";

/* Line 4 has a tab where YAML wants spaces. */
static const char broken_yaml[] =
    "model_list:\n"
    "  - model_name: first\n"
    "    litellm_params:\n"
    "\tmodel: openai/first\n";

static char *
read_seed_config (void)
{
  g_autofree char *path = lctl_test_source_path ("fixtures", "seed-config.yaml", NULL);
  g_autoptr (GError) error = NULL;
  char *contents = NULL;

  g_file_get_contents (path, &contents, NULL, &error);
  g_assert_no_error (error);
  return contents;
}

static unsigned
count_models (const char *address,
              const char *authorization)
{
  g_autofree char *url = g_strconcat (address, "/v1/models", NULL);
  g_autofree char *body = NULL;
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  unsigned status = lctl_test_http_get (url, authorization, &body);

  g_assert_cmpuint (status, ==, 200);
  json_parser_load_from_data (parser, body, -1, &error);
  g_assert_no_error (error);
  return json_array_get_length (json_object_get_array_member (json_node_get_object (json_parser_get_root (parser)), "data"));
}

/* Writes @contents next to @path and renames it over, as editors do. */
static void
save_like_an_editor (const char *path,
                     const char *contents)
{
  g_autofree char *tmp = g_strconcat (path, ".swp", NULL);

  lctl_test_write_file (tmp, contents);
  g_assert_cmpint (g_rename (tmp, path), ==, 0);
}

static void
test_lifecycle (void)
{
  g_autoptr (GTestDBus) bus = NULL;
  g_autofree char *config_path = g_build_filename (g_get_user_config_dir (), "custom", "config.yaml", NULL);
  g_autofree char *seed = read_seed_config ();
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  g_autofree char *address = NULL;
  JsonObject      *status;
  gint64           deadline;

  lctl_test_write_file (config_path, seed);
  g_setenv ("LITELLMCTL_CONFIG", config_path, TRUE);
  g_setenv ("LITELLMCTL_PORT", "0", TRUE);
  g_unsetenv ("LITELLM_MASTER_KEY");
  bus = lctl_test_dbus_up ();

  /* status activates the daemon and prints its address. */
  g_assert_cmpint (lctl_test_run_cli (&out, &err, "status", NULL), ==, 0);
  g_assert_nonnull (strstr (out, "http://127.0.0.1:"));
  g_assert_nonnull (strstr (out, config_path));
  g_assert_nonnull (strstr (out, "32"));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  g_assert_cmpint (lctl_test_run_cli (&out, &err, "status", "--json", NULL), ==, 0);
  json_parser_load_from_data (parser, out, -1, &error);
  g_assert_no_error (error);
  status = json_node_get_object (json_parser_get_root (parser));
  address = g_strdup (json_object_get_string_member (status, "address"));
  g_assert_true (g_str_has_prefix (address, "http://127.0.0.1:"));
  g_assert_cmpint (json_object_get_int_member (status, "model-count"), ==, 32);
  g_assert_cmpstr (json_object_get_string_member (status, "config-error"), ==, "");
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  /* models --json lists every deployment. */
  g_assert_cmpint (lctl_test_run_cli (&out, &err, "models", "--json", NULL), ==, 0);
  json_parser_load_from_data (parser, out, -1, &error);
  g_assert_no_error (error);
  {
    JsonArray  *models = json_node_get_array (json_parser_get_root (parser));
    JsonObject *first = json_array_get_object_element (models, 0);

    g_assert_cmpuint (json_array_get_length (models), ==, 32);
    g_assert_cmpstr (json_object_get_string_member (first, "name"), ==, "zai/glm-4.5");
    g_assert_cmpstr (json_object_get_string_member (first, "provider"), ==, "anthropic");
    g_assert_cmpstr (json_object_get_string_member (first, "model"), ==, "glm-4.5");
  }
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpuint (count_models (address, NULL), ==, 32);

  /* Broken YAML: reload fails naming file:line:col, the old models serve. */
  save_like_an_editor (config_path, broken_yaml);
  g_assert_cmpint (lctl_test_run_cli (&out, &err, "reload", NULL), ==, 1);
  {
    g_autofree char *where = g_strdup_printf ("%s:4:", config_path);

    g_assert_nonnull (strstr (err, where));
  }
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpuint (count_models (address, NULL), ==, 32);
  g_assert_cmpint (lctl_test_run_cli (&out, &err, "status", NULL), ==, 0);
  g_assert_nonnull (strstr (out, "Config error"));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  /* A valid edit is served within 2 s without a reload call. */
  save_like_an_editor (config_path, two_models);
  deadline = g_get_monotonic_time () + 2 * G_USEC_PER_SEC;
  while (count_models (address, NULL) != 2 && g_get_monotonic_time () < deadline)
    g_usleep (50 * 1000);
  g_assert_cmpuint (count_models (address, NULL), ==, 2);

  g_assert_cmpint (lctl_test_run_cli (&out, &err, "stop", NULL), ==, 0);
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  g_test_dbus_down (bus);
}

static void
test_no_session_bus (void)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *old = g_strdup (g_getenv ("DBUS_SESSION_BUS_ADDRESS"));

  g_setenv ("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/litellmctl-test-bus", TRUE);
  g_assert_cmpint (lctl_test_run_cli (&out, &err, "status", NULL), ==, 1);
  g_assert_nonnull (strstr (err, "session bus"));
  g_assert_nonnull (strstr (err, "litellmctl proxy"));
  if (old != NULL)
    g_setenv ("DBUS_SESSION_BUS_ADDRESS", old, TRUE);
  else
    g_unsetenv ("DBUS_SESSION_BUS_ADDRESS");
}

static void
test_usage (void)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;

  g_assert_cmpint (lctl_test_run_cli (&out, &err, "frobnicate", NULL), ==, 2);
  g_assert_nonnull (strstr (err, "unknown command"));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  g_assert_cmpint (lctl_test_run_cli (&out, &err, "--version", NULL), ==, 0);
  g_assert_true (g_str_has_prefix (out, "litellmctl " PACKAGE_VERSION));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  g_assert_cmpint (lctl_test_run_cli (&out, &err, "help", NULL), ==, 0);
  for (const char *const *c = (const char *const[]){ "status", "models", "reload", "proxy", NULL }; *c; c++)
    g_assert_nonnull (strstr (out, *c));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  g_assert_cmpint (lctl_test_run_cli (&out, &err, "status", "--bogus", NULL), ==, 2);
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (lctl_test_run_cli (&out, &err, "proxy", "--port", "70000", NULL), ==, 2);
}

/* Starts `litellmctl proxy` and waits until it answers /health. */
static GSubprocess *
start_proxy (const char *config,
             unsigned    port,
             const char *host)
{
  const char      *build_root = g_getenv ("LITELLMCTL_BUILD_ROOT");
  g_autofree char *cli = g_build_filename (build_root, "src", "cli", "litellmctl", NULL);
  g_autofree char *port_arg = g_strdup_printf ("--port=%u", port);
  g_autofree char *url = g_strdup_printf ("http://127.0.0.1:%u/health", port);
  g_autoptr (GError) error = NULL;
  GSubprocess *process;
  gint64       deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  if (host != NULL)
    {
      g_autofree char *host_arg = g_strdup_printf ("--host=%s", host);

      return g_subprocess_new (G_SUBPROCESS_FLAGS_STDERR_PIPE, &error, cli, "proxy", "--config", config,
                               port_arg, host_arg, NULL);
    }
  process = g_subprocess_new (G_SUBPROCESS_FLAGS_NONE, &error, cli, "proxy", "--config", config, port_arg, NULL);
  g_assert_no_error (error);
  while (lctl_test_http_get (url, NULL, NULL) != 200 && g_get_monotonic_time () < deadline)
    g_usleep (20 * 1000);
  g_assert_cmpuint (lctl_test_http_get (url, NULL, NULL), ==, 200);
  return process;
}

static void
test_proxy_foreground (void)
{
  g_autofree char *config = lctl_test_source_path ("fixtures", "seed-config.yaml", NULL);
  g_autofree char *old_bus = g_strdup (g_getenv ("DBUS_SESSION_BUS_ADDRESS"));
  unsigned         port = lctl_test_free_port ();
  g_autofree char *address = g_strdup_printf ("http://127.0.0.1:%u", port);
  g_autofree char *models_url = g_strconcat (address, "/v1/models", NULL);
  g_autoptr (GSubprocess) proxy = NULL;
  g_autoptr (GError) error = NULL;

  /* A headless server: no session bus, the proxy serves anyway. */
  g_setenv ("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/litellmctl-test-bus", TRUE);
  g_setenv ("LITELLM_MASTER_KEY", "sk-test-acceptance", TRUE);

  proxy = start_proxy (config, port, NULL);
  g_assert_cmpuint (lctl_test_http_get (models_url, NULL, NULL), ==, 401);
  g_assert_cmpuint (lctl_test_http_get (models_url, "Bearer sk-wrong", NULL), ==, 401);
  g_assert_cmpuint (count_models (address, "Bearer sk-test-acceptance"), ==, 32);

  /* SIGTERM: a clean exit. */
  g_subprocess_send_signal (proxy, SIGTERM);
  g_subprocess_wait (proxy, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (proxy));
  g_assert_cmpint (g_subprocess_get_exit_status (proxy), ==, 0);

  g_unsetenv ("LITELLM_MASTER_KEY");
  if (old_bus != NULL)
    g_setenv ("DBUS_SESSION_BUS_ADDRESS", old_bus, TRUE);
  else
    g_unsetenv ("DBUS_SESSION_BUS_ADDRESS");
}

/* SIGHUP reloads; --replace (what `litellmctl proxy` passes) takes over
 * from a running instance on the session bus. */
static void
test_sighup_and_replace (void)
{
  g_autoptr (GTestDBus) bus = NULL;
  g_autofree char *config_path = g_build_filename (g_get_user_config_dir (), "replace", "config.yaml", NULL);
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  unsigned         port = lctl_test_free_port ();
  g_autofree char *address = g_strdup_printf ("http://127.0.0.1:%u", port);
  g_autoptr (GSubprocess) first = NULL;
  g_autoptr (GSubprocess) second = NULL;
  g_autoptr (GError) error = NULL;
  gint64 deadline;

  lctl_test_write_file (config_path, two_models);
  g_unsetenv ("LITELLM_MASTER_KEY");
  g_unsetenv ("LITELLMCTL_CONFIG");
  bus = lctl_test_dbus_up ();

  first = start_proxy (config_path, port, NULL);
  g_assert_cmpuint (count_models (address, NULL), ==, 2);

  /* Written in place (no rename the monitor would see as fast): SIGHUP. */
  {
    g_autofree char *seed = read_seed_config ();

    g_assert_true (g_file_set_contents (config_path, seed, -1, NULL));
  }
  g_subprocess_send_signal (first, SIGHUP);
  deadline = g_get_monotonic_time () + 2 * G_USEC_PER_SEC;
  while (count_models (address, NULL) != 32 && g_get_monotonic_time () < deadline)
    g_usleep (20 * 1000);
  g_assert_cmpuint (count_models (address, NULL), ==, 32);

  /* A second `litellmctl proxy` replaces the first on the bus and the port. */
  second = start_proxy (config_path, port, NULL);
  g_subprocess_wait (first, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (first));
  /* The new instance binds the port once the old one let it go. */
  deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  while (lctl_test_http_get (address, NULL, NULL) == 0 && g_get_monotonic_time () < deadline)
    g_usleep (20 * 1000);
  g_assert_cmpuint (count_models (address, NULL), ==, 32);
  g_assert_cmpint (lctl_test_run_cli (&out, &err, "status", NULL), ==, 0);
  g_assert_nonnull (strstr (out, address));

  g_subprocess_send_signal (second, SIGTERM);
  g_subprocess_wait (second, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_subprocess_get_exit_status (second), ==, 0);
  g_test_dbus_down (bus);
}

static void
test_refuse_public_without_key (void)
{
  g_autofree char *config = lctl_test_source_path ("fixtures", "seed-config.yaml", NULL);
  g_autoptr (GSubprocess) proxy = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *err = NULL;

  g_unsetenv ("LITELLM_MASTER_KEY");
  g_setenv ("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/litellmctl-test-bus", TRUE);
  proxy = start_proxy (config, lctl_test_free_port (), "0.0.0.0");
  g_assert_nonnull (proxy);
  g_subprocess_communicate_utf8 (proxy, NULL, NULL, NULL, &err, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_subprocess_get_exit_status (proxy), ==, 1);
  g_assert_nonnull (strstr (err, "master key"));
  g_unsetenv ("DBUS_SESSION_BUS_ADDRESS");
}

int
main (int   argc,
      char *argv[])
{
  lctl_test_init (&argc, &argv);

  g_test_add_func ("/cli/usage", test_usage);
  g_test_add_func ("/cli/no-session-bus", test_no_session_bus);
  g_test_add_func ("/cli/lifecycle", test_lifecycle);
  g_test_add_func ("/cli/proxy-foreground", test_proxy_foreground);
  g_test_add_func ("/cli/refuse-public-without-key", test_refuse_public_without_key);
  g_test_add_func ("/cli/sighup-and-replace", test_sighup_and_replace);

  return g_test_run ();
}
