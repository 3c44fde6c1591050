/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#include "config.h"

#define G_LOG_DOMAIN "lctl-oauth"

#include <errno.h>
#include <glib/gstdio.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/random.h>
#include <sys/utsname.h>

#include "lctl-error.h"
#include "lctl-oauth-util.h"

static void
fill_random (guint8 *buf,
             gsize   len)
{
  gsize done = 0;

  while (done < len)
    {
      ssize_t n = getrandom (buf + done, len - done, 0);

      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          g_error ("getrandom failed: %s", g_strerror (errno));
        }
      done += (gsize) n;
    }
}

static char *
base64url (const guint8 *data,
           gsize         len)
{
  char *s = g_base64_encode (data, len);

  for (char *p = s; *p != '\0'; p++)
    {
      if (*p == '+')
        *p = '-';
      else if (*p == '/')
        *p = '_';
      else if (*p == '=')
        {
          *p = '\0';
          break;
        }
    }
  return s;
}

/**
 * lctl_oauth_random_urlsafe:
 * @n_bytes: Random bytes to draw.
 *
 * Returns: (transfer full): base64url of @n_bytes random bytes, unpadded
 *   (32 bytes give a 43-character PKCE verifier, 16 a 22-character state).
 */
char *
lctl_oauth_random_urlsafe (gsize n_bytes)
{
  g_autofree guint8 *buf = g_malloc (n_bytes);

  fill_random (buf, n_bytes);
  return base64url (buf, n_bytes);
}

/**
 * lctl_oauth_pkce_challenge:
 *
 * Returns: (transfer full): base64url(SHA-256(@verifier)), unpadded (S256).
 */
char *
lctl_oauth_pkce_challenge (const char *verifier)
{
  g_autoptr (GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
  guint8 digest[32];
  gsize  len = sizeof digest;

  g_checksum_update (sum, (const guchar *) verifier, -1);
  g_checksum_get_digest (sum, digest, &len);
  return base64url (digest, len);
}

/**
 * lctl_oauth_jwt_decode:
 * @jwt: A JSON Web Token.
 *
 * Decodes the claims without checking the signature: we only read our own
 * token's expiry and account id from it.
 *
 * Returns: (transfer full) (nullable): The claims, or %NULL.
 */
JsonObject *
lctl_oauth_jwt_decode (const char *jwt)
{
  g_auto (GStrv) parts = NULL;
  g_autoptr (GString) b64 = NULL;
  g_autofree guchar *raw = NULL;
  g_autofree char   *text = NULL;
  g_autoptr (JsonParser) parser = NULL;
  gsize     len = 0;
  JsonNode *root;

  if (jwt == NULL)
    return NULL;
  parts = g_strsplit (jwt, ".", 4);
  if (g_strv_length (parts) < 2 || *parts[1] == '\0')
    return NULL;
  b64 = g_string_new (parts[1]);
  for (gsize i = 0; i < b64->len; i++)
    {
      if (b64->str[i] == '-')
        b64->str[i] = '+';
      else if (b64->str[i] == '_')
        b64->str[i] = '/';
    }
  while (b64->len % 4 != 0)
    g_string_append_c (b64, '=');
  raw = g_base64_decode (b64->str, &len);
  if (raw == NULL || len == 0)
    return NULL;
  text = g_strndup ((const char *) raw, len);
  parser = json_parser_new ();
  if (!json_parser_load_from_data (parser, text, -1, NULL))
    return NULL;
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return NULL;
  return json_object_ref (json_node_get_object (root));
}

/**
 * lctl_oauth_is_headless:
 *
 * The seed's rule (PROTOCOLS.md §1.1): an SSH session, Linux without
 * `DISPLAY` and `WAYLAND_DISPLAY`, or a container.
 *
 * Returns: Whether no local browser can be expected.
 */
gboolean
lctl_oauth_is_headless (void)
{
  if (g_getenv ("SSH_CLIENT") != NULL || g_getenv ("SSH_TTY") != NULL || g_getenv ("SSH_CONNECTION") != NULL)
    return TRUE;
#ifdef __linux__
  if (g_getenv ("DISPLAY") == NULL && g_getenv ("WAYLAND_DISPLAY") == NULL)
    return TRUE;
#endif
  return g_file_test ("/.dockerenv", G_FILE_TEST_EXISTS);
}

/**
 * lctl_oauth_url:
 * @env_var: (nullable): The environment variable that overrides the base.
 * @default_base: The real service's scheme and host.
 * @path: The real service's path (and query), appended to the base.
 *
 * Test seam: every external URL is `<base><path>` where tests set the base.
 *
 * Returns: (transfer full): The URL.
 */
char *
lctl_oauth_url (const char *env_var,
                const char *default_base,
                const char *path)
{
  const char      *base = env_var != NULL ? g_getenv (env_var) : NULL;
  g_autofree char *trimmed = NULL;
  gsize            len;

  if (base == NULL || *base == '\0')
    base = default_base;
  trimmed = g_strdup (base);
  len = strlen (trimmed);
  while (len > 0 && trimmed[len - 1] == '/')
    trimmed[--len] = '\0';
  return g_strconcat (trimmed, path, NULL);
}

/**
 * lctl_oauth_code_assist_url:
 * @method: `loadCodeAssist` or `onboardUser`.
 *
 * `GEMINI_CLI_API_BASE` may be given with or without the `/v1internal`
 * suffix; both work.
 *
 * Returns: (transfer full): The Code Assist URL for @method.
 */
char *
lctl_oauth_code_assist_url (const char *method)
{
  g_autofree char *base = lctl_oauth_url ("GEMINI_CLI_API_BASE",
                                          "https://cloudcode-pa.googleapis.com", "");

  if (g_str_has_suffix (base, "/v1internal"))
    return g_strconcat (base, ":", method, NULL);
  return g_strconcat (base, "/v1internal:", method, NULL);
}

/**
 * lctl_oauth_form_encode:
 * @first_key: The first key, followed by its value, then more pairs, then
 *   %NULL. A %NULL value ends the list as well.
 *
 * Returns: (transfer full): An `application/x-www-form-urlencoded` body.
 */
char *
lctl_oauth_form_encode (const char *first_key,
                        ...)
{
  GString *out = g_string_new (NULL);
  va_list  ap;

  va_start (ap, first_key);
  for (const char *key = first_key; key != NULL; key = va_arg (ap, const char *))
    {
      const char *value = va_arg (ap, const char *);

      if (value == NULL)
        break;
      if (out->len > 0)
        g_string_append_c (out, '&');
      g_string_append_uri_escaped (out, key, NULL, FALSE);
      g_string_append_c (out, '=');
      g_string_append_uri_escaped (out, value, NULL, FALSE);
    }
  va_end (ap);
  return g_string_free (out, FALSE);
}

void
lctl_oauth_reply_free (LctlOAuthReply *reply)
{
  if (reply == NULL)
    return;
  g_clear_pointer (&reply->body, json_node_unref);
  g_free (reply);
}

/**
 * lctl_oauth_reply_get_object:
 *
 * Returns: (transfer none) (nullable): The body if it is a JSON object.
 */
JsonObject *
lctl_oauth_reply_get_object (LctlOAuthReply *reply)
{
  if (reply->body == NULL || !JSON_NODE_HOLDS_OBJECT (reply->body))
    return NULL;
  return json_node_get_object (reply->body);
}

/**
 * lctl_oauth_reply_get_string:
 *
 * Returns: (transfer none) (nullable): A non-empty string member of the body.
 */
const char *
lctl_oauth_reply_get_string (LctlOAuthReply *reply,
                             const char     *member)
{
  JsonObject *object = lctl_oauth_reply_get_object (reply);

  return object != NULL ? lctl_credential_get_string (object, member) : NULL;
}

/**
 * lctl_oauth_reply_describe:
 *
 * Only the standard `error` / `error_description` members are quoted, so no
 * token can slip into a message.
 *
 * Returns: (transfer full): "HTTP 400: invalid_grant — reason" or similar.
 */
char *
lctl_oauth_reply_describe (LctlOAuthReply *reply)
{
  const char *error = lctl_oauth_reply_get_string (reply, "error");
  const char *description = lctl_oauth_reply_get_string (reply, "error_description");
  JsonObject *object = lctl_oauth_reply_get_object (reply);

  /* Google nests {"error": {"message": …}}. */
  if (error == NULL && object != NULL && json_object_has_member (object, "error") && JSON_NODE_HOLDS_OBJECT (json_object_get_member (object, "error")))
    {
      JsonObject *inner = json_object_get_object_member (object, "error");

      error = lctl_credential_get_string (inner, "status");
      description = lctl_credential_get_string (inner, "message");
    }
  if (error != NULL && description != NULL)
    return g_strdup_printf ("HTTP %u: %s — %s", reply->status, error, description);
  if (error != NULL)
    return g_strdup_printf ("HTTP %u: %s", reply->status, error);
  return g_strdup_printf ("HTTP %u", reply->status);
}

static void
http_read_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr (GTask) task = user_data;
  SoupMessage *msg = g_task_get_task_data (task);
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) bytes = NULL;
  g_autoptr (JsonParser) parser = json_parser_new ();
  LctlOAuthReply *reply;
  gsize           len = 0;
  const char     *data;

  bytes = soup_session_send_and_read_finish (SOUP_SESSION (source), result, &error);
  if (bytes == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  reply = g_new0 (LctlOAuthReply, 1);
  reply->status = soup_message_get_status (msg);
  data = g_bytes_get_data (bytes, &len);
  if (len > 0 && json_parser_load_from_data (parser, data, (gssize) len, NULL) && json_parser_get_root (parser) != NULL)
    reply->body = json_node_copy (json_parser_get_root (parser));
  g_debug ("%s %s → %u", soup_message_get_method (msg),
           g_uri_get_path (soup_message_get_uri (msg)), reply->status);
  g_task_return_pointer (task, reply, (GDestroyNotify) lctl_oauth_reply_free);
}

/**
 * lctl_oauth_http_async:
 * @session: The session.
 * @method: `GET` or `POST`.
 * @url: The URL.
 * @headers: (nullable) (array zero-terminated=1): Name, value, name, value…
 * @content_type: (nullable): The body's type.
 * @body: (nullable): The body.
 *
 * Sends a request to an OAuth or account endpoint and parses a JSON answer.
 * Only transport failures are errors; HTTP statuses are in the reply.
 */
void
lctl_oauth_http_async (SoupSession        *session,
                       const char         *method,
                       const char         *url,
                       const char *const  *headers,
                       const char         *content_type,
                       const char         *body,
                       GCancellable       *cancellable,
                       GAsyncReadyCallback callback,
                       gpointer            user_data)
{
  g_autoptr (GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  g_autoptr (GError) error = NULL;
  g_autoptr (SoupMessage) msg = NULL;
  SoupMessageHeaders *request_headers;

  g_task_set_source_tag (task, lctl_oauth_http_async);
  msg = soup_message_new (method, url);
  if (msg == NULL)
    {
      g_task_return_new_error (task, LCTL_ERROR, LCTL_ERROR_INVALID_ARGUMENT,
                               "Invalid URL: %s", url);
      return;
    }
  request_headers = soup_message_get_request_headers (msg);
  soup_message_headers_replace (request_headers, "Accept", "application/json");
  for (gsize i = 0; headers != NULL && headers[i] != NULL && headers[i + 1] != NULL; i += 2)
    soup_message_headers_replace (request_headers, headers[i], headers[i + 1]);
  if (body != NULL)
    {
      g_autoptr (GBytes) bytes = g_bytes_new (body, strlen (body));

      soup_message_set_request_body_from_bytes (msg, content_type, bytes);
    }
  g_task_set_task_data (task, g_object_ref (msg), g_object_unref);
  soup_session_send_and_read_async (session, msg, G_PRIORITY_DEFAULT, cancellable,
                                    http_read_cb, g_steal_pointer (&task));
}

/**
 * lctl_oauth_http_finish:
 *
 * Returns: (transfer full): The reply, or %NULL on a transport error.
 */
LctlOAuthReply *
lctl_oauth_http_finish (GAsyncResult *result,
                        GError      **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* Header values must be ASCII; the seed drops other characters. */
static char *
ascii_only (const char *value)
{
  GString *out = g_string_new (NULL);

  for (const char *p = value != NULL ? value : ""; *p != '\0'; p++)
    if ((unsigned char) *p >= 0x20 && (unsigned char) *p < 0x7f)
      g_string_append_c (out, *p);
  if (out->len == 0)
    g_string_append (out, "unknown");
  return g_string_free (out, FALSE);
}

/**
 * lctl_oauth_kimi_device_id:
 *
 * The Kimi device id: `KIMI_CODE_DEVICE_ID`, else `~/.kimi/device_id` (the
 * file kimi-cli creates). When neither exists we generate one and persist it
 * in `~/.kimi/device_id`, so kimi-cli and we present the same device.
 *
 * Returns: (transfer full): The device id.
 */
char *
lctl_oauth_kimi_device_id (void)
{
  const char      *env = g_getenv ("KIMI_CODE_DEVICE_ID");
  g_autofree char *dir = g_build_filename (g_get_home_dir (), ".kimi", NULL);
  g_autofree char *path = g_build_filename (dir, "device_id", NULL);
  g_autofree char *contents = NULL;
  g_autofree char *uuid = NULL;
  g_autoptr (GString) hex = NULL;
  g_autoptr (GError) error = NULL;

  if (env != NULL && *env != '\0')
    return g_strdup (env);
  if (g_file_get_contents (path, &contents, NULL, NULL))
    {
      g_strstrip (contents);
      if (*contents != '\0')
        return g_steal_pointer (&contents);
    }
  uuid = g_uuid_string_random ();
  hex = g_string_new (NULL);
  for (const char *p = uuid; *p != '\0'; p++)
    if (*p != '-')
      g_string_append_c (hex, *p);
  if (g_mkdir_with_parents (dir, 0700) != 0 || !g_file_set_contents_full (path, hex->str, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600, &error))
    g_warning ("Could not save the Kimi device id in %s: %s", path,
               error != NULL ? error->message : g_strerror (errno));
  return g_strdup (hex->str);
}

/**
 * lctl_oauth_kimi_headers:
 *
 * Returns: (transfer full): The `X-Msh-*` identity headers and User-Agent as
 *   name, value pairs (PROTOCOLS.md §1.5, versions as of §8).
 */
char **
lctl_oauth_kimi_headers (void)
{
  GStrvBuilder    *builder = g_strv_builder_new ();
  struct utsname   un;
  g_autofree char *device_id = lctl_oauth_kimi_device_id ();
  g_autofree char *host = ascii_only (g_get_host_name ());
  g_autofree char *model = NULL;
  g_autofree char *os_version = NULL;
  g_autofree char *id = ascii_only (device_id);
  char           **out;

  if (uname (&un) == 0)
    {
      g_autofree char *m = g_strdup_printf ("%s %s %s", un.sysname, un.release, un.machine);

      model = ascii_only (m);
      os_version = ascii_only (un.version);
    }
  else
    {
      model = g_strdup ("unknown");
      os_version = g_strdup ("unknown");
    }
  g_strv_builder_add_many (builder,
                           "User-Agent", "KimiCLI/1.25.0",
                           "X-Msh-Platform", "kimi_cli",
                           "X-Msh-Version", "1.25.0",
                           "X-Msh-Device-Id", id,
                           "X-Msh-Device-Name", host,
                           "X-Msh-Device-Model", model,
                           "X-Msh-Os-Version", os_version,
                           NULL);
  out = g_strv_builder_end (builder);
  g_strv_builder_unref (builder);
  return out;
}

/* Gemini's client id and secret: the environment, else the installed
 * gemini-cli's oauth2.js (PROTOCOLS.md §1.3). Runs in a worker thread: it
 * reads a handful of small local files. */

#define GEMINI_CORE   "@google/gemini-cli-core/dist/src/code_assist/oauth2.js"
#define GEMINI_NESTED "@google/gemini-cli/node_modules/" GEMINI_CORE

typedef struct
{
  char *client_id;
  char *client_secret;
} GeminiClient;

static void
gemini_client_free (GeminiClient *client)
{
  g_free (client->client_id);
  g_free (client->client_secret);
  g_free (client);
}

static gboolean
gemini_extract (const char   *path,
                GeminiClient *client)
{
  g_autofree char *contents = NULL;
  g_autoptr (GRegex) id_re = NULL;
  g_autoptr (GRegex) secret_re = NULL;
  g_autoptr (GMatchInfo) id_match = NULL;
  g_autoptr (GMatchInfo) secret_match = NULL;

  if (!g_file_get_contents (path, &contents, NULL, NULL))
    return FALSE;
  id_re = g_regex_new ("\\d+-[a-z0-9]+\\.apps\\.googleusercontent\\.com", 0, 0, NULL);
  secret_re = g_regex_new ("GOCSPX-[A-Za-z0-9_-]+", 0, 0, NULL);
  if (!g_regex_match (id_re, contents, 0, &id_match) || !g_regex_match (secret_re, contents, 0, &secret_match))
    return FALSE;
  client->client_id = g_match_info_fetch (id_match, 0);
  client->client_secret = g_match_info_fetch (secret_match, 0);
  g_debug ("Gemini OAuth client taken from %s", path);
  return TRUE;
}

static gboolean
gemini_try_root (const char   *root,
                 GeminiClient *client)
{
  g_autofree char *a = g_build_filename (root, GEMINI_CORE, NULL);
  g_autofree char *b = g_build_filename (root, GEMINI_NESTED, NULL);

  return gemini_extract (a, client) || gemini_extract (b, client);
}

static void
gemini_client_thread (GTask        *task,
                      gpointer      source,
                      gpointer      task_data,
                      GCancellable *cancellable)
{
  GeminiClient    *client = g_new0 (GeminiClient, 1);
  const char      *env_id = g_getenv ("GEMINI_CLI_OAUTH_CLIENT_ID");
  const char      *env_secret = g_getenv ("GEMINI_CLI_OAUTH_CLIENT_SECRET");
  const char      *home = g_get_home_dir ();
  const char      *nvm_dir = g_getenv ("NVM_DIR");
  g_autofree char *gemini = g_find_program_in_path ("gemini");
  g_autoptr (GPtrArray) roots = g_ptr_array_new_with_free_func (g_free);

  if (env_id != NULL && *env_id != '\0' && env_secret != NULL && *env_secret != '\0')
    {
      client->client_id = g_strdup (env_id);
      client->client_secret = g_strdup (env_secret);
      g_task_return_pointer (task, client, (GDestroyNotify) gemini_client_free);
      return;
    }
  if (gemini != NULL)
    {
      char             resolved[PATH_MAX];
      g_autofree char *dir = NULL;

      dir = g_path_get_dirname (realpath (gemini, resolved) != NULL ? resolved : gemini);
      for (int i = 0; i < 10; i++)
        {
          g_autofree char *parent = NULL;

          g_ptr_array_add (roots, g_build_filename (dir, "node_modules", NULL));
          parent = g_path_get_dirname (dir);
          if (g_str_equal (parent, dir))
            break;
          g_free (dir);
          dir = g_steal_pointer (&parent);
        }
    }
  g_ptr_array_add (roots, g_build_filename (home, ".bun", "install", "global", "node_modules", NULL));
  g_ptr_array_add (roots, g_strdup ("/usr/local/lib/node_modules"));
  g_ptr_array_add (roots, g_strdup ("/usr/lib/node_modules"));
  g_ptr_array_add (roots, g_build_filename (home, ".npm-global", "lib", "node_modules", NULL));
  if (nvm_dir == NULL)
    nvm_dir = "";
  {
    g_autofree char *versions = *nvm_dir != '\0' ? g_build_filename (nvm_dir, "versions", "node", NULL)
                                                 : g_build_filename (home, ".nvm", "versions", "node", NULL);
    g_autoptr (GDir) d = g_dir_open (versions, 0, NULL);
    const char *name;

    while (d != NULL && (name = g_dir_read_name (d)) != NULL)
      g_ptr_array_add (roots, g_build_filename (versions, name, "lib", "node_modules", NULL));
  }
  for (guint i = 0; i < roots->len; i++)
    if (gemini_try_root (roots->pdata[i], client))
      {
        g_task_return_pointer (task, client, (GDestroyNotify) gemini_client_free);
        return;
      }
  gemini_client_free (client);
  g_task_return_new_error (task, LCTL_ERROR, LCTL_ERROR_NOT_FOUND,
                           "No Gemini OAuth client: set GEMINI_CLI_OAUTH_CLIENT_ID and "
                           "GEMINI_CLI_OAUTH_CLIENT_SECRET, or install the Gemini CLI "
                           "(npm install -g @google/gemini-cli)");
}

void
lctl_oauth_gemini_client_async (GCancellable       *cancellable,
                                GAsyncReadyCallback callback,
                                gpointer            user_data)
{
  g_autoptr (GTask) task = g_task_new (NULL, cancellable, callback, user_data);

  g_task_set_source_tag (task, lctl_oauth_gemini_client_async);
  g_task_run_in_thread (task, gemini_client_thread);
}

gboolean
lctl_oauth_gemini_client_finish (GAsyncResult *result,
                                 char        **client_id,
                                 char        **client_secret,
                                 GError      **error)
{
  GeminiClient *client = g_task_propagate_pointer (G_TASK (result), error);

  if (client == NULL)
    return FALSE;
  *client_id = g_steal_pointer (&client->client_id);
  *client_secret = g_steal_pointer (&client->client_secret);
  gemini_client_free (client);
  return TRUE;
}

/**
 * lctl_credential_get_expires_at:
 *
 * Accepts the seed's int seconds, Kimi's float seconds and Qwen Code's
 * milliseconds.
 *
 * Returns: `expires_at` in Unix seconds, 0 if unknown.
 */
gint64
lctl_credential_get_expires_at (JsonObject *record)
{
  JsonNode *node;
  double    value = 0;

  if (record == NULL)
    return 0;
  node = json_object_get_member (record, "expires_at");
  if (node == NULL)
    node = json_object_get_member (record, "expiry_date");
  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node))
    return 0;
  switch (json_node_get_value_type (node))
    {
    case G_TYPE_INT64:
      value = (double) json_node_get_int (node);
      break;
    case G_TYPE_DOUBLE:
      value = json_node_get_double (node);
      break;
    case G_TYPE_STRING:
      value = g_ascii_strtod (json_node_get_string (node), NULL);
      break;
    default:
      return 0;
    }
  if (value > 1e12)
    value /= 1000;
  return (gint64) value;
}

/**
 * lctl_credential_get_string:
 *
 * Returns: (transfer none) (nullable): A non-empty string member, else %NULL.
 */
const char *
lctl_credential_get_string (JsonObject *record,
                            const char *member)
{
  JsonNode   *node = record != NULL ? json_object_get_member (record, member) : NULL;
  const char *value;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  value = json_node_get_string (node);
  return value != NULL && *value != '\0' ? value : NULL;
}

/**
 * lctl_credential_get_account:
 *
 * Returns: (transfer full): What identifies the account to people: the
 *   e-mail, else the account id, else "default".
 */
char *
lctl_credential_get_account (JsonObject *record)
{
  const char *value = lctl_credential_get_string (record, "email");

  if (value == NULL)
    value = lctl_credential_get_string (record, "account_id");
  return g_strdup (value != NULL ? value : "default");
}

/**
 * lctl_credential_copy:
 *
 * Returns: (transfer full): A deep copy of @record.
 */
JsonObject *
lctl_credential_copy (JsonObject *record)
{
  JsonObject *out = json_object_new ();
  g_autoptr (GList) members = json_object_get_members (record);

  for (GList *l = members; l != NULL; l = l->next)
    json_object_set_member (out, l->data,
                            json_node_copy (json_object_get_member (record, l->data)));
  return out;
}

/**
 * lctl_credential_to_string:
 *
 * Returns: (transfer full): The record as JSON text. It holds secrets.
 */
char *
lctl_credential_to_string (JsonObject *record,
                           gboolean    pretty)
{
  g_autoptr (JsonNode) node = json_node_init_object (json_node_alloc (), record);
  g_autoptr (JsonGenerator) generator = json_generator_new ();

  json_generator_set_root (generator, node);
  json_generator_set_pretty (generator, pretty);
  json_generator_set_indent (generator, 2);
  return json_generator_to_data (generator, NULL);
}

/**
 * lctl_credential_from_string:
 *
 * Returns: (transfer full) (nullable): The record, or %NULL if @json is not a
 *   JSON object with an `access_token` or `refresh_token`.
 */
JsonObject *
lctl_credential_from_string (const char *json,
                             GError    **error)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonNode   *root;
  JsonObject *record;

  if (!json_parser_load_from_data (parser, json, -1, NULL) || (root = json_parser_get_root (parser)) == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error_literal (error, LCTL_ERROR, LCTL_ERROR_INVALID_ARGUMENT,
                           "The credential is not a JSON object");
      return NULL;
    }
  record = json_node_get_object (root);
  if (lctl_credential_get_string (record, "access_token") == NULL && lctl_credential_get_string (record, "refresh_token") == NULL)
    {
      g_set_error_literal (error, LCTL_ERROR, LCTL_ERROR_INVALID_ARGUMENT,
                           "The credential has neither an access nor a refresh token");
      return NULL;
    }
  return lctl_credential_copy (record);
}

/**
 * lctl_credential_normalize:
 *
 * Makes `expires_at` integer Unix seconds whatever the source wrote (Kimi's
 * float, Qwen Code's `expiry_date` in milliseconds).
 */
void
lctl_credential_normalize (JsonObject *record)
{
  gint64 expires_at = lctl_credential_get_expires_at (record);

  if (json_object_has_member (record, "expiry_date"))
    json_object_remove_member (record, "expiry_date");
  if (expires_at > 0)
    json_object_set_int_member (record, "expires_at", expires_at);
}

/**
 * lctl_oauth_token_url:
 * @provider: A provider key.
 *
 * Returns: (transfer full): The provider's token endpoint (code exchange,
 *   device-code polling and refresh).
 */
char *
lctl_oauth_token_url (const char *provider)
{
  if (g_str_equal (provider, "chatgpt"))
    return lctl_oauth_url ("LITELLMCTL_CHATGPT_AUTH_BASE", "https://auth.openai.com", "/oauth/token");
  if (g_str_equal (provider, "gemini_cli"))
    return lctl_oauth_url ("LITELLMCTL_GEMINI_AUTH_BASE", "https://oauth2.googleapis.com", "/token");
  if (g_str_equal (provider, "qwen_portal"))
    return lctl_oauth_url ("LITELLMCTL_QWEN_AUTH_BASE", "https://chat.qwen.ai", "/api/v1/oauth2/token");
  if (g_getenv ("LITELLMCTL_KIMI_AUTH_BASE") == NULL && g_getenv ("KIMI_CODE_OAUTH_HOST") != NULL)
    return lctl_oauth_url ("KIMI_CODE_OAUTH_HOST", "https://auth.kimi.com", "/api/oauth/token");
  return lctl_oauth_url ("LITELLMCTL_KIMI_AUTH_BASE", "https://auth.kimi.com", "/api/oauth/token");
}

static const char *
chatgpt_account_id (JsonObject *claims)
{
  JsonNode *node = claims != NULL ? json_object_get_member (claims, "https://api.openai.com/auth") : NULL;

  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    return NULL;
  return lctl_credential_get_string (json_node_get_object (node), "chatgpt_account_id");
}

static gint64
reply_expires_in (JsonObject *reply,
                  gint64      fallback)
{
  JsonNode *node = json_object_get_member (reply, "expires_in");

  if (node != NULL && JSON_NODE_HOLDS_VALUE (node))
    {
      GType type = json_node_get_value_type (node);

      if (type == G_TYPE_INT64 && json_node_get_int (node) > 0)
        return json_node_get_int (node);
      if (type == G_TYPE_DOUBLE && json_node_get_double (node) > 0)
        return (gint64) json_node_get_double (node);
      if (type == G_TYPE_STRING)
        {
          gint64 v = g_ascii_strtoll (json_node_get_string (node), NULL, 10);

          if (v > 0)
            return v;
        }
    }
  return fallback;
}

/**
 * lctl_credential_apply_token_reply:
 * @provider: A provider key.
 * @record: The credential record to update.
 * @reply: A token endpoint's successful answer.
 *
 * Merges a token answer (code exchange, device code or refresh) into
 * @record per provider (PROTOCOLS.md §1.2–1.5): a refresh token is replaced
 * only when a new one came (rotation), other stored fields are kept.
 *
 * Returns: %FALSE if @reply holds no access token.
 */
gboolean
lctl_credential_apply_token_reply (const char *provider,
                                   JsonObject *record,
                                   JsonObject *reply)
{
  const char *access_token = lctl_credential_get_string (reply, "access_token");
  const char *refresh_token = lctl_credential_get_string (reply, "refresh_token");
  gint64      now = g_get_real_time () / G_USEC_PER_SEC;

  if (access_token == NULL)
    return FALSE;
  json_object_set_string_member (record, "access_token", access_token);
  if (refresh_token != NULL)
    json_object_set_string_member (record, "refresh_token", refresh_token);

  if (g_str_equal (provider, "chatgpt"))
    {
      g_autoptr (JsonObject) claims = lctl_oauth_jwt_decode (access_token);
      g_autoptr (JsonObject) id_claims = NULL;
      const char *id_token = lctl_credential_get_string (reply, "id_token");
      const char *account_id;
      gint64      exp = 0;

      if (id_token != NULL)
        json_object_set_string_member (record, "id_token", id_token);
      id_claims = lctl_oauth_jwt_decode (lctl_credential_get_string (record, "id_token"));
      if (claims != NULL && json_object_has_member (claims, "exp"))
        exp = (gint64) json_object_get_double_member_with_default (claims, "exp", 0);
      json_object_set_int_member (record, "expires_at",
                                  exp > 0 ? exp : now + reply_expires_in (reply, 3600));
      account_id = chatgpt_account_id (claims);
      if (account_id == NULL)
        account_id = chatgpt_account_id (id_claims);
      if (account_id != NULL)
        json_object_set_string_member (record, "account_id", account_id);
      if (id_claims != NULL && lctl_credential_get_string (id_claims, "email") != NULL)
        json_object_set_string_member (record, "email", lctl_credential_get_string (id_claims, "email"));
    }
  else if (g_str_equal (provider, "kimi_code"))
    {
      json_object_set_int_member (record, "expires_at", now + reply_expires_in (reply, 900));
      json_object_set_string_member (record, "scope",
                                     lctl_credential_get_string (reply, "scope") != NULL
                                         ? lctl_credential_get_string (reply, "scope")
                                         : "kimi-code");
      json_object_set_string_member (record, "token_type",
                                     lctl_credential_get_string (reply, "token_type") != NULL
                                         ? lctl_credential_get_string (reply, "token_type")
                                         : "Bearer");
    }
  else
    {
      json_object_set_int_member (record, "expires_at", now + reply_expires_in (reply, 3600));
      if (g_str_equal (provider, "qwen_portal"))
        {
          if (lctl_credential_get_string (reply, "resource_url") != NULL)
            json_object_set_string_member (record, "resource_url",
                                           lctl_credential_get_string (reply, "resource_url"));
          json_object_set_string_member (record, "token_type",
                                         lctl_credential_get_string (reply, "token_type") != NULL
                                             ? lctl_credential_get_string (reply, "token_type")
                                             : "Bearer");
        }
    }
  return TRUE;
}
