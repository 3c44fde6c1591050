/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#include "config.h"

#include <fcntl.h>
#include <locale.h>
#include <glib/gstdio.h>
#include <unistd.h>

#include "lctl-accounts-service.h"
#include "lctl-cmd-auth.h"
#include "lctl-error.h"
#include "lctl-file-token-store.h"
#include "lctl-mock-oauth.h"
#include "lctl-oauth-util.h"
#include "lctl-test-utils.h"

/* The Accounts D-Bus service on a private bus, driven by the `auth` CLI
 * command in the same process (both are fully async on one main loop). */

typedef struct
{
  GTestDBus           *bus;
  GDBusConnection     *service_conn;
  GDBusConnection     *client_conn;
  guint                owner_id;
  gboolean             name_acquired;
  LctlMockOAuth       *mock;
  LctlFileTokenStore  *store;
  LctlAccountManager  *manager;
  LctlAccountsService *service;
  char                *dir;

  /* PKCE paste */
  int          paste_fd;
  guint        prompt_sub;
  SoupSession *browser;
  SoupMessage *authorize;
} Fixture;

static void
name_acquired_cb (GDBusConnection *connection,
                  const char      *name,
                  gpointer         user_data)
{
  Fixture *f = user_data;

  f->name_acquired = TRUE;
}

static GDBusConnection *
connect_bus (Fixture *f)
{
  g_autoptr (GError) error = NULL;
  GDBusConnection *conn = g_dbus_connection_new_for_address_sync (
      g_test_dbus_get_bus_address (f->bus),
      G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT | G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
      NULL, NULL, &error);

  g_assert_no_error (error);
  return conn;
}

static void
fixture_setup (Fixture      *f,
               gconstpointer data)
{
  static int       n;
  g_autofree char *sub = g_strdup_printf ("svc-%d", n++);
  g_autoptr (GError) error = NULL;

  f->mock = lctl_mock_oauth_new ();
  lctl_mock_oauth_setenv (f->mock);
  f->bus = g_test_dbus_new (G_TEST_DBUS_NONE);
  g_test_dbus_up (f->bus);
  f->service_conn = connect_bus (f);
  f->client_conn = connect_bus (f);

  f->dir = g_build_filename (g_get_user_data_dir (), sub, NULL);
  f->store = lctl_file_token_store_new (f->dir);
  f->manager = lctl_account_manager_new ();
  lctl_account_manager_set_store (f->manager, LCTL_TOKEN_STORE (f->store));
  lctl_account_manager_set_proactive_refresh (f->manager, FALSE);
  lctl_account_manager_set_retry_delay (f->manager, 10);
  f->service = lctl_accounts_service_new_with_manager (f->manager);
  g_dbus_interface_skeleton_export (G_DBUS_INTERFACE_SKELETON (f->service), f->service_conn, OBJECT_PATH, &error);
  g_assert_no_error (error);
  f->owner_id = g_bus_own_name_on_connection (f->service_conn, APP_ID, G_BUS_NAME_OWNER_FLAGS_NONE,
                                              name_acquired_cb, NULL, f, NULL);
  lctl_test_wait_for (&f->name_acquired, 5000);
  f->paste_fd = -1;
}

static void
fixture_teardown (Fixture      *f,
                  gconstpointer data)
{
  if (f->prompt_sub != 0)
    g_dbus_connection_signal_unsubscribe (f->client_conn, f->prompt_sub);
  g_clear_object (&f->authorize);
  g_clear_object (&f->browser);
  if (f->paste_fd >= 0)
    close (f->paste_fd);
  if (f->owner_id != 0)
    g_bus_unown_name (f->owner_id);
  if (g_dbus_interface_skeleton_get_connection (G_DBUS_INTERFACE_SKELETON (f->service)) != NULL)
    g_dbus_interface_skeleton_unexport (G_DBUS_INTERFACE_SKELETON (f->service));
  g_clear_object (&f->service);
  g_clear_object (&f->manager);
  g_clear_object (&f->store);
  g_dbus_connection_close_sync (f->service_conn, NULL, NULL);
  g_dbus_connection_close_sync (f->client_conn, NULL, NULL);
  g_clear_object (&f->service_conn);
  g_clear_object (&f->client_conn);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_test_dbus_down (f->bus);
  g_clear_object (&f->bus);
  lctl_mock_oauth_free (f->mock);
  g_free (f->dir);
}

/* Runs `litellmctl auth …` with stdout captured and stdin from @stdin_fd
 * (or /dev/null). */
static int
run_cli (Fixture *f,
         int      stdin_fd,
         char   **output,
         ...)
{
  g_autoptr (GPtrArray) args = g_ptr_array_new ();
  g_autofree char *out_path = g_build_filename (g_get_user_data_dir (), "cli-stdout", NULL);
  int              saved_out = dup (STDOUT_FILENO);
  int              saved_in = dup (STDIN_FILENO);
  int              out_fd, in_fd, status;
  va_list          ap;

  va_start (ap, output);
  for (const char *a = va_arg (ap, const char *); a != NULL; a = va_arg (ap, const char *))
    g_ptr_array_add (args, (gpointer) a);
  va_end (ap);
  g_ptr_array_add (args, NULL);

  g_mkdir_with_parents (g_get_user_data_dir (), 0700);
  fflush (stdout);
  out_fd = g_open (out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  g_assert_cmpint (out_fd, >=, 0);
  dup2 (out_fd, STDOUT_FILENO);
  close (out_fd);
  in_fd = stdin_fd >= 0 ? stdin_fd : g_open ("/dev/null", O_RDONLY, 0);
  dup2 (in_fd, STDIN_FILENO);
  close (in_fd);

  status = lctl_cmd_auth (f->client_conn, (int) args->len - 1, (char **) args->pdata);

  fflush (stdout);
  dup2 (saved_out, STDOUT_FILENO);
  dup2 (saved_in, STDIN_FILENO);
  close (saved_out);
  close (saved_in);
  g_assert_true (g_file_get_contents (out_path, output, NULL, NULL));
  g_test_message ("auth %s → %d:\n%s", (char *) args->pdata[1], status, *output);
  return status;
}

static int
pipe_with (const char *text)
{
  int fds[2];

  g_assert_cmpint (pipe (fds), ==, 0);
  g_assert_cmpint (write (fds[1], text, strlen (text)), ==, (gssize) strlen (text));
  close (fds[1]);
  return fds[0];
}

static void
test_cli_qwen_login_and_status (Fixture      *f,
                                gconstpointer data)
{
  g_autofree char *out = NULL;
  g_autofree char *status_out = NULL;

  lctl_mock_oauth_script_polls (f->mock, "pending", "ok", NULL);
  g_assert_cmpint (run_cli (f, -1, &out, "auth", "qwen", NULL), ==, 0);
  g_assert_nonnull (strstr (out, "Qwen Portal OAuth Login (Device Code)"));
  g_assert_nonnull (strstr (out, "Your code: ABCD-1234"));
  g_assert_nonnull (strstr (out, "/device?user_code=ABCD-1234"));
  g_assert_nonnull (strstr (out, "✓ Logged in to Qwen Portal"));
  g_assert_nonnull (strstr (out, "Backend:    file"));
  g_assert_null (strstr (out, "qwen_portal-access-1"));

  g_assert_cmpint (run_cli (f, -1, &status_out, "auth", "status", NULL), ==, 0);
  g_assert_nonnull (strstr (status_out, "Qwen Portal\n  Provider:   Qwen Portal\n"));
  g_assert_nonnull (strstr (status_out, "m remaining"));
  g_assert_nonnull (strstr (status_out, "ChatGPT / Codex\n  Not authenticated\n"));
  g_assert_nonnull (strstr (status_out, "Kimi Code\n  Not authenticated\n"));
}

static void
authorize_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  Fixture *f = user_data;
  g_autoptr (GBytes) bytes = soup_session_send_and_read_finish (SOUP_SESSION (source), result, NULL);
  const char      *location = soup_message_headers_get_one (soup_message_get_response_headers (f->authorize), "Location");
  g_autofree char *lines = NULL;

  g_assert_nonnull (location);
  /* A user fumbling first, then pasting the address bar's URL. */
  lines = g_strdup_printf ("not a url\n%s\n", location);
  g_assert_cmpint (write (f->paste_fd, lines, strlen (lines)), ==, (gssize) strlen (lines));
}

static void
prompt_signal_cb (GDBusConnection *connection,
                  const char      *sender,
                  const char      *path,
                  const char      *interface,
                  const char      *signal,
                  GVariant        *parameters,
                  gpointer         user_data)
{
  Fixture *f = user_data;
  g_autoptr (GVariant) prompt = NULL;
  const char *url = NULL;

  g_variant_get (parameters, "(&s@a{sv})", NULL, &prompt);
  g_assert_true (g_variant_lookup (prompt, "url", "&s", &url));
  /* The browser on another machine: it is redirected to localhost:<port>,
   * which is not reachable from there. */
  f->browser = soup_session_new ();
  f->authorize = soup_message_new ("GET", url);
  soup_message_add_flags (f->authorize, SOUP_MESSAGE_NO_REDIRECT);
  soup_session_send_and_read_async (f->browser, f->authorize, G_PRIORITY_DEFAULT, NULL, authorize_cb, f);
}

static void
test_cli_chatgpt_pasted_url (Fixture      *f,
                             gconstpointer data)
{
  g_autofree char *out = NULL;
  int              fds[2];

  g_assert_cmpint (pipe (fds), ==, 0);
  f->paste_fd = fds[1];
  f->prompt_sub = g_dbus_connection_signal_subscribe (f->client_conn, NULL, "io.github.litellmctl.Accounts",
                                                      "LoginPrompt", OBJECT_PATH, NULL, G_DBUS_SIGNAL_FLAGS_NONE,
                                                      prompt_signal_cb, f, NULL);
  g_assert_cmpint (run_cli (f, fds[0], &out, "auth", "codex", "--headless", NULL), ==, 0);
  g_assert_nonnull (strstr (out, "ChatGPT / Codex OAuth Login"));
  g_assert_nonnull (strstr (out, "paste that full redirect URL"));
  g_assert_nonnull (strstr (out, "Could not extract code"));
  g_assert_nonnull (strstr (out, "✓ Logged in to ChatGPT / Codex as user@example.com"));
  g_assert_nonnull (strstr (out, "Account:    acct-123"));
  g_assert_cmpint (lctl_mock_oauth_hits (f->mock, "/oauth/token"), ==, 1);
}

static void
add_credential (Fixture    *f,
                const char *provider,
                const char *json)
{
  g_autoptr (JsonObject) record = lctl_test_json_object (json);
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;

  lctl_account_manager_add_async (f->manager, provider, record, NULL, lctl_test_store_result, &result);
  lctl_test_wait_for_result (&result, 5000);
  g_assert_true (lctl_account_manager_add_finish (f->manager, result, &error));
  g_assert_no_error (error);
}

static void
test_cli_export_logout_import (Fixture      *f,
                               gconstpointer data)
{
  g_autofree char *script = NULL;
  g_autofree char *out = NULL;
  g_autofree char *status_out = NULL;
  g_autofree char *status2 = NULL;
  g_autofree char *imported = NULL;
  g_autofree char *missing = NULL;

  add_credential (f, "qwen", "{\"access_token\":\"qa\",\"refresh_token\":\"qr\",\"expires_at\":4102444800,"
                             "\"resource_url\":\"portal.qwen.ai\"}");
  g_assert_cmpint (run_cli (f, -1, &missing, "auth", "export", "kimi", NULL), ==, 1);
  g_assert_cmpint (run_cli (f, -1, &script, "auth", "export", "qwen", NULL), ==, 0);
  g_assert_true (g_str_has_prefix (script, "#!/usr/bin/env bash\n"));
  g_assert_nonnull (strstr (script, "'qwen_portal:"));

  g_assert_cmpint (run_cli (f, -1, &out, "auth", "logout", "qwen-portal", NULL), ==, 0);
  g_assert_nonnull (strstr (out, "✓ Logged out of Qwen Portal"));
  g_assert_cmpint (run_cli (f, -1, &status_out, "auth", "status", NULL), ==, 0);
  g_assert_nonnull (strstr (status_out, "Qwen Portal\n  Not authenticated\n"));

  g_assert_cmpint (run_cli (f, pipe_with (script), &imported, "auth", "import", NULL), ==, 0);
  g_assert_nonnull (strstr (imported, "✓ Imported 1 credential(s)"));
  g_assert_cmpint (run_cli (f, -1, &status2, "auth", "status", NULL), ==, 0);
  g_assert_nonnull (strstr (status2, "Qwen Portal\n  Provider:   Qwen Portal\n"));
  g_assert_cmpstr (json_object_get_string_member (lctl_account_manager_get_record (f->manager, "qwen"),
                                                  "refresh_token"),
                   ==, "qr");
}

/* `auth export qwen` on one machine, `auth import` on a fresh one (an empty
 * store behind a new daemon): the credential works there. */
static void
test_cli_export_import_fresh_store (Fixture      *f,
                                    gconstpointer data)
{
  g_autofree char *script = NULL;
  g_autofree char *imported = NULL;
  g_autofree char *fresh_dir = g_build_filename (g_get_user_data_dir (), "fresh-machine", "auth", NULL);
  g_autoptr (LctlFileTokenStore) fresh_store = lctl_file_token_store_new (fresh_dir);
  g_autoptr (LctlAccountManager) fresh_manager = lctl_account_manager_new ();
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (LctlToken) token = NULL;

  add_credential (f, "qwen", "{\"access_token\":\"qa\",\"refresh_token\":\"qwen-rt\",\"expires_at\":1000,"
                             "\"resource_url\":\"portal.qwen.ai\"}");
  f->mock->valid_refresh_token = g_strdup ("qwen-rt");
  g_assert_cmpint (run_cli (f, -1, &script, "auth", "export", "qwen", NULL), ==, 0);

  /* The other machine's daemon. */
  g_dbus_interface_skeleton_unexport (G_DBUS_INTERFACE_SKELETON (f->service));
  g_clear_object (&f->service);
  g_clear_object (&f->manager);
  lctl_account_manager_set_store (fresh_manager, LCTL_TOKEN_STORE (fresh_store));
  lctl_account_manager_set_proactive_refresh (fresh_manager, FALSE);
  f->manager = g_object_ref (fresh_manager);
  f->service = lctl_accounts_service_new_with_manager (fresh_manager);
  g_dbus_interface_skeleton_export (G_DBUS_INTERFACE_SKELETON (f->service), f->service_conn, OBJECT_PATH, &error);
  g_assert_no_error (error);

  g_assert_cmpint (run_cli (f, pipe_with (script), &imported, "auth", "import", NULL), ==, 0);
  g_assert_nonnull (strstr (imported, "✓ Imported 1 credential(s)"));
  lctl_token_source_get_token_async (lctl_accounts_service_get_token_source (f->service), "qwen_portal", NULL, NULL,
                                     lctl_test_store_result, &result);
  lctl_test_wait_for_result (&result, 5000);
  token = lctl_token_source_get_token_finish (lctl_accounts_service_get_token_source (f->service), result, &error);
  g_assert_no_error (error);
  /* Expired on arrival: refreshed with the transferred refresh token. */
  g_assert_cmpstr (token->access_token, ==, "qwen_portal-access-1");
  g_assert_cmpstr (token->resource_url, ==, "portal.qwen.ai");
  g_assert_cmpint (f->mock->refresh_count, ==, 1);
}

static void
test_cli_import_from_dir (Fixture      *f,
                          gconstpointer data)
{
  g_autofree char *seed_dir = g_build_filename (g_get_user_data_dir (), "seed-litellm", NULL);
  g_autofree char *q = g_build_filename (seed_dir, "auth.qwen_portal.json", NULL);
  g_autofree char *k = g_build_filename (seed_dir, "auth.kimi_code.json", NULL);
  g_autofree char *other = g_build_filename (seed_dir, "config.yaml", NULL);
  g_autofree char *out = NULL;

  lctl_test_write_file (q, "{\n  \"access_token\": \"qa\",\n  \"refresh_token\": \"qr\",\n  \"expires_at\": 1800000000,\n"
                           "  \"resource_url\": \"portal.qwen.ai\",\n  \"token_type\": \"Bearer\"\n}\n");
  lctl_test_write_file (k, "{\"access_token\": \"ka\", \"refresh_token\": \"kr\", \"expires_at\": 1800000000.25, "
                           "\"scope\": \"kimi-code\", \"token_type\": \"Bearer\"}");
  lctl_test_write_file (other, "model_list: []\n");
  g_assert_cmpint (run_cli (f, -1, &out, "auth", "import", "--from", seed_dir, NULL), ==, 0);
  g_assert_nonnull (strstr (out, "✓ Imported 2 credential(s)"));
  g_assert_cmpint (lctl_credential_get_expires_at (lctl_account_manager_get_record (f->manager, "kimi")), ==, 1800000000);
  g_assert_cmpstr (lctl_account_manager_get_backend (f->manager, "qwen"), ==, "file");
}

static void
test_cli_import_from_qwen_code (Fixture      *f,
                                gconstpointer data)
{
  g_autofree char *qwen_dir = g_build_filename (g_get_user_data_dir (), "dot-qwen", NULL);
  g_autofree char *creds = g_build_filename (qwen_dir, "oauth_creds.json", NULL);
  g_autofree char *out = NULL;
  g_autofree char *empty = NULL;
  JsonObject      *record;

  /* Qwen Code's own file: expiry_date in milliseconds. */
  lctl_test_write_file (creds, "{\"access_token\":\"qc-at\",\"refresh_token\":\"qc-rt\",\"token_type\":\"Bearer\","
                               "\"resource_url\":\"portal.qwen.ai\",\"expiry_date\":1800000000123}");
  g_assert_cmpint (run_cli (f, -1, &out, "auth", "import", "--from", qwen_dir, NULL), ==, 0);
  g_assert_nonnull (strstr (out, "✓ Qwen Portal"));
  record = lctl_account_manager_get_record (f->manager, "qwen");
  g_assert_cmpint (json_object_get_int_member (record, "expires_at"), ==, 1800000000);
  g_assert_false (json_object_has_member (record, "expiry_date"));
  g_assert_cmpint (run_cli (f, -1, &empty, "auth", "import", "--from", g_get_user_config_dir (), NULL), ==, 1);
}

static GVariant *
get_needs_login (Fixture *f)
{
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) reply = NULL;
  GVariant *value = NULL;

  g_dbus_connection_call (f->client_conn, APP_ID, OBJECT_PATH, "org.freedesktop.DBus.Properties", "Get",
                          g_variant_new ("(ss)", "io.github.litellmctl.Accounts", "NeedsLogin"),
                          G_VARIANT_TYPE ("(v)"), G_DBUS_CALL_FLAGS_NONE, 5000, NULL, lctl_test_store_result, &result);
  lctl_test_wait_for_result (&result, 5000);
  reply = g_dbus_connection_call_finish (f->client_conn, result, &error);
  g_assert_no_error (error);
  g_variant_get (reply, "(v)", &value);
  return value;
}

static void
test_cli_refresh_and_needs_login (Fixture      *f,
                                  gconstpointer data)
{
  g_autofree char *out = NULL;
  g_autofree char *failed = NULL;
  g_autofree char *status_out = NULL;
  g_autoptr (GVariant) needs = NULL;
  g_autoptr (GVariant) needs_before = NULL;
  g_autofree const char **names = NULL;

  add_credential (f, "qwen", "{\"access_token\":\"qa\",\"refresh_token\":\"qwen-rt\",\"expires_at\":4102444800}");
  f->mock->valid_refresh_token = g_strdup ("qwen-rt");
  needs_before = get_needs_login (f);
  g_assert_cmpuint (g_variant_n_children (needs_before), ==, 0);

  g_assert_cmpint (run_cli (f, -1, &out, "auth", "refresh", "qwen", NULL), ==, 0);
  g_assert_nonnull (strstr (out, "✓ Refreshed Qwen Portal"));
  g_assert_cmpint (f->mock->refresh_count, ==, 1);

  f->mock->refresh_mode = MOCK_REFRESH_REJECT;
  g_assert_cmpint (run_cli (f, -1, &failed, "auth", "refresh", "qwen", NULL), ==, 1);
  needs = get_needs_login (f);
  names = g_variant_get_strv (needs, NULL);
  g_assert_true (g_strv_contains (names, "qwen_portal"));
  g_assert_cmpint (run_cli (f, -1, &status_out, "auth", "status", NULL), ==, 0);
  g_assert_nonnull (strstr (status_out, "NEEDS LOGIN"));
}

static void
test_cli_usage (Fixture      *f,
                gconstpointer data)
{
  g_autofree char *a = NULL, *b = NULL, *c = NULL, *d = NULL, *e = NULL;

  g_assert_cmpint (run_cli (f, -1, &a, "auth", NULL), ==, 2);
  g_assert_cmpint (run_cli (f, -1, &b, "auth", "bogus", NULL), ==, 2);
  g_assert_cmpint (run_cli (f, -1, &c, "auth", "refresh", NULL), ==, 2);
  g_assert_cmpint (run_cli (f, -1, &d, "auth", "providers", NULL), ==, 0);
  g_assert_nonnull (strstr (d, "qwen_portal|Qwen Portal\n"));
  g_assert_cmpint (run_cli (f, -1, &e, "auth", "logout", "kimi", NULL), ==, 1);
}

static void
test_cli_daemon_unreachable (Fixture      *f,
                             gconstpointer data)
{
  g_autofree char *out = NULL;

  g_bus_unown_name (f->owner_id);
  f->owner_id = 0;
  g_dbus_interface_skeleton_unexport (G_DBUS_INTERFACE_SKELETON (f->service));
  g_assert_cmpint (run_cli (f, -1, &out, "auth", "status", NULL), ==, 1);
  g_assert_cmpint (lctl_cmd_auth (NULL, 2, (char *[]){ (char *) "auth", (char *) "status", NULL }), ==, 1);
}

static GVariant *
call_accounts (Fixture    *f,
               const char *method,
               GVariant   *args,
               GError    **error)
{
  g_autoptr (GAsyncResult) result = NULL;

  g_dbus_connection_call (f->client_conn, APP_ID, OBJECT_PATH, "io.github.litellmctl.Accounts", method, args,
                          NULL, G_DBUS_CALL_FLAGS_NONE, 5000, NULL, lctl_test_store_result, &result);
  lctl_test_wait_for_result (&result, 5000);
  return g_dbus_connection_call_finish (f->client_conn, result, error);
}

typedef struct
{
  char    *flow_id;
  gboolean finished;
  gboolean success;
  char    *message;
} Finished;

static void
finished_signal_cb (GDBusConnection *connection,
                    const char      *sender,
                    const char      *path,
                    const char      *interface,
                    const char      *signal,
                    GVariant        *parameters,
                    gpointer         user_data)
{
  Finished *fin = user_data;

  g_variant_get (parameters, "(sbs)", &fin->flow_id, &fin->success, &fin->message);
  fin->finished = TRUE;
}

static void
test_dbus_errors_and_cancel (Fixture      *f,
                             gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) reply = NULL;
  g_autofree char *remote = NULL;
  const char      *flow_id = NULL;
  Finished         fin = { 0 };
  guint            sub;

  reply = call_accounts (f, "BeginLogin", g_variant_new ("(sa{sv})", "nope", NULL), &error);
  g_assert_null (reply);
  remote = g_dbus_error_get_remote_error (error);
  g_assert_cmpstr (remote, ==, "io.github.litellmctl.Error.NotFound");
  g_clear_error (&error);
  reply = call_accounts (f, "CompleteLogin", g_variant_new ("(ss)", "no-such-flow", "http://x"), &error);
  g_assert_error (error, LCTL_ERROR, LCTL_ERROR_NOT_FOUND);
  g_clear_error (&error);

  lctl_mock_oauth_script_polls (f->mock, "pending", "pending", "pending", "pending", "pending", "pending", NULL);
  sub = g_dbus_connection_signal_subscribe (f->client_conn, NULL, "io.github.litellmctl.Accounts", "LoginFinished",
                                            OBJECT_PATH, NULL, G_DBUS_SIGNAL_FLAGS_NONE, finished_signal_cb, &fin, NULL);
  reply = call_accounts (f, "BeginLogin", g_variant_new_parsed ("('kimi', {'headless': <true>})"), &error);
  g_assert_no_error (error);
  g_variant_get (reply, "(&s)", &flow_id);
  /* A device flow has no redirect URL to paste. */
  {
    g_autoptr (GVariant) r = call_accounts (f, "CompleteLogin", g_variant_new ("(ss)", flow_id, "http://x?code=1"), &error);

    g_assert_error (error, LCTL_ERROR, LCTL_ERROR_UNSUPPORTED);
    g_clear_error (&error);
  }
  {
    g_autoptr (GVariant) r = call_accounts (f, "CancelLogin", g_variant_new ("(s)", flow_id), &error);

    g_assert_no_error (error);
  }
  lctl_test_wait_for (&fin.finished, 5000);
  g_assert_cmpstr (fin.flow_id, ==, flow_id);
  g_assert_false (fin.success);
  g_assert_cmpstr (fin.message, ==, "Login cancelled.");
  g_dbus_connection_signal_unsubscribe (f->client_conn, sub);
  g_free (fin.flow_id);
  g_free (fin.message);
}

static char *
begin_login_on (GDBusConnection *conn,
                const char      *provider)
{
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) reply = NULL;
  char *flow_id = NULL;

  g_dbus_connection_call (conn, APP_ID, OBJECT_PATH, "io.github.litellmctl.Accounts", "BeginLogin",
                          g_variant_new_parsed ("(%s, {'headless': <true>})", provider), G_VARIANT_TYPE ("(s)"),
                          G_DBUS_CALL_FLAGS_NONE, 5000, NULL, lctl_test_store_result, &result);
  lctl_test_wait_for_result (&result, 5000);
  reply = g_dbus_connection_call_finish (conn, result, &error);
  g_assert_no_error (error);
  g_variant_get (reply, "(s)", &flow_id);
  return flow_id;
}

static void
test_new_login_supersedes_old (Fixture      *f,
                               gconstpointer data)
{
  Finished         fin = { 0 };
  g_autofree char *first = NULL;
  g_autofree char *second = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) r = NULL;
  guint sub = g_dbus_connection_signal_subscribe (f->client_conn, NULL, "io.github.litellmctl.Accounts",
                                                  "LoginFinished", OBJECT_PATH, NULL, G_DBUS_SIGNAL_FLAGS_NONE,
                                                  finished_signal_cb, &fin, NULL);

  /* The first login holds the callback port; a second one for the same
   * provider must not fail with "address in use". */
  first = begin_login_on (f->client_conn, "chatgpt");
  second = begin_login_on (f->client_conn, "codex");
  lctl_test_wait_for (&fin.finished, 5000);
  g_assert_cmpstr (fin.flow_id, ==, first);
  g_assert_false (fin.success);
  g_free (fin.flow_id);
  g_free (fin.message);
  memset (&fin, 0, sizeof fin);

  /* The second one is alive until cancelled. */
  r = call_accounts (f, "CancelLogin", g_variant_new ("(s)", second), &error);
  g_assert_no_error (error);
  lctl_test_wait_for (&fin.finished, 5000);
  g_assert_cmpstr (fin.flow_id, ==, second);
  g_assert_cmpstr (fin.message, ==, "Login cancelled.");
  g_dbus_connection_signal_unsubscribe (f->client_conn, sub);
  g_free (fin.flow_id);
  g_free (fin.message);
}

static void
test_caller_vanished_cancels_login (Fixture      *f,
                                    gconstpointer data)
{
  Finished         fin = { 0 };
  g_autofree char *flow_id = NULL;
  GDBusConnection *caller = connect_bus (f);
  guint            sub = g_dbus_connection_signal_subscribe (f->client_conn, NULL, "io.github.litellmctl.Accounts",
                                                             "LoginFinished", OBJECT_PATH, NULL, G_DBUS_SIGNAL_FLAGS_NONE,
                                                             finished_signal_cb, &fin, NULL);

  lctl_mock_oauth_script_polls (f->mock, "pending", "pending", "pending", "pending", "pending", NULL);
  flow_id = begin_login_on (caller, "qwen");
  /* The CLI is killed. */
  g_dbus_connection_close_sync (caller, NULL, NULL);
  g_object_unref (caller);
  lctl_test_wait_for (&fin.finished, 5000);
  g_assert_cmpstr (fin.flow_id, ==, flow_id);
  g_assert_false (fin.success);
  g_dbus_connection_signal_unsubscribe (f->client_conn, sub);
  g_free (fin.flow_id);
  g_free (fin.message);
}

int
main (int   argc,
      char *argv[])
{
  /* The CLI prints UTF-8 (✓, ═) through g_print, which converts to the
   * locale's charset. */
  setlocale (LC_ALL, "C.UTF-8");
  lctl_test_init (&argc, &argv);

#define ADD(path, fn) g_test_add ("/accounts-service/" path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
  ADD ("cli-qwen-login-and-status", test_cli_qwen_login_and_status);
  ADD ("cli-chatgpt-pasted-url", test_cli_chatgpt_pasted_url);
  ADD ("cli-export-logout-import", test_cli_export_logout_import);
  ADD ("cli-export-import-fresh-store", test_cli_export_import_fresh_store);
  ADD ("cli-import-from-dir", test_cli_import_from_dir);
  ADD ("cli-import-from-qwen-code", test_cli_import_from_qwen_code);
  ADD ("cli-refresh-and-needs-login", test_cli_refresh_and_needs_login);
  ADD ("cli-usage", test_cli_usage);
  ADD ("cli-daemon-unreachable", test_cli_daemon_unreachable);
  ADD ("dbus-errors-and-cancel", test_dbus_errors_and_cancel);
  ADD ("new-login-supersedes-old", test_new_login_supersedes_old);
  ADD ("caller-vanished-cancels-login", test_caller_vanished_cancels_login);
#undef ADD
  return g_test_run ();
}
