/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#define G_LOG_DOMAIN "litellmctl-server"

#include "config.h"

#include <json-glib/json-glib.h>
#include <string.h>

#include "lctl-json.h"
#include "lctl-error.h"
#include "lctl-server.h"

struct _LctlServer
{
  GObject parent_instance;

  SoupServer *soup_server;
  char       *address;
  unsigned    port;

  LctlConfig *config;
  gint64      config_applied_at;

  LctlServerProxyFunc proxy_func;
  gpointer            proxy_data;

  unsigned in_flight;
  guint64  request_count;
};

enum
{
  SIGNAL_IDLE,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (LctlServer, lctl_server, G_TYPE_OBJECT)

static const char counted_key[] = "lctl-server-counted";

gboolean
lctl_host_is_loopback (const char *host)
{
  g_autoptr (GInetAddress) address = NULL;

  if (host == NULL || g_ascii_strcasecmp (host, "localhost") == 0)
    return TRUE;
  address = g_inet_address_new_from_string (host);
  return address != NULL && g_inet_address_get_is_loopback (address);
}

void
lctl_server_respond_json (SoupServerMessage *msg,
                          unsigned           status,
                          const char        *json)
{
  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_COPY,
                                    json, strlen (json));
}

static gboolean
endpoint_is_anthropic (LctlEndpoint endpoint)
{
  return endpoint == LCTL_ENDPOINT_ANTHROPIC_MESSAGES ||
         endpoint == LCTL_ENDPOINT_ANTHROPIC_COUNT_TOKENS;
}

/* Errors go out in the dialect of the endpoint the client called, so its SDK
 * can parse them. */
void
lctl_server_respond_error (SoupServerMessage *msg,
                           LctlEndpoint       endpoint,
                           unsigned           status,
                           const char        *type,
                           const char        *message)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;
  g_autofree char *json = NULL;

  json_builder_begin_object (builder);
  if (endpoint_is_anthropic (endpoint))
    {
      json_builder_set_member_name (builder, "type");
      json_builder_add_string_value (builder, "error");
      json_builder_set_member_name (builder, "error");
      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "type");
      json_builder_add_string_value (builder, type);
      json_builder_set_member_name (builder, "message");
      json_builder_add_string_value (builder, message);
      json_builder_end_object (builder);
    }
  else
    {
      json_builder_set_member_name (builder, "error");
      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "message");
      json_builder_add_string_value (builder, message);
      json_builder_set_member_name (builder, "type");
      json_builder_add_string_value (builder, type);
      json_builder_set_member_name (builder, "param");
      json_builder_add_null_value (builder);
      json_builder_set_member_name (builder, "code");
      json_builder_add_string_value (builder, type);
      json_builder_end_object (builder);
    }
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  json = lctl_json_to_string (root);
  lctl_server_respond_json (msg, status, json);
}

static LctlEndpoint
classify_path (const char  *method,
               const char  *path,
               const char **model_id)
{
  gboolean post = g_str_equal (method, "POST");
  gboolean get = g_str_equal (method, "GET") || g_str_equal (method, "HEAD");

  *model_id = NULL;

  if (g_str_equal (path, "/health") || g_str_equal (path, "/health/liveliness") ||
      g_str_equal (path, "/health/readiness"))
    return get ? LCTL_ENDPOINT_HEALTH : LCTL_ENDPOINT_NONE;

  /* LiteLLM serves every OpenAI route with and without the /v1 prefix. */
  if (g_str_has_prefix (path, "/v1/"))
    path += 3;

  if (g_str_equal (path, "/models"))
    return get ? LCTL_ENDPOINT_MODELS : LCTL_ENDPOINT_NONE;
  if (g_str_has_prefix (path, "/models/") && path[strlen ("/models/")] != '\0')
    {
      *model_id = path + strlen ("/models/");
      return get ? LCTL_ENDPOINT_MODEL : LCTL_ENDPOINT_NONE;
    }
  if (!post)
    return LCTL_ENDPOINT_NONE;
  if (g_str_equal (path, "/messages"))
    return LCTL_ENDPOINT_ANTHROPIC_MESSAGES;
  if (g_str_equal (path, "/messages/count_tokens"))
    return LCTL_ENDPOINT_ANTHROPIC_COUNT_TOKENS;
  if (g_str_equal (path, "/chat/completions"))
    return LCTL_ENDPOINT_OPENAI_CHAT;
  if (g_str_equal (path, "/responses"))
    return LCTL_ENDPOINT_OPENAI_RESPONSES;
  return LCTL_ENDPOINT_NONE;
}

/* Compares without an early exit so timing says nothing about the key. */
static gboolean
key_equal (const char *given,
           const char *expected)
{
  gsize         given_len = strlen (given);
  gsize         expected_len = strlen (expected);
  unsigned char diff = given_len != expected_len;

  for (gsize i = 0; i < expected_len; i++)
    diff |= (unsigned char) expected[i] ^ (unsigned char) (i < given_len ? given[i] : 0);
  return diff == 0;
}

static gboolean
request_is_authorized (SoupServerMessage *msg,
                       const char        *master_key)
{
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  const char         *authorization = soup_message_headers_get_one (headers, "Authorization");
  const char         *api_key = soup_message_headers_get_one (headers, "x-api-key");

  if (master_key == NULL || *master_key == '\0')
    return TRUE;
  if (authorization != NULL && g_ascii_strncasecmp (authorization, "Bearer ", 7) == 0)
    {
      const char *token = authorization + 7;

      while (*token == ' ')
        token++;
      if (key_equal (token, master_key))
        return TRUE;
    }
  if (api_key != NULL && key_equal (api_key, master_key))
    return TRUE;
  return FALSE;
}

static void
add_model_object (JsonBuilder *builder,
                  LctlConfig  *config,
                  const char  *model_name,
                  gint64       created)
{
  const LctlDeployment *deployment = lctl_config_find_deployment (config, model_name);

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "id");
  json_builder_add_string_value (builder, model_name);
  json_builder_set_member_name (builder, "object");
  json_builder_add_string_value (builder, "model");
  json_builder_set_member_name (builder, "created");
  json_builder_add_int_value (builder, created);
  json_builder_set_member_name (builder, "owned_by");
  json_builder_add_string_value (builder, deployment != NULL ? deployment->provider : "litellmctl");
  json_builder_end_object (builder);
}

static void
serve_models (LctlServer        *self,
              SoupServerMessage *msg,
              LctlConfig        *config)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;
  g_autofree char *json = NULL;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "object");
  json_builder_add_string_value (builder, "list");
  json_builder_set_member_name (builder, "data");
  json_builder_begin_array (builder);
  for (char **name = config->model_names; name != NULL && *name != NULL; name++)
    add_model_object (builder, config, *name, self->config_applied_at);
  json_builder_end_array (builder);
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  json = lctl_json_to_string (root);
  lctl_server_respond_json (msg, SOUP_STATUS_OK, json);
}

static void
serve_model (LctlServer        *self,
             SoupServerMessage *msg,
             LctlConfig        *config,
             const char        *escaped_id)
{
  g_autofree char *id = g_uri_unescape_string (escaped_id, NULL);
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;
  g_autofree char *json = NULL;

  if (id == NULL || lctl_config_find_deployment (config, id) == NULL)
    {
      g_autofree char *message = g_strdup_printf ("The model '%s' does not exist",
                                                  id != NULL ? id : escaped_id);

      lctl_server_respond_error (msg, LCTL_ENDPOINT_MODEL, SOUP_STATUS_NOT_FOUND,
                                 "model_not_found", message);
      return;
    }
  add_model_object (builder, config, id, self->config_applied_at);
  root = json_builder_get_root (builder);
  json = lctl_json_to_string (root);
  lctl_server_respond_json (msg, SOUP_STATUS_OK, json);
}

static void
server_callback (SoupServer        *soup_server,
                 SoupServerMessage *msg,
                 const char        *path,
                 GHashTable        *query,
                 gpointer           user_data)
{
  LctlServer  *self = user_data;
  const char  *method = soup_server_message_get_method (msg);
  const char  *model_id = NULL;
  LctlEndpoint endpoint = classify_path (method, path, &model_id);
  g_autoptr (LctlConfig) config = self->config != NULL ? lctl_config_ref (self->config) : NULL;
  SoupMessageBody *body = soup_server_message_get_request_body (msg);

  self->request_count++;

  if (endpoint == LCTL_ENDPOINT_NONE)
    {
      g_autofree char *message = g_strdup_printf ("No route for %s %s", method, path);

      lctl_server_respond_error (msg, endpoint, SOUP_STATUS_NOT_FOUND, "not_found_error", message);
      return;
    }

  if (endpoint == LCTL_ENDPOINT_HEALTH)
    {
      lctl_server_respond_json (msg, SOUP_STATUS_OK,
                                config != NULL ? "{\"status\":\"healthy\"}"
                                               : "{\"status\":\"starting\"}");
      return;
    }

  if (config == NULL)
    {
      lctl_server_respond_error (msg, endpoint, SOUP_STATUS_SERVICE_UNAVAILABLE,
                                 "api_error", "No configuration is loaded");
      return;
    }

  if (!request_is_authorized (msg, config->master_key))
    {
      lctl_server_respond_error (msg, endpoint, SOUP_STATUS_UNAUTHORIZED,
                                 endpoint_is_anthropic (endpoint) ? "authentication_error" : "invalid_api_key",
                                 "Invalid or missing API key: send the master key as "
                                 "'Authorization: Bearer <key>' or 'x-api-key: <key>'");
      return;
    }

  /* A chunked body has no Content-Length for the early check to see. */
  if ((gsize) body->length > config->max_request_body)
    {
      lctl_server_respond_error (msg, endpoint, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE,
                                 endpoint_is_anthropic (endpoint) ? "request_too_large" : "invalid_request_error",
                                 "Request body is larger than the configured limit");
      return;
    }

  switch (endpoint)
    {
    case LCTL_ENDPOINT_MODELS:
      serve_models (self, msg, config);
      return;
    case LCTL_ENDPOINT_MODEL:
      serve_model (self, msg, config, model_id);
      return;
    case LCTL_ENDPOINT_ANTHROPIC_MESSAGES:
    case LCTL_ENDPOINT_ANTHROPIC_COUNT_TOKENS:
    case LCTL_ENDPOINT_OPENAI_CHAT:
    case LCTL_ENDPOINT_OPENAI_RESPONSES:
      if (self->proxy_func == NULL)
        {
          lctl_server_respond_error (msg, endpoint, SOUP_STATUS_NOT_IMPLEMENTED,
                                     "api_error", "This endpoint is not available");
          return;
        }
      g_object_set_data (G_OBJECT (msg), counted_key, GINT_TO_POINTER (1));
      self->in_flight++;
      self->proxy_func (self, msg, endpoint, config, self->proxy_data);
      return;
    case LCTL_ENDPOINT_NONE:
    case LCTL_ENDPOINT_HEALTH:
    default:
      g_assert_not_reached ();
    }
}

/* Runs once the headers are in: refuse a declared oversized body before
 * reading a byte of it. */
static void
early_callback (SoupServer        *soup_server,
                SoupServerMessage *msg,
                const char        *path,
                GHashTable        *query,
                gpointer           user_data)
{
  LctlServer         *self = user_data;
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  goffset             length = soup_message_headers_get_content_length (headers);
  const char         *model_id;

  if (self->config == NULL ||
      soup_message_headers_get_encoding (headers) != SOUP_ENCODING_CONTENT_LENGTH ||
      length <= (goffset) self->config->max_request_body)
    return;

  lctl_server_respond_error (msg, classify_path (soup_server_message_get_method (msg), path, &model_id),
                             SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, "invalid_request_error",
                             "Request body is larger than the configured limit");
  soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Connection", "close");
}

static void
request_ended_cb (SoupServer        *soup_server,
                  SoupServerMessage *msg,
                  gpointer           user_data)
{
  LctlServer *self = user_data;

  if (g_object_get_data (G_OBJECT (msg), counted_key) == NULL)
    return;
  g_object_set_data (G_OBJECT (msg), counted_key, NULL);
  g_assert (self->in_flight > 0);
  if (--self->in_flight == 0)
    g_signal_emit (self, signals[SIGNAL_IDLE], 0);
}

static void
lctl_server_dispose (GObject *object)
{
  LctlServer *self = LCTL_SERVER (object);

  if (self->soup_server != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->soup_server, self);
      soup_server_disconnect (self->soup_server);
    }
  g_clear_object (&self->soup_server);
  g_clear_pointer (&self->config, lctl_config_unref);

  G_OBJECT_CLASS (lctl_server_parent_class)->dispose (object);
}

static void
lctl_server_finalize (GObject *object)
{
  LctlServer *self = LCTL_SERVER (object);

  g_free (self->address);

  G_OBJECT_CLASS (lctl_server_parent_class)->finalize (object);
}

static void
lctl_server_class_init (LctlServerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = lctl_server_dispose;
  object_class->finalize = lctl_server_finalize;

  /**
   * LctlServer::idle:
   *
   * Emitted when the last proxied request in flight has finished.
   */
  signals[SIGNAL_IDLE] = g_signal_new ("idle", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                       0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
lctl_server_init (LctlServer *self)
{
  self->soup_server = soup_server_new ("server-header", "litellmctl/" PACKAGE_VERSION " ", NULL);
  soup_server_add_early_handler (self->soup_server, NULL, early_callback, self, NULL);
  soup_server_add_handler (self->soup_server, NULL, server_callback, self, NULL);
  g_signal_connect (self->soup_server, "request-finished", G_CALLBACK (request_ended_cb), self);
  g_signal_connect (self->soup_server, "request-aborted", G_CALLBACK (request_ended_cb), self);
}

LctlServer *
lctl_server_new (void)
{
  return g_object_new (LCTL_TYPE_SERVER, NULL);
}

/* soup_server_listen() leaves GSocket's backlog of 10: a burst of clients
 * (an agent opening parallel streams) overflows it, and the kernel drops
 * their SYNs, which are retried only after 1, 3, 7 s. */
#define LISTEN_BACKLOG 4096

static gboolean
listen_with_backlog (SoupServer     *soup_server,
                     GSocketAddress *address,
                     GError        **error)
{
  g_autoptr (GSocket) socket = g_socket_new (g_socket_address_get_family (address), G_SOCKET_TYPE_STREAM,
                                             G_SOCKET_PROTOCOL_TCP, error);

  if (socket == NULL)
    return FALSE;
  g_socket_set_listen_backlog (socket, LISTEN_BACKLOG);
  if (!g_socket_bind (socket, address, TRUE, error) || !g_socket_listen (socket, error))
    return FALSE;
  return soup_server_listen_socket (soup_server, socket, 0, error);
}

gboolean
lctl_server_listen (LctlServer *self,
                    const char *host,
                    unsigned    port,
                    GError    **error)
{
  g_autoptr (GInetAddress) inet_address = NULL;
  g_autoptr (GSocketAddress) address = NULL;
  GSList *uris;

  g_return_val_if_fail (LCTL_IS_SERVER (self), FALSE);

  if (host == NULL || g_ascii_strcasecmp (host, "localhost") == 0)
    inet_address = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  else
    inet_address = g_inet_address_new_from_string (host);
  if (inet_address == NULL)
    {
      g_set_error (error, LCTL_ERROR, LCTL_ERROR_INVALID_ARGUMENT,
                   "Cannot listen on “%s”: not an IP address", host);
      return FALSE;
    }

  address = g_inet_socket_address_new (inet_address, port);
  if (!listen_with_backlog (self->soup_server, address, error))
    return FALSE;

  uris = soup_server_get_uris (self->soup_server);
  if (uris != NULL)
    {
      GUri            *uri = uris->data;
      g_autofree char *host_string = g_inet_address_to_string (inet_address);
      gboolean         v6 = g_inet_address_get_family (inet_address) == G_SOCKET_FAMILY_IPV6;

      self->port = g_uri_get_port (uri);
      g_free (self->address);
      self->address = g_strdup_printf ("http://%s%s%s:%u", v6 ? "[" : "", host_string,
                                       v6 ? "]" : "", self->port);
    }
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
  return TRUE;
}

/* Stops accepting new connections; requests in flight go on. */
void
lctl_server_stop_listening (LctlServer *self)
{
  GSList *listeners;

  g_return_if_fail (LCTL_IS_SERVER (self));

  listeners = soup_server_get_listeners (self->soup_server);
  for (GSList *l = listeners; l != NULL; l = l->next)
    g_socket_close (l->data, NULL);
  g_slist_free (listeners);
}

void
lctl_server_disconnect (LctlServer *self)
{
  g_return_if_fail (LCTL_IS_SERVER (self));

  soup_server_disconnect (self->soup_server);
}

const char *
lctl_server_get_address (LctlServer *self)
{
  g_return_val_if_fail (LCTL_IS_SERVER (self), NULL);

  return self->address != NULL ? self->address : "";
}

unsigned
lctl_server_get_port (LctlServer *self)
{
  g_return_val_if_fail (LCTL_IS_SERVER (self), 0);

  return self->port;
}

void
lctl_server_set_config (LctlServer *self,
                        LctlConfig *config)
{
  g_return_if_fail (LCTL_IS_SERVER (self));

  if (config != NULL)
    lctl_config_ref (config);
  g_clear_pointer (&self->config, lctl_config_unref);
  self->config = config;
  self->config_applied_at = g_get_real_time () / G_USEC_PER_SEC;
}

/**
 * lctl_server_get_config:
 *
 * Returns: (transfer none) (nullable): The snapshot new requests run on.
 */
LctlConfig *
lctl_server_get_config (LctlServer *self)
{
  g_return_val_if_fail (LCTL_IS_SERVER (self), NULL);

  return self->config;
}

void
lctl_server_set_proxy_func (LctlServer         *self,
                            LctlServerProxyFunc func,
                            gpointer            user_data)
{
  g_return_if_fail (LCTL_IS_SERVER (self));

  self->proxy_func = func;
  self->proxy_data = user_data;
}

unsigned
lctl_server_get_in_flight (LctlServer *self)
{
  g_return_val_if_fail (LCTL_IS_SERVER (self), 0);

  return self->in_flight;
}

guint64
lctl_server_get_request_count (LctlServer *self)
{
  g_return_val_if_fail (LCTL_IS_SERVER (self), 0);

  return self->request_count;
}
