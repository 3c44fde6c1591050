/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lctl-json.h"
#include "lctl-dialect-anthropic.h"
#include "lctl-dialect-openai-chat.h"
#include "lctl-dialect-private.h"
#include "lctl-sse.h"

/* ---- JSON helpers ---- */

JsonNode *
lctl_json_member (JsonObject *object,
                  const char *member)
{
  JsonNode *node;

  if (object == NULL)
    return NULL;
  node = json_object_get_member (object, member);
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return NULL;
  return node;
}

const char *
lctl_json_string (JsonObject *object,
                  const char *member)
{
  JsonNode *node = lctl_json_member (object, member);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

JsonObject *
lctl_json_object (JsonObject *object,
                  const char *member)
{
  JsonNode *node = lctl_json_member (object, member);

  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    return NULL;
  return json_node_get_object (node);
}

JsonArray *
lctl_json_array (JsonObject *object,
                 const char *member)
{
  JsonNode *node = lctl_json_member (object, member);

  if (node == NULL || !JSON_NODE_HOLDS_ARRAY (node))
    return NULL;
  return json_node_get_array (node);
}

gboolean
lctl_json_number (JsonObject *object,
                  const char *member,
                  double     *value)
{
  JsonNode *node = lctl_json_member (object, member);
  GType     type;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node))
    return FALSE;
  type = json_node_get_value_type (node);
  if (type != G_TYPE_INT64 && type != G_TYPE_DOUBLE)
    return FALSE;
  *value = json_node_get_double (node);
  return TRUE;
}

gboolean
lctl_json_int (JsonObject *object,
               const char *member,
               gint64     *value)
{
  double number;

  if (!lctl_json_number (object, member, &number))
    return FALSE;
  if (number > 9.0e15 || number < -9.0e15)
    return FALSE;
  *value = (gint64) number;
  return TRUE;
}

int
lctl_json_bool (JsonObject *object,
                const char *member)
{
  JsonNode *node = lctl_json_member (object, member);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_BOOLEAN)
    return -1;
  return json_node_get_boolean (node) ? 1 : 0;
}

JsonObject *
lctl_json_array_object (JsonArray *array,
                        unsigned   index)
{
  JsonNode *node;

  if (array == NULL || index >= json_array_get_length (array))
    return NULL;
  node = json_array_get_element (array, index);
  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    return NULL;
  return json_node_get_object (node);
}

JsonNode *
lctl_json_parse (const char *body,
                 gssize      length,
                 const char *what,
                 GError    **error)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) local_error = NULL;
  g_autofree char *protected = NULL;
  gsize     protected_length = 0;
  JsonNode *root;

  if (body == NULL || length == 0 || (length < 0 && *body == '\0'))
    {
      g_set_error (error, LCTL_ERROR, LCTL_ERROR_INVALID_ARGUMENT, "%s is empty", what);
      return NULL;
    }
  if ((protected = lctl_json_protect_nul (body, length, &protected_length)) != NULL)
    {
      body = protected;
      length = protected_length;
    }
  if (!json_parser_load_from_data (parser, body, length, &local_error))
    {
      g_set_error (error, LCTL_ERROR, LCTL_ERROR_INVALID_ARGUMENT, "%s is not valid JSON: %s", what, local_error->message);
      return NULL;
    }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error (error, LCTL_ERROR, LCTL_ERROR_INVALID_ARGUMENT, "%s must be a JSON object", what);
      return NULL;
    }
  return json_node_ref (root);
}

void
lctl_json_merge_missing (JsonObject *into,
                         JsonObject *from)
{
  g_autoptr (GList) members = NULL;

  if (from == NULL)
    return;
  members = json_object_get_members (from);
  for (GList *l = members; l != NULL; l = l->next)
    if (!json_object_has_member (into, l->data))
      json_object_set_member (into, l->data, json_node_copy (json_object_get_member (from, l->data)));
}

JsonNode *
lctl_json_node_new_object (JsonObject *object)
{
  JsonNode *node = json_node_new (JSON_NODE_OBJECT);

  json_node_take_object (node, object);
  return node;
}

char *
lctl_dialect_make_id (const char *prefix)
{
  g_autofree char *uuid = g_uuid_string_random ();
  GString         *id = g_string_new (prefix);

  for (const char *p = uuid; *p; p++)
    if (*p != '-')
      g_string_append_c (id, *p);
  return g_string_free (id, FALSE);
}

void
lctl_build_options_drop (const LctlBuildOptions *options,
                         const char             *name)
{
  if (options == NULL || options->dropped == NULL)
    return;
  for (unsigned i = 0; i < options->dropped->len; i++)
    if (g_str_equal (options->dropped->pdata[i], name))
      return;
  g_ptr_array_add (options->dropped, g_strdup (name));
}

char *
lctl_dialect_json_instruction (const LctlIrRequest *request)
{
  g_autofree char *schema = NULL;

  switch (request->response_format.type)
    {
    case LCTL_IR_FORMAT_JSON_OBJECT:
      return g_strdup ("Respond with a single valid JSON object and nothing else: "
                       "no prose, no Markdown code fences.");
    case LCTL_IR_FORMAT_JSON_SCHEMA:
      if (request->response_format.schema != NULL)
        schema = lctl_json_to_string (request->response_format.schema);
      return g_strdup_printf ("Respond with a single valid JSON object and nothing else "
                              "(no prose, no Markdown code fences), conforming to this "
                              "JSON Schema:\n%s",
                              schema ? schema : "{}");
    case LCTL_IR_FORMAT_UNSET:
    case LCTL_IR_FORMAT_TEXT:
    default:
      return NULL;
    }
}

gboolean
lctl_dialect_parse_data_url (const char *url,
                             char      **media_type,
                             char      **data)
{
  const char *comma;
  const char *semi;

  if (url == NULL || !g_str_has_prefix (url, "data:"))
    return FALSE;
  comma = strchr (url, ',');
  if (comma == NULL)
    return FALSE;
  semi = g_strstr_len (url, comma - url, ";base64");
  if (semi == NULL)
    return FALSE;
  *media_type = g_strndup (url + 5, semi - (url + 5));
  *data = g_strdup (comma + 1);
  return TRUE;
}

static gboolean
contains_any (const char        *text,
              const char *const *needles)
{
  g_autofree char *lower = NULL;

  if (text == NULL)
    return FALSE;
  lower = g_ascii_strdown (text, -1);
  for (unsigned i = 0; needles[i] != NULL; i++)
    if (strstr (lower, needles[i]) != NULL)
      return TRUE;
  return FALSE;
}

gboolean
lctl_dialect_text_means_context_window (const char *text)
{
  static const char *const needles[] = {
    "context_length_exceeded", "prompt is too long", "maximum context length",
    "context length", "context window", "too many tokens",
    "input is too long", "exceeds the model's", "model_context_window_exceeded",
    "reduce the length", NULL
  };

  return contains_any (text, needles);
}

gboolean
lctl_dialect_text_means_content_policy (const char *text)
{
  static const char *const needles[] = {
    "content_policy", "content policy", "content_filter", "content filter",
    "content management policy", "safety system", "data_inspection_failed",
    "sensitive content", NULL
  };

  return contains_any (text, needles);
}

double
lctl_dialect_parse_retry_after (const char *value)
{
  char  *end = NULL;
  double seconds;

  if (value == NULL)
    return 0;
  while (g_ascii_isspace (*value))
    value++;
  seconds = g_ascii_strtod (value, &end);
  if (end != value && seconds >= 0 && seconds < 86400 * 7)
    return seconds;

  {
    /* An HTTP date. */
    g_autoptr (GDateTime) when = NULL;
    g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
    int                      day, year, hour, minute, second;
    char                     month_name[4] = { 0 };
    static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

    if (sscanf (value, "%*3s, %d %3s %d %d:%d:%d GMT", &day, month_name, &year, &hour, &minute, &second) == 6)
      {
        for (int m = 0; m < 12; m++)
          if (g_ascii_strcasecmp (month_name, months[m]) == 0)
            when = g_date_time_new_utc (year, m + 1, day, hour, minute, second);
      }
    if (when != NULL)
      {
        GTimeSpan span = g_date_time_difference (when, now);

        return span > 0 ? (double) span / G_TIME_SPAN_SECOND : 0;
      }
  }
  return 0;
}

/* ---- Dispatch ---- */

static gboolean
check_dialect (LctlDialect dialect,
               GError    **error)
{
  if (dialect == LCTL_DIALECT_ANTHROPIC || dialect == LCTL_DIALECT_OPENAI_CHAT)
    return TRUE;
  g_set_error (error, LCTL_ERROR, LCTL_ERROR_UNSUPPORTED, "The %s dialect is not supported yet", lctl_dialect_to_string (dialect));
  return FALSE;
}

LctlIrRequest *
lctl_dialect_parse_request (LctlDialect dialect,
                            const char *body,
                            gssize      length,
                            GError    **error)
{
  g_autoptr (JsonNode) root = NULL;

  if (!check_dialect (dialect, error))
    return NULL;
  root = lctl_json_parse (body, length, "The request body", error);
  if (root == NULL)
    return NULL;
  if (dialect == LCTL_DIALECT_ANTHROPIC)
    return lctl_anthropic_parse_request (root, error);
  return lctl_openai_chat_parse_request (root, error);
}

JsonNode *
lctl_dialect_build_request (LctlDialect             dialect,
                            const LctlIrRequest    *request,
                            const char             *upstream_model,
                            const LctlBuildOptions *options,
                            GError                **error)
{
  g_return_val_if_fail (request != NULL, NULL);

  if (!check_dialect (dialect, error))
    return NULL;
  if (dialect == LCTL_DIALECT_ANTHROPIC)
    return lctl_anthropic_build_request (request, upstream_model, options, error);
  return lctl_openai_chat_build_request (request, upstream_model, options, error);
}

JsonNode *
lctl_dialect_passthrough_request (LctlDialect dialect,
                                  const char *body,
                                  gssize      length,
                                  const char *upstream_model,
                                  JsonObject *params,
                                  GError    **error)
{
  JsonNode   *root = lctl_json_parse (body, length, "The request body", error);
  JsonObject *object;
  g_autoptr (GList) members = NULL;

  if (root == NULL)
    return NULL;
  object = json_node_get_object (root);
  if (upstream_model != NULL)
    json_object_set_string_member (object, "model", upstream_model);

  if (params != NULL)
    members = json_object_get_members (params);
  for (GList *l = members; l != NULL; l = l->next)
    {
      const char *key = l->data;

      if (lctl_ir_param_is_proxy_setting (key) || json_object_has_member (object, key))
        continue;
      /* Defaults written for the other dialect make no sense here. */
      if (dialect == LCTL_DIALECT_ANTHROPIC && (g_str_equal (key, "reasoning_effort") || g_str_equal (key, "max_completion_tokens")))
        continue;
      if (dialect == LCTL_DIALECT_ANTHROPIC && g_str_equal (key, "stop"))
        continue;
      json_object_set_member (object, key, json_node_copy (json_object_get_member (params, key)));
    }
  return root;
}

LctlIrResponse *
lctl_dialect_parse_response (LctlDialect dialect,
                             const char *body,
                             gssize      length,
                             GError    **error)
{
  g_autoptr (JsonNode) root = NULL;

  if (!check_dialect (dialect, error))
    return NULL;
  root = lctl_json_parse (body, length, "The upstream response", error);
  if (root == NULL)
    return NULL;
  if (dialect == LCTL_DIALECT_ANTHROPIC)
    return lctl_anthropic_parse_response (root, error);
  return lctl_openai_chat_parse_response (root, error);
}

JsonNode *
lctl_dialect_build_response (LctlDialect           dialect,
                             const LctlIrResponse *response,
                             const char           *model)
{
  g_return_val_if_fail (response != NULL, NULL);

  if (dialect == LCTL_DIALECT_OPENAI_CHAT)
    return lctl_openai_chat_build_response (response, model);
  return lctl_anthropic_build_response (response, model);
}

LctlIrError *
lctl_dialect_parse_error (LctlDialect dialect,
                          unsigned    status,
                          const char *body,
                          gssize      length,
                          const char *retry_after)
{
  g_autoptr (JsonParser) parser = json_parser_new_immutable ();
  g_autofree char *text = NULL;
  JsonNode        *root = NULL;
  LctlIrError     *error;

  if (body != NULL && length != 0)
    {
      if (length < 0)
        length = strlen (body);
      if (json_parser_load_from_data (parser, body, length, NULL))
        root = json_parser_get_root (parser);
      /* Non-JSON bodies (gateway HTML pages) are reduced to a short,
       * printable excerpt. */
      text = g_utf8_make_valid (body, MIN (length, 300));
      for (char *p = text; *p; p++)
        if ((unsigned char) *p < 0x20)
          *p = ' ';
      g_strstrip (text);
    }

  if (dialect == LCTL_DIALECT_ANTHROPIC)
    error = lctl_anthropic_parse_error (status, root, text);
  else
    error = lctl_openai_chat_parse_error (status, root, text);

  if (retry_after != NULL)
    error->retry_after = lctl_dialect_parse_retry_after (retry_after);
  return error;
}

JsonNode *
lctl_dialect_build_error (LctlDialect        dialect,
                          const LctlIrError *error,
                          unsigned          *status)
{
  g_return_val_if_fail (error != NULL, NULL);

  if (dialect == LCTL_DIALECT_OPENAI_CHAT)
    return lctl_openai_chat_build_error (error, status);
  return lctl_anthropic_build_error (error, status);
}

GBytes *
lctl_dialect_node_to_bytes (JsonNode *node)
{
  return lctl_json_to_bytes (node);
}

/* ---- Streams ---- */

struct _LctlStreamDecoder
{
  LctlDialect            dialect;
  LctlSseParser         *sse;
  GPtrArray             *sse_events;
  LctlAnthropicDecoder  *anthropic;
  LctlOpenaiChatDecoder *openai_chat;
};

LctlStreamDecoder *
lctl_stream_decoder_new (LctlDialect dialect)
{
  LctlStreamDecoder *decoder;

  g_return_val_if_fail (dialect == LCTL_DIALECT_ANTHROPIC || dialect == LCTL_DIALECT_OPENAI_CHAT, NULL);

  decoder = g_new0 (LctlStreamDecoder, 1);
  decoder->dialect = dialect;
  decoder->sse = lctl_sse_parser_new ();
  decoder->sse_events = lctl_sse_event_array_new ();
  if (dialect == LCTL_DIALECT_ANTHROPIC)
    decoder->anthropic = lctl_anthropic_decoder_new ();
  else
    decoder->openai_chat = lctl_openai_chat_decoder_new ();
  return decoder;
}

void
lctl_stream_decoder_free (LctlStreamDecoder *decoder)
{
  if (decoder == NULL)
    return;
  lctl_sse_parser_free (decoder->sse);
  g_ptr_array_unref (decoder->sse_events);
  g_clear_pointer (&decoder->anthropic, lctl_anthropic_decoder_free);
  g_clear_pointer (&decoder->openai_chat, lctl_openai_chat_decoder_free);
  g_free (decoder);
}

gboolean
lctl_stream_decoder_feed_event (LctlStreamDecoder *decoder,
                                const char        *event_name,
                                const char        *data,
                                GPtrArray         *events,
                                GError           **error)
{
  g_return_val_if_fail (decoder != NULL, FALSE);

  if (lctl_stream_decoder_is_done (decoder))
    return TRUE;
  if (decoder->anthropic != NULL)
    return lctl_anthropic_decoder_feed (decoder->anthropic, event_name, data, events, error);
  return lctl_openai_chat_decoder_feed (decoder->openai_chat, event_name, data, events, error);
}

static gboolean
feed_sse_events (LctlStreamDecoder *decoder,
                 GPtrArray         *events,
                 GError           **error)
{
  gboolean ok = TRUE;

  for (unsigned i = 0; i < decoder->sse_events->len && ok; i++)
    {
      LctlSseEvent *sse = decoder->sse_events->pdata[i];

      ok = lctl_stream_decoder_feed_event (decoder, sse->event, sse->data, events, error);
    }
  g_ptr_array_set_size (decoder->sse_events, 0);
  return ok;
}

gboolean
lctl_stream_decoder_feed_bytes (LctlStreamDecoder *decoder,
                                const char        *buf,
                                gsize              len,
                                GPtrArray         *events,
                                GError           **error)
{
  g_return_val_if_fail (decoder != NULL, FALSE);

  lctl_sse_parser_feed (decoder->sse, buf, len, decoder->sse_events);
  return feed_sse_events (decoder, events, error);
}

void
lctl_stream_decoder_finish (LctlStreamDecoder *decoder,
                            GPtrArray         *events)
{
  g_return_if_fail (decoder != NULL);

  lctl_sse_parser_finish (decoder->sse, decoder->sse_events);
  /* A malformed last event is just as much a cut stream. */
  feed_sse_events (decoder, events, NULL);
  if (decoder->anthropic != NULL)
    lctl_anthropic_decoder_finish (decoder->anthropic, events);
  else
    lctl_openai_chat_decoder_finish (decoder->openai_chat, events);
}

gboolean
lctl_stream_decoder_is_done (LctlStreamDecoder *decoder)
{
  if (decoder->anthropic != NULL)
    return lctl_anthropic_decoder_is_done (decoder->anthropic);
  return lctl_openai_chat_decoder_is_done (decoder->openai_chat);
}

struct _LctlStreamEncoder
{
  LctlDialect            dialect;
  LctlAnthropicEncoder  *anthropic;
  LctlOpenaiChatEncoder *openai_chat;
  gboolean               has_output;
};

LctlStreamEncoder *
lctl_stream_encoder_new (LctlDialect dialect,
                         const char *model,
                         gboolean    include_usage)
{
  LctlStreamEncoder *encoder;

  g_return_val_if_fail (dialect == LCTL_DIALECT_ANTHROPIC || dialect == LCTL_DIALECT_OPENAI_CHAT, NULL);

  encoder = g_new0 (LctlStreamEncoder, 1);
  encoder->dialect = dialect;
  if (dialect == LCTL_DIALECT_ANTHROPIC)
    encoder->anthropic = lctl_anthropic_encoder_new (model);
  else
    encoder->openai_chat = lctl_openai_chat_encoder_new (model, include_usage);
  return encoder;
}

void
lctl_stream_encoder_free (LctlStreamEncoder *encoder)
{
  if (encoder == NULL)
    return;
  g_clear_pointer (&encoder->anthropic, lctl_anthropic_encoder_free);
  g_clear_pointer (&encoder->openai_chat, lctl_openai_chat_encoder_free);
  g_free (encoder);
}

static GBytes *
take_output (LctlStreamEncoder *encoder,
             GString           *out)
{
  if (out->len == 0)
    {
      g_string_free (out, TRUE);
      return NULL;
    }
  encoder->has_output = TRUE;
  return g_string_free_to_bytes (out);
}

GBytes *
lctl_stream_encoder_encode (LctlStreamEncoder *encoder,
                            const LctlIrEvent *event)
{
  GString *out = g_string_new (NULL);

  g_return_val_if_fail (encoder != NULL, NULL);
  g_return_val_if_fail (event != NULL, NULL);

  if (!lctl_stream_encoder_is_done (encoder))
    {
      if (encoder->anthropic != NULL)
        lctl_anthropic_encoder_encode (encoder->anthropic, event, out);
      else
        lctl_openai_chat_encoder_encode (encoder->openai_chat, event, out);
    }
  return take_output (encoder, out);
}

GBytes *
lctl_stream_encoder_ping (LctlStreamEncoder *encoder)
{
  GString *out = g_string_new (NULL);

  if (!lctl_stream_encoder_is_done (encoder))
    {
      if (encoder->anthropic != NULL)
        lctl_anthropic_encoder_ping (encoder->anthropic, out);
      else
        lctl_openai_chat_encoder_ping (encoder->openai_chat, out);
    }
  return take_output (encoder, out);
}

GBytes *
lctl_stream_encoder_error (LctlStreamEncoder *encoder,
                           const LctlIrError *error)
{
  GString *out = g_string_new (NULL);

  if (!lctl_stream_encoder_is_done (encoder))
    {
      if (encoder->anthropic != NULL)
        lctl_anthropic_encoder_error (encoder->anthropic, error, out);
      else
        lctl_openai_chat_encoder_error (encoder->openai_chat, error, out);
    }
  return take_output (encoder, out);
}

gboolean
lctl_stream_encoder_is_done (LctlStreamEncoder *encoder)
{
  if (encoder->anthropic != NULL)
    return lctl_anthropic_encoder_is_done (encoder->anthropic);
  return lctl_openai_chat_encoder_is_done (encoder->openai_chat);
}

gboolean
lctl_stream_encoder_has_output (LctlStreamEncoder *encoder)
{
  return encoder->has_output;
}
