/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#include "config.h"

#include <stdarg.h>

#include "lctl-mock-oauth.h"
#include "lctl-oauth-util.h"
#include "lctl-test-utils.h"

/* GLib's G_TEST_OPTION_ISOLATE_DIRS leaks the per-test dir strings it sets
 * with g_set_user_dirs(); not ours to fix. Read by LeakSanitizer; the slow
 * unwinder is needed to see through GLib's frames. */
const char *__lsan_default_suppressions (void);
const char *__asan_default_options (void);

const char *
__asan_default_options (void)
{
  return "fast_unwind_on_malloc=0";
}

const char *
__lsan_default_suppressions (void)
{
  return "leak:g_set_user_dirs\n";
}

static void
respond_json (SoupServerMessage *msg,
              unsigned           status,
              const char        *json)
{
  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_COPY, json, strlen (json));
}

static char *
b64url (const char *text)
{
  g_autofree char *b64 = g_base64_encode ((const guchar *) text, strlen (text));
  GString         *out = g_string_new (NULL);

  for (const char *p = b64; *p != '\0' && *p != '='; p++)
    g_string_append_c (out, *p == '+' ? '-' : *p == '/' ? '_'
                                                        : *p);
  return g_string_free (out, FALSE);
}

char *
lctl_mock_oauth_make_jwt (const char *account_id,
                          const char *email,
                          gint64      exp)
{
  g_autofree char *header = b64url ("{\"alg\":\"RS256\",\"typ\":\"JWT\"}");
  g_autofree char *json = g_strdup_printf ("{\"exp\":%" G_GINT64_FORMAT ",\"email\":\"%s\","
                                           "\"https://api.openai.com/auth\":{\"chatgpt_account_id\":\"%s\"}}",
                                           exp, email, account_id);
  g_autofree char *payload = b64url (json);

  return g_strdup_printf ("%s.%s.c2lnbmF0dXJl", header, payload);
}

static GHashTable *
request_form (SoupServerMessage *msg,
              char             **content_type_out)
{
  SoupMessageBody *body = soup_server_message_get_request_body (msg);
  const char      *content_type = soup_message_headers_get_content_type (soup_server_message_get_request_headers (msg), NULL);
  g_autoptr (GBytes) bytes = soup_message_body_flatten (body);
  g_autofree char *text = g_strndup (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
  GHashTable      *form;

  if (content_type_out != NULL)
    *content_type_out = g_strdup (content_type);
  if (g_strcmp0 (content_type, "application/json") == 0)
    {
      g_autoptr (JsonParser) parser = json_parser_new ();
      JsonObject *object;
      g_autoptr (GList) members = NULL;

      form = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
      if (!json_parser_load_from_data (parser, text, -1, NULL) || !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
        return form;
      object = json_node_get_object (json_parser_get_root (parser));
      members = json_object_get_members (object);
      for (GList *l = members; l != NULL; l = l->next)
        if (json_node_get_value_type (json_object_get_member (object, l->data)) == G_TYPE_STRING)
          g_hash_table_insert (form, g_strdup (l->data),
                               g_strdup (json_object_get_string_member (object, l->data)));
      return form;
    }
  form = soup_form_decode (text);
  return form;
}

static void
issue_tokens (LctlMockOAuth     *mock,
              SoupServerMessage *msg,
              const char        *provider)
{
  g_autofree char *access = NULL;
  g_autofree char *refresh = NULL;
  g_autofree char *json = NULL;
  gint64           now = g_get_real_time () / G_USEC_PER_SEC;

  mock->token_serial++;
  if (g_str_equal (provider, "chatgpt"))
    access = lctl_mock_oauth_make_jwt ("acct-123", "user@example.com", now + mock->expires_in);
  else
    access = g_strdup_printf ("%s-access-%d", provider, mock->token_serial);
  refresh = g_strdup_printf ("%s-refresh-%d", provider, mock->token_serial);
  g_free (mock->valid_refresh_token);
  mock->valid_refresh_token = g_strdup (refresh);

  if (g_str_equal (provider, "chatgpt"))
    {
      g_autofree char *id_token = lctl_mock_oauth_make_jwt ("acct-123", "user@example.com", now + 3600);

      json = g_strdup_printf ("{\"access_token\":\"%s\",\"refresh_token\":\"%s\",\"id_token\":\"%s\","
                              "\"expires_in\":%d,\"token_type\":\"Bearer\"}",
                              access, refresh, id_token, mock->expires_in);
    }
  else if (g_str_equal (provider, "gemini_cli") && mock->google_no_refresh_token)
    json = g_strdup_printf ("{\"access_token\":\"%s\",\"expires_in\":%d}", access, mock->expires_in);
  else if (g_str_equal (provider, "qwen_portal"))
    json = g_strdup_printf ("{\"access_token\":\"%s\",\"refresh_token\":\"%s\",\"expires_in\":%d,"
                            "\"token_type\":\"Bearer\",\"resource_url\":\"portal.qwen.ai\"}",
                            access, refresh, mock->expires_in);
  else
    json = g_strdup_printf ("{\"access_token\":\"%s\",\"refresh_token\":\"%s\",\"expires_in\":%d,"
                            "\"token_type\":\"Bearer\",\"scope\":\"kimi-code\"}",
                            access, refresh, mock->expires_in);
  respond_json (msg, 200, json);
}

typedef struct
{
  LctlMockOAuth     *mock;
  SoupServerMessage *msg;
  char              *provider;
} Delayed;

static void handle_refresh (LctlMockOAuth *mock, SoupServerMessage *msg, const char *provider, GHashTable *form);

static gboolean
delayed_cb (gpointer user_data)
{
  Delayed *d = user_data;

  issue_tokens (d->mock, d->msg, d->provider);
  soup_server_message_unpause (d->msg);
  g_object_unref (d->msg);
  g_free (d->provider);
  g_free (d);
  return G_SOURCE_REMOVE;
}

static void
handle_refresh (LctlMockOAuth     *mock,
                SoupServerMessage *msg,
                const char        *provider,
                GHashTable        *form)
{
  const char *token = g_hash_table_lookup (form, "refresh_token");

  mock->refresh_count++;
  g_free (mock->last_refresh_grant_client_secret);
  mock->last_refresh_grant_client_secret = g_strdup (g_hash_table_lookup (form, "client_secret"));
  if (mock->refresh_mode == MOCK_REFRESH_REJECT || g_strcmp0 (token, mock->valid_refresh_token) != 0)
    {
      respond_json (msg, 400, "{\"error\":\"invalid_grant\",\"error_description\":\"Refresh token is invalid\"}");
      return;
    }
  if (mock->refresh_mode == MOCK_REFRESH_FAIL && mock->fail_times > 0)
    {
      mock->fail_times--;
      respond_json (msg, 503, "{\"error\":\"temporarily_unavailable\"}");
      return;
    }
  if (mock->refresh_delay_ms > 0)
    {
      Delayed *d = g_new0 (Delayed, 1);

      d->mock = mock;
      d->msg = g_object_ref (msg);
      d->provider = g_strdup (provider);
      soup_server_message_pause (msg);
      g_timeout_add (mock->refresh_delay_ms, delayed_cb, d);
      return;
    }
  issue_tokens (mock, msg, provider);
}

static const char *
provider_for_token_path (const char *path)
{
  if (g_str_equal (path, "/oauth/token"))
    return "chatgpt";
  if (g_str_equal (path, "/token"))
    return "gemini_cli";
  if (g_str_equal (path, "/api/v1/oauth2/token"))
    return "qwen_portal";
  if (g_str_equal (path, "/api/oauth/token"))
    return "kimi_code";
  return NULL;
}

static void
handle_poll (LctlMockOAuth     *mock,
             SoupServerMessage *msg,
             const char        *provider,
             GHashTable        *form)
{
  g_autofree char *step = NULL;
  gint64           now = g_get_monotonic_time ();

  g_array_append_val (mock->poll_times, now);
  g_clear_pointer (&mock->last_poll_headers, soup_message_headers_unref);
  mock->last_poll_headers = soup_message_headers_ref (soup_server_message_get_request_headers (msg));
  if (g_strcmp0 (g_hash_table_lookup (form, "device_code"), "dev-code-1") != 0)
    {
      respond_json (msg, 400, "{\"error\":\"invalid_request\",\"error_description\":\"unknown device_code\"}");
      return;
    }
  if (g_str_equal (provider, "qwen_portal"))
    {
      g_autofree char *challenge = lctl_oauth_pkce_challenge (g_hash_table_lookup (form, "code_verifier") != NULL
                                                                  ? g_hash_table_lookup (form, "code_verifier")
                                                                  : "");

      if (g_strcmp0 (challenge, mock->device_code_verifier_challenge) != 0)
        {
          respond_json (msg, 400, "{\"error\":\"invalid_grant\",\"error_description\":\"PKCE mismatch\"}");
          return;
        }
    }
  step = g_queue_pop_head (mock->poll_script);
  if (step == NULL || g_str_equal (step, "ok"))
    issue_tokens (mock, msg, provider);
  else if (g_str_equal (step, "pending"))
    respond_json (msg, 400, "{\"error\":\"authorization_pending\",\"error_description\":\"pending\"}");
  else if (g_str_equal (step, "slow_down"))
    respond_json (msg, 400, "{\"error\":\"slow_down\"}");
  else if (g_str_equal (step, "expired"))
    respond_json (msg, 400, "{\"error\":\"expired_token\",\"error_description\":\"expired\"}");
  else if (g_str_equal (step, "denied"))
    respond_json (msg, 400, "{\"error\":\"access_denied\",\"error_description\":\"denied\"}");
}

static void
handle_code_exchange (LctlMockOAuth     *mock,
                      SoupServerMessage *msg,
                      const char        *provider,
                      GHashTable        *form)
{
  const char      *challenge = g_hash_table_lookup (mock->authorize_query, "code_challenge");
  g_autofree char *computed = lctl_oauth_pkce_challenge (g_hash_table_lookup (form, "code_verifier") != NULL
                                                             ? g_hash_table_lookup (form, "code_verifier")
                                                             : "");

  if (g_strcmp0 (g_hash_table_lookup (form, "code"), mock->issued_code) != 0 || g_strcmp0 (computed, challenge) != 0 || g_strcmp0 (g_hash_table_lookup (form, "redirect_uri"), g_hash_table_lookup (mock->authorize_query, "redirect_uri")) != 0 || g_strcmp0 (g_hash_table_lookup (form, "client_id"), g_hash_table_lookup (mock->authorize_query, "client_id")) != 0 || (g_str_equal (provider, "gemini_cli") && g_strcmp0 (g_hash_table_lookup (form, "client_secret"), "GOCSPX-test-secret") != 0))
    {
      respond_json (msg, 400, "{\"error\":\"invalid_grant\",\"error_description\":\"bad code exchange\"}");
      return;
    }
  issue_tokens (mock, msg, provider);
}

static void
mock_handler (SoupServer        *server,
              SoupServerMessage *msg,
              const char        *path,
              GHashTable        *query,
              gpointer           user_data)
{
  LctlMockOAuth *mock = user_data;
  const char    *provider = provider_for_token_path (path);
  const char    *method = soup_server_message_get_method (msg);

  g_hash_table_insert (mock->hits, g_strdup (path),
                       GINT_TO_POINTER (GPOINTER_TO_INT (g_hash_table_lookup (mock->hits, path)) + 1));

  if (g_str_equal (path, "/oauth/authorize") || g_str_equal (path, "/o/oauth2/v2/auth"))
    {
      GHashTableIter   iter;
      gpointer         k, v;
      g_autofree char *location = NULL;

      g_hash_table_remove_all (mock->authorize_query);
      if (query != NULL)
        {
          g_hash_table_iter_init (&iter, query);
          while (g_hash_table_iter_next (&iter, &k, &v))
            g_hash_table_insert (mock->authorize_query, g_strdup (k), g_strdup (v));
        }
      g_free (mock->issued_code);
      mock->issued_code = g_strdup_printf ("code-%d", g_random_int_range (1000, 9999));
      location = g_strdup_printf ("%s?code=%s&state=%s",
                                  (char *) g_hash_table_lookup (mock->authorize_query, "redirect_uri"),
                                  mock->issued_code, (char *) g_hash_table_lookup (mock->authorize_query, "state"));
      soup_server_message_set_redirect (msg, 302, location);
      return;
    }
  if (provider != NULL && g_str_equal (method, "POST"))
    {
      g_autofree char *content_type = NULL;
      g_autoptr (GHashTable) form = request_form (msg, &content_type);
      const char *grant = g_hash_table_lookup (form, "grant_type");

      if (g_strcmp0 (grant, "refresh_token") == 0)
        {
          g_free (mock->last_refresh_content_type);
          mock->last_refresh_content_type = g_strdup (content_type);
          handle_refresh (mock, msg, provider, form);
        }
      else if (g_strcmp0 (grant, "authorization_code") == 0)
        handle_code_exchange (mock, msg, provider, form);
      else if (g_strcmp0 (grant, "urn:ietf:params:oauth:grant-type:device_code") == 0)
        handle_poll (mock, msg, provider, form);
      else
        respond_json (msg, 400, "{\"error\":\"unsupported_grant_type\"}");
      return;
    }
  if (g_str_equal (path, "/api/v1/oauth2/device/code") || g_str_equal (path, "/api/oauth/device_authorization"))
    {
      g_autoptr (GHashTable) form = request_form (msg, NULL);
      g_autofree char *json = NULL;

      g_clear_pointer (&mock->last_device_headers, soup_message_headers_unref);
      mock->last_device_headers = soup_message_headers_ref (soup_server_message_get_request_headers (msg));
      g_free (mock->device_code_verifier_challenge);
      mock->device_code_verifier_challenge = g_strdup (g_hash_table_lookup (form, "code_challenge"));
      g_clear_pointer (&mock->last_device_form, g_hash_table_unref);
      mock->last_device_form = g_hash_table_ref (form);
      json = g_strdup_printf ("{\"device_code\":\"dev-code-1\",\"user_code\":\"ABCD-1234\","
                              "\"verification_uri\":\"%s/device\","
                              "\"verification_uri_complete\":\"%s/device?user_code=ABCD-1234\","
                              "\"expires_in\":600,\"interval\":1}",
                              mock->base, mock->base);
      respond_json (msg, 200, json);
      return;
    }
  if (g_str_equal (path, "/oauth2/v1/userinfo"))
    {
      respond_json (msg, 200, "{\"email\":\"gemini-user@example.com\",\"id\":\"1\"}");
      return;
    }
  if (g_str_equal (path, "/v1internal:loadCodeAssist"))
    {
      g_autoptr (GBytes) body = soup_message_body_flatten (soup_server_message_get_request_body (msg));

      g_free (mock->load_code_assist_body);
      mock->load_code_assist_body = g_strndup (g_bytes_get_data (body, NULL), g_bytes_get_size (body));
      if (mock->load_code_assist_has_project)
        respond_json (msg, 200, "{\"currentTier\":{\"id\":\"free-tier\"},"
                                "\"cloudaicompanionProject\":{\"id\":\"assist-project-7\"}}");
      else
        respond_json (msg, 200, "{\"allowedTiers\":[{\"id\":\"standard-tier\"}]}");
      return;
    }
  if (g_str_equal (path, "/v1/projects") && g_str_equal (method, "GET"))
    {
      respond_json (msg, 200, "{\"projects\":[{\"projectId\":\"first-project\",\"name\":\"First\"},"
                              "{\"projectId\":\"my-gem-123\",\"name\":\"My Gemini Project\"}]}");
      return;
    }
  if (g_str_equal (path, "/v1internal:onboardUser"))
    {
      mock->onboard_count++;
      respond_json (msg, 200, "{\"done\":true}");
      return;
    }
  if (g_str_has_prefix (path, "/v1/projects/") && g_str_has_suffix (path, ":enable"))
    {
      respond_json (msg, 200, "{}");
      return;
    }
  respond_json (msg, 404, "{\"error\":\"not_found\"}");
}

LctlMockOAuth *
lctl_mock_oauth_new (void)
{
  LctlMockOAuth *mock = g_new0 (LctlMockOAuth, 1);

  mock->server = lctl_test_server_new (&mock->base);
  mock->hits = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  mock->authorize_query = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  mock->poll_script = g_queue_new ();
  mock->poll_times = g_array_new (FALSE, FALSE, sizeof (gint64));
  mock->expires_in = 3600;
  mock->load_code_assist_has_project = TRUE;
  soup_server_add_handler (mock->server, NULL, mock_handler, mock, NULL);
  return mock;
}

void
lctl_mock_oauth_free (LctlMockOAuth *mock)
{
  soup_server_disconnect (mock->server);
  g_object_unref (mock->server);
  g_free (mock->base);
  g_hash_table_unref (mock->hits);
  g_hash_table_unref (mock->authorize_query);
  g_queue_free_full (mock->poll_script, g_free);
  g_array_unref (mock->poll_times);
  g_free (mock->valid_refresh_token);
  g_free (mock->last_refresh_content_type);
  g_free (mock->last_refresh_grant_client_secret);
  g_free (mock->issued_code);
  g_free (mock->device_code_verifier_challenge);
  g_free (mock->load_code_assist_body);
  g_clear_pointer (&mock->last_device_headers, soup_message_headers_unref);
  g_clear_pointer (&mock->last_poll_headers, soup_message_headers_unref);
  g_clear_pointer (&mock->last_device_form, g_hash_table_unref);
  g_free (mock);
}

void
lctl_mock_oauth_setenv (LctlMockOAuth *mock)
{
  g_autofree char *port1 = g_strdup_printf ("%u", lctl_test_free_port ());
  g_autofree char *port2 = g_strdup_printf ("%u", lctl_test_free_port ());

  /* No GSettings schemas in a test HOME: keep GIO off the GNOME proxy
   * resolver. */
  g_setenv ("GIO_USE_PROXY_RESOLVER", "dummy", TRUE);
  g_setenv ("LITELLMCTL_CHATGPT_AUTH_BASE", mock->base, TRUE);
  g_setenv ("LITELLMCTL_GEMINI_AUTH_BASE", mock->base, TRUE);
  g_setenv ("GEMINI_CLI_API_BASE", mock->base, TRUE);
  g_setenv ("LITELLMCTL_QWEN_AUTH_BASE", mock->base, TRUE);
  g_setenv ("LITELLMCTL_KIMI_AUTH_BASE", mock->base, TRUE);
  g_setenv ("LITELLMCTL_CHATGPT_CALLBACK_PORT", port1, TRUE);
  g_setenv ("LITELLMCTL_GEMINI_CALLBACK_PORT", port2, TRUE);
  g_setenv ("GEMINI_CLI_OAUTH_CLIENT_ID", "123456-testclient.apps.googleusercontent.com", TRUE);
  g_setenv ("GEMINI_CLI_OAUTH_CLIENT_SECRET", "GOCSPX-test-secret", TRUE);
  g_setenv ("LITELLMCTL_TEST_TIME_SCALE", "0.01", TRUE);
  g_setenv ("KIMI_CODE_DEVICE_ID", "", TRUE);
  g_unsetenv ("KIMI_CODE_DEVICE_ID");
  g_unsetenv ("GOOGLE_CLOUD_PROJECT");
  g_unsetenv ("GOOGLE_CLOUD_PROJECT_ID");
}

int
lctl_mock_oauth_hits (LctlMockOAuth *mock,
                      const char    *path)
{
  return GPOINTER_TO_INT (g_hash_table_lookup (mock->hits, path));
}

void
lctl_mock_oauth_script_polls (LctlMockOAuth *mock,
                              const char    *first,
                              ...)
{
  va_list ap;

  va_start (ap, first);
  for (const char *s = first; s != NULL; s = va_arg (ap, const char *))
    g_queue_push_tail (mock->poll_script, g_strdup (s));
  va_end (ap);
}

typedef struct
{
  GBytes  *bytes;
  GError  *error;
  gboolean done;
} BrowserResult;

static void
browser_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  BrowserResult *r = user_data;

  r->bytes = soup_session_send_and_read_finish (SOUP_SESSION (source), result, &r->error);
  r->done = TRUE;
}

unsigned
lctl_test_browser_get (const char *url,
                       char      **body)
{
  g_autoptr (SoupSession) session = soup_session_new ();
  g_autoptr (SoupMessage) msg = soup_message_new ("GET", url);
  BrowserResult r = { 0 };

  g_assert_nonnull (msg);
  soup_session_send_and_read_async (session, msg, G_PRIORITY_DEFAULT, NULL, browser_cb, &r);
  lctl_test_wait_for (&r.done, 10000);
  g_assert_no_error (r.error);
  if (body != NULL)
    *body = g_strndup (g_bytes_get_data (r.bytes, NULL), g_bytes_get_size (r.bytes));
  g_bytes_unref (r.bytes);
  return soup_message_get_status (msg);
}

JsonObject *
lctl_test_json_object (const char *json)
{
  g_autoptr (GError) error = NULL;
  JsonObject *object = lctl_credential_from_string (json, &error);

  g_assert_no_error (error);
  return object;
}
