/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#include "config.h"

#include <math.h>

#include "lctl-count-tokens.h"
#include "lctl-error.h"
#include "test-dialect-common.h"

static void
test_apply_defaults (void)
{
  g_autoptr (LctlIrRequest) request = lctl_ir_request_new (LCTL_DIALECT_ANTHROPIC);
  g_autoptr (JsonNode) params = parse_json ("{\"model\":\"anthropic/glm\",\"api_key\":\"k\",\"api_base\":\"https://x\",\"timeout\":600,"
                                            "\"mock_response\":\"hi\",\"extra_headers\":{\"X\":\"y\"},"
                                            "\"max_tokens\":4096,\"temperature\":0.5,\"top_k\":20,\"stop\":[\"A\",\"B\"],"
                                            "\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":2048},\"custom_body_field\":{\"on\":true}}");

  request->max_tokens = 100;
  lctl_ir_request_apply_defaults (request, json_node_get_object (params));
  /* The request's own values win. */
  g_assert_cmpint (request->max_tokens, ==, 100);
  g_assert_cmpfloat (request->temperature, ==, 0.5);
  g_assert_cmpint (request->top_k, ==, 20);
  g_assert_cmpstr (request->stop[1], ==, "B");
  g_assert_cmpint (request->thinking.mode, ==, LCTL_IR_THINKING_ENABLED);
  g_assert_cmpint (request->thinking.budget_tokens, ==, 2048);
  /* Only unknown keys become body params; proxy settings never do. */
  g_assert_nonnull (request->upstream_params);
  g_assert_cmpuint (json_object_get_size (request->upstream_params), ==, 1);
  g_assert_true (json_object_has_member (request->upstream_params, "custom_body_field"));
  lctl_ir_request_apply_defaults (request, NULL);
}

static LctlIrRequest *
simple_request (gboolean stream)
{
  const char    *body = "{\"model\":\"demo\",\"max_tokens\":50,\"messages\":[{\"role\":\"user\",\"content\":\"Say hello\"}]}";
  LctlIrRequest *request = lctl_dialect_parse_request (LCTL_DIALECT_ANTHROPIC, body, -1, NULL);

  request->stream = stream;
  return request;
}

static void
test_mock_non_streaming (void)
{
  g_autoptr (LctlIrRequest) request = simple_request (FALSE);
  g_autoptr (LctlIrResponse) response = lctl_ir_mock_response (request, "This is a mock response from the demo model.");
  g_autoptr (JsonNode) anthropic = lctl_dialect_build_response (LCTL_DIALECT_ANTHROPIC, response, NULL);
  g_autoptr (JsonNode) openai = lctl_dialect_build_response (LCTL_DIALECT_OPENAI_CHAT, response, NULL);

  assert_path_str (anthropic, "$.model", "demo");
  assert_path_str (anthropic, "$.content[0].text", "This is a mock response from the demo model.");
  assert_path_str (anthropic, "$.stop_reason", "end_turn");
  g_assert_cmpint (path_int (anthropic, "$.usage.input_tokens"), >, 0);
  g_assert_cmpint (path_int (anthropic, "$.usage.output_tokens"), >, 0);
  assert_path_str (openai, "$.choices[0].message.content", "This is a mock response from the demo model.");
  assert_path_str (openai, "$.choices[0].finish_reason", "stop");
}

static void
test_mock_streaming (void)
{
  const char *text = "Héllo from the mock — streamed in pieces.";
  g_autoptr (LctlIrRequest) request = simple_request (TRUE);
  g_autoptr (LctlIrResponse) response = lctl_ir_mock_response (request, text);
  g_autoptr (GPtrArray) events = lctl_ir_response_to_events (response, 8);
  g_autoptr (GString) anthropic = encode_stream (LCTL_DIALECT_ANTHROPIC, events, FALSE);
  g_autoptr (GString) openai = encode_stream (LCTL_DIALECT_OPENAI_CHAT, events, TRUE);
  g_autoptr (GPtrArray) back_a = decode_stream (LCTL_DIALECT_ANTHROPIC, anthropic->str, anthropic->len);
  g_autoptr (GPtrArray) back_o = decode_stream (LCTL_DIALECT_OPENAI_CHAT, openai->str, openai->len);
  g_autoptr (LctlIrResponse) ra = lctl_ir_response_new ();
  g_autoptr (LctlIrResponse) ro = lctl_ir_response_new ();
  unsigned deltas = 0;

  /* The text comes in several deltas, split on character boundaries. */
  for (unsigned i = 0; i < events->len; i++)
    {
      LctlIrEvent *event = events->pdata[i];

      if (event->type == LCTL_IR_EVENT_TEXT_DELTA)
        {
          g_assert_true (g_utf8_validate (event->text, -1, NULL));
          deltas++;
        }
    }
  g_assert_cmpuint (deltas, >=, 3);

  for (unsigned i = 0; i < back_a->len; i++)
    g_assert_true (lctl_ir_response_add_event (ra, back_a->pdata[i]));
  for (unsigned i = 0; i < back_o->len; i++)
    g_assert_true (lctl_ir_response_add_event (ro, back_o->pdata[i]));
  g_assert_cmpstr (((LctlIrPart *) ra->parts->pdata[0])->text, ==, text);
  g_assert_cmpstr (((LctlIrPart *) ro->parts->pdata[0])->text, ==, text);
  g_assert_cmpint (ra->stop_reason, ==, LCTL_IR_STOP_END_TURN);
  g_assert_cmpint (ra->usage.output_tokens, ==, response->usage.output_tokens);
  g_assert_cmpint (ro->usage.output_tokens, ==, response->usage.output_tokens);
  g_assert_cmpint (ra->usage.input_tokens, ==, lctl_count_tokens_request (request));
}

static void
test_events_round_trip (void)
{
  /* response → events → response is the identity, for every part kind. */
  gsize            length = 0;
  g_autofree char *text = fixture_text ("anthropic-response-thinking.json", &length);
  g_autoptr (LctlIrResponse) response = lctl_dialect_parse_response (LCTL_DIALECT_ANTHROPIC, text, length, NULL);
  g_autoptr (GPtrArray) events = lctl_ir_response_to_events (response, 5);
  g_autoptr (LctlIrResponse) rebuilt = lctl_ir_response_new ();
  g_autoptr (JsonNode) a = NULL;
  g_autoptr (JsonNode) b = NULL;

  for (unsigned i = 0; i < events->len; i++)
    g_assert_true (lctl_ir_response_add_event (rebuilt, events->pdata[i]));
  rebuilt->dialect = response->dialect;
  a = lctl_dialect_build_response (LCTL_DIALECT_ANTHROPIC, response, NULL);
  b = lctl_dialect_build_response (LCTL_DIALECT_ANTHROPIC, rebuilt, NULL);
  g_assert_true (json_node_equal (a, b));
}

static void
test_accumulate_error (void)
{
  g_autoptr (LctlIrResponse) response = lctl_ir_response_new ();
  g_autoptr (LctlIrEvent) event = lctl_ir_event_new (LCTL_IR_EVENT_ERROR);
  g_autoptr (LctlIrEvent) args = lctl_ir_event_new (LCTL_IR_EVENT_TOOL_ARGS_DELTA);

  event->error = lctl_ir_error_new (LCTL_IR_ERROR_OVERLOADED, 0, NULL);
  g_assert_false (lctl_ir_response_add_event (response, event));
  /* A delta for a part never started is ignored, not a crash. */
  args->index = 7;
  args->text = g_strdup ("{}");
  g_assert_true (lctl_ir_response_add_event (response, args));
  g_assert_cmpuint (response->parts->len, ==, 0);
}

static void
test_errors (void)
{
  g_autoptr (GError) parse_error = g_error_new (LCTL_ERROR, LCTL_ERROR_INVALID_ARGUMENT, "messages: required array");
  g_autoptr (LctlIrError) from_parse = lctl_ir_error_from_gerror (parse_error);
  g_autoptr (GError) missing = g_error_new (LCTL_ERROR, LCTL_ERROR_NOT_FOUND, "No model group “gpt-9”");
  g_autoptr (LctlIrError) not_found = lctl_ir_error_from_gerror (missing);
  g_autoptr (JsonNode) openai = NULL;
  g_autoptr (JsonNode) anthropic = NULL;
  unsigned status = 0;

  g_assert_cmpint (from_parse->type, ==, LCTL_IR_ERROR_INVALID_REQUEST);
  g_assert_cmpuint (from_parse->status, ==, 400);
  openai = lctl_dialect_build_error (LCTL_DIALECT_OPENAI_CHAT, from_parse, &status);
  g_assert_cmpuint (status, ==, 400);
  assert_path_str (openai, "$.error.message", "messages: required array");

  g_assert_cmpuint (not_found->status, ==, 404);
  anthropic = lctl_dialect_build_error (LCTL_DIALECT_ANTHROPIC, not_found, &status);
  g_assert_cmpuint (status, ==, 404);
  assert_path_str (anthropic, "$.error.type", "not_found_error");

  g_assert_cmpint (lctl_ir_error_type_from_status (429), ==, LCTL_IR_ERROR_RATE_LIMIT);
  g_assert_cmpint (lctl_ir_error_type_from_status (529), ==, LCTL_IR_ERROR_OVERLOADED);
  g_assert_cmpint (lctl_ir_error_type_from_status (503), ==, LCTL_IR_ERROR_OVERLOADED);
  g_assert_cmpint (lctl_ir_error_type_from_status (401), ==, LCTL_IR_ERROR_AUTHENTICATION);
  g_assert_cmpint (lctl_ir_error_type_from_status (500), ==, LCTL_IR_ERROR_API_ERROR);
  g_assert_cmpint (lctl_ir_error_type_from_status (418), ==, LCTL_IR_ERROR_INVALID_REQUEST);
  g_assert_cmpuint (lctl_ir_error_type_default_status (LCTL_IR_ERROR_OVERLOADED), ==, 529);
}

static void
test_unsupported_dialect (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (LctlIrRequest) request = lctl_dialect_parse_request (LCTL_DIALECT_GEMINI, "{}", -1, &error);

  g_assert_null (request);
  g_assert_error (error, LCTL_ERROR, LCTL_ERROR_UNSUPPORTED);
}

int
main (int   argc,
      char *argv[])
{
  lctl_test_init (&argc, &argv);

  g_test_add_func ("/ir/apply-defaults", test_apply_defaults);
  g_test_add_func ("/ir/mock-non-streaming", test_mock_non_streaming);
  g_test_add_func ("/ir/mock-streaming", test_mock_streaming);
  g_test_add_func ("/ir/events-round-trip", test_events_round_trip);
  g_test_add_func ("/ir/accumulate-error", test_accumulate_error);
  g_test_add_func ("/ir/errors", test_errors);
  g_test_add_func ("/ir/unsupported-dialect", test_unsupported_dialect);

  return g_test_run ();
}
