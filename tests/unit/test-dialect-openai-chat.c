/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#include "config.h"

#include <math.h>

#include "lctl-dialect-openai-chat.h"
#include "test-dialect-common.h"

static LctlIrRequest *
parse_fixture_request (const char *name)
{
  return fixture_request (LCTL_DIALECT_OPENAI_CHAT, name);
}

static void
test_parse_qwen (void)
{
  g_autoptr (LctlIrRequest) request = parse_fixture_request ("openai-request-qwen.json");
  LctlIrMessage *message;
  LctlIrPart    *part;

  g_assert_cmpstr (request->model, ==, "qwen3-coder-plus");
  g_assert_cmpint (request->max_tokens, ==, 8000);
  g_assert_cmpstr (request->max_tokens_field, ==, "max_tokens");
  g_assert_true (request->stream);
  g_assert_true (request->include_usage);
  g_assert_cmpfloat (request->temperature, ==, 0.7);
  g_assert_true (request->has_seed);
  g_assert_cmpint (request->seed, ==, 42);
  g_assert_cmpstr (request->user, ==, "user-1234");
  g_assert_cmpstr (request->stop[0], ==, "STOP");
  g_assert_cmpint (request->thinking.mode, ==, LCTL_IR_THINKING_ENABLED);
  g_assert_cmpstr (request->thinking.effort, ==, "high");
  g_assert_cmpint (request->tool_choice.mode, ==, LCTL_IR_TOOL_CHOICE_AUTO);
  g_assert_cmpint (request->tool_choice.parallel, ==, 1);
  g_assert_true (json_object_has_member (request->extras, "presence_penalty"));

  /* The leading system message is the system prompt. */
  g_assert_cmpuint (request->system->len, ==, 1);
  g_assert_cmpuint (request->messages->len, ==, 5);

  message = request->messages->pdata[0];
  g_assert_cmpuint (message->parts->len, ==, 2);

  message = request->messages->pdata[1];
  g_assert_cmpint (message->role, ==, LCTL_IR_ROLE_ASSISTANT);
  g_assert_cmpuint (message->parts->len, ==, 3);
  part = message->parts->pdata[0];
  g_assert_cmpint (part->kind, ==, LCTL_IR_PART_THINKING);
  part = message->parts->pdata[2];
  g_assert_cmpstr (part->id, ==, "call_def456");
  g_assert_cmpstr (part->arguments, ==, "{\"path\":\"meson.build\"}");

  message = request->messages->pdata[2];
  g_assert_cmpint (message->role, ==, LCTL_IR_ROLE_TOOL);
  part = message->parts->pdata[0];
  g_assert_cmpint (part->kind, ==, LCTL_IR_PART_TOOL_RESULT);
  g_assert_cmpstr (part->id, ==, "call_abc123");
  g_assert_nonnull (part->content);
  {
    g_autofree char *text = lctl_ir_part_tool_result_text (part);

    g_assert_cmpstr (text, ==, "Ok: 12 Fail: 0");
  }

  g_assert_cmpint (((LctlIrTool *) request->tools->pdata[1])->strict, ==, 1);
}

static void
test_same_dialect_build (void)
{
  g_autoptr (LctlIrRequest) request = parse_fixture_request ("openai-request-qwen.json");
  g_autoptr (JsonNode) body = lctl_dialect_build_request (LCTL_DIALECT_OPENAI_CHAT, request, "vision-model", NULL, NULL);

  assert_path_str (body, "$.model", "vision-model");
  assert_path_str (body, "$.messages[0].role", "system");
  g_assert_cmpuint (path_length (body, "$.messages[1].content"), ==, 2);
  g_assert_true (path_exists (body, "$.messages[2].content"));
  g_assert_false (path_exists (body, "$.messages[2].content.type"));
  assert_path_str (body, "$.messages[2].tool_calls[1].function.arguments", "{\"path\":\"meson.build\"}");
  assert_path_str (body, "$.messages[2].reasoning_content", "I should run meson test.");
  assert_path_str (body, "$.messages[3].role", "tool");
  assert_path_str (body, "$.messages[3].tool_call_id", "call_abc123");
  assert_path_str (body, "$.messages[3].content", "Ok: 12 Fail: 0");
  assert_path_str (body, "$.messages[5].content", "Great, thanks.");
  assert_path_str (body, "$.tool_choice", "auto");
  assert_path_str (body, "$.reasoning_effort", "high");
  assert_path_str (body, "$.stop[0]", "STOP");
  g_assert_cmpint (path_int (body, "$.max_tokens"), ==, 8000);
  g_assert_cmpint (path_int (body, "$.seed"), ==, 42);
  g_assert_true (path_exists (body, "$.presence_penalty"));
  g_assert_true (path_exists (body, "$.stream_options.include_usage"));
  g_assert_true (path_exists (body, "$.parallel_tool_calls"));
}

static void
test_images_and_format (void)
{
  g_autoptr (LctlIrRequest) request = parse_fixture_request ("openai-request-images.json");
  LctlIrMessage *message = request->messages->pdata[0];
  LctlIrPart    *part;
  g_autoptr (JsonNode) body = NULL;

  /* developer → system prompt. */
  g_assert_cmpuint (request->system->len, ==, 1);
  g_assert_cmpint (request->max_tokens, ==, 300);
  g_assert_cmpstr (request->max_tokens_field, ==, "max_completion_tokens");
  part = message->parts->pdata[1];
  g_assert_cmpint (part->kind, ==, LCTL_IR_PART_IMAGE);
  g_assert_nonnull (part->url);
  part = message->parts->pdata[2];
  g_assert_cmpstr (part->media_type, ==, "image/jpeg");
  g_assert_cmpstr (part->data, ==, "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAgGBgcGBQgHBwcJCQgKDBQNDAsLDBkSEw8U");
  g_assert_cmpint (request->response_format.type, ==, LCTL_IR_FORMAT_JSON_SCHEMA);
  g_assert_cmpstr (request->response_format.name, ==, "description");

  body = lctl_dialect_build_request (LCTL_DIALECT_OPENAI_CHAT, request, NULL, NULL, NULL);
  g_assert_cmpint (path_int (body, "$.max_completion_tokens"), ==, 300);
  assert_path_str (body, "$.messages[1].content[1].image_url.detail", "high");
  assert_path_str (body, "$.messages[1].content[2].image_url.url", "data:image/jpeg;base64,/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAgGBgcGBQgHBwcJCQgKDBQNDAsLDBkSEw8U");
  assert_path_str (body, "$.response_format.json_schema.name", "description");
  assert_path_str (body, "$.response_format.json_schema.schema.required[0]", "summary");
}

static void
test_parse_errors (void)
{
  static const struct
  {
    const char *body;
    const char *message_part;
  } cases[] = {
    { "{\"messages\":[]}", "model" },
    { "{\"model\":\"m\"}", "messages" },
    { "{\"model\":\"m\",\"messages\":[{\"content\":\"x\"}]}", "messages[0].role" },
    { "{\"model\":\"m\",\"messages\":[{\"role\":\"wizard\",\"content\":\"x\"}]}", "wizard" },
    { "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":{}}]}", "messages[0].content" },
    { "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\"}]}]}", "image_url.url" },
    { "{\"model\":\"m\",\"messages\":[{\"role\":\"tool\",\"content\":\"x\"}]}", "tool_call_id" },
    { "{\"model\":\"m\",\"messages\":[{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"c\"}]}]}", "function.name" },
    { "{\"model\":\"m\",\"messages\":[],\"tools\":[{\"type\":\"function\",\"function\":{}}]}", "tools[0].function.name" },
  };

  for (unsigned i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (LctlIrRequest) request = lctl_dialect_parse_request (LCTL_DIALECT_OPENAI_CHAT, cases[i].body, -1, &error);

      g_assert_null (request);
      g_assert_error (error, LCTL_ERROR, LCTL_ERROR_INVALID_ARGUMENT);
      if (strstr (error->message, cases[i].message_part) == NULL)
        g_error ("case %u: “%s” does not mention “%s”", i, error->message, cases[i].message_part);
    }
}

static void
test_responses (void)
{
  gsize            length = 0;
  g_autofree char *text = fixture_text ("openai-response-tools.json", &length);
  g_autofree char *reasoning_text = fixture_text ("openai-response-reasoning.json", NULL);
  g_autoptr (LctlIrResponse) response = lctl_dialect_parse_response (LCTL_DIALECT_OPENAI_CHAT, text, length, NULL);
  g_autoptr (LctlIrResponse) reasoning = lctl_dialect_parse_response (LCTL_DIALECT_OPENAI_CHAT, reasoning_text, -1, NULL);
  g_autoptr (JsonNode) body = NULL;
  LctlIrPart *part;

  g_assert_cmpuint (response->parts->len, ==, 2);
  part = response->parts->pdata[0];
  g_assert_cmpint (part->kind, ==, LCTL_IR_PART_TOOL_CALL);
  g_assert_cmpstr (part->arguments, ==, "{\n\"location\": \"Boston, MA\"\n}");
  g_assert_cmpint (response->stop_reason, ==, LCTL_IR_STOP_TOOL_USE);
  /* prompt_tokens includes the cached ones; the IR's input does not. */
  g_assert_cmpint (response->usage.input_tokens, ==, 1082 - 1024);
  g_assert_cmpint (response->usage.cache_read_tokens, ==, 1024);
  g_assert_cmpint (response->usage.output_tokens, ==, 38);

  body = lctl_dialect_build_response (LCTL_DIALECT_OPENAI_CHAT, response, "alias");
  assert_path_str (body, "$.model", "alias");
  assert_path_str (body, "$.object", "chat.completion");
  assert_path_str (body, "$.choices[0].finish_reason", "tool_calls");
  g_assert_true (path_exists (body, "$.choices[0].message.content"));
  assert_path_str (body, "$.choices[0].message.tool_calls[1].id", "call_def456");
  g_assert_cmpint (path_int (body, "$.usage.prompt_tokens"), ==, 1082);
  g_assert_cmpint (path_int (body, "$.usage.prompt_tokens_details.cached_tokens"), ==, 1024);
  g_assert_cmpint (path_int (body, "$.usage.total_tokens"), ==, 1120);

  part = reasoning->parts->pdata[0];
  g_assert_cmpint (part->kind, ==, LCTL_IR_PART_THINKING);
  g_assert_cmpint (reasoning->stop_reason, ==, LCTL_IR_STOP_MAX_TOKENS);
  g_assert_cmpint (reasoning->usage.reasoning_tokens, ==, 100);
}

static void
test_stop_reasons (void)
{
  static const struct
  {
    const char      *wire;
    LctlIrStopReason ir;
  } cases[] = {
    { "stop", LCTL_IR_STOP_END_TURN },
    { "length", LCTL_IR_STOP_MAX_TOKENS },
    { "tool_calls", LCTL_IR_STOP_TOOL_USE },
    { "content_filter", LCTL_IR_STOP_CONTENT_FILTER },
    { "function_call", LCTL_IR_STOP_TOOL_USE },
  };

  for (unsigned i = 0; i < G_N_ELEMENTS (cases); i++)
    g_assert_cmpint (lctl_openai_chat_stop_reason_from_string (cases[i].wire), ==, cases[i].ir);
  g_assert_cmpstr (lctl_openai_chat_stop_reason_to_string (LCTL_IR_STOP_STOP_SEQUENCE), ==, "stop");
  g_assert_cmpstr (lctl_openai_chat_stop_reason_to_string (LCTL_IR_STOP_REFUSAL), ==, "content_filter");
  g_assert_cmpstr (lctl_openai_chat_stop_reason_to_string (LCTL_IR_STOP_PAUSE), ==, "stop");
  g_assert_cmpstr (lctl_openai_chat_stop_reason_to_string (LCTL_IR_STOP_CONTEXT_WINDOW), ==, "length");

  {
    /* "stop" after tool calls (some servers) is still a tool turn. */
    const char *body = "{\"id\":\"x\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":null,"
                       "\"tool_calls\":[{\"id\":\"c1\",\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}}]},"
                       "\"finish_reason\":\"stop\"}]}";
    g_autoptr (LctlIrResponse) response = lctl_dialect_parse_response (LCTL_DIALECT_OPENAI_CHAT, body, -1, NULL);

    g_assert_cmpint (response->stop_reason, ==, LCTL_IR_STOP_TOOL_USE);
  }
}

static void
test_errors (void)
{
  static const struct
  {
    const char     *fixture;
    unsigned        status;
    LctlIrErrorType type;
    const char     *wire_type;
    const char     *code;
  } cases[] = {
    { "openai-error-context.json", 400, LCTL_IR_ERROR_CONTEXT_WINDOW_EXCEEDED, "invalid_request_error", "context_length_exceeded" },
    { "openai-error-rate-limit.json", 429, LCTL_IR_ERROR_RATE_LIMIT, "rate_limit_error", "rate_limit_exceeded" },
    { "openai-error-auth.json", 401, LCTL_IR_ERROR_AUTHENTICATION, "authentication_error", "invalid_api_key" },
  };

  for (unsigned i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      gsize            length = 0;
      g_autofree char *text = fixture_text (cases[i].fixture, &length);
      g_autoptr (LctlIrError) error = lctl_dialect_parse_error (LCTL_DIALECT_OPENAI_CHAT, cases[i].status, text, length, "20");
      g_autoptr (JsonNode) body = NULL;
      unsigned status = 0;

      g_assert_cmpint (error->type, ==, cases[i].type);
      g_assert_cmpfloat (error->retry_after, ==, 20);
      body = lctl_dialect_build_error (LCTL_DIALECT_OPENAI_CHAT, error, &status);
      g_assert_cmpuint (status, ==, cases[i].status);
      assert_path_str (body, "$.error.type", cases[i].wire_type);
      assert_path_str (body, "$.error.code", cases[i].code);
      g_assert_true (path_exists (body, "$.error.message"));
      g_assert_true (path_exists (body, "$.error.param"));
    }

  {
    /* Overloaded keeps its meaning and status. */
    g_autoptr (LctlIrError) error = lctl_dialect_parse_error (LCTL_DIALECT_OPENAI_CHAT, 529, "{\"error\":{\"message\":\"Overloaded\",\"type\":\"overloaded_error\"}}", -1, NULL);
    g_autoptr (JsonNode) body = NULL;
    unsigned status = 0;

    g_assert_cmpint (error->type, ==, LCTL_IR_ERROR_OVERLOADED);
    body = lctl_dialect_build_error (LCTL_DIALECT_OPENAI_CHAT, error, &status);
    g_assert_cmpuint (status, ==, 529);
    assert_path_str (body, "$.error.type", "overloaded_error");
  }
  {
    /* An HTTP-date Retry-After in the future gives positive seconds. */
    g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
    g_autoptr (GDateTime) later = g_date_time_add_seconds (now, 120);
    g_autofree char *date = g_date_time_format (later, "%a, %d %b %Y %H:%M:%S GMT");
    g_autoptr (LctlIrError) error = lctl_dialect_parse_error (LCTL_DIALECT_OPENAI_CHAT, 429, "{}", -1, date);

    g_assert_cmpfloat (error->retry_after, >, 100);
    g_assert_cmpfloat (error->retry_after, <=, 121);
  }
}

/* Checks a client-side chat stream the way the OpenAI SDK reads it. */
static void
assert_wellformed_openai_stream (const char *text,
                                 gsize       length,
                                 gboolean    expect_usage)
{
  g_autoptr (GPtrArray) events = sse_parse_all (text, length);
  g_autoptr (GHashTable) tool_seen = g_hash_table_new (NULL, NULL);
  gboolean      finished = FALSE, usage = FALSE;
  LctlSseEvent *last;

  g_assert_cmpuint (events->len, >=, 3);
  last = events->pdata[events->len - 1];
  g_assert_cmpstr (last->data, ==, "[DONE]");
  for (unsigned i = 0; i + 1 < events->len; i++)
    {
      LctlSseEvent *event = events->pdata[i];
      g_autoptr (JsonNode) chunk = parse_json (event->data);
      g_autofree char *finish = NULL;

      g_assert_null (event->event);
      assert_path_str (chunk, "$.object", "chat.completion.chunk");
      if (i == 0)
        {
          assert_path_str (chunk, "$.choices[0].delta.role", "assistant");
          assert_path_str (chunk, "$.choices[0].delta.content", "");
        }
      if (path_length (chunk, "$.choices") == 0)
        {
          g_assert_true (finished);
          g_assert_true (path_exists (chunk, "$.usage.prompt_tokens"));
          usage = TRUE;
          continue;
        }
      g_assert_false (finished);
      if (path_exists (chunk, "$.choices[0].delta.tool_calls"))
        {
          gint64 index = path_int (chunk, "$.choices[0].delta.tool_calls[0].index");

          if (!g_hash_table_contains (tool_seen, GINT_TO_POINTER (index)))
            {
              /* First delta of a call: id, type, name, arguments "". */
              g_assert_true (path_exists (chunk, "$.choices[0].delta.tool_calls[0].id"));
              assert_path_str (chunk, "$.choices[0].delta.tool_calls[0].type", "function");
              g_assert_true (path_exists (chunk, "$.choices[0].delta.tool_calls[0].function.name"));
              assert_path_str (chunk, "$.choices[0].delta.tool_calls[0].function.arguments", "");
              g_hash_table_add (tool_seen, GINT_TO_POINTER (index));
            }
          else
            g_assert_false (path_exists (chunk, "$.choices[0].delta.tool_calls[0].id"));
        }
      finish = path_string (chunk, "$.choices[0].finish_reason");
      if (finish != NULL)
        {
          g_assert_cmpuint (path_length (chunk, "$.choices[0].delta"), ==, 0);
          finished = TRUE;
        }
    }
  g_assert_true (finished);
  g_assert_cmpint (usage, ==, expect_usage);
}

static void
test_stream_decode_reencode (void)
{
  gsize            length = 0;
  g_autofree char *text = fixture_text ("openai-stream-tools.sse", &length);
  g_autoptr (GPtrArray) events = decode_stream (LCTL_DIALECT_OPENAI_CHAT, text, length);
  g_autoptr (LctlIrResponse) response = lctl_ir_response_new ();
  g_autoptr (GString) out = NULL;
  g_autoptr (GString) out_no_usage = NULL;
  LctlIrPart *part;

  for (unsigned i = 0; i < events->len; i++)
    g_assert_true (lctl_ir_response_add_event (response, events->pdata[i]));
  g_assert_cmpstr (response->id, ==, "chatcmpl-stream1");
  g_assert_cmpuint (response->parts->len, ==, 4);
  part = response->parts->pdata[0];
  g_assert_cmpint (part->kind, ==, LCTL_IR_PART_THINKING);
  g_assert_cmpstr (part->text, ==, "Two cities, two calls.");
  part = response->parts->pdata[1];
  g_assert_cmpstr (part->text, ==, "Checking both.");
  part = response->parts->pdata[2];
  g_assert_cmpstr (part->id, ==, "call_DdmO9pD3xa9XTPNJ32zg2hcA");
  g_assert_cmpstr (part->arguments, ==, "{\"location\": \"Boston, MA\"}");
  part = response->parts->pdata[3];
  g_assert_cmpstr (part->id, ==, "call_Ab3kL9pQ");
  g_assert_cmpstr (part->arguments, ==, "{\"location\": \"Paris\"}");
  g_assert_cmpint (response->stop_reason, ==, LCTL_IR_STOP_TOOL_USE);
  g_assert_cmpint (response->usage.input_tokens, ==, 20);
  g_assert_cmpint (response->usage.cache_read_tokens, ==, 100);
  g_assert_cmpint (response->usage.output_tokens, ==, 40);
  g_assert_cmpint (response->usage.reasoning_tokens, ==, 5);

  out = encode_stream (LCTL_DIALECT_OPENAI_CHAT, events, TRUE);
  assert_wellformed_openai_stream (out->str, out->len, TRUE);
  out_no_usage = encode_stream (LCTL_DIALECT_OPENAI_CHAT, events, FALSE);
  assert_wellformed_openai_stream (out_no_usage->str, out_no_usage->len, FALSE);

  {
    /* Decoding our own output gives the same answer back. */
    g_autoptr (GPtrArray) again = decode_stream (LCTL_DIALECT_OPENAI_CHAT, out->str, out->len);
    g_autoptr (LctlIrResponse) second = lctl_ir_response_new ();
    g_autoptr (JsonNode) a = NULL;
    g_autoptr (JsonNode) b = NULL;

    for (unsigned i = 0; i < again->len; i++)
      lctl_ir_response_add_event (second, again->pdata[i]);
    a = lctl_dialect_build_response (LCTL_DIALECT_OPENAI_CHAT, response, "m");
    b = lctl_dialect_build_response (LCTL_DIALECT_OPENAI_CHAT, second, "m");
    json_object_remove_member (json_node_get_object (a), "created");
    json_object_remove_member (json_node_get_object (b), "created");
    g_assert_true (json_node_equal (a, b));
  }
}

static void
test_stream_without_done (void)
{
  /* Qwen-style: finish_reason, no [DONE]; and a cut stream. */
  const char *complete = "data: {\"id\":\"c\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Hi\"},\"finish_reason\":null}]}\n\n"
                         "data: {\"id\":\"c\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n";
  const char *cut = "data: {\"id\":\"c\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Hi\"},\"finish_reason\":null}]}\n\n";
  g_autoptr (GPtrArray) a = decode_stream (LCTL_DIALECT_OPENAI_CHAT, complete, strlen (complete));
  g_autoptr (GPtrArray) b = decode_stream (LCTL_DIALECT_OPENAI_CHAT, cut, strlen (cut));

  g_assert_cmpint (((LctlIrEvent *) a->pdata[a->len - 1])->type, ==, LCTL_IR_EVENT_MESSAGE_STOP);
  g_assert_cmpint (((LctlIrEvent *) a->pdata[a->len - 1])->stop_reason, ==, LCTL_IR_STOP_END_TURN);
  g_assert_cmpint (((LctlIrEvent *) b->pdata[b->len - 1])->type, ==, LCTL_IR_EVENT_ERROR);
}

static void
test_stream_error_chunk (void)
{
  const char *text = "data: {\"error\":{\"message\":\"Rate limit\",\"type\":\"rate_limit_error\",\"code\":\"rate_limit_exceeded\"}}\n\n";
  g_autoptr (GPtrArray) events = decode_stream (LCTL_DIALECT_OPENAI_CHAT, text, strlen (text));
  LctlIrEvent *event = events->pdata[0];
  g_autoptr (LctlStreamEncoder) encoder = lctl_stream_encoder_new (LCTL_DIALECT_OPENAI_CHAT, NULL, FALSE);
  g_autoptr (GBytes) bytes = NULL;
  g_autoptr (GBytes) ping = NULL;

  g_assert_cmpuint (events->len, ==, 1);
  g_assert_cmpint (event->type, ==, LCTL_IR_EVENT_ERROR);
  g_assert_cmpint (event->error->type, ==, LCTL_IR_ERROR_RATE_LIMIT);

  ping = lctl_stream_encoder_ping (encoder);
  g_assert_cmpmem (g_bytes_get_data (ping, NULL), g_bytes_get_size (ping), ": ping\n\n", 8);
  bytes = lctl_stream_encoder_encode (encoder, event);
  g_assert_true (g_str_has_prefix (g_bytes_get_data (bytes, NULL), "data: {\"error\":{\"message\":\"Rate limit\",\"type\":\"rate_limit_error\""));
  g_assert_true (lctl_stream_encoder_is_done (encoder));
}

static void
test_stream_tool_index_quirks (void)
{
  /* Servers that number every parallel call 0 (new id = new call), and
   * servers that repeat id and name in every fragment (same call). */
  const char *zero = "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"a\",\"function\":{\"name\":\"f\",\"arguments\":\"{\\\"x\\\":1}\"}}]}}]}\n\n"
                     "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"b\",\"function\":{\"name\":\"g\",\"arguments\":\"{\\\"y\\\":2}\"}}]}}]}\n\n"
                     "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n";
  const char *repeat = "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"a\",\"function\":{\"name\":\"f\",\"arguments\":\"{\\\"x\\\":\"}}]}}]}\n\n"
                       "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"a\",\"function\":{\"name\":\"f\",\"arguments\":\"1}\"}}]}}]}\n\n"
                       "data: [DONE]\n\n";
  g_autoptr (GPtrArray) a = decode_stream (LCTL_DIALECT_OPENAI_CHAT, zero, strlen (zero));
  g_autoptr (GPtrArray) b = decode_stream (LCTL_DIALECT_OPENAI_CHAT, repeat, strlen (repeat));
  g_autoptr (LctlIrResponse) ra = lctl_ir_response_new ();
  g_autoptr (LctlIrResponse) rb = lctl_ir_response_new ();

  for (unsigned i = 0; i < a->len; i++)
    lctl_ir_response_add_event (ra, a->pdata[i]);
  for (unsigned i = 0; i < b->len; i++)
    lctl_ir_response_add_event (rb, b->pdata[i]);
  g_assert_cmpuint (ra->parts->len, ==, 2);
  g_assert_cmpstr (((LctlIrPart *) ra->parts->pdata[0])->arguments, ==, "{\"x\":1}");
  g_assert_cmpstr (((LctlIrPart *) ra->parts->pdata[1])->name, ==, "g");
  g_assert_cmpstr (((LctlIrPart *) ra->parts->pdata[1])->arguments, ==, "{\"y\":2}");
  /* "stop" after tool calls is reported as a tool turn. */
  g_assert_cmpint (ra->stop_reason, ==, LCTL_IR_STOP_TOOL_USE);
  g_assert_cmpuint (rb->parts->len, ==, 1);
  g_assert_cmpstr (((LctlIrPart *) rb->parts->pdata[0])->arguments, ==, "{\"x\":1}");
}

static void
test_sampling_to_anthropic (void)
{
  /* OpenAI's temperature range is wider; Claude refuses temperature with
   * top_p. Nothing is added that the client did not send. */
  const char *body = "{\"model\":\"m\",\"temperature\":1.6,\"top_p\":0.9,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
  const char *bare = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
  g_autoptr (LctlIrRequest) request = lctl_dialect_parse_request (LCTL_DIALECT_OPENAI_CHAT, body, -1, NULL);
  g_autoptr (LctlIrRequest) bare_request = lctl_dialect_parse_request (LCTL_DIALECT_OPENAI_CHAT, bare, -1, NULL);
  g_autoptr (GPtrArray) dropped = g_ptr_array_new_with_free_func (g_free);
  LctlBuildOptions options = { .dropped = dropped };
  g_autoptr (JsonNode) anthropic = lctl_dialect_build_request (LCTL_DIALECT_ANTHROPIC, request, NULL, &options, NULL);
  g_autoptr (JsonNode) bare_anthropic = lctl_dialect_build_request (LCTL_DIALECT_ANTHROPIC, bare_request, NULL, NULL, NULL);
  g_autoptr (JsonNode) temperature = path_node (anthropic, "$.temperature");

  g_assert_cmpfloat (json_node_get_double (temperature), ==, 1.0);
  g_assert_false (path_exists (anthropic, "$.top_p"));
  /* A deliberate mapping, so not a parameter drop_params: false refuses. */
  g_assert_cmpuint (dropped->len, ==, 0);
  g_assert_false (path_exists (bare_anthropic, "$.temperature"));
  g_assert_false (path_exists (bare_anthropic, "$.top_p"));
  g_assert_false (path_exists (bare_anthropic, "$.top_k"));
  g_assert_cmpint (path_int (bare_anthropic, "$.max_tokens"), ==, 8192);
}

static void
test_feed_event_literal (void)
{
  /* Events handed over already parsed, as constant strings. */
  g_autoptr (LctlStreamDecoder) decoder = lctl_stream_decoder_new (LCTL_DIALECT_OPENAI_CHAT);
  g_autoptr (GPtrArray) events = lctl_ir_event_array_new ();
  g_autoptr (GError) error = NULL;

  g_assert_true (lctl_stream_decoder_feed_event (decoder, NULL, "{\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"},\"finish_reason\":\"length\"}]}", events, &error));
  g_assert_true (lctl_stream_decoder_feed_event (decoder, NULL, " [DONE] ", events, &error));
  g_assert_no_error (error);
  g_assert_true (lctl_stream_decoder_is_done (decoder));
  g_assert_cmpint (((LctlIrEvent *) events->pdata[events->len - 1])->stop_reason, ==, LCTL_IR_STOP_MAX_TOKENS);
  /* Anything after the end is ignored. */
  g_assert_true (lctl_stream_decoder_feed_event (decoder, NULL, "not json", events, NULL));
}

int
main (int   argc,
      char *argv[])
{
  lctl_test_init (&argc, &argv);

  g_test_add_func ("/dialect-openai-chat/parse-qwen", test_parse_qwen);
  g_test_add_func ("/dialect-openai-chat/same-dialect-build", test_same_dialect_build);
  g_test_add_func ("/dialect-openai-chat/images-and-format", test_images_and_format);
  g_test_add_func ("/dialect-openai-chat/parse-errors", test_parse_errors);
  g_test_add_func ("/dialect-openai-chat/responses", test_responses);
  g_test_add_func ("/dialect-openai-chat/stop-reasons", test_stop_reasons);
  g_test_add_func ("/dialect-openai-chat/errors", test_errors);
  g_test_add_func ("/dialect-openai-chat/stream-decode-reencode", test_stream_decode_reencode);
  g_test_add_func ("/dialect-openai-chat/stream-without-done", test_stream_without_done);
  g_test_add_func ("/dialect-openai-chat/stream-error-chunk", test_stream_error_chunk);
  g_test_add_func ("/dialect-openai-chat/stream-tool-index-quirks", test_stream_tool_index_quirks);
  g_test_add_func ("/dialect-openai-chat/sampling-to-anthropic", test_sampling_to_anthropic);
  g_test_add_func ("/dialect-openai-chat/feed-event-literal", test_feed_event_literal);

  return g_test_run ();
}
