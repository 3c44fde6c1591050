/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#include "config.h"

#include <glib/gstdio.h>

#include "lctl-account-manager.h"
#include "lctl-credential-transfer.h"
#include "lctl-file-token-store.h"
#include "lctl-mock-oauth.h"
#include "lctl-oauth-util.h"
#include "lctl-test-utils.h"

static const char qwen_json[] = "{\"access_token\":\"qa\",\"refresh_token\":\"qwen-rt-0\",\"expires_at\":1000,"
                                "\"resource_url\":\"portal.qwen.ai\",\"token_type\":\"Bearer\"}";
static const char kimi_json[] = "{\"access_token\":\"ka\",\"refresh_token\":\"kr\",\"expires_at\":1700000000.5,"
                                "\"scope\":\"kimi-code\",\"token_type\":\"Bearer\"}";

static GHashTable *
sample_records (void)
{
  GHashTable *records = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) json_object_unref);

  g_hash_table_insert (records, (gpointer) "qwen_portal", lctl_test_json_object (qwen_json));
  g_hash_table_insert (records, (gpointer) "kimi_code", lctl_test_json_object (kimi_json));
  return records;
}

static char *
b64 (const char *text)
{
  return g_base64_encode ((const guchar *) text, strlen (text));
}

static void
assert_sample (GHashTable *parsed)
{
  JsonObject *qwen = g_hash_table_lookup (parsed, "qwen_portal");
  JsonObject *kimi = g_hash_table_lookup (parsed, "kimi_code");

  g_assert_nonnull (qwen);
  g_assert_nonnull (kimi);
  g_assert_cmpstr (json_object_get_string_member (qwen, "refresh_token"), ==, "qwen-rt-0");
  g_assert_cmpstr (json_object_get_string_member (qwen, "resource_url"), ==, "portal.qwen.ai");
  g_assert_cmpint (json_object_get_int_member (kimi, "expires_at"), ==, 1700000000);
}

static void
test_roundtrip (void)
{
  g_autoptr (GHashTable) records = sample_records ();
  g_autofree char *script = lctl_credential_transfer_export (records);
  g_autoptr (GHashTable) parsed = NULL;
  g_autoptr (GError) error = NULL;

  g_assert_true (g_str_has_prefix (script, "#!/usr/bin/env bash\n# litellmctl credential transfer\n"));
  g_assert_nonnull (strstr (script, "# Credentials: qwen_portal, kimi_code\n"));
  /* No plain token in the script text. */
  g_assert_null (strstr (script, "qwen-rt-0"));
  parsed = lctl_credential_transfer_parse (script, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_hash_table_size (parsed), ==, 2);
  assert_sample (parsed);
}

static void
test_seed_script (void)
{
  g_autofree char *q = b64 (qwen_json);
  g_autofree char *k = b64 (kimi_json);
  g_autofree char *script = g_strdup_printf ("#!/usr/bin/env bash\n# litellmctl credential transfer\n"
                                             "set -euo pipefail\nD=\"${LITELLM_DIR:-$HOME/.litellm}\"\nmkdir -p \"$D\"\n"
                                             "# Qwen Portal\n"
                                             "printf '%%s' '%s' | base64 -d > \"$D/auth.qwen_portal.json\"\n"
                                             "chmod 600 \"$D/auth.qwen_portal.json\"\n\n"
                                             "# Kimi Code\n"
                                             "printf '%%s' '%s' | base64 -d > \"$D/auth.kimi_code.json\"\n",
                                             q, k);
  g_autoptr (GHashTable) parsed = lctl_credential_transfer_parse (script, NULL);

  g_assert_cmpuint (g_hash_table_size (parsed), ==, 2);
  assert_sample (parsed);
}

static void
test_seed_simple_lines (void)
{
  g_autofree char *q = b64 (qwen_json);
  g_autofree char *k = b64 (kimi_json);
  g_autofree char *text = g_strdup_printf ("# comment\nauth.qwen_portal.json %s\nauth.kimi_code.json %s\n", q, k);
  g_autoptr (GHashTable) parsed = lctl_credential_transfer_parse (text, NULL);

  g_assert_cmpuint (g_hash_table_size (parsed), ==, 2);
  assert_sample (parsed);
}

static void
test_head_bundle (void)
{
  g_autofree char *bundle = g_strdup_printf ("{\"auth.qwen_portal.json\":%s,\"auth.kimi_code.json\":%s}", qwen_json, kimi_json);
  g_autofree char *encoded = b64 (bundle);
  g_autofree char *script = g_strdup_printf ("#!/usr/bin/env bash\nread -r -d \"\" BUNDLE << 'BUNDLE_EOF' || true\n"
                                             "%s\nBUNDLE_EOF\necho \"$BUNDLE\" | base64 -d | python3 -c '...'\n",
                                             encoded);
  g_autoptr (GHashTable) parsed = lctl_credential_transfer_parse (script, NULL);

  g_assert_cmpuint (g_hash_table_size (parsed), ==, 2);
  assert_sample (parsed);
}

static void
test_invalid_payload (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GHashTable) parsed = lctl_credential_transfer_parse ("auth.qwen_portal.json bm90IGpzb24=\n", &error);

  g_assert_null (parsed);
  g_assert_nonnull (error);
  g_assert_nonnull (strstr (error->message, "Invalid base64/JSON for auth.qwen_portal.json"));
}

static char *
run_script (const char *script,
            const char *home,
            const char *path_env,
            int        *status)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *home_env = g_strconcat ("HOME=", home, NULL);
  g_autofree char *path = g_strconcat ("PATH=", path_env, NULL);
  const char      *argv[] = { "bash", "-c", script, NULL };
  const char      *envp[] = { home_env, path, NULL };

  g_assert_true (g_spawn_sync (NULL, (char **) argv, (char **) envp, G_SPAWN_SEARCH_PATH, NULL, NULL,
                               &out, &err, status, &error));
  g_assert_no_error (error);
  if (err != NULL && *err != '\0')
    g_test_message ("script stderr: %s", err);
  return g_steal_pointer (&out);
}

static void
test_script_restores_files_in_fresh_home (void)
{
  g_autoptr (LctlMockOAuth) mock = lctl_mock_oauth_new ();
  g_autoptr (GHashTable) records = sample_records ();
  g_autofree char *script = lctl_credential_transfer_export (records);
  g_autofree char *home = g_build_filename (g_get_user_data_dir (), "fresh-home", NULL);
  g_autofree char *dir = g_build_filename (home, ".local", "share", "litellmctl", "auth", NULL);
  g_autofree char *file = g_build_filename (dir, "qwen_portal.json", NULL);
  g_autofree char *out = NULL;
  g_autoptr (LctlFileTokenStore) store = NULL;
  g_autoptr (LctlAccountManager) manager = NULL;
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (LctlToken) token = NULL;
  g_autoptr (GError) error = NULL;
  GStatBuf st;
  int      status = -1;

  lctl_mock_oauth_setenv (mock);
  g_mkdir_with_parents (home, 0700);
  /* The target has bash and base64, but no litellmctl. */
  out = run_script (script, home, "/usr/bin:/bin", &status);
  g_assert_true (g_spawn_check_wait_status (status, NULL));
  g_assert_nonnull (strstr (out, "✓ qwen_portal"));
  g_assert_cmpint (g_stat (file, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
  g_assert_cmpint (g_stat (dir, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0700);

  /* litellmctl started there later reads them and they work: the expired
   * access token is refreshed with the transferred refresh token. */
  store = lctl_file_token_store_new (dir);
  manager = lctl_account_manager_new ();
  lctl_account_manager_set_store (manager, LCTL_TOKEN_STORE (store));
  lctl_account_manager_set_proactive_refresh (manager, FALSE);
  mock->valid_refresh_token = g_strdup ("qwen-rt-0");
  lctl_token_source_get_token_async (LCTL_TOKEN_SOURCE (manager), "qwen_portal", NULL, NULL,
                                     lctl_test_store_result, &result);
  lctl_test_wait_for_result (&result, 5000);
  token = lctl_token_source_get_token_finish (LCTL_TOKEN_SOURCE (manager), result, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (token->access_token, ==, "qwen_portal-access-1");
  g_assert_cmpstr (lctl_account_manager_get_backend (manager, "qwen"), ==, "file");
  g_assert_cmpint (mock->refresh_count, ==, 1);
}

static void
test_script_uses_installed_litellmctl (void)
{
  g_autoptr (GHashTable) records = sample_records ();
  g_autofree char *script = lctl_credential_transfer_export (records);
  g_autofree char *home = g_build_filename (g_get_user_data_dir (), "home-with-cli", NULL);
  g_autofree char *bin = g_build_filename (home, "bin", NULL);
  g_autofree char *fake = g_build_filename (bin, "litellmctl", NULL);
  g_autofree char *captured_path = g_build_filename (home, "captured", NULL);
  g_autofree char *fake_body = g_strdup_printf ("#!/bin/sh\n[ \"$1 $2\" = \"auth import\" ] || exit 3\ncat > '%s'\n",
                                                captured_path);
  g_autofree char *path_env = g_strconcat (bin, ":/usr/bin:/bin", NULL);
  g_autofree char *captured = NULL;
  g_autofree char *out = NULL;
  g_autofree char *files = g_build_filename (home, ".local", "share", "litellmctl", "auth", NULL);
  g_autoptr (GHashTable) parsed = NULL;
  int status = -1;

  lctl_test_write_file (fake, fake_body);
  g_chmod (fake, 0755);
  out = run_script (script, home, path_env, &status);
  g_assert_true (g_spawn_check_wait_status (status, NULL));
  g_assert_true (g_file_get_contents (captured_path, &captured, NULL, NULL));
  parsed = lctl_credential_transfer_parse (captured, NULL);
  g_assert_cmpuint (g_hash_table_size (parsed), ==, 2);
  assert_sample (parsed);
  /* It went through litellmctl's store, not to files. */
  g_assert_false (g_file_test (files, G_FILE_TEST_EXISTS));

  /* A litellmctl that fails (daemon unreachable): files are the fallback. */
  lctl_test_write_file (fake, "#!/bin/sh\ncat >/dev/null\nexit 1\n");
  g_chmod (fake, 0755);
  g_free (out);
  out = run_script (script, home, path_env, &status);
  g_assert_true (g_spawn_check_wait_status (status, NULL));
  g_assert_true (g_file_test (files, G_FILE_TEST_IS_DIR));
}

int
main (int   argc,
      char *argv[])
{
  lctl_test_init (&argc, &argv);

  g_test_add_func ("/credential-transfer/roundtrip", test_roundtrip);
  g_test_add_func ("/credential-transfer/seed-script", test_seed_script);
  g_test_add_func ("/credential-transfer/seed-simple-lines", test_seed_simple_lines);
  g_test_add_func ("/credential-transfer/head-bundle", test_head_bundle);
  g_test_add_func ("/credential-transfer/invalid-payload", test_invalid_payload);
  g_test_add_func ("/credential-transfer/script-restores-files-in-fresh-home", test_script_restores_files_in_fresh_home);
  g_test_add_func ("/credential-transfer/script-uses-installed-litellmctl", test_script_uses_installed_litellmctl);
  return g_test_run ();
}
