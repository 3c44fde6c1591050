/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#include "config.h"

#include <glib/gstdio.h>

#include "lctl-account-manager.h"
#include "lctl-error.h"
#include "lctl-file-token-store.h"
#include "lctl-mock-oauth.h"
#include "lctl-oauth-util.h"
#include "lctl-test-utils.h"

typedef struct
{
  LctlMockOAuth      *mock;
  LctlAccountManager *manager;
  LctlFileTokenStore *store;
  char               *dir;
} Fixture;

static gint64
now_s (void)
{
  return g_get_real_time () / G_USEC_PER_SEC;
}

static void
fixture_setup (Fixture      *f,
               gconstpointer data)
{
  static int       n;
  g_autofree char *sub = g_strdup_printf ("%d", n++);

  f->mock = lctl_mock_oauth_new ();
  lctl_mock_oauth_setenv (f->mock);
  f->dir = g_build_filename (g_get_user_data_dir (), "mgr", sub, NULL);
  f->store = lctl_file_token_store_new (f->dir);
  f->manager = lctl_account_manager_new ();
  lctl_account_manager_set_store (f->manager, LCTL_TOKEN_STORE (f->store));
  lctl_account_manager_set_proactive_refresh (f->manager, FALSE);
  lctl_account_manager_set_retry_delay (f->manager, 10);
}

static void
fixture_teardown (Fixture      *f,
                  gconstpointer data)
{
  g_object_unref (f->manager);
  g_object_unref (f->store);
  lctl_mock_oauth_free (f->mock);
  g_free (f->dir);
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

/* Writes a credential file the way the file backend would. */
static void
seed_credential (Fixture    *f,
                 const char *provider,
                 const char *json)
{
  g_autofree char *name = g_strconcat (provider, ".json", NULL);
  g_autofree char *path = g_build_filename (f->dir, name, NULL);

  lctl_test_write_file (path, json);
}

static char *
read_credential (Fixture    *f,
                 const char *provider)
{
  g_autofree char *name = g_strconcat (provider, ".json", NULL);
  g_autofree char *path = g_build_filename (f->dir, name, NULL);
  char            *contents = NULL;

  if (!g_file_get_contents (path, &contents, NULL, NULL))
    return NULL;
  return contents;
}

static void
seed_expired_qwen (Fixture *f)
{
  g_autofree char *json = g_strdup_printf ("{\"access_token\":\"old-access\",\"refresh_token\":\"qwen-refresh-0\","
                                           "\"expires_at\":%" G_GINT64_FORMAT ",\"resource_url\":\"portal.qwen.ai\","
                                           "\"token_type\":\"Bearer\"}",
                                           now_s () - 10);

  seed_credential (f, "qwen_portal", json);
  f->mock->valid_refresh_token = g_strdup ("qwen-refresh-0");
}

static LctlToken *
get_token (Fixture    *f,
           const char *provider,
           LctlToken  *rejected,
           GError    **error)
{
  g_autoptr (GAsyncResult) result = NULL;

  lctl_token_source_get_token_async (LCTL_TOKEN_SOURCE (f->manager), provider, rejected, NULL,
                                     lctl_test_store_result, &result);
  lctl_test_wait_for_result (&result, 10000);
  return lctl_token_source_get_token_finish (LCTL_TOKEN_SOURCE (f->manager), result, error);
}

typedef struct
{
  Fixture   *f;
  int        done;
  GPtrArray *tokens;
  gboolean   stored_first;
} Concurrent;

static void
concurrent_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  Concurrent *c = user_data;
  g_autoptr (GError) error = NULL;
  LctlToken       *token = lctl_token_source_get_token_finish (LCTL_TOKEN_SOURCE (source), result, &error);
  g_autofree char *stored = read_credential (c->f, "qwen_portal");

  g_assert_no_error (error);
  g_ptr_array_add (c->tokens, token);
  /* The rotated refresh token is on disk before anyone gets the new token. */
  if (stored == NULL || strstr (stored, "qwen_portal-refresh-1") == NULL)
    c->stored_first = FALSE;
  c->done++;
}

static void
test_concurrent_single_refresh (Fixture      *f,
                                gconstpointer data)
{
  Concurrent       c = { f, 0, g_ptr_array_new_with_free_func ((GDestroyNotify) lctl_token_unref), TRUE };
  g_autofree char *stored = NULL;

  seed_expired_qwen (f);
  f->mock->refresh_delay_ms = 200;
  for (int i = 0; i < 50; i++)
    lctl_token_source_get_token_async (LCTL_TOKEN_SOURCE (f->manager), i % 2 ? "qwen" : "qwen_portal", NULL, NULL,
                                       concurrent_cb, &c);
  while (c.done < 50)
    g_main_context_iteration (NULL, TRUE);

  g_assert_cmpint (f->mock->refresh_count, ==, 1);
  g_assert_true (c.stored_first);
  for (guint i = 0; i < c.tokens->len; i++)
    {
      LctlToken *token = c.tokens->pdata[i];

      g_assert_cmpstr (token->access_token, ==, "qwen_portal-access-1");
      g_assert_cmpstr (token->resource_url, ==, "portal.qwen.ai");
      g_assert_cmpint (token->expires_at, >, now_s () + 3000);
    }
  stored = read_credential (f, "qwen_portal");
  g_assert_nonnull (strstr (stored, "\"refresh_token\" : \"qwen_portal-refresh-1\""));
  g_assert_null (strstr (stored, "qwen-refresh-0"));
  g_ptr_array_unref (c.tokens);
}

static void
test_valid_token_no_refresh (Fixture      *f,
                             gconstpointer data)
{
  g_autofree char *json = g_strdup_printf ("{\"access_token\":\"kimi-at\",\"refresh_token\":\"kimi-rt\","
                                           "\"expires_at\":%f,\"scope\":\"kimi-code\"}",
                                           (double) now_s () + 3600.5);
  g_autoptr (GError) error = NULL;
  g_autoptr (LctlToken) token = NULL;

  seed_credential (f, "kimi_code", json);
  token = get_token (f, "kimi-code", NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (token->access_token, ==, "kimi-at");
  /* Kimi's float expires_at became integer seconds. */
  g_assert_cmpint (token->expires_at, ==, now_s () + 3600);
  g_assert_cmpint (f->mock->refresh_count, ==, 0);
}

static void
test_rejected_token_refreshes_once (Fixture      *f,
                                    gconstpointer data)
{
  g_autofree char *json = g_strdup_printf ("{\"access_token\":\"valid-but-revoked\",\"refresh_token\":\"qwen-refresh-0\","
                                           "\"expires_at\":%" G_GINT64_FORMAT "}",
                                           now_s () + 3600);
  g_autoptr (GError) error = NULL;
  g_autoptr (LctlToken) first = NULL;
  g_autoptr (LctlToken) second = NULL;
  g_autoptr (LctlToken) third = NULL;

  seed_credential (f, "qwen_portal", json);
  f->mock->valid_refresh_token = g_strdup ("qwen-refresh-0");
  first = get_token (f, "qwen_portal", NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (f->mock->refresh_count, ==, 0);

  /* The upstream answered 401 to it: refresh once, hand out the new one. */
  second = get_token (f, "qwen_portal", first, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (second->access_token, ==, "qwen_portal-access-1");
  g_assert_cmpint (f->mock->refresh_count, ==, 1);

  /* A late 401 for the old token: someone already refreshed. */
  third = get_token (f, "qwen_portal", first, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (third->access_token, ==, "qwen_portal-access-1");
  g_assert_cmpint (f->mock->refresh_count, ==, 1);
}

static void
changed_cb (LctlAccountManager *manager,
            int                *count)
{
  (*count)++;
}

static void
test_refresh_rejected_needs_login (Fixture      *f,
                                   gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (LctlToken) token = NULL;
  g_autoptr (GVariant) list = NULL;
  g_autoptr (GVariant) entry = NULL;
  g_auto (GStrv) needs = NULL;
  g_autoptr (JsonObject) fresh = NULL;
  g_autoptr (GAsyncResult) result = NULL;
  gboolean needs_login = FALSE;
  int      changes = 0;

  seed_expired_qwen (f);
  f->mock->refresh_mode = MOCK_REFRESH_REJECT;
  g_signal_connect (f->manager, "changed", G_CALLBACK (changed_cb), &changes);
  token = get_token (f, "qwen", NULL, &error);
  g_assert_null (token);
  g_assert_error (error, LCTL_ERROR, LCTL_ERROR_NEEDS_LOGIN);
  g_assert_nonnull (strstr (error->message, "litellmctl auth qwen"));
  g_assert_nonnull (strstr (error->message, "invalid_grant"));
  g_clear_error (&error);
  g_assert_cmpint (f->mock->refresh_count, ==, 1);
  g_assert_cmpint (changes, >, 0);

  needs = lctl_account_manager_get_needs_login (f->manager);
  g_assert_true (g_strv_contains ((const char *const *) needs, "qwen_portal"));
  list = g_variant_ref_sink (lctl_account_manager_list_accounts (f->manager));
  g_assert_cmpuint (g_variant_n_children (list), ==, 1);
  entry = g_variant_get_child_value (list, 0);
  g_assert_true (g_variant_lookup (entry, "needs-login", "b", &needs_login));
  g_assert_true (needs_login);

  /* Until a new login, requests fail fast without hammering the provider. */
  token = get_token (f, "qwen", NULL, &error);
  g_assert_error (error, LCTL_ERROR, LCTL_ERROR_NEEDS_LOGIN);
  g_clear_error (&error);
  g_assert_cmpint (f->mock->refresh_count, ==, 1);

  fresh = lctl_test_json_object ("{\"access_token\":\"new-login\",\"refresh_token\":\"r2\",\"expires_at\":9999999999}");
  lctl_account_manager_add_async (f->manager, "qwen", fresh, NULL, lctl_test_store_result, &result);
  lctl_test_wait_for_result (&result, 5000);
  g_assert_true (lctl_account_manager_add_finish (f->manager, result, &error));
  g_strfreev (needs);
  needs = lctl_account_manager_get_needs_login (f->manager);
  g_assert_cmpuint (g_strv_length (needs), ==, 0);
  token = get_token (f, "qwen", NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (token->access_token, ==, "new-login");
}

static void
test_transient_errors_retried (Fixture      *f,
                               gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (LctlToken) token = NULL;

  seed_expired_qwen (f);
  f->mock->refresh_mode = MOCK_REFRESH_FAIL;
  f->mock->fail_times = 2;
  token = get_token (f, "qwen", NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (token->access_token, ==, "qwen_portal-access-1");
  g_assert_cmpint (f->mock->refresh_count, ==, 3);
}

static void
test_transient_errors_give_up (Fixture      *f,
                               gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (LctlToken) token = NULL;
  g_auto (GStrv) needs = NULL;

  seed_expired_qwen (f);
  f->mock->refresh_mode = MOCK_REFRESH_FAIL;
  f->mock->fail_times = 100;
  token = get_token (f, "qwen", NULL, &error);
  g_assert_error (error, LCTL_ERROR, LCTL_ERROR_UPSTREAM);
  g_assert_cmpint (f->mock->refresh_count, ==, 3);
  /* An outage is not a rejection: no new login needed. */
  needs = lctl_account_manager_get_needs_login (f->manager);
  g_assert_cmpuint (g_strv_length (needs), ==, 0);
}

static void
test_chatgpt_refresh (Fixture      *f,
                      gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (LctlToken) token = NULL;
  g_autofree char *stored = NULL;
  g_autoptr (JsonObject) record = NULL;

  seed_credential (f, "chatgpt", "{\"access_token\":\"x.eyJleHAiOjF9.y\",\"refresh_token\":\"rt-0\","
                                 "\"id_token\":\"a.b.c\",\"expires_at\":1,\"account_id\":\"old\"}");
  f->mock->valid_refresh_token = g_strdup ("rt-0");
  token = get_token (f, "chatgpt", NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (f->mock->last_refresh_content_type, ==, "application/json");
  g_assert_cmpstr (token->account_id, ==, "acct-123");
  stored = read_credential (f, "chatgpt");
  record = lctl_test_json_object (stored);
  g_assert_cmpstr (json_object_get_string_member (record, "refresh_token"), ==, "chatgpt-refresh-1");
  g_assert_cmpint (json_object_get_int_member (record, "expires_at"), ==, token->expires_at);
}

static void
test_gemini_refresh_uses_stored_client (Fixture      *f,
                                        gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (LctlToken) token = NULL;

  g_unsetenv ("GEMINI_CLI_OAUTH_CLIENT_ID");
  g_unsetenv ("GEMINI_CLI_OAUTH_CLIENT_SECRET");
  seed_credential (f, "gemini_cli", "{\"access_token\":\"g\",\"refresh_token\":\"g-rt\",\"expires_at\":1,"
                                    "\"project_id\":\"p-1\",\"email\":\"e@x\","
                                    "\"oauth_client_id\":\"1-a.apps.googleusercontent.com\","
                                    "\"oauth_client_secret\":\"GOCSPX-stored\"}");
  f->mock->valid_refresh_token = g_strdup ("g-rt");
  token = get_token (f, "gemini", NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (f->mock->last_refresh_grant_client_secret, ==, "GOCSPX-stored");
  g_assert_cmpstr (token->project_id, ==, "p-1");
  g_assert_cmpstr (token->email, ==, "e@x");
  /* Gemini keeps the refresh token when Google does not rotate it: the mock
   * always rotates, so the stored one is the new one. */
  g_assert_cmpstr (f->mock->valid_refresh_token, ==, "gemini_cli-refresh-1");
}

static void
test_gemini_refresh_finds_project (Fixture      *f,
                                   gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (LctlToken) token = NULL;
  g_autoptr (LctlToken) again = NULL;

  /* A login that found neither e-mail nor project (Google was down). */
  seed_credential (f, "gemini_cli", "{\"access_token\":\"g\",\"refresh_token\":\"g-rt\",\"expires_at\":1,"
                                    "\"project_id\":null}");
  f->mock->valid_refresh_token = g_strdup ("g-rt");
  token = get_token (f, "gemini", NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (token->project_id, ==, "assist-project-7");
  g_assert_cmpstr (token->email, ==, "gemini-user@example.com");
  g_assert_cmpint (lctl_mock_oauth_hits (f->mock, "/v1internal:loadCodeAssist"), ==, 1);
  /* The client came from the environment and is kept for next time. */
  g_assert_cmpstr (lctl_credential_get_string (lctl_account_manager_get_record (f->manager, "gemini"),
                                               "oauth_client_secret"),
                   ==, "GOCSPX-test-secret");

  again = get_token (f, "gemini", token, &error);
  g_assert_no_error (error);
  g_assert_cmpint (lctl_mock_oauth_hits (f->mock, "/v1internal:loadCodeAssist"), ==, 1);
}

static void
test_proactive_refresh (Fixture      *f,
                        gconstpointer data)
{
  g_autofree char *json = g_strdup_printf ("{\"access_token\":\"k\",\"refresh_token\":\"k-rt\",\"expires_at\":%" G_GINT64_FORMAT "}",
                                           now_s () + 61);
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *stored = NULL;
  int              changes = 0;

  seed_credential (f, "kimi_code", json);
  f->mock->valid_refresh_token = g_strdup ("k-rt");
  lctl_account_manager_set_proactive_refresh (f->manager, TRUE);
  lctl_account_manager_load_async (f->manager, NULL, lctl_test_store_result, &result);
  lctl_test_wait_for_result (&result, 5000);
  g_assert_true (lctl_account_manager_load_finish (f->manager, result, &error));
  /* Kimi's skew is 60 s: the timer fires about a second from now, with
   * no request asking. */
  g_signal_connect (f->manager, "changed", G_CALLBACK (changed_cb), &changes);
  while (changes == 0)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpint (f->mock->refresh_count, ==, 1);
  stored = read_credential (f, "kimi_code");
  g_assert_nonnull (strstr (stored, "kimi_code-refresh-1"));
}

static void
test_not_found_and_logout (Fixture      *f,
                           gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (LctlToken) token = NULL;
  g_autoptr (GAsyncResult) result = NULL;
  g_autofree char *stored = NULL;

  token = get_token (f, "kimi", NULL, &error);
  g_assert_error (error, LCTL_ERROR, LCTL_ERROR_NOT_FOUND);
  g_clear_error (&error);
  token = get_token (f, "nonsense", NULL, &error);
  g_assert_error (error, LCTL_ERROR, LCTL_ERROR_NOT_FOUND);
  g_clear_error (&error);

  seed_expired_qwen (f);
  g_clear_object (&f->manager);
  f->manager = lctl_account_manager_new ();
  lctl_account_manager_set_store (f->manager, LCTL_TOKEN_STORE (f->store));
  lctl_account_manager_set_proactive_refresh (f->manager, FALSE);
  lctl_account_manager_logout_async (f->manager, "qwen", NULL, lctl_test_store_result, &result);
  lctl_test_wait_for_result (&result, 5000);
  g_assert_true (lctl_account_manager_logout_finish (f->manager, result, &error));
  g_assert_no_error (error);
  stored = read_credential (f, "qwen_portal");
  g_assert_null (stored);
  token = get_token (f, "qwen", NULL, &error);
  g_assert_error (error, LCTL_ERROR, LCTL_ERROR_NOT_FOUND);
}

int
main (int   argc,
      char *argv[])
{
  lctl_test_init (&argc, &argv);

#define ADD(path, fn) g_test_add ("/account-manager/" path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
  ADD ("concurrent-single-refresh", test_concurrent_single_refresh);
  ADD ("valid-token-no-refresh", test_valid_token_no_refresh);
  ADD ("rejected-token-refreshes-once", test_rejected_token_refreshes_once);
  ADD ("refresh-rejected-needs-login", test_refresh_rejected_needs_login);
  ADD ("transient-errors-retried", test_transient_errors_retried);
  ADD ("transient-errors-give-up", test_transient_errors_give_up);
  ADD ("chatgpt-refresh", test_chatgpt_refresh);
  ADD ("gemini-refresh-uses-stored-client", test_gemini_refresh_uses_stored_client);
  ADD ("gemini-refresh-finds-project", test_gemini_refresh_finds_project);
  ADD ("proactive-refresh", test_proactive_refresh);
  ADD ("not-found-and-logout", test_not_found_and_logout);
#undef ADD
  return g_test_run ();
}
