/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#include "config.h"

#include <math.h>

#include "lctl-dialect-anthropic.h"
#include "test-dialect-common.h"

static LctlIrRequest *
parse_fixture_request (const char *name)
{
  return fixture_request (LCTL_DIALECT_ANTHROPIC, name);
}

static void
test_parse_claude_code (void)
{
  g_autoptr (LctlIrRequest) request = parse_fixture_request ("anthropic-request-claude-code.json");
  LctlIrMessage *message;
  LctlIrPart    *part;

  g_assert_cmpstr (request->model, ==, "claude-opus-4-8");
  g_assert_cmpint (request->max_tokens, ==, 64000);
  g_assert_true (request->stream);
  g_assert_true (isnan (request->temperature));
  g_assert_cmpint (request->top_k, ==, -1);

  /* System: three blocks, cache_control kept on the two that had it. */
  g_assert_cmpuint (request->system->len, ==, 3);
  g_assert_null (((LctlIrPart *) request->system->pdata[0])->cache_control);
  g_assert_nonnull (((LctlIrPart *) request->system->pdata[1])->cache_control);

  g_assert_cmpuint (request->messages->len, ==, 4);
  message = request->messages->pdata[1];
  g_assert_cmpint (message->role, ==, LCTL_IR_ROLE_SYSTEM);

  message = request->messages->pdata[2];
  g_assert_cmpint (message->role, ==, LCTL_IR_ROLE_ASSISTANT);
  part = message->parts->pdata[0];
  g_assert_cmpint (part->kind, ==, LCTL_IR_PART_THINKING);
  g_assert_cmpstr (part->signature, ==, "EqQBCkgIBhABGAIiQL2x+7Lz/0bP5Wq9k3Xy/AbC==");
  part = message->parts->pdata[2];
  g_assert_cmpint (part->kind, ==, LCTL_IR_PART_TOOL_CALL);
  g_assert_cmpstr (part->id, ==, "toolu_01A09q90qw90lq917835lq9");
  g_assert_cmpstr (part->name, ==, "Bash");
  g_assert_cmpstr (part->arguments, ==, "{\"command\":\"ls\",\"description\":\"List files\"}");

  message = request->messages->pdata[3];
  part = message->parts->pdata[0];
  g_assert_cmpint (part->kind, ==, LCTL_IR_PART_TOOL_RESULT);
  g_assert_cmpstr (part->text, ==, "README.md\nmeson.build\nsrc");
  g_assert_false (part->is_error);
  g_assert_nonnull (part->cache_control);

  g_assert_cmpuint (request->tools->len, ==, 2);
  g_assert_cmpint (request->thinking.mode, ==, LCTL_IR_THINKING_ADAPTIVE);
  g_assert_cmpstr (request->thinking.effort, ==, "high");
  g_assert_cmpstr (request->user, ==, "{\"device_id\":\"4f1c0d\",\"account_uuid\":\"\",\"session_id\":\"9b6e2a10-1d55-4a3e-b1a8-0e9f3a7c5d21\"}");
  g_assert_true (json_object_has_member (request->extras, "context_management"));
  g_assert_false (json_object_has_member (request->extras, "output_config"));
}

static void
test_same_dialect_build (void)
{
  /* Anthropic → IR → Anthropic keeps everything Claude Code relies on. */
  g_autoptr (LctlIrRequest) request = parse_fixture_request ("anthropic-request-claude-code.json");
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) body = lctl_dialect_build_request (LCTL_DIALECT_ANTHROPIC, request, "claude-opus-4-8-20260101", NULL, &error);

  g_assert_no_error (error);
  assert_path_str (body, "$.model", "claude-opus-4-8-20260101");
  g_assert_cmpint (path_int (body, "$.max_tokens"), ==, 64000);
  g_assert_cmpuint (path_length (body, "$.system"), ==, 3);
  assert_path_str (body, "$.system[1].cache_control.type", "ephemeral");
  assert_path_str (body, "$.messages[1].role", "system");
  assert_path_str (body, "$.messages[2].content[0].signature", "EqQBCkgIBhABGAIiQL2x+7Lz/0bP5Wq9k3Xy/AbC==");
  assert_path_str (body, "$.messages[2].content[2].input.command", "ls");
  assert_path_str (body, "$.messages[3].content[0].cache_control.type", "ephemeral");
  assert_path_str (body, "$.thinking.type", "adaptive");
  assert_path_str (body, "$.output_config.effort", "high");
  assert_path_str (body, "$.context_management.edits[0].type", "clear_thinking_20251015");
  assert_path_str (body, "$.metadata.user_id", "{\"device_id\":\"4f1c0d\",\"account_uuid\":\"\",\"session_id\":\"9b6e2a10-1d55-4a3e-b1a8-0e9f3a7c5d21\"}");
  assert_path_str (body, "$.tools[0].input_schema.$schema", "https://json-schema.org/draft/2020-12/schema");
  /* Never add sampling parameters the client did not send. */
  g_assert_false (path_exists (body, "$.temperature"));
  g_assert_false (path_exists (body, "$.top_p"));
  g_assert_false (path_exists (body, "$.top_k"));
  g_assert_true (path_exists (body, "$.stream"));
}

static void
test_passthrough (void)
{
  gsize            length = 0;
  g_autofree char *text = fixture_text ("anthropic-request-claude-code.json", &length);
  g_autoptr (JsonObject) params = json_object_new ();
  g_autoptr (JsonNode) original = parse_json (text);
  g_autoptr (JsonNode) body = NULL;
  g_autoptr (GError) error = NULL;
  JsonObject *object;

  json_object_set_string_member (params, "model", "anthropic/glm-4.6");
  json_object_set_string_member (params, "api_key", "secret");
  json_object_set_int_member (params, "max_tokens", 10);
  json_object_set_string_member (params, "service_tier", "auto");
  body = lctl_dialect_passthrough_request (LCTL_DIALECT_ANTHROPIC, text, length, "glm-4.6", params, &error);
  g_assert_no_error (error);
  object = json_node_get_object (body);
  assert_path_str (body, "$.model", "glm-4.6");
  /* The client's max_tokens wins; a body default is added; settings are not. */
  g_assert_cmpint (path_int (body, "$.max_tokens"), ==, 64000);
  assert_path_str (body, "$.service_tier", "auto");
  g_assert_false (json_object_has_member (object, "api_key"));

  /* Everything else is exactly the client's. */
  json_object_remove_member (object, "model");
  json_object_remove_member (object, "service_tier");
  json_object_remove_member (json_node_get_object (original), "model");
  g_assert_true (json_node_equal (original, body));

  g_assert_null (lctl_dialect_passthrough_request (LCTL_DIALECT_ANTHROPIC, "[1]", -1, NULL, NULL, &error));
  g_assert_error (error, LCTL_ERROR, LCTL_ERROR_INVALID_ARGUMENT);
}

static void
test_parse_tools_and_images (void)
{
  g_autoptr (LctlIrRequest) request = parse_fixture_request ("anthropic-request-tools.json");
  g_autoptr (LctlIrRequest) images = parse_fixture_request ("anthropic-request-images.json");
  LctlIrMessage *message;
  LctlIrPart    *part;

  g_assert_cmpint (request->tool_choice.mode, ==, LCTL_IR_TOOL_CHOICE_ANY);
  g_assert_cmpint (request->tool_choice.parallel, ==, 0);
  g_assert_cmpfloat (request->temperature, ==, 0.2);
  g_assert_cmpint (request->top_k, ==, 40);
  g_assert_cmpstr (request->stop[0], ==, "\n\nHuman:");
  g_assert_cmpstr (request->stop[1], ==, "END");
  g_assert_null (request->stop[2]);
  g_assert_cmpuint (request->system->len, ==, 1);

  message = request->messages->pdata[2];
  part = message->parts->pdata[1];
  g_assert_cmpint (part->kind, ==, LCTL_IR_PART_TOOL_RESULT);
  g_assert_true (part->is_error);
  g_assert_nonnull (part->content);
  g_assert_cmpuint (part->content->len, ==, 1);

  message = images->messages->pdata[0];
  part = message->parts->pdata[0];
  g_assert_cmpint (part->kind, ==, LCTL_IR_PART_IMAGE);
  g_assert_cmpstr (part->media_type, ==, "image/png");
  g_assert_true (g_str_has_prefix (part->data, "iVBORw0KGgo"));
  part = message->parts->pdata[1];
  g_assert_cmpint (part->kind, ==, LCTL_IR_PART_IMAGE);
  g_assert_null (part->data);
  g_assert_true (g_str_has_prefix (part->url, "https://upload.wikimedia.org/"));
}

static void
test_parse_errors (void)
{
  static const struct
  {
    const char *body;
    const char *message_part;
  } cases[] = {
    { "", "empty" },
    { "{", "not valid JSON" },
    { "[]", "must be a JSON object" },
    { "{\"messages\":[]}", "model" },
    { "{\"model\":\"m\"}", "messages" },
    { "{\"model\":\"m\",\"messages\":{}}", "messages" },
    { "{\"model\":\"m\",\"messages\":[{\"role\":\"robot\",\"content\":\"x\"}]}", "messages[0].role" },
    { "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":7}]}", "messages[0].content" },
    { "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":\"x\"}]}]}", "messages[0].content[0].type" },
    { "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\"}]}]}", "messages[0].content[0].text" },
    { "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\"}]}]}", "tool_use_id" },
    { "{\"model\":\"m\",\"messages\":[],\"tools\":[{\"description\":\"x\"}]}", "tools[0].name" },
    { "{\"model\":\"m\",\"messages\":[],\"max_tokens\":\"many\"}", "max_tokens" },
  };

  for (unsigned i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (LctlIrRequest) request = lctl_dialect_parse_request (LCTL_DIALECT_ANTHROPIC, cases[i].body, -1, &error);

      g_assert_null (request);
      g_assert_error (error, LCTL_ERROR, LCTL_ERROR_INVALID_ARGUMENT);
      if (strstr (error->message, cases[i].message_part) == NULL)
        g_error ("case %u: “%s” does not mention “%s”", i, error->message, cases[i].message_part);
    }
}

static void
test_response_round_trip (void)
{
  const char *fixtures[] = {
    "anthropic-response-text.json",
    "anthropic-response-tool-use.json",
    "anthropic-response-thinking.json",
  };

  for (unsigned i = 0; i < G_N_ELEMENTS (fixtures); i++)
    {
      gsize            length = 0;
      g_autofree char *text = fixture_text (fixtures[i], &length);
      g_autoptr (GError) error = NULL;
      g_autoptr (LctlIrResponse) response = lctl_dialect_parse_response (LCTL_DIALECT_ANTHROPIC, text, length, &error);
      g_autoptr (JsonNode) rebuilt = NULL;
      g_autoptr (JsonNode) original = parse_json (text);

      g_assert_no_error (error);
      rebuilt = lctl_dialect_build_response (LCTL_DIALECT_ANTHROPIC, response, NULL);
      /* Usage fields the fixture omitted are reported as 0. */
      g_autoptr (JsonNode) usage = path_node (rebuilt, "$.usage");

      json_object_set_object_member (json_node_get_object (original), "usage", json_object_ref (json_node_get_object (usage)));
      if (!json_node_equal (original, rebuilt))
        {
          g_autofree char *a = node_to_string (original);
          g_autofree char *b = node_to_string (rebuilt);

          g_error ("%s: %s != %s", fixtures[i], a, b);
        }
    }
}

static void
test_response_usage (void)
{
  gsize            length = 0;
  g_autofree char *text = fixture_text ("anthropic-response-text.json", &length);
  g_autoptr (LctlIrResponse) response = lctl_dialect_parse_response (LCTL_DIALECT_ANTHROPIC, text, length, NULL);

  g_assert_cmpint (response->usage.input_tokens, ==, 2095);
  g_assert_cmpint (response->usage.output_tokens, ==, 503);
  g_assert_cmpint (response->usage.cache_creation_tokens, ==, 2051);
  g_assert_cmpint (response->usage.cache_read_tokens, ==, 1024);
  g_assert_cmpint (lctl_ir_usage_prompt_total (&response->usage), ==, 2095 + 2051 + 1024);
}

static void
test_stop_reasons (void)
{
  static const struct
  {
    const char      *wire;
    LctlIrStopReason ir;
  } cases[] = {
    { "end_turn", LCTL_IR_STOP_END_TURN },
    { "max_tokens", LCTL_IR_STOP_MAX_TOKENS },
    { "stop_sequence", LCTL_IR_STOP_STOP_SEQUENCE },
    { "tool_use", LCTL_IR_STOP_TOOL_USE },
    { "pause_turn", LCTL_IR_STOP_PAUSE },
    { "refusal", LCTL_IR_STOP_REFUSAL },
    { "model_context_window_exceeded", LCTL_IR_STOP_CONTEXT_WINDOW },
  };

  for (unsigned i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *body = g_strdup_printf ("{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"m\","
                                               "\"content\":[{\"type\":\"text\",\"text\":\"x\"}],\"stop_reason\":\"%s\","
                                               "\"stop_sequence\":%s,\"usage\":{\"input_tokens\":1,\"output_tokens\":1}}",
                                               cases[i].wire, cases[i].ir == LCTL_IR_STOP_STOP_SEQUENCE ? "\"END\"" : "null");
      g_autoptr (LctlIrResponse) response = lctl_dialect_parse_response (LCTL_DIALECT_ANTHROPIC, body, -1, NULL);
      g_autoptr (JsonNode) rebuilt = NULL;

      g_assert_nonnull (response);
      g_assert_cmpint (response->stop_reason, ==, cases[i].ir);
      rebuilt = lctl_dialect_build_response (LCTL_DIALECT_ANTHROPIC, response, NULL);
      assert_path_str (rebuilt, "$.stop_reason", cases[i].wire);
      if (cases[i].ir == LCTL_IR_STOP_STOP_SEQUENCE)
        assert_path_str (rebuilt, "$.stop_sequence", "END");
    }
  /* IR reasons Anthropic has no name for. */
  g_assert_cmpstr (lctl_anthropic_stop_reason_to_string (LCTL_IR_STOP_CONTENT_FILTER), ==, "refusal");
  g_assert_cmpstr (lctl_anthropic_stop_reason_to_string (LCTL_IR_STOP_NONE), ==, "end_turn");
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
  } cases[] = {
    { "anthropic-error-overloaded.json", 529, LCTL_IR_ERROR_OVERLOADED, "overloaded_error" },
    { "anthropic-error-rate-limit.json", 429, LCTL_IR_ERROR_RATE_LIMIT, "rate_limit_error" },
    { "anthropic-error-prompt-too-long.json", 400, LCTL_IR_ERROR_CONTEXT_WINDOW_EXCEEDED, "invalid_request_error" },
  };

  for (unsigned i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      gsize            length = 0;
      g_autofree char *text = fixture_text (cases[i].fixture, &length);
      g_autoptr (LctlIrError) error = lctl_dialect_parse_error (LCTL_DIALECT_ANTHROPIC, cases[i].status, text, length, "3");
      g_autoptr (JsonNode) body = NULL;
      g_autoptr (JsonNode) original = parse_json (text);
      unsigned status = 0;

      g_assert_cmpint (error->type, ==, cases[i].type);
      g_assert_cmpuint (error->status, ==, cases[i].status);
      g_assert_cmpfloat (error->retry_after, ==, 3.0);
      body = lctl_dialect_build_error (LCTL_DIALECT_ANTHROPIC, error, &status);
      g_assert_cmpuint (status, ==, cases[i].status);
      g_assert_true (json_node_equal (original, body));
    }

  {
    /* A gateway's HTML page still gives a classified, printable error. */
    g_autoptr (LctlIrError) error = lctl_dialect_parse_error (LCTL_DIALECT_ANTHROPIC, 502, "<html>\n<body>Bad Gateway</body></html>", -1, NULL);
    g_autoptr (JsonNode) body = NULL;
    unsigned status = 0;

    g_assert_cmpint (error->type, ==, LCTL_IR_ERROR_API_ERROR);
    g_assert_null (strchr (error->message, '\n'));
    body = lctl_dialect_build_error (LCTL_DIALECT_ANTHROPIC, error, &status);
    g_assert_cmpuint (status, ==, 502);
    assert_path_str (body, "$.type", "error");
    assert_path_str (body, "$.error.type", "api_error");
  }
  {
    /* A context-window error from elsewhere says what Claude Code looks for. */
    g_autoptr (LctlIrError) error = lctl_ir_error_new (LCTL_IR_ERROR_CONTEXT_WINDOW_EXCEEDED, 400, "This model's maximum context length is 128000 tokens.");
    g_autoptr (JsonNode) body = lctl_dialect_build_error (LCTL_DIALECT_ANTHROPIC, error, NULL);
    g_autofree char *message = path_string (body, "$.error.message");

    g_assert_true (g_str_has_prefix (message, "prompt is too long"));
  }
  {
    g_autoptr (LctlIrError) error = lctl_dialect_parse_error (LCTL_DIALECT_ANTHROPIC, 401, "{\"type\":\"error\",\"error\":{\"type\":\"authentication_error\",\"message\":\"invalid x-api-key\"}}", -1, NULL);
    g_autoptr (JsonNode) body = NULL;
    unsigned status = 0;

    g_assert_cmpint (error->type, ==, LCTL_IR_ERROR_AUTHENTICATION);
    body = lctl_dialect_build_error (LCTL_DIALECT_ANTHROPIC, error, &status);
    g_assert_cmpuint (status, ==, 401);
    assert_path_str (body, "$.error.type", "authentication_error");
  }
}

/* Checks a client-side Anthropic stream the way Claude Code reads it. */
static void
assert_wellformed_anthropic_stream (const char *text,
                                    gsize       length)
{
  g_autoptr (GPtrArray) events = sse_parse_all (text, length);
  int      open = -1;
  int      next = 0;
  gboolean started = FALSE, delta_seen = FALSE, stopped = FALSE;

  g_assert_cmpuint (events->len, >, 0);
  for (unsigned i = 0; i < events->len; i++)
    {
      LctlSseEvent *event = events->pdata[i];
      g_autoptr (JsonNode) data = parse_json (event->data);
      g_autofree char *type = path_string (data, "$.type");

      g_assert_cmpstr (event->event, ==, type);
      if (i == 0)
        g_assert_cmpstr (type, ==, "message_start");
      if (g_str_equal (type, "message_start"))
        {
          g_assert_false (started);
          started = TRUE;
          g_assert_true (path_exists (data, "$.message.usage.input_tokens"));
          g_assert_true (path_exists (data, "$.message.usage.cache_read_input_tokens"));
          g_assert_true (path_exists (data, "$.message.usage.cache_creation_input_tokens"));
        }
      else if (g_str_equal (type, "content_block_start"))
        {
          g_assert_cmpint (open, ==, -1);
          g_assert_cmpint (path_int (data, "$.index"), ==, next);
          open = next++;
        }
      else if (g_str_equal (type, "content_block_delta"))
        g_assert_cmpint (path_int (data, "$.index"), ==, open);
      else if (g_str_equal (type, "content_block_stop"))
        {
          g_assert_cmpint (path_int (data, "$.index"), ==, open);
          open = -1;
        }
      else if (g_str_equal (type, "message_delta"))
        {
          g_assert_cmpint (open, ==, -1);
          g_assert_true (path_exists (data, "$.delta.stop_reason"));
          g_assert_true (path_exists (data, "$.usage.output_tokens"));
          delta_seen = TRUE;
        }
      else if (g_str_equal (type, "message_stop"))
        {
          g_assert_true (delta_seen);
          stopped = TRUE;
        }
      else
        g_assert_true (g_str_equal (type, "ping") || g_str_equal (type, "error"));
    }
  g_assert_true (stopped);
}

static void
test_stream_decode (void)
{
  gsize            length = 0;
  g_autofree char *text = fixture_text ("anthropic-stream-tool.sse", &length);
  g_autoptr (GPtrArray) events = decode_stream (LCTL_DIALECT_ANTHROPIC, text, length);
  g_autoptr (LctlIrResponse) response = lctl_ir_response_new ();
  LctlIrPart *part;

  for (unsigned i = 0; i < events->len; i++)
    g_assert_true (lctl_ir_response_add_event (response, events->pdata[i]));
  g_assert_cmpstr (response->id, ==, "msg_014p7gG3wDgGV9EUtLvnow3U");
  g_assert_cmpuint (response->parts->len, ==, 3);
  part = response->parts->pdata[0];
  g_assert_cmpint (part->kind, ==, LCTL_IR_PART_THINKING);
  g_assert_cmpstr (part->text, ==, "I need the weather tool for this.");
  g_assert_cmpstr (part->signature, ==, "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds+/==");
  part = response->parts->pdata[1];
  g_assert_cmpstr (part->text, ==, "Okay, let's check the weather.");
  part = response->parts->pdata[2];
  g_assert_cmpint (part->kind, ==, LCTL_IR_PART_TOOL_CALL);
  g_assert_cmpstr (part->id, ==, "toolu_01T1x1fJ34qAmk2tNTrN7Up6");
  g_assert_cmpstr (part->arguments, ==, "{\"location\": \"San Francisco, CA\"}");
  g_assert_cmpint (response->stop_reason, ==, LCTL_IR_STOP_TOOL_USE);
  g_assert_cmpint (response->usage.input_tokens, ==, 472);
  g_assert_cmpint (response->usage.cache_read_tokens, ==, 2000);
  g_assert_cmpint (response->usage.cache_creation_tokens, ==, 10);
  g_assert_cmpint (response->usage.output_tokens, ==, 89);
}

static void
test_stream_reencode (void)
{
  /* Anthropic upstream → Anthropic client: same blocks, same signature. */
  gsize            length = 0;
  g_autofree char *text = fixture_text ("anthropic-stream-tool.sse", &length);
  g_autoptr (GPtrArray) events = decode_stream (LCTL_DIALECT_ANTHROPIC, text, length);
  g_autoptr (GString) out = encode_stream (LCTL_DIALECT_ANTHROPIC, events, FALSE);
  g_autoptr (GPtrArray) sse = NULL;
  g_autoptr (GPtrArray) again = NULL;
  g_autoptr (LctlIrResponse) a = lctl_ir_response_new ();
  g_autoptr (LctlIrResponse) b = lctl_ir_response_new ();
  g_autoptr (JsonNode) ja = NULL;
  g_autoptr (JsonNode) jb = NULL;

  assert_wellformed_anthropic_stream (out->str, out->len);
  g_assert_nonnull (strstr (out->str, "\"signature\":\"EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds+/==\""));
  sse = sse_parse_all (out->str, out->len);
  g_assert_cmpstr (((LctlSseEvent *) sse->pdata[2])->event, ==, "ping");

  again = decode_stream (LCTL_DIALECT_ANTHROPIC, out->str, out->len);
  for (unsigned i = 0; i < events->len; i++)
    lctl_ir_response_add_event (a, events->pdata[i]);
  for (unsigned i = 0; i < again->len; i++)
    lctl_ir_response_add_event (b, again->pdata[i]);
  ja = lctl_dialect_build_response (LCTL_DIALECT_ANTHROPIC, a, NULL);
  jb = lctl_dialect_build_response (LCTL_DIALECT_ANTHROPIC, b, NULL);
  g_assert_true (json_node_equal (ja, jb));
}

static void
test_stream_truncated (void)
{
  gsize            length = 0;
  g_autofree char *text = fixture_text ("anthropic-stream-tool.sse", &length);
  gsize            cut = strstr (text, "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":2") - text;
  gsize            after_delta = strstr (text, "event: message_stop") - text;

  {
    /* Cut mid-answer: the client must hear an error. */
    g_autoptr (GPtrArray) events = decode_stream (LCTL_DIALECT_ANTHROPIC, text, cut);
    LctlIrEvent *last = events->pdata[events->len - 1];

    g_assert_cmpint (last->type, ==, LCTL_IR_EVENT_ERROR);
  }
  {
    /* Cut just before message_stop: complete. */
    g_autoptr (GPtrArray) events = decode_stream (LCTL_DIALECT_ANTHROPIC, text, after_delta);
    LctlIrEvent *last = events->pdata[events->len - 1];

    g_assert_cmpint (last->type, ==, LCTL_IR_EVENT_MESSAGE_STOP);
    g_assert_cmpint (last->stop_reason, ==, LCTL_IR_STOP_TOOL_USE);
  }
}

static void
test_stream_error_event (void)
{
  const char *text = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"model\":\"m\",\"usage\":{\"input_tokens\":5}}}\n\n"
                     "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n";
  g_autoptr (GPtrArray) events = decode_stream (LCTL_DIALECT_ANTHROPIC, text, strlen (text));
  LctlIrEvent *last = events->pdata[events->len - 1];
  g_autoptr (GString) out = NULL;

  g_assert_cmpint (last->type, ==, LCTL_IR_EVENT_ERROR);
  g_assert_cmpint (last->error->type, ==, LCTL_IR_ERROR_OVERLOADED);
  out = encode_stream (LCTL_DIALECT_ANTHROPIC, events, FALSE);
  g_assert_nonnull (strstr (out->str, "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n"));
}

static void
test_encoder_ping_and_error (void)
{
  g_autoptr (LctlStreamEncoder) encoder = lctl_stream_encoder_new (LCTL_DIALECT_ANTHROPIC, "claude-x", FALSE);
  g_autoptr (LctlIrError) error = lctl_ir_error_new (LCTL_IR_ERROR_RATE_LIMIT, 429, "slow down");
  g_autoptr (GBytes) ping = lctl_stream_encoder_ping (encoder);
  g_autoptr (GBytes) err = NULL;
  g_autoptr (GBytes) after = NULL;
  g_autoptr (LctlIrEvent) text = lctl_ir_event_new (LCTL_IR_EVENT_TEXT_DELTA);

  const char *expected_ping = "event: ping\ndata: {\"type\":\"ping\"}\n\n";
  const char *expected_error = "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"rate_limit_error\",\"message\":\"slow down\"}}\n\n";

  g_assert_cmpmem (g_bytes_get_data (ping, NULL), g_bytes_get_size (ping), expected_ping, strlen (expected_ping));
  err = lctl_stream_encoder_error (encoder, error);
  g_assert_cmpmem (g_bytes_get_data (err, NULL), g_bytes_get_size (err), expected_error, strlen (expected_error));
  g_assert_true (lctl_stream_encoder_is_done (encoder));
  text->text = g_strdup ("late");
  after = lctl_stream_encoder_encode (encoder, text);
  g_assert_null (after);
}

int
main (int   argc,
      char *argv[])
{
  lctl_test_init (&argc, &argv);

  g_test_add_func ("/dialect-anthropic/parse-claude-code", test_parse_claude_code);
  g_test_add_func ("/dialect-anthropic/same-dialect-build", test_same_dialect_build);
  g_test_add_func ("/dialect-anthropic/passthrough", test_passthrough);
  g_test_add_func ("/dialect-anthropic/parse-tools-images", test_parse_tools_and_images);
  g_test_add_func ("/dialect-anthropic/parse-errors", test_parse_errors);
  g_test_add_func ("/dialect-anthropic/response-round-trip", test_response_round_trip);
  g_test_add_func ("/dialect-anthropic/response-usage", test_response_usage);
  g_test_add_func ("/dialect-anthropic/stop-reasons", test_stop_reasons);
  g_test_add_func ("/dialect-anthropic/errors", test_errors);
  g_test_add_func ("/dialect-anthropic/stream-decode", test_stream_decode);
  g_test_add_func ("/dialect-anthropic/stream-reencode", test_stream_reencode);
  g_test_add_func ("/dialect-anthropic/stream-truncated", test_stream_truncated);
  g_test_add_func ("/dialect-anthropic/stream-error-event", test_stream_error_event);
  g_test_add_func ("/dialect-anthropic/encoder-ping-error", test_encoder_ping_and_error);

  return g_test_run ();
}
