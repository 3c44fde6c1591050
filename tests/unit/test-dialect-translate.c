/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#include "config.h"

#include <math.h>

#include "lctl-dialect-anthropic.h"
#include "test-dialect-common.h"

static LctlIrRequest *
parse_request (LctlDialect dialect,
               const char *fixture)
{
  gsize            length = 0;
  g_autofree char *text = fixture_text (fixture, &length);
  g_autoptr (GError) error = NULL;
  LctlIrRequest *request = lctl_dialect_parse_request (dialect, text, length, &error);

  g_assert_no_error (error);
  return request;
}

static JsonNode *
build (LctlDialect          dialect,
       const LctlIrRequest *request,
       GPtrArray           *dropped)
{
  LctlBuildOptions options = { .dropped = dropped };
  g_autoptr (GError) error = NULL;
  JsonNode *body = lctl_dialect_build_request (dialect, request, NULL, &options, &error);

  g_assert_no_error (error);
  return body;
}

static gboolean
dropped_has (GPtrArray  *dropped,
             const char *name)
{
  for (unsigned i = 0; i < dropped->len; i++)
    if (g_str_equal (dropped->pdata[i], name))
      return TRUE;
  return FALSE;
}

static void
test_claude_code_to_openai (void)
{
  g_autoptr (LctlIrRequest) request = parse_request (LCTL_DIALECT_ANTHROPIC, "anthropic-request-claude-code.json");
  g_autoptr (GPtrArray) dropped = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (JsonNode) body = build (LCTL_DIALECT_OPENAI_CHAT, request, dropped);
  g_autofree char *text = node_to_string (body);
  g_autofree char *system = NULL;
  g_autoptr (JsonNode) arguments = NULL;
  g_autofree char *arguments_text = NULL;

  /* Nothing Anthropic-only reaches an OpenAI upstream. */
  g_assert_null (strstr (text, "cache_control"));
  g_assert_null (strstr (text, "context_management"));
  g_assert_null (strstr (text, "output_config"));
  g_assert_null (strstr (text, "\"thinking\""));
  g_assert_null (strstr (text, "metadata"));
  g_assert_null (strstr (text, "signature"));
  g_assert_null (strstr (text, "$schema"));
  g_assert_null (strstr (text, "input_schema"));
  g_assert_false (path_exists (body, "$.temperature"));
  g_assert_true (dropped_has (dropped, "context_management"));

  /* System blocks joined into one system message. */
  system = path_string (body, "$.messages[0].content");
  assert_path_str (body, "$.messages[0].role", "system");
  g_assert_true (g_str_has_prefix (system, "x-anthropic-billing-header"));
  g_assert_nonnull (strstr (system, "\n\nYou are a Claude agent"));
  g_assert_nonnull (strstr (system, "\n\nYou are an interactive CLI tool"));

  assert_path_str (body, "$.messages[1].role", "user");
  g_assert_cmpuint (path_length (body, "$.messages[1].content"), ==, 2);
  assert_path_str (body, "$.messages[1].content[1].text", "List the files in the current directory.");
  assert_path_str (body, "$.messages[2].role", "system");
  assert_path_str (body, "$.messages[2].content", "Available agent types for the Task tool: general-purpose.");
  assert_path_str (body, "$.messages[3].role", "assistant");
  assert_path_str (body, "$.messages[3].content", "I'll list the files.");
  assert_path_str (body, "$.messages[3].reasoning_content", "The user wants a directory listing. I will run ls.");
  assert_path_str (body, "$.messages[3].tool_calls[0].id", "toolu_01A09q90qw90lq917835lq9");
  assert_path_str (body, "$.messages[3].tool_calls[0].type", "function");
  assert_path_str (body, "$.messages[3].tool_calls[0].function.name", "Bash");
  arguments_text = path_string (body, "$.messages[3].tool_calls[0].function.arguments");
  arguments = parse_json (arguments_text);
  assert_path_str (arguments, "$.command", "ls");
  assert_path_str (body, "$.messages[4].role", "tool");
  assert_path_str (body, "$.messages[4].tool_call_id", "toolu_01A09q90qw90lq917835lq9");
  assert_path_str (body, "$.messages[4].content", "README.md\nmeson.build\nsrc");
  g_assert_cmpuint (path_length (body, "$.messages"), ==, 5);

  assert_path_str (body, "$.tools[0].type", "function");
  assert_path_str (body, "$.tools[0].function.name", "Bash");
  assert_path_str (body, "$.tools[0].function.parameters.type", "object");
  g_assert_true (path_exists (body, "$.tools[0].function.parameters.additionalProperties"));
  assert_path_str (body, "$.tools[0].function.parameters.required[0]", "command");

  /* adaptive + effort high → reasoning_effort high. */
  assert_path_str (body, "$.reasoning_effort", "high");
  assert_path_str (body, "$.user", "{\"device_id\":\"4f1c0d\",\"account_uuid\":\"\",\"session_id\":\"9b6e2a10-1d55-4a3e-b1a8-0e9f3a7c5d21\"}");
  g_assert_cmpint (path_int (body, "$.max_tokens"), ==, 64000);
  g_assert_true (path_exists (body, "$.stream"));
  g_assert_true (path_exists (body, "$.stream_options.include_usage"));
}

/* Meaning of an Anthropic body, for comparison: roles, text, tool calls
 * with parsed inputs, tool results as text. */
static char *
anthropic_meaning (JsonNode *body)
{
  GString   *out = g_string_new (NULL);
  JsonArray *messages = json_object_get_array_member (json_node_get_object (body), "messages");
  g_autoptr (JsonNode) tools = path_node (body, "$.tools");
  g_autoptr (JsonNode) choice = path_node (body, "$.tool_choice");
  g_autoptr (JsonNode) stop = path_node (body, "$.stop_sequences");

  for (unsigned i = 0; i < json_array_get_length (messages); i++)
    {
      JsonObject *message = json_array_get_object_element (messages, i);
      JsonArray  *content = json_object_get_array_member (message, "content");

      g_string_append_printf (out, "[%s]", json_object_get_string_member (message, "role"));
      for (unsigned j = 0; j < json_array_get_length (content); j++)
        {
          JsonObject *block = json_array_get_object_element (content, j);
          const char *type = json_object_get_string_member (block, "type");

          if (g_str_equal (type, "text"))
            g_string_append_printf (out, " text:%s", json_object_get_string_member (block, "text"));
          else if (g_str_equal (type, "tool_use"))
            {
              g_autofree char *input = json_to_string (json_object_get_member (block, "input"), FALSE);

              g_string_append_printf (out, " call:%s:%s:%s", json_object_get_string_member (block, "id"),
                                      json_object_get_string_member (block, "name"), input);
            }
          else if (g_str_equal (type, "tool_result"))
            {
              JsonNode        *result = json_object_get_member (block, "content");
              g_autofree char *result_text = NULL;

              if (JSON_NODE_HOLDS_ARRAY (result))
                result_text = g_strdup (json_object_get_string_member (json_array_get_object_element (json_node_get_array (result), 0), "text"));
              else
                result_text = g_strdup (json_node_get_string (result));
              g_string_append_printf (out, " result:%s:%s", json_object_get_string_member (block, "tool_use_id"), result_text);
            }
          else
            g_string_append_printf (out, " %s", type);
        }
      g_string_append_c (out, '\n');
    }
  if (tools != NULL)
    {
      JsonArray *array = json_node_get_array (tools);

      for (unsigned i = 0; i < json_array_get_length (array); i++)
        {
          JsonObject      *tool = json_array_get_object_element (array, i);
          g_autofree char *schema = json_to_string (json_object_get_member (tool, "input_schema"), FALSE);

          g_string_append_printf (out, "tool %s: %s: %s\n", json_object_get_string_member (tool, "name"),
                                  json_object_get_string_member (tool, "description"), schema);
        }
    }
  if (choice != NULL)
    {
      g_autofree char *choice_text = json_to_string (choice, FALSE);

      g_string_append_printf (out, "choice %s\n", choice_text);
    }
  if (stop != NULL)
    {
      g_autofree char *stop_text = json_to_string (stop, FALSE);

      g_string_append_printf (out, "stop %s\n", stop_text);
    }
  return g_string_free (out, FALSE);
}

static void
test_round_trip_anthropic_openai (void)
{
  /* anthropic → IR → openai → IR → anthropic. */
  g_autoptr (LctlIrRequest) request = parse_request (LCTL_DIALECT_ANTHROPIC, "anthropic-request-tools.json");
  g_autoptr (GPtrArray) dropped = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (JsonNode) direct = build (LCTL_DIALECT_ANTHROPIC, request, NULL);
  g_autoptr (JsonNode) openai = build (LCTL_DIALECT_OPENAI_CHAT, request, dropped);
  g_autofree char *openai_text = node_to_string (openai);
  g_autoptr (GError) error = NULL;
  g_autoptr (LctlIrRequest) back = lctl_dialect_parse_request (LCTL_DIALECT_OPENAI_CHAT, openai_text, -1, &error);
  g_autoptr (JsonNode) again = NULL;
  g_autofree char *expected = NULL;
  g_autofree char *actual = NULL;

  g_assert_no_error (error);
  g_assert_true (dropped_has (dropped, "top_k"));
  assert_path_str (openai, "$.tool_choice", "required");
  g_assert_true (path_exists (openai, "$.parallel_tool_calls"));
  assert_path_str (openai, "$.stop[1]", "END");
  /* Two tool messages, then the user's text. */
  assert_path_str (openai, "$.messages[2].tool_calls[1].id", "toolu_02");
  assert_path_str (openai, "$.messages[3].role", "tool");
  assert_path_str (openai, "$.messages[4].role", "tool");
  assert_path_str (openai, "$.messages[4].content", "Error: service unavailable");
  assert_path_str (openai, "$.messages[5].content", "And the time?");

  again = build (LCTL_DIALECT_ANTHROPIC, back, NULL);
  expected = anthropic_meaning (direct);
  actual = anthropic_meaning (again);
  g_assert_cmpstr (actual, ==, expected);
  g_assert_cmpfloat (json_object_get_double_member (json_node_get_object (again), "temperature"), ==, 0.2);
  assert_path_str (again, "$.system[0].text", "You are a weather assistant.");
  g_assert_cmpint (path_int (again, "$.max_tokens"), ==, 1024);
}

static void
test_openai_to_anthropic (void)
{
  g_autoptr (LctlIrRequest) request = parse_request (LCTL_DIALECT_OPENAI_CHAT, "openai-request-qwen.json");
  g_autoptr (GPtrArray) dropped = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (JsonNode) body = build (LCTL_DIALECT_ANTHROPIC, request, dropped);
  g_autofree char *text = node_to_string (body);

  assert_path_str (body, "$.system[0].text", "You are Qwen Code, an interactive CLI agent.");
  assert_path_str (body, "$.messages[0].role", "user");
  assert_path_str (body, "$.messages[0].content[1].text", "Run the tests.");
  /* reasoning_content has no signature: Anthropic would reject it. */
  assert_path_str (body, "$.messages[1].role", "assistant");
  assert_path_str (body, "$.messages[1].content[0].type", "tool_use");
  assert_path_str (body, "$.messages[1].content[0].input.command", "meson test -C build");
  assert_path_str (body, "$.messages[1].content[1].id", "call_def456");
  /* Tool messages and the next user message: one user turn. */
  assert_path_str (body, "$.messages[2].role", "user");
  assert_path_str (body, "$.messages[2].content[0].type", "tool_result");
  assert_path_str (body, "$.messages[2].content[0].tool_use_id", "call_abc123");
  assert_path_str (body, "$.messages[2].content[0].content[0].text", "Ok: 12 Fail: 0");
  assert_path_str (body, "$.messages[2].content[1].content", "project('x', 'c')");
  assert_path_str (body, "$.messages[2].content[2].text", "Great, thanks.");
  g_assert_cmpuint (path_length (body, "$.messages"), ==, 3);

  assert_path_str (body, "$.tools[0].name", "run_shell_command");
  assert_path_str (body, "$.tools[0].input_schema.type", "object");
  assert_path_str (body, "$.tool_choice.type", "auto");
  g_assert_false (path_exists (body, "$.tool_choice.disable_parallel_tool_use"));

  /* reasoning_effort high → a thinking budget; the temperature thinking
   * forbids is dropped and reported. */
  assert_path_str (body, "$.thinking.type", "enabled");
  g_assert_cmpint (path_int (body, "$.thinking.budget_tokens"), ==, 4096);
  g_assert_cmpint (path_int (body, "$.max_tokens"), ==, 8000);
  g_assert_false (path_exists (body, "$.temperature"));
  g_assert_true (dropped_has (dropped, "temperature"));
  g_assert_true (dropped_has (dropped, "presence_penalty"));
  g_assert_true (dropped_has (dropped, "seed"));
  assert_path_str (body, "$.metadata.user_id", "user-1234");
  assert_path_str (body, "$.stop_sequences[0]", "STOP");
  g_assert_true (path_exists (body, "$.stream"));
  g_assert_null (strstr (text, "stream_options"));
  g_assert_null (strstr (text, "reasoning_effort"));
  g_assert_null (strstr (text, "parallel_tool_calls"));
}

static void
test_images_cross (void)
{
  g_autoptr (LctlIrRequest) anthropic = parse_request (LCTL_DIALECT_ANTHROPIC, "anthropic-request-images.json");
  g_autoptr (LctlIrRequest) openai = parse_request (LCTL_DIALECT_OPENAI_CHAT, "openai-request-images.json");
  g_autoptr (JsonNode) to_openai = build (LCTL_DIALECT_OPENAI_CHAT, anthropic, NULL);
  g_autoptr (JsonNode) to_anthropic = build (LCTL_DIALECT_ANTHROPIC, openai, NULL);
  g_autofree char *url = path_string (to_openai, "$.messages[0].content[0].image_url.url");

  g_assert_true (g_str_has_prefix (url, "data:image/png;base64,iVBORw0KGgo"));
  assert_path_str (to_openai, "$.messages[0].content[1].image_url.url", "https://upload.wikimedia.org/wikipedia/commons/a/a7/Camponotus_flavomarginatus_ant.jpg");
  assert_path_str (to_openai, "$.messages[0].content[2].text", "Describe both images.");

  assert_path_str (to_anthropic, "$.system[0].text", "Describe images precisely.");
  assert_path_str (to_anthropic, "$.messages[0].content[1].source.type", "url");
  assert_path_str (to_anthropic, "$.messages[0].content[2].source.type", "base64");
  assert_path_str (to_anthropic, "$.messages[0].content[2].source.media_type", "image/jpeg");
  /* json_schema → structured outputs. */
  assert_path_str (to_anthropic, "$.output_config.format.type", "json_schema");
  assert_path_str (to_anthropic, "$.output_config.format.schema.required[0]", "summary");
  g_assert_cmpint (path_int (to_anthropic, "$.max_tokens"), ==, 300);
}

static void
test_response_format_fallback (void)
{
  /* An upstream without schema support gets the schema in the prompt;
   * json_object always does. */
  g_autoptr (LctlIrRequest) request = parse_request (LCTL_DIALECT_OPENAI_CHAT, "openai-request-images.json");
  LctlBuildOptions options = { .no_json_schema = TRUE };
  g_autoptr (JsonNode) body = lctl_dialect_build_request (LCTL_DIALECT_ANTHROPIC, request, NULL, &options, NULL);
  g_autofree char *instruction = path_string (body, "$.system[1].text");
  const char      *json_object = "{\"model\":\"m\",\"response_format\":{\"type\":\"json_object\"},\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
  g_autoptr (LctlIrRequest) plain = lctl_dialect_parse_request (LCTL_DIALECT_OPENAI_CHAT, json_object, -1, NULL);
  g_autoptr (JsonNode) plain_body = build (LCTL_DIALECT_ANTHROPIC, plain, NULL);
  g_autofree char *plain_instruction = path_string (plain_body, "$.system[0].text");

  g_assert_false (path_exists (body, "$.output_config"));
  g_assert_nonnull (strstr (instruction, "\"required\":[\"summary\"]"));
  g_assert_nonnull (strstr (plain_instruction, "JSON object"));
}

static void
test_tool_choice_mapping (void)
{
  static const struct
  {
    const char *anthropic;
    const char *openai;
  } cases[] = {
    { "{\"type\":\"auto\"}", "\"auto\"" },
    { "{\"type\":\"any\"}", "\"required\"" },
    { "{\"type\":\"none\"}", "\"none\"" },
    { "{\"type\":\"tool\",\"name\":\"get_weather\"}", "{\"type\":\"function\",\"function\":{\"name\":\"get_weather\"}}" },
  };

  for (unsigned i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *a = g_strdup_printf ("{\"model\":\"m\",\"max_tokens\":5,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
                                            "\"tools\":[{\"name\":\"get_weather\",\"input_schema\":{\"type\":\"object\"}}],\"tool_choice\":%s}",
                                            cases[i].anthropic);
      g_autoptr (LctlIrRequest) request = lctl_dialect_parse_request (LCTL_DIALECT_ANTHROPIC, a, -1, NULL);
      g_autoptr (JsonNode) openai = build (LCTL_DIALECT_OPENAI_CHAT, request, NULL);
      g_autoptr (JsonNode) choice = path_node (openai, "$.tool_choice");
      g_autoptr (JsonNode) expected = parse_json (cases[i].openai);
      g_autofree char *openai_text = node_to_string (openai);
      g_autoptr (LctlIrRequest) back = lctl_dialect_parse_request (LCTL_DIALECT_OPENAI_CHAT, openai_text, -1, NULL);
      g_autoptr (JsonNode) anthropic = build (LCTL_DIALECT_ANTHROPIC, back, NULL);
      g_autoptr (JsonNode) anthropic_choice = path_node (anthropic, "$.tool_choice");
      g_autoptr (JsonNode) anthropic_expected = parse_json (cases[i].anthropic);

      g_assert_true (json_node_equal (choice, expected));
      g_assert_true (json_node_equal (anthropic_choice, anthropic_expected));
    }
}

static void
test_thinking_budget_to_effort (void)
{
  static const struct
  {
    gint64      budget;
    const char *effort;
  } cases[] = {
    { 1024, "low" },
    { 4096, "low" },
    { 4097, "medium" },
    { 16384, "medium" },
    { 16385, "high" },
    { 31999, "high" },
  };

  for (unsigned i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *a = g_strdup_printf ("{\"model\":\"m\",\"max_tokens\":64000,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
                                            "\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":%" G_GINT64_FORMAT "}}",
                                            cases[i].budget);
      g_autoptr (LctlIrRequest) request = lctl_dialect_parse_request (LCTL_DIALECT_ANTHROPIC, a, -1, NULL);
      g_autoptr (JsonNode) openai = build (LCTL_DIALECT_OPENAI_CHAT, request, NULL);

      assert_path_str (openai, "$.reasoning_effort", cases[i].effort);
    }
  {
    /* Thinking disabled or absent: no reasoning_effort at all. */
    const char *a = "{\"model\":\"m\",\"max_tokens\":5,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"thinking\":{\"type\":\"disabled\"}}";
    g_autoptr (LctlIrRequest) request = lctl_dialect_parse_request (LCTL_DIALECT_ANTHROPIC, a, -1, NULL);
    g_autoptr (JsonNode) openai = build (LCTL_DIALECT_OPENAI_CHAT, request, NULL);

    g_assert_false (path_exists (openai, "$.reasoning_effort"));
  }
}

static void
test_stream_openai_to_anthropic (void)
{
  /* The OpenAI SDK's stream shape, decoded and re-encoded for Claude Code. */
  gsize            length = 0;
  g_autofree char *text = fixture_text ("openai-stream-tools.sse", &length);
  g_autoptr (GPtrArray) events = decode_stream (LCTL_DIALECT_OPENAI_CHAT, text, length);
  g_autoptr (GString) out = encode_stream (LCTL_DIALECT_ANTHROPIC, events, FALSE);
  g_autoptr (GPtrArray) sse = sse_parse_all (out->str, out->len);
  g_autoptr (GPtrArray) decoded = decode_stream (LCTL_DIALECT_ANTHROPIC, out->str, out->len);
  g_autoptr (LctlIrResponse) response = lctl_ir_response_new ();
  g_autoptr (JsonNode) body = NULL;
  const char *expected_types[] = {
    "message_start",
    "content_block_start",
    "ping",
    "content_block_delta",
    "content_block_delta",
    "content_block_stop",
    "content_block_start",
    "content_block_delta",
    "content_block_delta",
    "content_block_stop",
    "content_block_start",
    "content_block_delta",
    "content_block_delta",
    "content_block_stop",
    "content_block_start",
    "content_block_delta",
    "content_block_stop",
    "message_delta",
    "message_stop",
  };

  g_assert_cmpuint (sse->len, ==, G_N_ELEMENTS (expected_types));
  for (unsigned i = 0; i < sse->len; i++)
    g_assert_cmpstr (((LctlSseEvent *) sse->pdata[i])->event, ==, expected_types[i]);

  for (unsigned i = 0; i < decoded->len; i++)
    g_assert_true (lctl_ir_response_add_event (response, decoded->pdata[i]));
  body = lctl_dialect_build_response (LCTL_DIALECT_ANTHROPIC, response, NULL);
  assert_path_str (body, "$.content[0].type", "thinking");
  assert_path_str (body, "$.content[0].thinking", "Two cities, two calls.");
  assert_path_str (body, "$.content[1].text", "Checking both.");
  assert_path_str (body, "$.content[2].type", "tool_use");
  assert_path_str (body, "$.content[2].id", "call_DdmO9pD3xa9XTPNJ32zg2hcA");
  assert_path_str (body, "$.content[2].input.location", "Boston, MA");
  assert_path_str (body, "$.content[3].input.location", "Paris");
  assert_path_str (body, "$.stop_reason", "tool_use");
  g_assert_cmpint (path_int (body, "$.usage.input_tokens"), ==, 20);
  g_assert_cmpint (path_int (body, "$.usage.cache_read_input_tokens"), ==, 100);
  g_assert_cmpint (path_int (body, "$.usage.output_tokens"), ==, 40);
}

static void
test_stream_anthropic_to_openai (void)
{
  gsize            length = 0;
  g_autofree char *text = fixture_text ("anthropic-stream-tool.sse", &length);
  g_autoptr (GPtrArray) events = decode_stream (LCTL_DIALECT_ANTHROPIC, text, length);
  g_autoptr (GString) out = encode_stream (LCTL_DIALECT_OPENAI_CHAT, events, TRUE);
  g_autoptr (GPtrArray) sse = sse_parse_all (out->str, out->len);
  g_autoptr (JsonNode) usage_chunk = NULL;
  g_autoptr (JsonNode) finish_chunk = NULL;
  GString *arguments = g_string_new (NULL);
  GString *reasoning = g_string_new (NULL);

  g_assert_cmpstr (((LctlSseEvent *) sse->pdata[sse->len - 1])->data, ==, "[DONE]");
  usage_chunk = parse_json (((LctlSseEvent *) sse->pdata[sse->len - 2])->data);
  finish_chunk = parse_json (((LctlSseEvent *) sse->pdata[sse->len - 3])->data);
  assert_path_str (finish_chunk, "$.choices[0].finish_reason", "tool_calls");
  g_assert_cmpint (path_int (usage_chunk, "$.usage.prompt_tokens"), ==, 472 + 10 + 2000);
  g_assert_cmpint (path_int (usage_chunk, "$.usage.prompt_tokens_details.cached_tokens"), ==, 2000);
  g_assert_cmpint (path_int (usage_chunk, "$.usage.completion_tokens"), ==, 89);

  /* Not the usage chunk: json-glib's JSONPath trips over its empty
   * choices array. */
  for (unsigned i = 0; i + 2 < sse->len; i++)
    {
      g_autoptr (JsonNode) chunk = parse_json (((LctlSseEvent *) sse->pdata[i])->data);
      g_autofree char *fragment = path_string (chunk, "$.choices[0].delta.tool_calls[0].function.arguments");
      g_autofree char *thought = path_string (chunk, "$.choices[0].delta.reasoning_content");

      if (fragment != NULL)
        g_string_append (arguments, fragment);
      if (thought != NULL)
        g_string_append (reasoning, thought);
    }
  /* The SDK's reassembly gives exactly the upstream's arguments. */
  g_assert_cmpstr (arguments->str, ==, "{\"location\": \"San Francisco, CA\"}");
  g_assert_cmpstr (reasoning->str, ==, "I need the weather tool for this.");
  g_string_free (arguments, TRUE);
  g_string_free (reasoning, TRUE);
}

static void
test_responses_cross (void)
{
  g_autofree char *openai_text = fixture_text ("openai-response-tools.json", NULL);
  g_autofree char *anthropic_text = fixture_text ("anthropic-response-thinking.json", NULL);
  g_autoptr (LctlIrResponse) from_openai = lctl_dialect_parse_response (LCTL_DIALECT_OPENAI_CHAT, openai_text, -1, NULL);
  g_autoptr (LctlIrResponse) from_anthropic = lctl_dialect_parse_response (LCTL_DIALECT_ANTHROPIC, anthropic_text, -1, NULL);
  g_autoptr (JsonNode) to_anthropic = lctl_dialect_build_response (LCTL_DIALECT_ANTHROPIC, from_openai, "claude-alias");
  g_autoptr (JsonNode) to_openai = lctl_dialect_build_response (LCTL_DIALECT_OPENAI_CHAT, from_anthropic, NULL);

  assert_path_str (to_anthropic, "$.model", "claude-alias");
  assert_path_str (to_anthropic, "$.content[0].type", "tool_use");
  assert_path_str (to_anthropic, "$.content[0].input.location", "Boston, MA");
  assert_path_str (to_anthropic, "$.content[1].input.unit", "celsius");
  assert_path_str (to_anthropic, "$.stop_reason", "tool_use");
  g_assert_cmpint (path_int (to_anthropic, "$.usage.input_tokens"), ==, 58);
  g_assert_cmpint (path_int (to_anthropic, "$.usage.cache_read_input_tokens"), ==, 1024);

  assert_path_str (to_openai, "$.choices[0].message.reasoning_content", "To approach this, let me think about what we know about prime numbers...");
  assert_path_str (to_openai, "$.choices[0].message.content", "Yes, there are infinitely many primes p with p mod 4 = 3.");
  assert_path_str (to_openai, "$.choices[0].finish_reason", "stop");
  g_assert_cmpint (path_int (to_openai, "$.usage.prompt_tokens"), ==, 88);
}

static void
test_errors_cross (void)
{
  {
    g_autofree char *text = fixture_text ("anthropic-error-overloaded.json", NULL);
    g_autoptr (LctlIrError) error = lctl_dialect_parse_error (LCTL_DIALECT_ANTHROPIC, 529, text, -1, NULL);
    unsigned status = 0;
    g_autoptr (JsonNode) body = lctl_dialect_build_error (LCTL_DIALECT_OPENAI_CHAT, error, &status);

    g_assert_cmpuint (status, ==, 529);
    assert_path_str (body, "$.error.type", "overloaded_error");
    assert_path_str (body, "$.error.message", "Overloaded");
  }
  {
    g_autofree char *text = fixture_text ("openai-error-rate-limit.json", NULL);
    g_autoptr (LctlIrError) error = lctl_dialect_parse_error (LCTL_DIALECT_OPENAI_CHAT, 429, text, -1, "7");
    unsigned status = 0;
    g_autoptr (JsonNode) body = lctl_dialect_build_error (LCTL_DIALECT_ANTHROPIC, error, &status);

    g_assert_cmpuint (status, ==, 429);
    g_assert_cmpfloat (error->retry_after, ==, 7);
    assert_path_str (body, "$.error.type", "rate_limit_error");
  }
  {
    g_autofree char *text = fixture_text ("openai-error-context.json", NULL);
    g_autoptr (LctlIrError) error = lctl_dialect_parse_error (LCTL_DIALECT_OPENAI_CHAT, 400, text, -1, NULL);
    unsigned status = 0;
    g_autoptr (JsonNode) body = lctl_dialect_build_error (LCTL_DIALECT_ANTHROPIC, error, &status);
    g_autofree char *message = path_string (body, "$.error.message");

    g_assert_cmpuint (status, ==, 400);
    assert_path_str (body, "$.error.type", "invalid_request_error");
    g_assert_true (g_str_has_prefix (message, "prompt is too long"));
  }
  {
    g_autofree char *text = fixture_text ("openai-error-auth.json", NULL);
    g_autoptr (LctlIrError) error = lctl_dialect_parse_error (LCTL_DIALECT_OPENAI_CHAT, 401, text, -1, NULL);
    unsigned status = 0;
    g_autoptr (JsonNode) body = lctl_dialect_build_error (LCTL_DIALECT_ANTHROPIC, error, &status);

    g_assert_cmpuint (status, ==, 401);
    assert_path_str (body, "$.error.type", "authentication_error");
  }
}

static void
test_tool_id_sanitized (void)
{
  /* Kimi's tool ids are not valid Anthropic ids; they are rewritten the
   * same way in calls and results so the pairs still match. */
  const char *body = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"},"
                     "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"functions.Bash:0\",\"type\":\"function\",\"function\":{\"name\":\"Bash\",\"arguments\":\"{}\"}}]},"
                     "{\"role\":\"tool\",\"tool_call_id\":\"functions.Bash:0\",\"content\":\"ok\"}]}";
  g_autoptr (LctlIrRequest) request = lctl_dialect_parse_request (LCTL_DIALECT_OPENAI_CHAT, body, -1, NULL);
  g_autoptr (JsonNode) anthropic = build (LCTL_DIALECT_ANTHROPIC, request, NULL);

  assert_path_str (anthropic, "$.messages[1].content[0].id", "functions_Bash_0");
  assert_path_str (anthropic, "$.messages[2].content[0].tool_use_id", "functions_Bash_0");
}

static void
test_defaults (void)
{
  /* Deployment defaults apply where the request is silent; proxy
   * settings never reach the body. */
  const char *body = "{\"model\":\"m\",\"max_tokens\":100,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
  g_autoptr (LctlIrRequest) request = lctl_dialect_parse_request (LCTL_DIALECT_ANTHROPIC, body, -1, NULL);
  g_autoptr (JsonNode) params = parse_json ("{\"model\":\"kimi_code/kimi-for-coding\",\"api_key\":\"sk-secret\",\"timeout\":600,"
                                            "\"max_tokens\":4000,\"thinking\":{\"type\":\"disabled\"},\"extra_flag\":true}");
  g_autoptr (JsonNode) openai = NULL;
  g_autofree char *text = NULL;

  lctl_ir_request_apply_defaults (request, json_node_get_object (params));
  g_assert_cmpint (request->max_tokens, ==, 100);
  g_assert_cmpint (request->thinking.mode, ==, LCTL_IR_THINKING_DISABLED);
  openai = build (LCTL_DIALECT_OPENAI_CHAT, request, NULL);
  text = node_to_string (openai);
  g_assert_true (path_exists (openai, "$.extra_flag"));
  g_assert_null (strstr (text, "sk-secret"));
  g_assert_null (strstr (text, "timeout"));
  assert_path_str (openai, "$.model", "m");
}

/* Malformed inputs give GErrors, never crashes: every truncation and many
 * byte mutations of every fixture, through parse and both builders. */
static void
fuzz_request (LctlDialect dialect,
              const char *text,
              gsize       length)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (LctlIrRequest) request = lctl_dialect_parse_request (dialect, text, length, &error);

  if (request == NULL)
    {
      g_assert_nonnull (error);
      return;
    }
  {
    g_autoptr (JsonNode) a = lctl_dialect_build_request (LCTL_DIALECT_ANTHROPIC, request, NULL, NULL, NULL);
    g_autoptr (JsonNode) b = lctl_dialect_build_request (LCTL_DIALECT_OPENAI_CHAT, request, NULL, NULL, NULL);

    g_assert_nonnull (a);
    g_assert_nonnull (b);
  }
}

static void
fuzz_response (LctlDialect dialect,
               const char *text,
               gsize       length)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (LctlIrResponse) response = lctl_dialect_parse_response (dialect, text, length, &error);
  g_autoptr (LctlIrError) ir_error = lctl_dialect_parse_error (dialect, 500, text, length, "x");

  g_assert_nonnull (ir_error);
  if (response == NULL)
    {
      g_assert_nonnull (error);
      return;
    }
  {
    g_autoptr (JsonNode) a = lctl_dialect_build_response (LCTL_DIALECT_ANTHROPIC, response, NULL);
    g_autoptr (JsonNode) b = lctl_dialect_build_response (LCTL_DIALECT_OPENAI_CHAT, response, NULL);
    g_autoptr (GPtrArray) events = lctl_ir_response_to_events (response, 3);
    g_autoptr (GString) sa = encode_stream (LCTL_DIALECT_ANTHROPIC, events, TRUE);
    g_autoptr (GString) sb = encode_stream (LCTL_DIALECT_OPENAI_CHAT, events, TRUE);
  }
}

static void
fuzz_stream (LctlDialect dialect,
             const char *text,
             gsize       length)
{
  g_autoptr (LctlStreamDecoder) decoder = lctl_stream_decoder_new (dialect);
  g_autoptr (GPtrArray) events = lctl_ir_event_array_new ();
  g_autoptr (GError) error = NULL;
  g_autoptr (LctlIrResponse) response = lctl_ir_response_new ();

  if (!lctl_stream_decoder_feed_bytes (decoder, text, length, events, &error))
    g_assert_nonnull (error);
  lctl_stream_decoder_finish (decoder, events);
  for (unsigned i = 0; i < events->len; i++)
    lctl_ir_response_add_event (response, events->pdata[i]);
  {
    g_autoptr (GString) sa = encode_stream (LCTL_DIALECT_ANTHROPIC, events, TRUE);
    g_autoptr (GString) sb = encode_stream (LCTL_DIALECT_OPENAI_CHAT, events, TRUE);
  }
}

typedef void (*FuzzFunc) (LctlDialect dialect,
                          const char *text,
                          gsize       length);

static void
fuzz_fixture (const char *name,
              LctlDialect dialect,
              FuzzFunc    func,
              GRand      *rand)
{
  gsize            length = 0;
  g_autofree char *text = fixture_text (name, &length);
  gsize            step = MAX (1, length / 400);

  func (dialect, text, length);
  for (gsize cut = 0; cut < length; cut += step)
    {
      g_autofree char *copy = g_strndup (text, cut);

      func (dialect, copy, cut);
    }
  for (int round = 0; round < 300; round++)
    {
      g_autofree char *copy = g_strndup (text, length);
      int              mutations = g_rand_int_range (rand, 1, 4);

      for (int m = 0; m < mutations; m++)
        {
          static const char replacements[] = "{}[]\",:0a \\n-1";
          gsize             at = g_rand_int_range (rand, 0, length);

          copy[at] = replacements[g_rand_int_range (rand, 0, sizeof replacements - 1)];
        }
      func (dialect, copy, length);
    }
}

static void
test_fuzz (void)
{
  GRand *rand = g_rand_new_with_seed (20261128);

  fuzz_fixture ("anthropic-request-claude-code.json", LCTL_DIALECT_ANTHROPIC, fuzz_request, rand);
  fuzz_fixture ("anthropic-request-tools.json", LCTL_DIALECT_ANTHROPIC, fuzz_request, rand);
  fuzz_fixture ("anthropic-request-images.json", LCTL_DIALECT_ANTHROPIC, fuzz_request, rand);
  fuzz_fixture ("openai-request-qwen.json", LCTL_DIALECT_OPENAI_CHAT, fuzz_request, rand);
  fuzz_fixture ("openai-request-images.json", LCTL_DIALECT_OPENAI_CHAT, fuzz_request, rand);
  /* A body of one dialect sent to the other endpoint. */
  fuzz_fixture ("openai-request-qwen.json", LCTL_DIALECT_ANTHROPIC, fuzz_request, rand);
  fuzz_fixture ("anthropic-request-claude-code.json", LCTL_DIALECT_OPENAI_CHAT, fuzz_request, rand);
  fuzz_fixture ("anthropic-response-tool-use.json", LCTL_DIALECT_ANTHROPIC, fuzz_response, rand);
  fuzz_fixture ("anthropic-response-thinking.json", LCTL_DIALECT_ANTHROPIC, fuzz_response, rand);
  fuzz_fixture ("openai-response-tools.json", LCTL_DIALECT_OPENAI_CHAT, fuzz_response, rand);
  fuzz_fixture ("openai-response-reasoning.json", LCTL_DIALECT_OPENAI_CHAT, fuzz_response, rand);
  fuzz_fixture ("anthropic-stream-tool.sse", LCTL_DIALECT_ANTHROPIC, fuzz_stream, rand);
  fuzz_fixture ("openai-stream-tools.sse", LCTL_DIALECT_OPENAI_CHAT, fuzz_stream, rand);
  fuzz_fixture ("openai-stream-tools.sse", LCTL_DIALECT_ANTHROPIC, fuzz_stream, rand);
  fuzz_fixture ("anthropic-stream-tool.sse", LCTL_DIALECT_OPENAI_CHAT, fuzz_stream, rand);
  g_rand_free (rand);
}

/* Structural fuzz: valid JSON with a value of the wrong type somewhere,
 * which byte mutations rarely produce and typed accessors must survive. */
static JsonNode *
random_node (GRand *rand)
{
  JsonNode *node;

  switch (g_rand_int_range (rand, 0, 7))
    {
    case 0:
      return json_node_new (JSON_NODE_NULL);
    case 1:
      node = json_node_new (JSON_NODE_VALUE);
      json_node_set_int (node, g_rand_int_range (rand, -5, 5));
      return node;
    case 2:
      node = json_node_new (JSON_NODE_VALUE);
      json_node_set_string (node, "text");
      return node;
    case 3:
      node = json_node_new (JSON_NODE_VALUE);
      json_node_set_boolean (node, TRUE);
      return node;
    case 4:
      node = json_node_new (JSON_NODE_ARRAY);
      json_node_take_array (node, json_array_new ());
      return node;
    case 5:
      node = json_node_new (JSON_NODE_VALUE);
      json_node_set_double (node, 1e300);
      return node;
    default:
      node = json_node_new (JSON_NODE_OBJECT);
      json_node_take_object (node, json_object_new ());
      return node;
    }
}

/* Replaces the @target-th node (depth-first) under @node. */
static gboolean
replace_nth (JsonNode *node,
             int      *target,
             GRand    *rand)
{
  if (JSON_NODE_HOLDS_OBJECT (node))
    {
      JsonObject *object = json_node_get_object (node);
      g_autoptr (GList) members = json_object_get_members (object);

      for (GList *l = members; l != NULL; l = l->next)
        {
          if ((*target)-- == 0)
            {
              json_object_set_member (object, l->data, random_node (rand));
              return TRUE;
            }
          if (replace_nth (json_object_get_member (object, l->data), target, rand))
            return TRUE;
        }
    }
  else if (JSON_NODE_HOLDS_ARRAY (node))
    {
      JsonArray *array = json_node_get_array (node);

      for (unsigned i = 0; i < json_array_get_length (array); i++)
        {
          if ((*target)-- == 0)
            {
              /* json-glib has no replace; rebuild the array. */
              JsonArray *copy = json_array_new ();

              for (unsigned j = 0; j < json_array_get_length (array); j++)
                json_array_add_element (copy, j == i ? random_node (rand) : json_node_copy (json_array_get_element (array, j)));
              json_node_take_array (node, copy);
              return TRUE;
            }
          if (replace_nth (json_array_get_element (array, i), target, rand))
            return TRUE;
        }
    }
  return FALSE;
}

static char *
mutate_json (const char *text,
             GRand      *rand)
{
  g_autoptr (JsonNode) root = parse_json (text);
  int target = g_rand_int_range (rand, 0, 200);

  replace_nth (root, &target, rand);
  return json_to_string (root, FALSE);
}

static void
structural_fuzz (const char *name,
                 LctlDialect dialect,
                 FuzzFunc    func,
                 GRand      *rand)
{
  g_autofree char *text = fixture_text (name, NULL);

  for (int round = 0; round < 400; round++)
    {
      g_autofree char *mutated = mutate_json (text, rand);

      func (dialect, mutated, strlen (mutated));
    }
}

static void
structural_fuzz_stream (const char *name,
                        LctlDialect dialect,
                        GRand      *rand)
{
  gsize            length = 0;
  g_autofree char *text = fixture_text (name, &length);
  g_autoptr (GPtrArray) sse = sse_parse_all (text, length);

  for (int round = 0; round < 200; round++)
    {
      g_autoptr (LctlStreamDecoder) decoder = lctl_stream_decoder_new (dialect);
      g_autoptr (GPtrArray) events = lctl_ir_event_array_new ();
      unsigned victim = g_rand_int_range (rand, 0, sse->len);

      for (unsigned i = 0; i < sse->len; i++)
        {
          LctlSseEvent    *event = sse->pdata[i];
          g_autofree char *data = NULL;

          if (i == victim && g_str_has_prefix (event->data, "{"))
            data = mutate_json (event->data, rand);
          else
            data = g_strdup (event->data);
          lctl_stream_decoder_feed_event (decoder, event->event, data, events, NULL);
        }
      lctl_stream_decoder_finish (decoder, events);
      {
        g_autoptr (GString) a = encode_stream (LCTL_DIALECT_ANTHROPIC, events, TRUE);
        g_autoptr (GString) b = encode_stream (LCTL_DIALECT_OPENAI_CHAT, events, TRUE);
        g_autoptr (LctlIrResponse) response = lctl_ir_response_new ();

        for (unsigned i = 0; i < events->len; i++)
          lctl_ir_response_add_event (response, events->pdata[i]);
      }
    }
}

static void
test_structural_fuzz (void)
{
  GRand *rand = g_rand_new_with_seed (4242);

  structural_fuzz ("anthropic-request-claude-code.json", LCTL_DIALECT_ANTHROPIC, fuzz_request, rand);
  structural_fuzz ("anthropic-request-tools.json", LCTL_DIALECT_ANTHROPIC, fuzz_request, rand);
  structural_fuzz ("anthropic-request-images.json", LCTL_DIALECT_ANTHROPIC, fuzz_request, rand);
  structural_fuzz ("openai-request-qwen.json", LCTL_DIALECT_OPENAI_CHAT, fuzz_request, rand);
  structural_fuzz ("openai-request-images.json", LCTL_DIALECT_OPENAI_CHAT, fuzz_request, rand);
  structural_fuzz ("anthropic-response-tool-use.json", LCTL_DIALECT_ANTHROPIC, fuzz_response, rand);
  structural_fuzz ("anthropic-response-thinking.json", LCTL_DIALECT_ANTHROPIC, fuzz_response, rand);
  structural_fuzz ("openai-response-tools.json", LCTL_DIALECT_OPENAI_CHAT, fuzz_response, rand);
  structural_fuzz ("openai-response-reasoning.json", LCTL_DIALECT_OPENAI_CHAT, fuzz_response, rand);
  structural_fuzz ("openai-error-context.json", LCTL_DIALECT_OPENAI_CHAT, fuzz_response, rand);
  structural_fuzz ("anthropic-error-overloaded.json", LCTL_DIALECT_ANTHROPIC, fuzz_response, rand);
  structural_fuzz_stream ("anthropic-stream-tool.sse", LCTL_DIALECT_ANTHROPIC, rand);
  structural_fuzz_stream ("openai-stream-tools.sse", LCTL_DIALECT_OPENAI_CHAT, rand);
  g_rand_free (rand);
}

int
main (int   argc,
      char *argv[])
{
  lctl_test_init (&argc, &argv);

  g_test_add_func ("/dialect-translate/claude-code-to-openai", test_claude_code_to_openai);
  g_test_add_func ("/dialect-translate/round-trip", test_round_trip_anthropic_openai);
  g_test_add_func ("/dialect-translate/openai-to-anthropic", test_openai_to_anthropic);
  g_test_add_func ("/dialect-translate/images", test_images_cross);
  g_test_add_func ("/dialect-translate/response-format-fallback", test_response_format_fallback);
  g_test_add_func ("/dialect-translate/tool-choice", test_tool_choice_mapping);
  g_test_add_func ("/dialect-translate/thinking-budget", test_thinking_budget_to_effort);
  g_test_add_func ("/dialect-translate/stream-openai-to-anthropic", test_stream_openai_to_anthropic);
  g_test_add_func ("/dialect-translate/stream-anthropic-to-openai", test_stream_anthropic_to_openai);
  g_test_add_func ("/dialect-translate/responses", test_responses_cross);
  g_test_add_func ("/dialect-translate/errors", test_errors_cross);
  g_test_add_func ("/dialect-translate/tool-id-sanitized", test_tool_id_sanitized);
  g_test_add_func ("/dialect-translate/defaults", test_defaults);
  g_test_add_func ("/dialect-translate/fuzz", test_fuzz);
  g_test_add_func ("/dialect-translate/structural-fuzz", test_structural_fuzz);

  return g_test_run ();
}
