/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#include "config.h"

#include <string.h>

#include "lctl-mock-upstream.h"
#include "lctl-test-utils.h"

#define EVENT_INTERVAL_MS 20

struct _LctlMockUpstream
{
  SoupServer *server;
  char       *base;
  GPtrArray  *requests;
  GPtrArray  *streams;    /* (element-type MockStream) still running */
  GPtrArray  *hanging;    /* (element-type SoupServerMessage) */
  GHashTable *behaviours; /* upstream model name -> behaviour */
  unsigned    disconnects;
};

typedef struct
{
  LctlMockUpstream  *mock;
  SoupServerMessage *msg;
  GPtrArray         *chunks; /* (element-type utf8) */
  unsigned           next;
  unsigned           source_id;
  unsigned           first_delay_ms;
  gboolean           reset_after; /* close the connection once the chunks are out */
  unsigned           gap_after;   /* chunks sent before a silence of gap_ms */
  unsigned           gap_ms;
  gulong             disconnected_id;
} MockStream;

static void
mock_request_free (LctlMockRequest *request)
{
  g_free (request->path);
  g_free (request->model);
  soup_message_headers_unref (request->headers);
  json_node_unref (request->body);
  g_free (request);
}

static void
stream_free (MockStream *stream)
{
  g_clear_handle_id (&stream->source_id, g_source_remove);
  g_clear_signal_handler (&stream->disconnected_id, stream->msg);
  g_clear_object (&stream->msg);
  g_ptr_array_unref (stream->chunks);
  g_free (stream);
}

static void
stream_end (MockStream *stream)
{
  g_ptr_array_remove (stream->mock->streams, stream);
}

static void
reset_connection (SoupServerMessage *msg)
{
  GSocket *socket = soup_server_message_get_socket (msg);

  /* A hard close, as when a server process dies. */
  if (socket != NULL)
    g_socket_shutdown (socket, TRUE, TRUE, NULL);
}

static gboolean
stream_tick (gpointer user_data)
{
  MockStream      *stream = user_data;
  SoupMessageBody *body = soup_server_message_get_response_body (stream->msg);

  if (stream->next < stream->chunks->len)
    {
      const char *chunk = g_ptr_array_index (stream->chunks, stream->next++);

      soup_message_body_append (body, SOUP_MEMORY_COPY, chunk, strlen (chunk));
      soup_server_message_unpause (stream->msg);
      /* The normal pace, but for a silence after the first text. */
      stream->source_id = g_timeout_add (stream->gap_ms > 0 && stream->next == stream->gap_after ? stream->gap_ms : EVENT_INTERVAL_MS,
                                         stream_tick, stream);
      return G_SOURCE_REMOVE;
    }

  stream->source_id = 0;
  if (stream->reset_after)
    reset_connection (stream->msg);
  else
    {
      soup_message_body_complete (body);
      soup_server_message_unpause (stream->msg);
    }
  stream_end (stream);
  return G_SOURCE_REMOVE;
}

static void
stream_disconnected_cb (SoupServerMessage *msg,
                        gpointer           user_data)
{
  MockStream *stream = user_data;

  if (stream->source_id == 0)
    return;
  stream->mock->disconnects++;
  stream_end (stream);
}

static void
start_stream (LctlMockUpstream  *self,
              SoupServerMessage *msg,
              GPtrArray         *chunks,
              unsigned           first_delay_ms,
              gboolean           reset_after)
{
  MockStream         *stream = g_new0 (MockStream, 1);
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);

  stream->mock = self;
  stream->msg = g_object_ref (msg);
  stream->chunks = g_ptr_array_ref (chunks);
  stream->first_delay_ms = first_delay_ms;
  stream->reset_after = reset_after;
  g_ptr_array_add (self->streams, stream);

  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_message_headers_set_content_type (headers, "text/event-stream", NULL);
  soup_message_headers_set_encoding (headers, SOUP_ENCODING_CHUNKED);
  soup_server_message_pause (msg);
  stream->disconnected_id = g_signal_connect (msg, "disconnected", G_CALLBACK (stream_disconnected_cb), stream);
  stream->source_id = g_timeout_add (first_delay_ms > 0 ? first_delay_ms : EVENT_INTERVAL_MS, stream_tick, stream);
}

static void
add_event (GPtrArray  *chunks,
           const char *event,
           const char *data)
{
  if (event != NULL)
    g_ptr_array_add (chunks, g_strdup_printf ("event: %s\ndata: %s\n\n", event, data));
  else
    g_ptr_array_add (chunks, g_strdup_printf ("data: %s\n\n", data));
}

typedef enum
{
  ANSWER_TEXT,
  ANSWER_TOOL,
  ANSWER_THINK,
} AnswerKind;

static const char *const text_pieces[] = { "Hello ", "from the ", "mock upstream." };
static const char *const arg_pieces[] = { "{\"city\":", "\"Paris\",", "\"unit\":\"c\"}" };

static GPtrArray *
anthropic_stream (const char *model,
                  AnswerKind  kind,
                  gboolean    truncated)
{
  GPtrArray       *chunks = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *start = g_strdup_printf (
      "{\"type\":\"message_start\",\"message\":{\"id\":\"msg_mock01\",\"type\":\"message\",\"role\":\"assistant\","
      "\"model\":\"%s\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":12,"
      "\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":3,\"output_tokens\":1}}}",
      model);
  int index = 0;

  add_event (chunks, "message_start", start);
  if (kind == ANSWER_THINK)
    {
      add_event (chunks, "content_block_start",
                 "{\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"thinking\",\"thinking\":\"\",\"signature\":\"\"}}");
      add_event (chunks, "content_block_delta",
                 "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"thinking_delta\",\"thinking\":\"Let me think.\"}}");
      add_event (chunks, "content_block_delta",
                 "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"signature_delta\",\"signature\":\"sig-123\"}}");
      add_event (chunks, "content_block_stop", "{\"type\":\"content_block_stop\",\"index\":0}");
      index = 1;
    }
  if (kind == ANSWER_TOOL)
    {
      add_event (chunks, "content_block_start",
                 "{\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_mock1\",\"name\":\"get_weather\",\"input\":{}}}");
      add_event (chunks, "ping", "{\"type\":\"ping\"}");
      add_event (chunks, "content_block_delta",
                 "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"\"}}");
      for (gsize i = 0; i < G_N_ELEMENTS (arg_pieces); i++)
        {
          g_autoptr (JsonNode) piece = json_node_init_string (json_node_alloc (), arg_pieces[i]);
          g_autofree char *escaped = json_to_string (piece, FALSE);
          g_autofree char *data = g_strdup_printf ("{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":%s}}", escaped);

          add_event (chunks, "content_block_delta", data);
        }
      add_event (chunks, "content_block_stop", "{\"type\":\"content_block_stop\",\"index\":0}");
      add_event (chunks, "message_delta",
                 "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":15}}");
      add_event (chunks, "message_stop", "{\"type\":\"message_stop\"}");
      return chunks;
    }

  {
    g_autofree char *block_start = g_strdup_printf ("{\"type\":\"content_block_start\",\"index\":%d,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}", index);

    add_event (chunks, "content_block_start", block_start);
  }
  for (gsize i = 0; i < (truncated ? 1 : G_N_ELEMENTS (text_pieces)); i++)
    {
      g_autofree char *data = g_strdup_printf ("{\"type\":\"content_block_delta\",\"index\":%d,\"delta\":{\"type\":\"text_delta\",\"text\":\"%s\"}}",
                                               index, text_pieces[i]);

      add_event (chunks, "content_block_delta", data);
    }
  if (truncated)
    return chunks;
  {
    g_autofree char *block_stop = g_strdup_printf ("{\"type\":\"content_block_stop\",\"index\":%d}", index);

    add_event (chunks, "content_block_stop", block_stop);
  }
  add_event (chunks, "message_delta",
             "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":9}}");
  add_event (chunks, "message_stop", "{\"type\":\"message_stop\"}");
  return chunks;
}

static char *
openai_chunk (const char *model,
              const char *delta,
              const char *finish_reason)
{
  return g_strdup_printf ("{\"id\":\"chatcmpl-mock01\",\"object\":\"chat.completion.chunk\",\"created\":1790000000,"
                          "\"model\":\"%s\",\"choices\":[{\"index\":0,\"delta\":%s,\"logprobs\":null,\"finish_reason\":%s}]}",
                          model, delta, finish_reason);
}

static GPtrArray *
openai_stream (const char *model,
               AnswerKind  kind,
               gboolean    include_usage,
               gboolean    truncated)
{
  GPtrArray       *chunks = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *role = openai_chunk (model, "{\"role\":\"assistant\",\"content\":\"\"}", "null");
  const char      *finish = kind == ANSWER_TOOL ? "\"tool_calls\"" : "\"stop\"";

  add_event (chunks, NULL, role);
  if (kind == ANSWER_THINK)
    {
      g_autofree char *thinking = openai_chunk (model, "{\"reasoning_content\":\"Let me think.\"}", "null");

      add_event (chunks, NULL, thinking);
    }
  if (kind == ANSWER_TOOL)
    {
      g_autofree char *first = openai_chunk (model,
                                             "{\"tool_calls\":[{\"index\":0,\"id\":\"call_mock1\",\"type\":\"function\","
                                             "\"function\":{\"name\":\"get_weather\",\"arguments\":\"\"}}]}",
                                             "null");

      add_event (chunks, NULL, first);
      for (gsize i = 0; i < G_N_ELEMENTS (arg_pieces); i++)
        {
          g_autoptr (JsonNode) piece = json_node_init_string (json_node_alloc (), arg_pieces[i]);
          g_autofree char *escaped = json_to_string (piece, FALSE);
          g_autofree char *delta = g_strdup_printf ("{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":%s}}]}", escaped);
          g_autofree char *chunk = openai_chunk (model, delta, "null");

          add_event (chunks, NULL, chunk);
        }
    }
  else
    for (gsize i = 0; i < (truncated ? 1 : G_N_ELEMENTS (text_pieces)); i++)
      {
        g_autofree char *delta = g_strdup_printf ("{\"content\":\"%s\"}", text_pieces[i]);
        g_autofree char *chunk = openai_chunk (model, delta, "null");

        add_event (chunks, NULL, chunk);
      }
  if (truncated)
    return chunks;
  {
    g_autofree char *end = openai_chunk (model, "{}", finish);

    add_event (chunks, NULL, end);
  }
  if (include_usage)
    {
      g_autofree char *usage = g_strdup_printf ("{\"id\":\"chatcmpl-mock01\",\"object\":\"chat.completion.chunk\",\"created\":1790000000,"
                                                "\"model\":\"%s\",\"choices\":[],\"usage\":{\"prompt_tokens\":15,\"completion_tokens\":9,"
                                                "\"total_tokens\":24,\"prompt_tokens_details\":{\"cached_tokens\":3}}}",
                                                model);

      add_event (chunks, NULL, usage);
    }
  add_event (chunks, NULL, "[DONE]");
  return chunks;
}

static void
respond (SoupServerMessage *msg,
         unsigned           status,
         const char        *json)
{
  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_COPY, json, strlen (json));
}

static void
respond_json_answer (SoupServerMessage *msg,
                     gboolean           anthropic,
                     const char        *model,
                     AnswerKind         kind)
{
  g_autofree char *json = NULL;

  if (anthropic)
    json = g_strdup_printf (
        "{\"id\":\"msg_mock01\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"%s\",\"content\":[%s],"
        "\"stop_reason\":\"%s\",\"stop_sequence\":null,\"usage\":{\"input_tokens\":12,\"cache_creation_input_tokens\":0,"
        "\"cache_read_input_tokens\":3,\"output_tokens\":9}}",
        model,
        kind == ANSWER_TOOL ? "{\"type\":\"tool_use\",\"id\":\"toolu_mock1\",\"name\":\"get_weather\",\"input\":{\"city\":\"Paris\",\"unit\":\"c\"}}"
        : kind == ANSWER_THINK
            ? "{\"type\":\"thinking\",\"thinking\":\"Let me think.\",\"signature\":\"sig-123\"},{\"type\":\"text\",\"text\":\"Hello from the mock upstream.\"}"
            : "{\"type\":\"text\",\"text\":\"Hello from the mock upstream.\"}",
        kind == ANSWER_TOOL ? "tool_use" : "end_turn");
  else
    json = g_strdup_printf (
        "{\"id\":\"chatcmpl-mock01\",\"object\":\"chat.completion\",\"created\":1790000000,\"model\":\"%s\","
        "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",%s},\"logprobs\":null,\"finish_reason\":\"%s\"}],"
        "\"usage\":{\"prompt_tokens\":15,\"completion_tokens\":9,\"total_tokens\":24,\"prompt_tokens_details\":{\"cached_tokens\":3}}}",
        model,
        kind == ANSWER_TOOL    ? "\"content\":null,\"tool_calls\":[{\"id\":\"call_mock1\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Paris\\\",\\\"unit\\\":\\\"c\\\"}\"}}]"
        : kind == ANSWER_THINK ? "\"reasoning_content\":\"Let me think.\",\"content\":\"Hello from the mock upstream.\""
                               : "\"content\":\"Hello from the mock upstream.\"",
        kind == ANSWER_TOOL ? "tool_calls" : "stop");
  respond (msg, SOUP_STATUS_OK, json);
}

static void
respond_error (SoupServerMessage *msg,
               gboolean           anthropic,
               unsigned           status,
               const char        *type,
               const char        *message)
{
  g_autofree char *json = NULL;

  if (anthropic)
    json = g_strdup_printf ("{\"type\":\"error\",\"error\":{\"type\":\"%s\",\"message\":\"%s\"}}", type, message);
  else
    json = g_strdup_printf ("{\"error\":{\"message\":\"%s\",\"type\":\"%s\",\"param\":null,\"code\":\"%s\"}}", message, type, type);
  respond (msg, status, json);
}

static void
handler (SoupServer        *server,
         SoupServerMessage *msg,
         const char        *path,
         GHashTable        *query,
         gpointer           user_data)
{
  LctlMockUpstream *self = user_data;
  SoupMessageBody  *request_body = soup_server_message_get_request_body (msg);
  g_autoptr (JsonParser) parser = json_parser_new ();
  LctlMockRequest *request;
  JsonObject      *body;
  const char      *model;
  const char      *behaviour;
  gboolean         anthropic = g_str_has_suffix (path, "/v1/messages");
  gboolean         stream;
  gboolean         include_usage = FALSE;
  JsonObject      *stream_options;

  if (!anthropic && !g_str_has_suffix (path, "/chat/completions"))
    {
      respond (msg, SOUP_STATUS_NOT_FOUND, "{\"error\":{\"message\":\"no such path\",\"type\":\"not_found\"}}");
      return;
    }
  if (!json_parser_load_from_data (parser, request_body->data, request_body->length, NULL) ||
      !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    {
      respond_error (msg, anthropic, 400, "invalid_request_error", "body is not a JSON object");
      return;
    }

  body = json_node_get_object (json_parser_get_root (parser));
  model = json_object_get_string_member_with_default (body, "model", "");
  stream = json_object_get_boolean_member_with_default (body, "stream", FALSE);
  stream_options = json_object_has_member (body, "stream_options") ? json_object_get_object_member (body, "stream_options") : NULL;
  if (stream_options != NULL)
    include_usage = json_object_get_boolean_member_with_default (stream_options, "include_usage", FALSE);

  request = g_new0 (LctlMockRequest, 1);
  request->path = g_strdup (path);
  request->model = g_strdup (model);
  request->headers = soup_message_headers_new (SOUP_MESSAGE_HEADERS_REQUEST);
  {
    SoupMessageHeadersIter iter;
    const char            *name, *value;

    soup_message_headers_iter_init (&iter, soup_server_message_get_request_headers (msg));
    while (soup_message_headers_iter_next (&iter, &name, &value))
      soup_message_headers_append (request->headers, name, value);
  }
  request->body = json_node_copy (json_parser_get_root (parser));
  g_ptr_array_add (self->requests, request);

  behaviour = g_hash_table_lookup (self->behaviours, model);
  if (behaviour == NULL)
    behaviour = model;

  if (g_str_equal (behaviour, "429") || g_str_equal (behaviour, "429-absurd"))
    {
      soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Retry-After",
                                    g_str_equal (behaviour, "429") ? "7" : "600000");
      respond_error (msg, anthropic, 429, "rate_limit_error", "Rate limit reached for requests");
    }
  else if (g_str_equal (behaviour, "500"))
    respond_error (msg, anthropic, 500, "api_error", "Internal server error");
  else if (g_str_equal (behaviour, "529"))
    respond_error (msg, anthropic, 529, "overloaded_error", "Overloaded");
  else if (g_str_equal (behaviour, "context"))
    {
      if (anthropic)
        respond_error (msg, TRUE, 400, "invalid_request_error", "prompt is too long: 210000 tokens > 200000 maximum");
      else
        respond (msg, 400,
                 "{\"error\":{\"message\":\"This model's maximum context length is 8192 tokens. However, your messages "
                 "resulted in 9000 tokens.\",\"type\":\"invalid_request_error\",\"param\":\"messages\",\"code\":\"context_length_exceeded\"}}");
    }
  else if (g_str_equal (behaviour, "hang"))
    {
      soup_server_message_pause (msg);
      g_ptr_array_add (self->hanging, g_object_ref (msg));
    }
  else if (g_str_equal (behaviour, "reset"))
    reset_connection (msg);
  else
    {
      AnswerKind kind = g_str_equal (behaviour, "tool") ? ANSWER_TOOL : g_str_equal (behaviour, "think") ? ANSWER_THINK
                                                                                                         : ANSWER_TEXT;
      gboolean   truncated = g_str_equal (behaviour, "reset-mid");
      unsigned   first_delay = g_str_equal (behaviour, "slow") ? 1500 : 0;

      if (stream || truncated)
        {
          g_autoptr (GPtrArray) chunks = anthropic ? anthropic_stream (model, kind, truncated)
                                                   : openai_stream (model, kind, include_usage, truncated);

          start_stream (self, msg, chunks, first_delay, truncated);
          if (g_str_equal (behaviour, "pause-mid"))
            {
              MockStream *started = g_ptr_array_index (self->streams, self->streams->len - 1);

              /* Anthropic: message_start, block start, first delta; OpenAI:
               * role chunk, first delta. */
              started->gap_after = anthropic ? 3 : 2;
              started->gap_ms = 700;
            }
        }
      else
        respond_json_answer (msg, anthropic, model, kind);
    }
}

LctlMockUpstream *
lctl_mock_upstream_new (void)
{
  LctlMockUpstream *self = g_new0 (LctlMockUpstream, 1);

  self->server = lctl_test_server_new (&self->base);
  self->requests = g_ptr_array_new_with_free_func ((GDestroyNotify) mock_request_free);
  self->streams = g_ptr_array_new_with_free_func ((GDestroyNotify) stream_free);
  self->hanging = g_ptr_array_new_with_free_func (g_object_unref);
  self->behaviours = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  soup_server_add_handler (self->server, NULL, handler, self, NULL);
  return self;
}

void
lctl_mock_upstream_free (LctlMockUpstream *self)
{
  g_ptr_array_unref (self->streams);
  g_ptr_array_unref (self->hanging);
  soup_server_disconnect (self->server);
  g_object_unref (self->server);
  g_ptr_array_unref (self->requests);
  g_hash_table_unref (self->behaviours);
  g_free (self->base);
  g_free (self);
}

void
lctl_mock_upstream_set_behaviour (LctlMockUpstream *self,
                                  const char       *model,
                                  const char       *behaviour)
{
  if (behaviour != NULL)
    g_hash_table_replace (self->behaviours, g_strdup (model), g_strdup (behaviour));
  else
    g_hash_table_remove (self->behaviours, model);
}

const char *
lctl_mock_upstream_get_base (LctlMockUpstream *self)
{
  return self->base;
}

GPtrArray *
lctl_mock_upstream_get_requests (LctlMockUpstream *self)
{
  return self->requests;
}

unsigned
lctl_mock_upstream_count (LctlMockUpstream *self,
                          const char       *model)
{
  unsigned count = 0;

  for (unsigned i = 0; i < self->requests->len; i++)
    {
      LctlMockRequest *request = g_ptr_array_index (self->requests, i);

      if (g_strcmp0 (request->model, model) == 0)
        count++;
    }
  return count;
}

unsigned
lctl_mock_upstream_get_disconnects (LctlMockUpstream *self)
{
  return self->disconnects;
}
