/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#include "config.h"

#define G_LOG_DOMAIN "lctl-oauth"

#include "lctl-error.h"
#include "lctl-gemini-setup.h"
#include "lctl-login-flow.h"
#include "lctl-oauth-provider.h"
#include "lctl-oauth-util.h"

/* One interactive login (PROTOCOLS.md §1.2–1.5) as an async state machine:
 *
 *   PKCE (chatgpt, gemini_cli): [client credentials] → callback server →
 *     prompt(url) → code from the callback or a pasted URL → exchange →
 *     [userinfo → loadCodeAssist → projects → onboardUser] → record
 *   device (qwen_portal, kimi_code): device request → prompt(url, user code)
 *     → poll with back-off → record
 *
 * The "prompt" signal tells the user what to do, "progress" what happens.
 * Everything ends after 5 minutes or the device code's lifetime. */

#define LOGIN_TIMEOUT_SECONDS 300

struct _LctlLoginFlow
{
  GObject parent_instance;

  char                    *id;
  const LctlOAuthProvider *provider;
  SoupSession             *session;
  gboolean                 headless;
  double                   time_scale;

  GTask        *task;
  gboolean      cancelled;
  GCancellable *cancellable;
  gulong        cancelled_id;
  guint         timeout_id;
  guint         poll_id;
  GVariant     *prompt;

  /* PKCE */
  SoupServer *server;
  char       *verifier;
  char       *state;
  char       *redirect_uri;
  char       *client_id;
  char       *client_secret;
  gboolean    have_code;

  /* Device code */
  char  *device_code;
  double interval;
  gint64 deadline;

  JsonObject *record;
};

G_DEFINE_FINAL_TYPE (LctlLoginFlow, lctl_login_flow, G_TYPE_OBJECT)

enum
{
  SIGNAL_PROMPT,
  SIGNAL_PROGRESS,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void
flow_cleanup (LctlLoginFlow *self)
{
  g_clear_handle_id (&self->timeout_id, g_source_remove);
  g_clear_handle_id (&self->poll_id, g_source_remove);
  if (self->server != NULL)
    {
      soup_server_disconnect (self->server);
      g_clear_object (&self->server);
    }
  if (self->task != NULL && self->cancelled_id != 0)
    g_cancellable_disconnect (g_task_get_cancellable (self->task), self->cancelled_id);
  self->cancelled_id = 0;
}

static void
flow_fail (LctlLoginFlow *self,
           GError        *error)
{
  g_autoptr (GTask) task = g_steal_pointer (&self->task);

  if (task == NULL)
    {
      g_error_free (error);
      return;
    }
  self->task = task;
  flow_cleanup (self);
  self->task = NULL;
  g_cancellable_cancel (self->cancellable);
  g_task_return_error (task, error);
}

static void
flow_fail_literal (LctlLoginFlow *self,
                   int            code,
                   const char    *message)
{
  flow_fail (self, g_error_new_literal (LCTL_ERROR, code, message));
}

static void
flow_succeed (LctlLoginFlow *self)
{
  g_autoptr (GTask) task = g_steal_pointer (&self->task);

  if (task == NULL)
    return;
  self->task = task;
  flow_cleanup (self);
  self->task = NULL;
  g_task_return_pointer (task, json_object_ref (self->record), (GDestroyNotify) json_object_unref);
}

static gboolean
flow_active (LctlLoginFlow *self)
{
  return self->task != NULL;
}

static void
progress (LctlLoginFlow *self,
          const char    *format,
          ...) G_GNUC_PRINTF (2, 3);

static void
progress (LctlLoginFlow *self,
          const char    *format,
          ...)
{
  g_autofree char *message = NULL;
  va_list          ap;

  va_start (ap, format);
  message = g_strdup_vprintf (format, ap);
  va_end (ap);
  g_signal_emit (self, signals[SIGNAL_PROGRESS], 0, message);
}

static void
emit_prompt (LctlLoginFlow *self,
             const char    *url,
             const char    *user_code,
             gint64         expires_at)
{
  GVariantDict dict;

  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "url", "s", url);
  g_variant_dict_insert (&dict, "provider", "s", self->provider->id);
  if (user_code != NULL)
    g_variant_dict_insert (&dict, "user-code", "s", user_code);
  if (self->provider->flow == LCTL_OAUTH_FLOW_PKCE)
    g_variant_dict_insert (&dict, "callback-port", "u",
                           lctl_oauth_provider_get_callback_port (self->provider));
  g_variant_dict_insert (&dict, "expires-at", "x", expires_at);
  g_clear_pointer (&self->prompt, g_variant_unref);
  self->prompt = g_variant_ref_sink (g_variant_dict_end (&dict));
  g_signal_emit (self, signals[SIGNAL_PROMPT], 0, self->prompt);

  if (!self->headless)
    {
      g_autoptr (GError) error = NULL;

      if (!g_app_info_launch_default_for_uri (url, NULL, &error))
        progress (self, "Could not open a browser (%s); open the URL yourself.", error->message);
      else
        progress (self, "Opened the browser.");
    }
}

static void
flow_http (LctlLoginFlow      *self,
           const char         *method,
           const char         *url,
           const char *const  *headers,
           const char         *content_type,
           const char         *body,
           GAsyncReadyCallback callback)
{
  lctl_oauth_http_async (self->session, method, url, headers, content_type, body,
                         self->cancellable, callback, g_object_ref (self));
}

/* Common handling of an HTTP answer in a step; returns the reply only when
 * the flow should go on with it. */
static LctlOAuthReply *
flow_reply (LctlLoginFlow *self,
            GAsyncResult  *result,
            const char    *what)
{
  g_autoptr (GError) error = NULL;
  LctlOAuthReply *reply = lctl_oauth_http_finish (result, &error);

  if (!flow_active (self))
    {
      g_clear_pointer (&reply, lctl_oauth_reply_free);
      return NULL;
    }
  if (reply == NULL)
    {
      flow_fail (self, g_error_new (LCTL_ERROR, LCTL_ERROR_UPSTREAM, "%s failed: %s", what, error->message));
      return NULL;
    }
  return reply;
}

/* ---- Gemini after the code exchange: e-mail and Code Assist project ---- */

static void
gemini_progress_cb (const char *message,
                    gpointer    user_data)
{
  LctlLoginFlow *self = user_data;

  if (flow_active (self))
    g_signal_emit (self, signals[SIGNAL_PROGRESS], 0, message);
}

static void
gemini_setup_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr (LctlLoginFlow) self = user_data;
  g_autoptr (GError) error = NULL;

  if (!lctl_gemini_setup_finish (result, &error) || !flow_active (self))
    return;
  flow_succeed (self);
}

/* ---- PKCE: code exchange ---- */

static void
exchange_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr (LctlLoginFlow) self = user_data;
  g_autoptr (LctlOAuthReply) reply = flow_reply (self, result, "The token exchange");
  JsonObject *answer;

  if (reply == NULL)
    return;
  answer = lctl_oauth_reply_get_object (reply);
  if (reply->status < 200 || reply->status >= 300 || answer == NULL)
    {
      g_autofree char *what = lctl_oauth_reply_describe (reply);

      flow_fail (self, g_error_new (LCTL_ERROR, LCTL_ERROR_UNAUTHORIZED,
                                    "The token exchange was refused (%s)", what));
      return;
    }
  if (g_str_equal (self->provider->id, "gemini_cli") && lctl_credential_get_string (answer, "refresh_token") == NULL)
    {
      flow_fail_literal (self, LCTL_ERROR_UPSTREAM, "No refresh_token received. Try again.");
      return;
    }
  self->record = json_object_new ();
  if (!lctl_credential_apply_token_reply (self->provider->id, self->record, answer))
    {
      flow_fail_literal (self, LCTL_ERROR_UPSTREAM, "The token endpoint answered without an access token.");
      return;
    }
  progress (self, "✓ Got the tokens.");
  if (g_str_equal (self->provider->id, "gemini_cli"))
    {
      json_object_set_string_member (self->record, "oauth_client_id", self->client_id);
      json_object_set_string_member (self->record, "oauth_client_secret", self->client_secret);
      lctl_gemini_setup_async (self->session, self->record, gemini_progress_cb, self, self->cancellable,
                               gemini_setup_cb, g_object_ref (self));
      return;
    }
  flow_succeed (self);
}

static void
accept_code (LctlLoginFlow *self,
             const char    *code,
             const char    *how)
{
  g_autofree char *url = lctl_oauth_token_url (self->provider->id);
  g_autofree char *body = NULL;

  self->have_code = TRUE;
  progress (self, "✓ Got the authorization code (%s). Exchanging it for tokens...", how);
  body = lctl_oauth_form_encode ("grant_type", "authorization_code",
                                 "client_id", self->client_id,
                                 "code", code,
                                 "code_verifier", self->verifier,
                                 "redirect_uri", self->redirect_uri,
                                 self->client_secret != NULL ? "client_secret" : NULL, self->client_secret,
                                 NULL);
  flow_http (self, "POST", url, NULL, "application/x-www-form-urlencoded", body, exchange_cb);
  explicit_bzero (body, strlen (body));
}

static const char page_template[] = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>litellmctl</title>"
                                    "<style>body{font-family:sans-serif;max-width:36em;margin:4em auto;color:#222}"
                                    "h1{font-size:1.4em}</style></head>"
                                    "<body><h1>%s</h1><p>%s</p></body></html>\n";

static void
respond_page (SoupServerMessage *msg,
              unsigned           status,
              const char        *title,
              const char        *text)
{
  g_autofree char *title_e = g_markup_escape_text (title, -1);
  g_autofree char *text_e = g_markup_escape_text (text, -1);
  g_autofree char *body = g_strdup_printf (page_template, title_e, text_e);

  soup_server_message_set_status (msg, status, NULL);
  soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Cache-Control", "no-store");
  soup_server_message_set_response (msg, "text/html; charset=utf-8", SOUP_MEMORY_COPY, body, strlen (body));
}

/* Validates a redirect's parameters. Returns the code, or NULL with @error
 * (and @fatal set when the provider reported an error). */
static const char *
check_redirect (LctlLoginFlow *self,
                GHashTable    *query,
                gboolean      *fatal,
                GError       **error)
{
  const char *code = query != NULL ? g_hash_table_lookup (query, "code") : NULL;
  const char *state = query != NULL ? g_hash_table_lookup (query, "state") : NULL;
  const char *oauth_error = query != NULL ? g_hash_table_lookup (query, "error") : NULL;

  *fatal = FALSE;
  if (state != NULL && g_strcmp0 (state, self->state) != 0)
    {
      g_set_error_literal (error, LCTL_ERROR, LCTL_ERROR_INVALID_ARGUMENT,
                           "State mismatch: this redirect belongs to another login.");
      return NULL;
    }
  if (oauth_error != NULL)
    {
      const char *description = g_hash_table_lookup (query, "error_description");

      *fatal = TRUE;
      g_set_error (error, LCTL_ERROR, LCTL_ERROR_UNAUTHORIZED, "OAuth error: %s%s%s", oauth_error,
                   description != NULL ? " — " : "", description != NULL ? description : "");
      return NULL;
    }
  if (code == NULL || *code == '\0')
    {
      g_set_error_literal (error, LCTL_ERROR, LCTL_ERROR_INVALID_ARGUMENT,
                           "Could not extract code. Paste the full redirect URL.");
      return NULL;
    }
  if (state == NULL && query != NULL)
    {
      /* The browser's redirect always carries our state; require it. */
      g_set_error_literal (error, LCTL_ERROR, LCTL_ERROR_INVALID_ARGUMENT,
                           "The redirect URL has no state parameter. Paste the full redirect URL.");
      return NULL;
    }
  return code;
}

static void
callback_handler (SoupServer        *server,
                  SoupServerMessage *msg,
                  const char        *path,
                  GHashTable        *query,
                  gpointer           user_data)
{
  LctlLoginFlow *self = user_data;
  g_autoptr (GError) error = NULL;
  gboolean    fatal = FALSE;
  const char *code;

  if (!g_str_equal (path, self->provider->callback_path))
    {
      respond_page (msg, SOUP_STATUS_NOT_FOUND, "Not found", "This is the litellmctl login callback.");
      return;
    }
  if (!flow_active (self) || self->have_code)
    {
      respond_page (msg, SOUP_STATUS_OK, "Login already handled",
                    "This login has already received its answer. You can close this tab.");
      return;
    }
  code = check_redirect (self, query, &fatal, &error);
  if (code == NULL)
    {
      respond_page (msg, SOUP_STATUS_BAD_REQUEST, "Login failed", error->message);
      if (fatal)
        flow_fail (self, g_steal_pointer (&error));
      else
        progress (self, "Ignored a callback: %s", error->message);
      return;
    }
  respond_page (msg, SOUP_STATUS_OK, "Authentication successful!",
                "litellmctl received the login. You can close this tab.");
  g_object_ref (self);
  accept_code (self, code, "callback");
  g_object_unref (self);
}

static void
pkce_start (LctlLoginFlow *self)
{
  unsigned port = lctl_oauth_provider_get_callback_port (self->provider);
  g_autoptr (GError) error = NULL;
  g_autofree char *challenge = NULL;
  g_autofree char *query = NULL;
  g_autofree char *base = NULL;
  g_autofree char *url = NULL;
  gboolean         chatgpt = g_str_equal (self->provider->id, "chatgpt");

  self->verifier = lctl_oauth_random_urlsafe (32);
  self->state = lctl_oauth_random_urlsafe (16);
  challenge = lctl_oauth_pkce_challenge (self->verifier);
  self->redirect_uri = g_strdup_printf ("http://localhost:%u%s", port, self->provider->callback_path);

  self->server = soup_server_new ("server-header", PACKAGE_NAME " ", NULL);
  soup_server_add_handler (self->server, NULL, callback_handler, self, NULL);
  if (!soup_server_listen_local (self->server, port, 0, &error))
    {
      flow_fail (self, g_error_new (LCTL_ERROR, LCTL_ERROR_FAILED,
                                    "Cannot listen on localhost:%u for the login callback (%s). "
                                    "Is another login running?",
                                    port, error->message));
      return;
    }

  if (chatgpt)
    {
      query = lctl_oauth_form_encode ("response_type", "code",
                                      "client_id", self->client_id,
                                      "redirect_uri", self->redirect_uri,
                                      "scope", "openid profile email offline_access",
                                      "code_challenge", challenge,
                                      "code_challenge_method", "S256",
                                      "state", self->state,
                                      "id_token_add_organizations", "true",
                                      "codex_cli_simplified_flow", "true",
                                      "originator", "codex_cli_rs",
                                      NULL);
      base = lctl_oauth_url ("LITELLMCTL_CHATGPT_AUTH_BASE", "https://auth.openai.com", "/oauth/authorize");
    }
  else
    {
      query = lctl_oauth_form_encode ("response_type", "code",
                                      "client_id", self->client_id,
                                      "redirect_uri", self->redirect_uri,
                                      "scope",
                                      "https://www.googleapis.com/auth/cloud-platform "
                                      "https://www.googleapis.com/auth/userinfo.email "
                                      "https://www.googleapis.com/auth/userinfo.profile",
                                      "code_challenge", challenge,
                                      "code_challenge_method", "S256",
                                      "state", self->state,
                                      "access_type", "offline",
                                      "prompt", "consent",
                                      NULL);
      base = lctl_oauth_url ("LITELLMCTL_GEMINI_AUTH_BASE", "https://accounts.google.com", "/o/oauth2/v2/auth");
    }
  url = g_strconcat (base, "?", query, NULL);
  emit_prompt (self, url, NULL, g_get_real_time () / G_USEC_PER_SEC + LOGIN_TIMEOUT_SECONDS);
  progress (self, "Waiting for the callback on localhost:%u (or paste the redirect URL)...", port);
}

static void
gemini_client_cb (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr (LctlLoginFlow) self = user_data;
  g_autoptr (GError) error = NULL;

  if (!flow_active (self))
    return;
  if (!lctl_oauth_gemini_client_finish (result, &self->client_id, &self->client_secret, &error))
    {
      flow_fail (self, g_steal_pointer (&error));
      return;
    }
  pkce_start (self);
}

/* ---- Device code ---- */

static void schedule_poll (LctlLoginFlow *self);

static void
poll_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  g_autoptr (LctlLoginFlow) self = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (LctlOAuthReply) reply = lctl_oauth_http_finish (result, &error);
  gboolean    qwen = g_str_equal (self->provider->id, "qwen_portal");
  const char *oauth_error;

  if (!flow_active (self))
    return;
  if (reply == NULL)
    {
      /* Network hiccups while the user is busy in the browser: keep going. */
      progress (self, "Polling failed (%s); retrying.", error->message);
      schedule_poll (self);
      return;
    }
  oauth_error = lctl_oauth_reply_get_string (reply, "error");
  if (reply->status == 200 && lctl_oauth_reply_get_string (reply, "access_token") != NULL)
    {
      self->record = json_object_new ();
      lctl_credential_apply_token_reply (self->provider->id, self->record, lctl_oauth_reply_get_object (reply));
      progress (self, "✓ Authorized.");
      flow_succeed (self);
      return;
    }
  if (g_strcmp0 (oauth_error, "slow_down") == 0)
    {
      self->interval += 5;
      schedule_poll (self);
      return;
    }
  if (g_strcmp0 (oauth_error, "expired_token") == 0)
    {
      g_autofree char *message = g_strdup_printf ("The device code expired before the login was approved. "
                                                  "Run 'litellmctl auth %s' again.",
                                                  self->provider->cli_name);

      flow_fail_literal (self, LCTL_ERROR_TIMEOUT, message);
      return;
    }
  if (g_strcmp0 (oauth_error, "access_denied") == 0)
    {
      flow_fail_literal (self, LCTL_ERROR_UNAUTHORIZED, "The login was denied in the browser.");
      return;
    }
  if (g_strcmp0 (oauth_error, "authorization_pending") == 0 || reply->status == 429 || (reply->status == 200 && g_strcmp0 (lctl_oauth_reply_get_string (reply, "status"), "pending") == 0) || reply->status >= 500)
    {
      if (qwen)
        self->interval = MIN (self->interval + 0.5, MAX (self->interval, 10.0));
      schedule_poll (self);
      return;
    }
  /* Kimi, like kimi-cli, keeps polling through anything else. */
  if (qwen)
    {
      g_autofree char *what = lctl_oauth_reply_describe (reply);

      flow_fail (self, g_error_new (LCTL_ERROR, LCTL_ERROR_UNAUTHORIZED, "Device token error: %s", what));
      return;
    }
  schedule_poll (self);
}

static gboolean
poll_timeout_cb (gpointer user_data)
{
  LctlLoginFlow   *self = user_data;
  g_autofree char *url = lctl_oauth_token_url (self->provider->id);
  g_autofree char *body = NULL;
  g_auto (GStrv) headers = NULL;

  self->poll_id = 0;
  if (g_get_real_time () / G_USEC_PER_SEC >= self->deadline)
    {
      g_autofree char *message = g_strdup_printf ("The device code expired before the login was approved. "
                                                  "Run 'litellmctl auth %s' again.",
                                                  self->provider->cli_name);

      flow_fail_literal (self, LCTL_ERROR_TIMEOUT, message);
      return G_SOURCE_REMOVE;
    }
  if (g_str_equal (self->provider->id, "qwen_portal"))
    {
      const char *qwen[] = { "User-Agent", "qwen-code/1.0.0", NULL };

      headers = g_strdupv ((char **) qwen);
      body = lctl_oauth_form_encode ("grant_type", "urn:ietf:params:oauth:grant-type:device_code",
                                     "client_id", self->client_id,
                                     "device_code", self->device_code,
                                     "code_verifier", self->verifier,
                                     NULL);
    }
  else
    {
      headers = lctl_oauth_kimi_headers ();
      body = lctl_oauth_form_encode ("client_id", self->client_id,
                                     "device_code", self->device_code,
                                     "grant_type", "urn:ietf:params:oauth:grant-type:device_code",
                                     NULL);
    }
  flow_http (self, "POST", url, (const char *const *) headers, "application/x-www-form-urlencoded", body, poll_cb);
  return G_SOURCE_REMOVE;
}

static void
schedule_poll (LctlLoginFlow *self)
{
  double seconds = self->interval * self->time_scale;

  g_clear_handle_id (&self->poll_id, g_source_remove);
  self->poll_id = g_timeout_add ((guint) (seconds * 1000), poll_timeout_cb, self);
}

static gint64
member_int (JsonObject *object,
            const char *member,
            gint64      fallback)
{
  JsonNode *node = object != NULL ? json_object_get_member (object, member) : NULL;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node))
    return fallback;
  if (json_node_get_value_type (node) == G_TYPE_INT64 || json_node_get_value_type (node) == G_TYPE_DOUBLE)
    return (gint64) json_node_get_double (node) > 0 ? (gint64) json_node_get_double (node) : fallback;
  return fallback;
}

static void
device_cb (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  g_autoptr (LctlLoginFlow) self = user_data;
  g_autoptr (LctlOAuthReply) reply = flow_reply (self, result, "The device code request");
  JsonObject *answer;
  const char *url, *user_code;
  gint64      expires_in;

  if (reply == NULL)
    return;
  answer = lctl_oauth_reply_get_object (reply);
  self->device_code = g_strdup (lctl_oauth_reply_get_string (reply, "device_code"));
  user_code = lctl_oauth_reply_get_string (reply, "user_code");
  url = lctl_oauth_reply_get_string (reply, "verification_uri_complete");
  if (url == NULL)
    url = lctl_oauth_reply_get_string (reply, "verification_uri");
  if (reply->status < 200 || reply->status >= 300 || self->device_code == NULL || user_code == NULL || url == NULL)
    {
      g_autofree char *what = lctl_oauth_reply_describe (reply);

      flow_fail (self, g_error_new (LCTL_ERROR, LCTL_ERROR_UPSTREAM,
                                    "The device code request failed (%s)", what));
      return;
    }
  expires_in = member_int (answer, "expires_in", 600);
  self->deadline = g_get_real_time () / G_USEC_PER_SEC + expires_in;
  if (g_str_equal (self->provider->id, "qwen_portal"))
    self->interval = 2.0;
  else
    self->interval = MAX (member_int (answer, "interval", 5), 1);
  /* The device code's own lifetime bounds the wait, not our 5 minutes. */
  g_clear_handle_id (&self->timeout_id, g_source_remove);
  emit_prompt (self, url, user_code, self->deadline);
  progress (self, "Waiting for authorization (expires in %" G_GINT64_FORMAT "m)...", (expires_in + 59) / 60);
  schedule_poll (self);
}

static void
device_start (LctlLoginFlow *self)
{
  g_autofree char *url = NULL;
  g_autofree char *body = NULL;
  g_auto (GStrv) headers = NULL;

  if (g_str_equal (self->provider->id, "qwen_portal"))
    {
      g_autofree char *challenge = NULL;
      g_autofree char *request_id = g_uuid_string_random ();
      const char      *qwen[] = { "User-Agent", "qwen-code/1.0.0", "x-request-id", request_id, NULL };

      self->verifier = lctl_oauth_random_urlsafe (32);
      challenge = lctl_oauth_pkce_challenge (self->verifier);
      url = lctl_oauth_url ("LITELLMCTL_QWEN_AUTH_BASE", "https://chat.qwen.ai", "/api/v1/oauth2/device/code");
      body = lctl_oauth_form_encode ("client_id", self->client_id,
                                     "scope", "openid profile email model.completion",
                                     "code_challenge", challenge,
                                     "code_challenge_method", "S256",
                                     NULL);
      headers = g_strdupv ((char **) qwen);
    }
  else
    {
      url = g_getenv ("LITELLMCTL_KIMI_AUTH_BASE") == NULL && g_getenv ("KIMI_CODE_OAUTH_HOST") != NULL
                ? lctl_oauth_url ("KIMI_CODE_OAUTH_HOST", "https://auth.kimi.com", "/api/oauth/device_authorization")
                : lctl_oauth_url ("LITELLMCTL_KIMI_AUTH_BASE", "https://auth.kimi.com", "/api/oauth/device_authorization");
      body = lctl_oauth_form_encode ("client_id", self->client_id, NULL);
      headers = lctl_oauth_kimi_headers ();
    }
  progress (self, "Requesting a device code...");
  flow_http (self, "POST", url, (const char *const *) headers, "application/x-www-form-urlencoded", body, device_cb);
}

/* ---- Public API ---- */

static gboolean
login_timeout_cb (gpointer user_data)
{
  LctlLoginFlow *self = user_data;

  self->timeout_id = 0;
  flow_fail_literal (self, LCTL_ERROR_TIMEOUT, "Timed out waiting for the login (5 minutes).");
  return G_SOURCE_REMOVE;
}

static gboolean
cancel_idle_cb (gpointer user_data)
{
  lctl_login_flow_cancel (user_data);
  return G_SOURCE_REMOVE;
}

static void
run_cancelled_cb (GCancellable *cancellable,
                  gpointer      user_data)
{
  LctlLoginFlow *self = user_data;

  /* Finish from an idle: a cancelled handler must not disconnect itself. */
  g_idle_add_full (G_PRIORITY_DEFAULT, cancel_idle_cb, g_object_ref (self), g_object_unref);
}

/**
 * lctl_login_flow_run_async:
 *
 * Runs the login. Emits "prompt" once the user has something to do.
 */
void
lctl_login_flow_run_async (LctlLoginFlow      *self,
                           GCancellable       *cancellable,
                           GAsyncReadyCallback callback,
                           gpointer            user_data)
{
  const char *timeout_env = g_getenv ("LITELLMCTL_LOGIN_TIMEOUT");
  guint64     timeout = LOGIN_TIMEOUT_SECONDS;

  g_return_if_fail (LCTL_IS_LOGIN_FLOW (self));
  g_return_if_fail (self->task == NULL);

  self->task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (self->task, lctl_login_flow_run_async);
  if (self->cancelled)
    {
      flow_fail_literal (self, LCTL_ERROR_CANCELLED, "Login cancelled.");
      return;
    }
  if (cancellable != NULL)
    self->cancelled_id = g_cancellable_connect (cancellable, G_CALLBACK (run_cancelled_cb), self, NULL);
  if (timeout_env != NULL)
    g_ascii_string_to_unsigned (timeout_env, 10, 1, 3600, &timeout, NULL);
  self->timeout_id = g_timeout_add_seconds ((guint) timeout, login_timeout_cb, self);

  if (self->provider->flow == LCTL_OAUTH_FLOW_DEVICE)
    device_start (self);
  else if (self->client_id == NULL)
    lctl_oauth_gemini_client_async (self->cancellable, gemini_client_cb, g_object_ref (self));
  else
    pkce_start (self);
}

/**
 * lctl_login_flow_run_finish:
 *
 * Returns: (transfer full): The new credential record (it holds secrets).
 */
JsonObject *
lctl_login_flow_run_finish (LctlLoginFlow *self,
                            GAsyncResult  *result,
                            GError       **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * lctl_login_flow_complete:
 * @redirect_url: The URL the browser landed on (or just its query).
 *
 * Completes a PKCE login with a pasted redirect URL, for hosts whose
 * browser cannot reach our callback. A bad URL leaves the login waiting.
 *
 * Returns: Whether the code was accepted.
 */
gboolean
lctl_login_flow_complete (LctlLoginFlow *self,
                          const char    *redirect_url,
                          GError       **error)
{
  g_autoptr (GHashTable) query = NULL;
  g_autofree char *text = NULL;
  const char      *q;
  gboolean         fatal = FALSE;
  const char      *code;

  g_return_val_if_fail (LCTL_IS_LOGIN_FLOW (self), FALSE);

  if (self->provider->flow != LCTL_OAUTH_FLOW_PKCE)
    {
      g_set_error (error, LCTL_ERROR, LCTL_ERROR_UNSUPPORTED,
                   "%s logs in with a device code; there is no redirect URL to paste",
                   self->provider->label);
      return FALSE;
    }
  if (!flow_active (self) || self->state == NULL)
    {
      g_set_error_literal (error, LCTL_ERROR, LCTL_ERROR_INVALID_ARGUMENT, "This login is not waiting for a code");
      return FALSE;
    }
  if (self->have_code)
    {
      g_set_error_literal (error, LCTL_ERROR, LCTL_ERROR_INVALID_ARGUMENT, "This login already received its code");
      return FALSE;
    }
  text = g_strstrip (g_strdup (redirect_url));
  q = strchr (text, '?');
  q = q != NULL ? q + 1 : text;
  {
    g_autofree char *no_fragment = g_strdup (q);
    char            *hash = strchr (no_fragment, '#');

    if (hash != NULL)
      *hash = '\0';
    query = g_uri_parse_params (no_fragment, -1, "&", G_URI_PARAMS_NONE, NULL);
  }
  code = check_redirect (self, query, &fatal, error);
  if (code == NULL)
    {
      if (fatal)
        flow_fail (self, g_error_copy (*error));
      return FALSE;
    }
  accept_code (self, code, "pasted URL");
  return TRUE;
}

/**
 * lctl_login_flow_cancel:
 *
 * Ends the login with %LCTL_ERROR_CANCELLED.
 */
void
lctl_login_flow_cancel (LctlLoginFlow *self)
{
  g_return_if_fail (LCTL_IS_LOGIN_FLOW (self));

  self->cancelled = TRUE;
  flow_fail_literal (self, LCTL_ERROR_CANCELLED, "Login cancelled.");
}

/**
 * lctl_login_flow_get_prompt:
 *
 * Returns: (transfer none) (nullable): The last prompt (a{sv}).
 */
GVariant *
lctl_login_flow_get_prompt (LctlLoginFlow *self)
{
  return self->prompt;
}

const char *
lctl_login_flow_get_id (LctlLoginFlow *self)
{
  return self->id;
}

/**
 * lctl_login_flow_get_provider:
 *
 * Returns: (transfer none): The provider key.
 */
const char *
lctl_login_flow_get_provider (LctlLoginFlow *self)
{
  return self->provider->id;
}

static void
lctl_login_flow_dispose (GObject *object)
{
  LctlLoginFlow *self = LCTL_LOGIN_FLOW (object);

  flow_cleanup (self);
  g_cancellable_cancel (self->cancellable);
  G_OBJECT_CLASS (lctl_login_flow_parent_class)->dispose (object);
}

static void
lctl_login_flow_finalize (GObject *object)
{
  LctlLoginFlow *self = LCTL_LOGIN_FLOW (object);

  g_free (self->id);
  g_clear_object (&self->session);
  g_clear_object (&self->task);
  g_clear_object (&self->cancellable);
  g_clear_pointer (&self->prompt, g_variant_unref);
  g_free (self->verifier);
  g_free (self->state);
  g_free (self->redirect_uri);
  g_free (self->client_id);
  g_free (self->client_secret);
  g_free (self->device_code);
  g_clear_pointer (&self->record, json_object_unref);
  G_OBJECT_CLASS (lctl_login_flow_parent_class)->finalize (object);
}

static void
lctl_login_flow_class_init (LctlLoginFlowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = lctl_login_flow_dispose;
  object_class->finalize = lctl_login_flow_finalize;

  /**
   * LctlLoginFlow::prompt:
   * @prompt: a{sv}: "url", "user-code", "callback-port", "expires-at".
   */
  signals[SIGNAL_PROMPT] = g_signal_new ("prompt", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                         NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_VARIANT);
  /**
   * LctlLoginFlow::progress:
   * @message: What happens now, for people.
   */
  signals[SIGNAL_PROGRESS] = g_signal_new ("progress", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                           NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
}

static void
lctl_login_flow_init (LctlLoginFlow *self)
{
  const char *scale = g_getenv ("LITELLMCTL_TEST_TIME_SCALE");

  self->id = g_uuid_string_random ();
  self->cancellable = g_cancellable_new ();
  self->time_scale = scale != NULL ? g_ascii_strtod (scale, NULL) : 1.0;
  if (self->time_scale <= 0)
    self->time_scale = 1.0;
}

/**
 * lctl_login_flow_new:
 * @provider: A provider key or alias.
 * @session: The session for OAuth endpoints.
 * @headless: Whether not to open a browser (the URL is only signalled).
 *
 * Returns: (transfer full): A login, or %NULL for an unknown provider.
 */
LctlLoginFlow *
lctl_login_flow_new (const char  *provider,
                     SoupSession *session,
                     gboolean     headless,
                     GError     **error)
{
  const LctlOAuthProvider *info = lctl_oauth_provider_lookup (provider);
  LctlLoginFlow           *self;

  if (info == NULL)
    {
      g_set_error (error, LCTL_ERROR, LCTL_ERROR_NOT_FOUND,
                   "Unknown OAuth provider “%s” (chatgpt, gemini, qwen or kimi)", provider);
      return NULL;
    }
  self = g_object_new (LCTL_TYPE_LOGIN_FLOW, NULL);
  self->provider = info;
  self->session = g_object_ref (session);
  self->headless = headless;
  self->client_id = g_strdup (info->client_id);
  return self;
}
