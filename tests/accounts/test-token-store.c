/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#include "config.h"

#include <glib/gstdio.h>

#include "lctl-file-token-store.h"
#include "lctl-mock-oauth.h"
#include "lctl-oauth-util.h"
#include "lctl-test-utils.h"

static JsonObject *
load (LctlTokenStore *store,
      const char     *provider,
      GError        **error)
{
  g_autoptr (GAsyncResult) result = NULL;

  lctl_token_store_load_async (store, provider, NULL, lctl_test_store_result, &result);
  lctl_test_wait_for_result (&result, 5000);
  return lctl_token_store_load_finish (store, result, error);
}

static gboolean
save (LctlTokenStore *store,
      const char     *provider,
      JsonObject     *record,
      GError        **error)
{
  g_autoptr (GAsyncResult) result = NULL;
  g_autofree char *account = lctl_credential_get_account (record);

  lctl_token_store_save_async (store, provider, account, record, NULL, lctl_test_store_result, &result);
  lctl_test_wait_for_result (&result, 5000);
  return lctl_token_store_save_finish (store, result, error);
}

static gboolean delete (LctlTokenStore *store,
                        const char     *provider,
                        const char     *account,
                        GError        **error)
{
  g_autoptr (GAsyncResult) result = NULL;

  lctl_token_store_delete_async (store, provider, account, NULL, lctl_test_store_result, &result);
  lctl_test_wait_for_result (&result, 5000);
  return lctl_token_store_delete_finish (store, result, error);
}

static void
test_file_roundtrip (void)
{
  g_autoptr (LctlFileTokenStore) store = lctl_file_token_store_new (NULL);
  const char      *dir = lctl_file_token_store_get_directory (store);
  g_autofree char *expected_dir = g_build_filename (g_get_user_data_dir (), "litellmctl", "auth", NULL);
  g_autofree char *path = g_build_filename (dir, "qwen_portal.json", NULL);
  g_autoptr (JsonObject) record = lctl_test_json_object ("{\"access_token\":\"at\",\"refresh_token\":\"rt\","
                                                         "\"expires_at\":1700000000,\"resource_url\":\"portal.qwen.ai\"}");
  g_autoptr (JsonObject) loaded = NULL;
  g_autoptr (JsonObject) again = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GDir) listing = NULL;
  const char *name;
  GStatBuf    st;

  g_assert_cmpstr (lctl_token_store_get_backend_name (LCTL_TOKEN_STORE (store)), ==, "file");
  g_assert_cmpstr (dir, ==, expected_dir);
  loaded = load (LCTL_TOKEN_STORE (store), "qwen_portal", &error);
  g_assert_no_error (error);
  g_assert_null (loaded);

  g_assert_true (save (LCTL_TOKEN_STORE (store), "qwen_portal", record, &error));
  g_assert_no_error (error);
  g_assert_cmpint (g_stat (path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
  g_assert_cmpint (g_stat (dir, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0700);

  loaded = load (LCTL_TOKEN_STORE (store), "qwen_portal", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (json_object_get_string_member (loaded, "resource_url"), ==, "portal.qwen.ai");
  g_assert_cmpint (json_object_get_int_member (loaded, "expires_at"), ==, 1700000000);

  /* Replacing leaves exactly one file: no temporary left behind. */
  json_object_set_string_member (record, "access_token", "at2");
  g_assert_true (save (LCTL_TOKEN_STORE (store), "qwen_portal", record, &error));
  listing = g_dir_open (dir, 0, NULL);
  while ((name = g_dir_read_name (listing)) != NULL)
    g_assert_cmpstr (name, ==, "qwen_portal.json");
  again = load (LCTL_TOKEN_STORE (store), "qwen", &error) ?: load (LCTL_TOKEN_STORE (store), "qwen_portal", &error);
  g_assert_cmpstr (json_object_get_string_member (again, "access_token"), ==, "at2");

  /* Deleting another account's record leaves this one. */
  g_assert_true (delete (LCTL_TOKEN_STORE (store), "qwen_portal", "someone-else", &error));
  g_assert_true (g_file_test (path, G_FILE_TEST_EXISTS));
  g_assert_true (delete (LCTL_TOKEN_STORE (store), "qwen_portal", NULL, &error));
  g_assert_no_error (error);
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  g_assert_true (delete (LCTL_TOKEN_STORE (store), "qwen_portal", NULL, &error));
}

static void
test_file_normalizes (void)
{
  g_autofree char *dir = g_build_filename (g_get_user_data_dir (), "norm", NULL);
  g_autofree char *kimi = g_build_filename (dir, "kimi_code.json", NULL);
  g_autofree char *bad = g_build_filename (dir, "chatgpt.json", NULL);
  g_autoptr (LctlFileTokenStore) store = lctl_file_token_store_new (dir);
  g_autoptr (JsonObject) loaded = NULL;
  g_autoptr (JsonObject) none = NULL;
  g_autoptr (GError) error = NULL;

  lctl_test_write_file (kimi, "{\"access_token\":\"k\",\"refresh_token\":\"r\",\"expires_at\":1700000000.75,"
                              "\"scope\":\"kimi-code\",\"token_type\":\"Bearer\"}");
  loaded = load (LCTL_TOKEN_STORE (store), "kimi_code", &error);
  g_assert_no_error (error);
  g_assert_cmpint (json_node_get_value_type (json_object_get_member (loaded, "expires_at")), ==, G_TYPE_INT64);
  g_assert_cmpint (json_object_get_int_member (loaded, "expires_at"), ==, 1700000000);

  lctl_test_write_file (bad, "not json");
  none = load (LCTL_TOKEN_STORE (store), "chatgpt", &error);
  g_assert_null (none);
  g_assert_nonnull (error);
  g_assert_nonnull (strstr (error->message, "chatgpt.json"));
}

static void
test_default_file_by_env (void)
{
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (LctlTokenStore) store = NULL;

  g_setenv ("LITELLMCTL_TOKEN_STORE", "file", TRUE);
  lctl_token_store_new_default_async (LCTL_TOKEN_STORE_AUTO, NULL, lctl_test_store_result, &result);
  lctl_test_wait_for_result (&result, 5000);
  store = lctl_token_store_new_default_finish (result, NULL);
  g_assert_cmpstr (lctl_token_store_get_backend_name (store), ==, "file");
  g_unsetenv ("LITELLMCTL_TOKEN_STORE");
}

static void
test_default_file_without_bus (void)
{
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (LctlTokenStore) store = NULL;

  /* A headless server: no session bus at all. */
  g_setenv ("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus", TRUE);
  lctl_token_store_new_default_async (LCTL_TOKEN_STORE_AUTO, NULL, lctl_test_store_result, &result);
  lctl_test_wait_for_result (&result, 5000);
  store = lctl_token_store_new_default_finish (result, NULL);
  g_assert_cmpstr (lctl_token_store_get_backend_name (store), ==, "file");
}

static void
test_default_file_without_secret_service (void)
{
  g_autoptr (GTestDBus) bus = g_test_dbus_new (G_TEST_DBUS_NONE);
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (LctlTokenStore) store = NULL;

  /* A session bus on which nobody provides org.freedesktop.secrets. */
  g_test_dbus_up (bus);
  lctl_token_store_new_default_async (LCTL_TOKEN_STORE_AUTO, NULL, lctl_test_store_result, &result);
  lctl_test_wait_for_result (&result, 5000);
  store = lctl_token_store_new_default_finish (result, NULL);
  g_assert_cmpstr (lctl_token_store_get_backend_name (store), ==, "file");
  g_clear_object (&store);
  g_clear_object (&result);
  g_test_dbus_down (bus);
}

int
main (int   argc,
      char *argv[])
{
  lctl_test_init (&argc, &argv);

  g_test_add_func ("/token-store/file-roundtrip", test_file_roundtrip);
  g_test_add_func ("/token-store/file-normalizes", test_file_normalizes);
  g_test_add_func ("/token-store/default-file-by-env", test_default_file_by_env);
  g_test_add_func ("/token-store/default-file-without-secret-service", test_default_file_without_secret_service);
  g_test_add_func ("/token-store/default-file-without-bus", test_default_file_without_bus);
  return g_test_run ();
}
