/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#include "config.h"

#include <fcntl.h>
#include <glib/gstdio.h>
#include <locale.h>
#include <unistd.h>

#include "lctl-accounts-service.h"
#include "lctl-cmd-auth.h"
#include "lctl-error.h"
#include "lctl-file-token-store.h"
#include "lctl-mock-oauth.h"
#include "lctl-oauth-util.h"
#include "lctl-secret-token-store.h"
#include "lctl-test-utils.h"

/* Against a real gnome-keyring-daemon (run through run-with-keyring.sh)
 * and against libsecret's file backend (run-with-libsecret-file.sh). */

static char *
secret_tool (const char *first,
             ...)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr (GError) error = NULL;
  int     status = 0;
  va_list ap;

  g_ptr_array_add (argv, (gpointer) "secret-tool");
  va_start (ap, first);
  for (const char *a = first; a != NULL; a = va_arg (ap, const char *))
    g_ptr_array_add (argv, (gpointer) a);
  va_end (ap);
  g_ptr_array_add (argv, NULL);
  g_assert_true (g_spawn_sync (NULL, (char **) argv->pdata, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
                               &out, &err, &status, &error));
  g_assert_no_error (error);
  return g_strconcat (out, err, NULL);
}

static gboolean
have_keyring (void)
{
  g_autofree char *tool = g_find_program_in_path ("secret-tool");

  if (g_getenv ("DBUS_SESSION_BUS_ADDRESS") == NULL || tool == NULL)
    {
      g_test_skip ("needs a session bus with gnome-keyring (run-with-keyring.sh) and secret-tool");
      return FALSE;
    }
  return TRUE;
}

static void
test_store_roundtrip (void)
{
  g_autoptr (LctlSecretTokenStore) store = NULL;
  g_autoptr (JsonObject) record = NULL;
  g_autoptr (JsonObject) loaded = NULL;
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *search = NULL;
  g_autofree char *lookup = NULL;

  if (!have_keyring ())
    return;
  store = lctl_secret_token_store_new ();
  g_assert_cmpstr (lctl_token_store_get_backend_name (LCTL_TOKEN_STORE (store)), ==, "keyring");
  record = lctl_test_json_object ("{\"access_token\":\"kr-at\",\"refresh_token\":\"kr-rt\",\"expires_at\":4102444800,"
                                  "\"email\":\"k@example.com\"}");
  lctl_token_store_save_async (LCTL_TOKEN_STORE (store), "kimi_code", "k@example.com", record, NULL,
                               lctl_test_store_result, &result);
  lctl_test_wait_for_result (&result, 10000);
  g_assert_true (lctl_token_store_save_finish (LCTL_TOKEN_STORE (store), result, &error));
  g_assert_no_error (error);
  g_clear_object (&result);

  search = secret_tool ("search", "provider", "kimi_code", NULL);
  g_assert_nonnull (strstr (search, "label = litellmctl: Kimi Code (k@example.com)"));
  g_assert_nonnull (strstr (search, "attribute.account = k@example.com"));
  /* (libsecret's file backend does not report the schema.) */
  if (g_strcmp0 (g_getenv ("SECRET_BACKEND"), "file") != 0)
    g_assert_nonnull (strstr (search, "schema = io.github.litellmctl.Token"));
  lookup = secret_tool ("lookup", "provider", "kimi_code", NULL);
  g_assert_nonnull (strstr (lookup, "\"refresh_token\":\"kr-rt\""));

  lctl_token_store_load_async (LCTL_TOKEN_STORE (store), "kimi_code", NULL, lctl_test_store_result, &result);
  lctl_test_wait_for_result (&result, 10000);
  loaded = lctl_token_store_load_finish (LCTL_TOKEN_STORE (store), result, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (json_object_get_string_member (loaded, "access_token"), ==, "kr-at");
  g_clear_object (&result);

  lctl_token_store_delete_async (LCTL_TOKEN_STORE (store), "kimi_code", NULL, NULL, lctl_test_store_result, &result);
  lctl_test_wait_for_result (&result, 10000);
  g_assert_true (lctl_token_store_delete_finish (LCTL_TOKEN_STORE (store), result, &error));
  g_clear_object (&result);
  g_clear_pointer (&loaded, json_object_unref);
  lctl_token_store_load_async (LCTL_TOKEN_STORE (store), "kimi_code", NULL, lctl_test_store_result, &result);
  lctl_test_wait_for_result (&result, 10000);
  loaded = lctl_token_store_load_finish (LCTL_TOKEN_STORE (store), result, &error);
  g_assert_no_error (error);
  g_assert_null (loaded);
}

static void
test_auto_picks_keyring (void)
{
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (LctlTokenStore) store = NULL;

  if (!have_keyring ())
    return;
  if (g_strcmp0 (g_getenv ("SECRET_BACKEND"), "file") == 0)
    {
      g_test_skip ("libsecret's file backend is not a Secret Service on the bus");
      return;
    }
  lctl_token_store_new_default_async (LCTL_TOKEN_STORE_AUTO, NULL, lctl_test_store_result, &result);
  lctl_test_wait_for_result (&result, 5000);
  store = lctl_token_store_new_default_finish (result, NULL);
  g_assert_cmpstr (lctl_token_store_get_backend_name (store), ==, "keyring");
}

typedef struct
{
  gboolean   acquired;
  int        done;
  LctlToken *first;
  int        mismatches;
} State;

static void
acquired_cb (GDBusConnection *connection,
             const char      *name,
             gpointer         user_data)
{
  ((State *) user_data)->acquired = TRUE;
}

static int
run_cli (GDBusConnection *bus,
         char           **output,
         const char      *first,
         ...)
{
  g_autoptr (GPtrArray) args = g_ptr_array_new ();
  g_autofree char *out_path = g_build_filename (g_get_user_data_dir (), "cli-stdout", NULL);
  int              saved = dup (STDOUT_FILENO);
  int              fd, status;
  va_list          ap;

  g_ptr_array_add (args, (gpointer) first);
  va_start (ap, first);
  for (const char *a = va_arg (ap, const char *); a != NULL; a = va_arg (ap, const char *))
    g_ptr_array_add (args, (gpointer) a);
  va_end (ap);
  g_ptr_array_add (args, NULL);
  g_mkdir_with_parents (g_get_user_data_dir (), 0700);
  fflush (stdout);
  fd = g_open (out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  dup2 (fd, STDOUT_FILENO);
  close (fd);
  status = lctl_cmd_auth (bus, (int) args->len - 1, (char **) args->pdata);
  fflush (stdout);
  dup2 (saved, STDOUT_FILENO);
  close (saved);
  g_assert_true (g_file_get_contents (out_path, output, NULL, NULL));
  g_test_message ("%s", *output);
  return status;
}

static void
concurrent_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  State *state = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (LctlToken) token = lctl_token_source_get_token_finish (LCTL_TOKEN_SOURCE (source), result, &error);

  g_assert_no_error (error);
  if (state->first == NULL)
    state->first = lctl_token_ref (token);
  else if (g_strcmp0 (state->first->access_token, token->access_token) != 0)
    state->mismatches++;
  state->done++;
}

/* The acceptance on a private session bus with gnome-keyring:
 * `auth qwen` against the mock finishes once it approves; secret-tool finds
 * the token; `auth status` shows its expiry and the keyring backend; with
 * the token expired, 20 concurrent requests cause one refresh. */
static void
test_qwen_login_in_keyring (void)
{
  g_autoptr (LctlMockOAuth) mock = NULL;
  g_autoptr (GDBusConnection) bus = NULL;
  g_autoptr (LctlAccountManager) manager = NULL;
  g_autoptr (LctlAccountsService) service = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *login = NULL;
  g_autofree char *status = NULL;
  g_autofree char *search = NULL;
  g_autofree char *lookup = NULL;
  g_autofree char *rotated = NULL;
  g_autoptr (JsonObject) record = NULL;
  State state = { 0 };
  guint owner;

  if (!have_keyring ())
    return;
  mock = lctl_mock_oauth_new ();
  lctl_mock_oauth_setenv (mock);
  bus = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, &error);
  g_assert_no_error (error);
  manager = lctl_account_manager_new ();
  lctl_account_manager_set_proactive_refresh (manager, FALSE);
  service = lctl_accounts_service_new_with_manager (manager);
  g_dbus_interface_skeleton_export (G_DBUS_INTERFACE_SKELETON (service), bus, OBJECT_PATH, &error);
  g_assert_no_error (error);
  owner = g_bus_own_name_on_connection (bus, APP_ID, G_BUS_NAME_OWNER_FLAGS_NONE, acquired_cb, NULL, &state, NULL);
  lctl_test_wait_for (&state.acquired, 5000);

  lctl_mock_oauth_script_polls (mock, "pending", "ok", NULL);
  g_assert_cmpint (run_cli (bus, &login, "auth", "qwen", NULL), ==, 0);
  g_assert_nonnull (strstr (login, "✓ Logged in to Qwen Portal"));
  g_assert_nonnull (strstr (login, "Backend:    keyring"));

  search = secret_tool ("search", "provider", "qwen_portal", NULL);
  g_assert_nonnull (strstr (search, "label = litellmctl: Qwen Portal (default)"));
  g_assert_nonnull (strstr (search, "attribute.provider = qwen_portal"));
  lookup = secret_tool ("lookup", "provider", "qwen_portal", NULL);
  record = lctl_test_json_object (lookup);
  g_assert_cmpstr (json_object_get_string_member (record, "access_token"), ==, "qwen_portal-access-1");
  g_assert_cmpstr (json_object_get_string_member (record, "resource_url"), ==, "portal.qwen.ai");

  g_assert_cmpint (run_cli (bus, &status, "auth", "status", NULL), ==, 0);
  g_assert_nonnull (strstr (status, "m remaining"));
  g_assert_nonnull (strstr (status, "Backend:    keyring"));

  /* Expire it (as the keyring would hold it a day later), then 20 requests. */
  json_object_set_int_member (record, "expires_at", 1000);
  {
    g_autoptr (GAsyncResult) result = NULL;

    lctl_account_manager_add_async (manager, "qwen", record, NULL, lctl_test_store_result, &result);
    lctl_test_wait_for_result (&result, 10000);
    g_assert_true (lctl_account_manager_add_finish (manager, result, &error));
  }
  mock->refresh_delay_ms = 100;
  for (int i = 0; i < 20; i++)
    lctl_token_source_get_token_async (lctl_accounts_service_get_token_source (service), "qwen_portal", NULL, NULL,
                                       concurrent_cb, &state);
  while (state.done < 20)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpint (mock->refresh_count, ==, 1);
  g_assert_cmpint (state.mismatches, ==, 0);
  g_assert_cmpstr (state.first->access_token, ==, "qwen_portal-access-2");
  rotated = secret_tool ("lookup", "provider", "qwen_portal", NULL);
  g_assert_nonnull (strstr (rotated, "\"refresh_token\":\"qwen_portal-refresh-2\""));
  lctl_token_unref (state.first);

  g_bus_unown_name (owner);
  g_dbus_interface_skeleton_unexport (G_DBUS_INTERFACE_SKELETON (service));
}

int
main (int   argc,
      char *argv[])
{
  setlocale (LC_ALL, "C.UTF-8");
  lctl_test_init (&argc, &argv);

  g_test_add_func ("/keyring/store-roundtrip", test_store_roundtrip);
  g_test_add_func ("/keyring/auto-picks-keyring", test_auto_picks_keyring);
  g_test_add_func ("/keyring/qwen-login-in-keyring", test_qwen_login_in_keyring);
  return g_test_run ();
}
