/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#include "config.h"

#include <glib/gstdio.h>

#include "lctl-error.h"
#include "lctl-login-flow.h"
#include "lctl-mock-oauth.h"
#include "lctl-oauth-util.h"
#include "lctl-test-utils.h"

typedef struct
{
  LctlMockOAuth *mock;
  SoupSession   *session;
  LctlLoginFlow *flow;
  GVariant      *prompt;
  GPtrArray     *progress;
  GAsyncResult  *result;
} Fixture;

static void
prompt_cb (LctlLoginFlow *flow,
           GVariant      *prompt,
           Fixture       *f)
{
  g_clear_pointer (&f->prompt, g_variant_unref);
  f->prompt = g_variant_ref (prompt);
}

static void
progress_cb (LctlLoginFlow *flow,
             const char    *message,
             Fixture       *f)
{
  g_ptr_array_add (f->progress, g_strdup (message));
}

static void
fixture_setup (Fixture      *f,
               gconstpointer data)
{
  f->mock = lctl_mock_oauth_new ();
  lctl_mock_oauth_setenv (f->mock);
  f->session = soup_session_new ();
  f->progress = g_ptr_array_new_with_free_func (g_free);
}

static void
fixture_teardown (Fixture      *f,
                  gconstpointer data)
{
  g_clear_object (&f->flow);
  g_clear_object (&f->result);
  g_clear_pointer (&f->prompt, g_variant_unref);
  g_ptr_array_unref (f->progress);
  g_object_unref (f->session);
  lctl_mock_oauth_free (f->mock);
  /* Let the callback servers' closing sources run. */
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

static void
start_flow (Fixture    *f,
            const char *provider)
{
  g_autoptr (GError) error = NULL;

  f->flow = lctl_login_flow_new (provider, f->session, TRUE, &error);
  g_assert_no_error (error);
  g_signal_connect (f->flow, "prompt", G_CALLBACK (prompt_cb), f);
  g_signal_connect (f->flow, "progress", G_CALLBACK (progress_cb), f);
  lctl_login_flow_run_async (f->flow, NULL, lctl_test_store_result, &f->result);
}

static void
wait_for_prompt (Fixture *f)
{
  while (f->prompt == NULL && f->result == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_assert_nonnull (f->prompt);
}

static JsonObject *
finish_ok (Fixture *f)
{
  g_autoptr (GError) error = NULL;
  JsonObject *record;

  lctl_test_wait_for_result (&f->result, 10000);
  record = lctl_login_flow_run_finish (f->flow, f->result, &error);
  g_assert_no_error (error);
  g_assert_nonnull (record);
  return record;
}

static GError *
finish_error (Fixture *f)
{
  GError *error = NULL;
  g_autoptr (JsonObject) record = NULL;

  lctl_test_wait_for_result (&f->result, 10000);
  record = lctl_login_flow_run_finish (f->flow, f->result, &error);
  g_assert_null (record);
  g_assert_nonnull (error);
  return error;
}

static GHashTable *
prompt_query (Fixture *f)
{
  const char *url = NULL;
  g_autoptr (GUri) uri = NULL;

  g_assert_true (g_variant_lookup (f->prompt, "url", "&s", &url));
  uri = g_uri_parse (url, G_URI_FLAGS_ENCODED_QUERY, NULL);
  g_assert_nonnull (uri);
  return g_uri_parse_params (g_uri_get_query (uri), -1, "&", G_URI_PARAMS_NONE, NULL);
}

static void
test_pkce_primitives (void)
{
  g_autofree char *challenge = lctl_oauth_pkce_challenge ("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
  g_autofree char *verifier = lctl_oauth_random_urlsafe (32);
  g_autofree char *state = lctl_oauth_random_urlsafe (16);
  g_autofree char *jwt = lctl_mock_oauth_make_jwt ("acct-9", "a@b.c", 1234567890);
  g_autoptr (JsonObject) claims = lctl_oauth_jwt_decode (jwt);

  /* RFC 7636, appendix B. */
  g_assert_cmpstr (challenge, ==, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
  g_assert_cmpuint (strlen (verifier), ==, 43);
  g_assert_cmpuint (strlen (state), ==, 22);
  g_assert_null (strpbrk (verifier, "+/="));
  g_assert_nonnull (claims);
  g_assert_cmpint (json_object_get_int_member (claims, "exp"), ==, 1234567890);
  g_assert_null (lctl_oauth_jwt_decode ("not-a-jwt"));
}

static void
test_headless_detection (void)
{
  g_setenv ("SSH_CONNECTION", "1.2.3.4 5 6.7.8.9 22", TRUE);
  g_assert_true (lctl_oauth_is_headless ());
  g_unsetenv ("SSH_CONNECTION");
  g_unsetenv ("SSH_CLIENT");
  g_unsetenv ("SSH_TTY");
  g_unsetenv ("DISPLAY");
  g_unsetenv ("WAYLAND_DISPLAY");
  g_assert_true (lctl_oauth_is_headless ());
  g_setenv ("WAYLAND_DISPLAY", "wayland-0", TRUE);
  if (!g_file_test ("/.dockerenv", G_FILE_TEST_EXISTS))
    g_assert_false (lctl_oauth_is_headless ());
  g_unsetenv ("WAYLAND_DISPLAY");
}

static void
test_chatgpt_callback (Fixture      *f,
                       gconstpointer data)
{
  g_autoptr (GHashTable) query = NULL;
  g_autoptr (JsonObject) record = NULL;
  g_autofree char *favicon = NULL;
  g_autofree char *wrong_state = NULL;
  g_autofree char *body = NULL;
  const char      *url = NULL;
  const char      *port = g_getenv ("LITELLMCTL_CHATGPT_CALLBACK_PORT");
  g_autofree char *redirect = g_strdup_printf ("http://localhost:%s/auth/callback", port);
  g_autoptr (JsonObject) claims = NULL;
  guint32 prompt_port = 0;

  start_flow (f, "codex");
  wait_for_prompt (f);
  query = prompt_query (f);
  g_assert_cmpstr (g_hash_table_lookup (query, "client_id"), ==, "app_EMoamEEZ73f0CkXaXp7hrann");
  g_assert_cmpstr (g_hash_table_lookup (query, "redirect_uri"), ==, redirect);
  g_assert_cmpstr (g_hash_table_lookup (query, "scope"), ==, "openid profile email offline_access");
  g_assert_cmpstr (g_hash_table_lookup (query, "response_type"), ==, "code");
  g_assert_cmpstr (g_hash_table_lookup (query, "code_challenge_method"), ==, "S256");
  g_assert_cmpstr (g_hash_table_lookup (query, "id_token_add_organizations"), ==, "true");
  g_assert_cmpstr (g_hash_table_lookup (query, "codex_cli_simplified_flow"), ==, "true");
  g_assert_cmpstr (g_hash_table_lookup (query, "originator"), ==, "codex_cli_rs");
  g_assert_cmpuint (strlen (g_hash_table_lookup (query, "state")), ==, 22);
  g_assert_cmpuint (strlen (g_hash_table_lookup (query, "code_challenge")), ==, 43);
  g_assert_true (g_variant_lookup (f->prompt, "callback-port", "u", &prompt_port));
  g_assert_cmpuint (prompt_port, ==, atoi (port));

  /* A favicon request and a stray callback must not end the login. */
  favicon = g_strdup_printf ("http://localhost:%s/favicon.ico", port);
  g_assert_cmpuint (lctl_test_browser_get (favicon, NULL), ==, 404);
  wrong_state = g_strdup_printf ("%s?code=x&state=not-ours", redirect);
  g_assert_cmpuint (lctl_test_browser_get (wrong_state, &body), ==, 400);
  g_assert_nonnull (strstr (body, "State mismatch"));
  g_clear_pointer (&body, g_free);
  g_assert_null (f->result);

  /* The browser: authorize page redirects to our callback. */
  g_assert_true (g_variant_lookup (f->prompt, "url", "&s", &url));
  g_assert_cmpuint (lctl_test_browser_get (url, &body), ==, 200);
  g_assert_nonnull (strstr (body, "Authentication successful"));

  record = finish_ok (f);
  claims = lctl_oauth_jwt_decode (json_object_get_string_member (record, "access_token"));
  g_assert_cmpint (json_object_get_int_member (record, "expires_at"), ==,
                   json_object_get_int_member (claims, "exp"));
  g_assert_cmpstr (json_object_get_string_member (record, "account_id"), ==, "acct-123");
  g_assert_cmpstr (json_object_get_string_member (record, "refresh_token"), ==, "chatgpt-refresh-1");
  g_assert_true (json_object_has_member (record, "id_token"));
  g_assert_cmpstr (json_object_get_string_member (record, "email"), ==, "user@example.com");
}

static void
test_chatgpt_pasted_url (Fixture      *f,
                         gconstpointer data)
{
  g_autoptr (SoupSession) browser = soup_session_new ();
  g_autoptr (SoupMessage) msg = NULL;
  g_autoptr (GBytes) bytes = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonObject) record = NULL;
  g_autofree char *bad = NULL;
  const char      *url = NULL;
  const char      *location;

  start_flow (f, "chatgpt");
  wait_for_prompt (f);
  g_assert_true (g_variant_lookup (f->prompt, "url", "&s", &url));

  /* The browser on another machine lands on an unreachable localhost URL;
   * the user copies it from the address bar. */
  msg = soup_message_new ("GET", url);
  soup_message_add_flags (msg, SOUP_MESSAGE_NO_REDIRECT);
  soup_session_send_and_read_async (browser, msg, G_PRIORITY_DEFAULT, NULL, lctl_test_store_result, &f->result);
  lctl_test_wait_for_result (&f->result, 5000);
  bytes = soup_session_send_and_read_finish (browser, f->result, &error);
  g_assert_no_error (error);
  g_clear_object (&f->result);
  g_assert_cmpuint (soup_message_get_status (msg), ==, 302);
  location = soup_message_headers_get_one (soup_message_get_response_headers (msg), "Location");
  g_assert_nonnull (location);

  g_assert_false (lctl_login_flow_complete (f->flow, "hello", &error));
  g_assert_error (error, LCTL_ERROR, LCTL_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "Paste the full redirect URL"));
  g_clear_error (&error);
  bad = g_strdup_printf ("http://localhost:1455/auth/callback?code=abc&state=someone-else");
  g_assert_false (lctl_login_flow_complete (f->flow, bad, &error));
  g_assert_nonnull (strstr (error->message, "State mismatch"));
  g_clear_error (&error);

  g_assert_true (lctl_login_flow_complete (f->flow, location, &error));
  g_assert_no_error (error);
  record = finish_ok (f);
  g_assert_cmpstr (json_object_get_string_member (record, "account_id"), ==, "acct-123");
  g_assert_cmpint (lctl_mock_oauth_hits (f->mock, "/oauth/token"), ==, 1);
}

static void
play_browser (Fixture *f)
{
  const char      *url = NULL;
  g_autofree char *body = NULL;

  wait_for_prompt (f);
  g_assert_true (g_variant_lookup (f->prompt, "url", "&s", &url));
  g_assert_cmpuint (lctl_test_browser_get (url, &body), ==, 200);
}

static void
test_gemini_load_code_assist (Fixture      *f,
                              gconstpointer data)
{
  g_autoptr (GHashTable) query = NULL;
  g_autoptr (JsonObject) record = NULL;

  start_flow (f, "gemini-cli");
  wait_for_prompt (f);
  query = prompt_query (f);
  g_assert_cmpstr (g_hash_table_lookup (query, "client_id"), ==, "123456-testclient.apps.googleusercontent.com");
  g_assert_cmpstr (g_hash_table_lookup (query, "access_type"), ==, "offline");
  g_assert_cmpstr (g_hash_table_lookup (query, "prompt"), ==, "consent");
  g_assert_nonnull (strstr (g_hash_table_lookup (query, "scope"), "cloud-platform"));
  g_assert_true (g_str_has_suffix (g_hash_table_lookup (query, "redirect_uri"), "/oauth2callback"));
  play_browser (f);
  record = finish_ok (f);
  g_assert_cmpstr (json_object_get_string_member (record, "email"), ==, "gemini-user@example.com");
  g_assert_cmpstr (json_object_get_string_member (record, "project_id"), ==, "assist-project-7");
  g_assert_cmpstr (json_object_get_string_member (record, "oauth_client_secret"), ==, "GOCSPX-test-secret");
  g_assert_cmpstr (f->mock->load_code_assist_body, ==, "{}");
  g_assert_cmpint (f->mock->onboard_count, ==, 0);
  g_assert_cmpint (lctl_mock_oauth_hits (f->mock, "/v1/projects"), ==, 0);
}

static void
test_gemini_onboard (Fixture      *f,
                     gconstpointer data)
{
  g_autoptr (JsonObject) record = NULL;

  f->mock->load_code_assist_has_project = FALSE;
  start_flow (f, "gemini");
  play_browser (f);
  record = finish_ok (f);
  /* The project whose name mentions Gemini wins over the first one. */
  g_assert_cmpstr (json_object_get_string_member (record, "project_id"), ==, "my-gem-123");
  g_assert_cmpint (f->mock->onboard_count, ==, 1);
  g_assert_cmpint (lctl_mock_oauth_hits (f->mock, "/v1/projects/my-gem-123/services/cloudaicompanion.googleapis.com:enable"), ==, 1);
}

static void
test_gemini_needs_refresh_token (Fixture      *f,
                                 gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  f->mock->google_no_refresh_token = TRUE;
  start_flow (f, "gemini");
  play_browser (f);
  error = finish_error (f);
  g_assert_nonnull (strstr (error->message, "No refresh_token received"));
}

static void
client_cb (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}

static void
test_gemini_client_from_installed_cli (Fixture      *f,
                                       gconstpointer data)
{
  g_autofree char *path = g_build_filename (g_get_home_dir (), ".npm-global", "lib", "node_modules", "@google",
                                            "gemini-cli-core", "dist", "src", "code_assist", "oauth2.js", NULL);
  g_autoptr (GError) error = NULL;
  g_autofree char *id = NULL;
  g_autofree char *secret = NULL;
  GAsyncResult    *result = NULL;

  g_unsetenv ("GEMINI_CLI_OAUTH_CLIENT_ID");
  g_unsetenv ("GEMINI_CLI_OAUTH_CLIENT_SECRET");
  lctl_test_write_file (path, "const OAUTH_CLIENT_ID = '681255809395-abcdef123.apps.googleusercontent.com';\n"
                              "const OAUTH_CLIENT_SECRET = 'GOCSPX-Abc_def-123';\n");
  lctl_oauth_gemini_client_async (NULL, client_cb, &result);
  lctl_test_wait_for_result (&result, 5000);
  g_assert_true (lctl_oauth_gemini_client_finish (result, &id, &secret, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (id, ==, "681255809395-abcdef123.apps.googleusercontent.com");
  g_assert_cmpstr (secret, ==, "GOCSPX-Abc_def-123");
  g_object_unref (result);
  g_unlink (path);
}

static void
test_qwen_device (Fixture      *f,
                  gconstpointer data)
{
  g_autoptr (JsonObject) record = NULL;
  const char         *code = NULL;
  const char         *url = NULL;
  gint64              gap1, gap2, gap3;
  SoupMessageHeaders *h;

  g_setenv ("LITELLMCTL_TEST_TIME_SCALE", "0.05", TRUE);
  lctl_mock_oauth_script_polls (f->mock, "pending", "pending", "slow_down", "ok", NULL);
  start_flow (f, "qwen");
  wait_for_prompt (f);
  g_assert_true (g_variant_lookup (f->prompt, "user-code", "&s", &code));
  g_assert_cmpstr (code, ==, "ABCD-1234");
  g_assert_true (g_variant_lookup (f->prompt, "url", "&s", &url));
  g_assert_true (g_str_has_suffix (url, "/device?user_code=ABCD-1234"));
  record = finish_ok (f);

  g_assert_cmpstr (json_object_get_string_member (record, "resource_url"), ==, "portal.qwen.ai");
  g_assert_cmpstr (json_object_get_string_member (record, "token_type"), ==, "Bearer");
  g_assert_cmpstr (json_object_get_string_member (record, "refresh_token"), ==, "qwen_portal-refresh-1");
  g_assert_cmpint (json_object_get_int_member (record, "expires_at") - g_get_real_time () / G_USEC_PER_SEC, >, 3500);
  h = f->mock->last_device_headers;
  g_assert_cmpstr (soup_message_headers_get_one (h, "User-Agent"), ==, "qwen-code/1.0.0");
  g_assert_nonnull (soup_message_headers_get_one (h, "x-request-id"));
  g_assert_cmpstr (g_hash_table_lookup (f->mock->last_device_form, "client_id"), ==, "f0304373b74a44d2b584a3fb70ca9e56");
  g_assert_cmpstr (g_hash_table_lookup (f->mock->last_device_form, "scope"), ==, "openid profile email model.completion");
  g_assert_cmpstr (g_hash_table_lookup (f->mock->last_device_form, "code_challenge_method"), ==, "S256");

  /* Polls at 2 s, +0.5 s per pending, +5 s after slow_down (scaled ×0.05);
   * lower bounds only, so a loaded machine cannot make this flaky. */
  g_assert_cmpuint (f->mock->poll_times->len, ==, 4);
  gap1 = g_array_index (f->mock->poll_times, gint64, 1) - g_array_index (f->mock->poll_times, gint64, 0);
  gap2 = g_array_index (f->mock->poll_times, gint64, 2) - g_array_index (f->mock->poll_times, gint64, 1);
  gap3 = g_array_index (f->mock->poll_times, gint64, 3) - g_array_index (f->mock->poll_times, gint64, 2);
  g_assert_cmpint (gap1, >=, 120000);
  g_assert_cmpint (gap2, >=, 145000);
  g_assert_cmpint (gap3, >=, 395000);
}

static void
test_qwen_device_expired (Fixture      *f,
                          gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  lctl_mock_oauth_script_polls (f->mock, "pending", "expired", NULL);
  start_flow (f, "qwen");
  error = finish_error (f);
  g_assert_error (error, LCTL_ERROR, LCTL_ERROR_TIMEOUT);
  g_assert_nonnull (strstr (error->message, "expired"));
}

static void
test_qwen_device_denied (Fixture      *f,
                         gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  lctl_mock_oauth_script_polls (f->mock, "denied", NULL);
  start_flow (f, "qwen-portal");
  error = finish_error (f);
  g_assert_error (error, LCTL_ERROR, LCTL_ERROR_UNAUTHORIZED);
  g_assert_nonnull (strstr (error->message, "denied"));
}

static void
test_kimi_device (Fixture      *f,
                  gconstpointer data)
{
  g_autoptr (JsonObject) record = NULL;
  g_autofree char    *device_id_path = g_build_filename (g_get_home_dir (), ".kimi", "device_id", NULL);
  g_autofree char    *device_id = NULL;
  SoupMessageHeaders *h;
  GStatBuf            st;

  g_unlink (device_id_path);
  lctl_mock_oauth_script_polls (f->mock, "pending", "slow_down", "ok", NULL);
  start_flow (f, "kimi");
  record = finish_ok (f);
  g_assert_cmpstr (json_object_get_string_member (record, "scope"), ==, "kimi-code");
  g_assert_cmpstr (json_object_get_string_member (record, "token_type"), ==, "Bearer");
  g_assert_cmpstr (json_object_get_string_member (record, "access_token"), ==, "kimi_code-access-1");

  /* No ~/.kimi/device_id: we generated one, persisted it 0600, and sent it. */
  g_assert_true (g_file_get_contents (device_id_path, &device_id, NULL, NULL));
  g_assert_cmpuint (strlen (device_id), ==, 32);
  g_assert_cmpint (g_stat (device_id_path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
  for (int i = 0; i < 2; i++)
    {
      h = i == 0 ? f->mock->last_device_headers : f->mock->last_poll_headers;
      g_assert_cmpstr (soup_message_headers_get_one (h, "User-Agent"), ==, "KimiCLI/1.25.0");
      g_assert_cmpstr (soup_message_headers_get_one (h, "X-Msh-Platform"), ==, "kimi_cli");
      g_assert_cmpstr (soup_message_headers_get_one (h, "X-Msh-Version"), ==, "1.25.0");
      g_assert_cmpstr (soup_message_headers_get_one (h, "X-Msh-Device-Id"), ==, device_id);
      g_assert_cmpstr (soup_message_headers_get_one (h, "X-Msh-Device-Name"), ==, g_get_host_name ());
      g_assert_nonnull (soup_message_headers_get_one (h, "X-Msh-Device-Model"));
      g_assert_nonnull (soup_message_headers_get_one (h, "X-Msh-Os-Version"));
    }
  g_assert_cmpstr (g_hash_table_lookup (f->mock->last_device_form, "client_id"), ==,
                   "17e5f671-d194-4dfb-9706-5516cb48c098");
}

static void
test_cancel (Fixture      *f,
             gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  lctl_mock_oauth_script_polls (f->mock, "pending", "pending", "pending", "pending", "pending", NULL);
  start_flow (f, "qwen");
  wait_for_prompt (f);
  lctl_login_flow_cancel (f->flow);
  error = finish_error (f);
  g_assert_error (error, LCTL_ERROR, LCTL_ERROR_CANCELLED);
}

static void
test_timeout (Fixture      *f,
              gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  g_setenv ("LITELLMCTL_LOGIN_TIMEOUT", "1", TRUE);
  start_flow (f, "chatgpt");
  error = finish_error (f);
  g_unsetenv ("LITELLMCTL_LOGIN_TIMEOUT");
  g_assert_error (error, LCTL_ERROR, LCTL_ERROR_TIMEOUT);
}

int
main (int   argc,
      char *argv[])
{
  lctl_test_init (&argc, &argv);

#define ADD(path, fn) g_test_add ("/oauth/" path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
  g_test_add_func ("/oauth/pkce-primitives", test_pkce_primitives);
  g_test_add_func ("/oauth/headless-detection", test_headless_detection);
  ADD ("chatgpt-callback", test_chatgpt_callback);
  ADD ("chatgpt-pasted-url", test_chatgpt_pasted_url);
  ADD ("gemini-load-code-assist", test_gemini_load_code_assist);
  ADD ("gemini-onboard", test_gemini_onboard);
  ADD ("gemini-needs-refresh-token", test_gemini_needs_refresh_token);
  ADD ("gemini-client-from-installed-cli", test_gemini_client_from_installed_cli);
  ADD ("qwen-device", test_qwen_device);
  ADD ("qwen-device-expired", test_qwen_device_expired);
  ADD ("qwen-device-denied", test_qwen_device_denied);
  ADD ("kimi-device", test_kimi_device);
  ADD ("cancel", test_cancel);
  ADD ("timeout", test_timeout);
#undef ADD
  return g_test_run ();
}
