/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#include "config.h"

#include <json-glib/json-glib.h>

#include "lctl-mock-upstream.h"
#include "lctl-proxy.h"
#include "lctl-route-plan.h"
#include "lctl-server.h"
#include "lctl-sse.h"
#include "lctl-test-utils.h"

/* The proxy, in-process, in front of an in-process mock upstream: every
 * model group "oa-<behaviour>" is an OpenAI deployment and "an-<behaviour>"
 * an Anthropic one (see lctl-mock-upstream.h for the behaviours). */

static const char *const behaviours[] = {
  "ok",
  "pause-mid",
  "tool",
  "think",
  "429",
  "429-absurd",
  "500",
  "529",
  "hang",
  "reset",
  "reset-mid",
  "slow",
  "context",
};

/* A token source that has a token for every provider. */
#define TEST_TYPE_TOKENS (test_tokens_get_type ())
G_DECLARE_FINAL_TYPE (TestTokens, test_tokens, TEST, TOKENS, GObject)

struct _TestTokens
{
  GObject parent_instance;
};

static void
test_tokens_get_token_async (LctlTokenSource    *source,
                             const char         *provider,
                             LctlToken          *rejected,
                             GCancellable       *cancellable,
                             GAsyncReadyCallback callback,
                             gpointer            user_data)
{
  g_autoptr (GTask) task = g_task_new (source, cancellable, callback, user_data);

  g_task_return_pointer (task, lctl_token_new (provider, "test-token"), (GDestroyNotify) lctl_token_unref);
}

static LctlToken *
test_tokens_get_token_finish (LctlTokenSource *source,
                              GAsyncResult    *result,
                              GError         **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

static void
test_tokens_iface_init (LctlTokenSourceInterface *iface)
{
  iface->get_token_async = test_tokens_get_token_async;
  iface->get_token_finish = test_tokens_get_token_finish;
}

G_DEFINE_FINAL_TYPE_WITH_CODE (TestTokens, test_tokens, G_TYPE_OBJECT, G_IMPLEMENT_INTERFACE (LCTL_TYPE_TOKEN_SOURCE, test_tokens_iface_init))

static void
test_tokens_class_init (TestTokensClass *klass)
{
}

static void
test_tokens_init (TestTokens *self)
{
}

typedef struct
{
  LctlMockUpstream *mock;
  LctlServer       *server;
  LctlRouter       *router;
  LctlUpstream     *upstream;
  LctlProxy        *proxy;
  SoupSession      *session;
  char             *base;
  GPtrArray        *finished; /* (element-type GVariant) RequestFinished routes */
} Fixture;

typedef struct
{
  unsigned            status;
  SoupMessageHeaders *headers;
  char               *body;
  GPtrArray          *events; /* (element-type LctlSseEvent) when streamed */
  double              elapsed_ms;
} Response;

static void
response_free (Response *response)
{
  g_clear_pointer (&response->headers, soup_message_headers_unref);
  g_free (response->body);
  g_clear_pointer (&response->events, g_ptr_array_unref);
  g_free (response);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Response, response_free)

static void
request_finished_cb (LctlProxy *proxy,
                     GVariant  *route,
                     gpointer   user_data)
{
  Fixture *fixture = user_data;

  g_ptr_array_add (fixture->finished, g_variant_ref_sink (route));
}

static void
fixture_setup (Fixture      *fixture,
               gconstpointer data)
{
  const char *router_settings = data;
  g_autoptr (GString) yaml = g_string_new ("model_list:\n");
  g_autoptr (LctlConfig) config = NULL;
  g_autoptr (GError) error = NULL;

  fixture->mock = lctl_mock_upstream_new ();
  for (gsize i = 0; i < G_N_ELEMENTS (behaviours); i++)
    {
      g_string_append_printf (yaml,
                              "  - model_name: oa-%s\n"
                              "    litellm_params:\n"
                              "      model: openai/%s\n"
                              "      api_base: %s/v1\n"
                              "      api_key: sk-upstream-openai\n"
                              "      timeout: 5\n"
                              "  - model_name: an-%s\n"
                              "    litellm_params:\n"
                              "      model: anthropic/%s\n"
                              "      api_base: %s\n"
                              "      api_key: sk-upstream-anthropic\n"
                              "      timeout: 5\n",
                              behaviours[i], behaviours[i], lctl_mock_upstream_get_base (fixture->mock),
                              behaviours[i], behaviours[i], lctl_mock_upstream_get_base (fixture->mock));
    }
  g_string_append_printf (yaml,
                          "  - model_name: demo\n"
                          "    litellm_params:\n"
                          "      model: openai/demo\n"
                          "      mock_response: Hi from the demo.\n"
                          "  - model_name: codex\n"
                          "    litellm_params:\n"
                          "      model: chatgpt/gpt-5.3-codex\n"
                          "      api_base: %s\n"
                          "router_settings:\n"
                          "%s"
                          "  retry_after: 0\n"
                          "  cooldown_time: 1\n"
                          "  stream_timeout: 0.8\n"
                          "%s"
                          "litellm_settings:\n"
                          "  drop_params: true\n"
                          "general_settings:\n"
                          "  master_key: sk-client-master\n",
                          lctl_mock_upstream_get_base (fixture->mock),
                          router_settings != NULL && strstr (router_settings, "num_retries") != NULL ? "" : "  num_retries: 0\n",
                          router_settings != NULL ? router_settings : "");

  config = lctl_config_load_from_data (yaml->str, yaml->len, "proxy-test.yaml", &error);
  g_assert_no_error (error);

  fixture->router = lctl_router_new ();
  fixture->upstream = lctl_upstream_new ();
  lctl_upstream_configure (fixture->upstream, config);
  {
    g_autoptr (TestTokens) tokens = g_object_new (TEST_TYPE_TOKENS, NULL);

    fixture->proxy = lctl_proxy_new (fixture->router, fixture->upstream, LCTL_TOKEN_SOURCE (tokens), NULL);
  }
  fixture->finished = g_ptr_array_new_with_free_func ((GDestroyNotify) g_variant_unref);
  g_signal_connect (fixture->proxy, "request-finished", G_CALLBACK (request_finished_cb), fixture);

  fixture->server = lctl_server_new ();
  lctl_server_set_config (fixture->server, config);
  lctl_server_set_proxy_func (fixture->server, lctl_proxy_handle, fixture->proxy);
  g_assert_true (lctl_server_listen (fixture->server, "127.0.0.1", 0, &error));
  fixture->base = g_strdup (lctl_server_get_address (fixture->server));

  {
    g_autoptr (GProxyResolver) resolver = g_simple_proxy_resolver_new (NULL, NULL);

    fixture->session = soup_session_new_with_options ("proxy-resolver", resolver, "timeout", 20, NULL);
  }
}

static void
fixture_teardown (Fixture      *fixture,
                  gconstpointer data)
{
  g_clear_object (&fixture->session);
  g_clear_object (&fixture->server);
  g_clear_object (&fixture->proxy);
  g_clear_object (&fixture->upstream);
  g_clear_object (&fixture->router);
  g_clear_pointer (&fixture->mock, lctl_mock_upstream_free);
  g_clear_pointer (&fixture->finished, g_ptr_array_unref);
  g_free (fixture->base);
  /* Let cancelled I/O settle before the next test. */
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

typedef struct
{
  GInputStream *stream;
  GString      *body;
  gboolean      done;
  gboolean      cancel_after_first_read;
  GCancellable *cancellable;
  GError       *error;
} ReadState;

static void
read_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  ReadState *state = user_data;
  g_autoptr (GBytes) bytes = g_input_stream_read_bytes_finish (G_INPUT_STREAM (source), result, &state->error);

  if (bytes == NULL || g_bytes_get_size (bytes) == 0)
    {
      state->done = TRUE;
      return;
    }
  g_string_append_len (state->body, g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
  if (state->cancel_after_first_read && strstr (state->body->str, "Hello") != NULL)
    {
      g_input_stream_close (state->stream, NULL, NULL);
      state->done = TRUE;
      return;
    }
  g_input_stream_read_bytes_async (state->stream, 4096, G_PRIORITY_DEFAULT, state->cancellable, read_cb, state);
}

static Response *
post (Fixture    *fixture,
      const char *path,
      const char *body,
      gboolean    disconnect_early)
{
  g_autofree char *url = g_strconcat (fixture->base, path, NULL);
  g_autoptr (SoupMessage) msg = soup_message_new ("POST", url);
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GInputStream) stream = NULL;
  ReadState           state = { 0 };
  Response           *response = g_new0 (Response, 1);
  gint64              start = g_get_monotonic_time ();
  const char         *content_type;
  SoupMessageHeaders *request_headers = soup_message_get_request_headers (msg);

  soup_message_headers_append (request_headers, "Authorization", "Bearer sk-client-master");
  soup_message_headers_append (request_headers, "x-api-key", "sk-client-master");
  soup_message_headers_append (request_headers, "anthropic-version", "2023-06-01");
  soup_message_headers_append (request_headers, "anthropic-beta", "interleaved-thinking-2025-05-14");
  soup_message_set_request_body_from_bytes (msg, "application/json", g_bytes_new_static (body, strlen (body)));

  soup_session_send_async (fixture->session, msg, G_PRIORITY_DEFAULT, NULL, lctl_test_store_result, &result);
  lctl_test_wait_for_result (&result, 15000);
  stream = soup_session_send_finish (fixture->session, result, &error);
  g_assert_no_error (error);

  state.stream = stream;
  state.body = g_string_new (NULL);
  state.cancel_after_first_read = disconnect_early;
  g_input_stream_read_bytes_async (stream, 4096, G_PRIORITY_DEFAULT, NULL, read_cb, &state);
  lctl_test_wait_for (&state.done, 15000);
  /* A clean end of the body: no truncated chunked encoding. */
  if (!disconnect_early)
    g_assert_no_error (state.error);
  g_clear_error (&state.error);

  response->status = soup_message_get_status (msg);
  response->headers = soup_message_headers_ref (soup_message_get_response_headers (msg));
  response->body = g_string_free (state.body, FALSE);
  response->elapsed_ms = (g_get_monotonic_time () - start) / 1000.0;
  content_type = soup_message_headers_get_content_type (response->headers, NULL);
  if (g_strcmp0 (content_type, "text/event-stream") == 0)
    {
      g_autoptr (LctlSseParser) parser = lctl_sse_parser_new ();

      response->events = lctl_sse_event_array_new ();
      lctl_sse_parser_feed (parser, response->body, strlen (response->body), response->events);
      lctl_sse_parser_finish (parser, response->events);
    }
  if (g_test_verbose ())
    g_printerr ("%s → %u\n%s\n", path, response->status, response->body);
  return response;
}

static JsonObject *
parse_object (const char *text)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;

  json_parser_load_from_data (parser, text, -1, &error);
  g_assert_no_error (error);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)));
  return json_object_ref (json_node_get_object (json_parser_get_root (parser)));
}

/* Concatenates the Anthropic text deltas of a stream. */
static char *
anthropic_stream_text (Response   *response,
                       const char *delta_type,
                       const char *field)
{
  GString *text = g_string_new (NULL);

  for (unsigned i = 0; i < response->events->len; i++)
    {
      LctlSseEvent *event = g_ptr_array_index (response->events, i);
      g_autoptr (JsonObject) data = NULL;
      JsonObject *delta;

      if (g_strcmp0 (event->event, "content_block_delta") != 0)
        continue;
      data = parse_object (event->data);
      delta = json_object_get_object_member (data, "delta");
      if (g_str_equal (json_object_get_string_member (delta, "type"), delta_type))
        g_string_append (text, json_object_get_string_member (delta, field));
    }
  return g_string_free (text, FALSE);
}

static const char *
event_name_at (Response *response,
               int       index)
{
  LctlSseEvent *event;

  if (index < 0)
    index += response->events->len;
  event = g_ptr_array_index (response->events, index);
  return event->event;
}

static LctlSseEvent *
find_event (Response   *response,
            const char *name)
{
  for (unsigned i = 0; response->events != NULL && i < response->events->len; i++)
    {
      LctlSseEvent *event = g_ptr_array_index (response->events, i);

      if (g_strcmp0 (event->event, name) == 0)
        return event;
    }
  return NULL;
}

/* The data of the first event called @name; the test fails without one. */
static JsonObject *
event_data (Response   *response,
            const char *name)
{
  LctlSseEvent *event = find_event (response, name);

  if (event == NULL)
    g_error ("no “%s” event in:\n%s", name, response->body);
  return parse_object (event->data);
}

static LctlMockRequest *
last_upstream_request (Fixture *fixture)
{
  GPtrArray *requests = lctl_mock_upstream_get_requests (fixture->mock);

  g_assert_cmpuint (requests->len, >, 0);
  return g_ptr_array_index (requests, requests->len - 1);
}

static char *
anthropic_body (const char *model,
                gboolean    stream)
{
  return g_strdup_printf ("{\"model\":\"%s\",\"max_tokens\":1024,\"stream\":%s,"
                          "\"system\":[{\"type\":\"text\",\"text\":\"Be brief.\",\"cache_control\":{\"type\":\"ephemeral\"}}],"
                          "\"metadata\":{\"user_id\":\"{\\\"device_id\\\":\\\"d1\\\"}\"},"
                          "\"tools\":[{\"name\":\"get_weather\",\"description\":\"Weather\",\"input_schema\":{\"type\":\"object\","
                          "\"properties\":{\"city\":{\"type\":\"string\"}},\"required\":[\"city\"]}}],"
                          "\"messages\":[{\"role\":\"user\",\"content\":\"Weather in Paris?\"}]}",
                          model, stream ? "true" : "false");
}

static char *
openai_body (const char *model,
             gboolean    stream)
{
  return g_strdup_printf ("{\"model\":\"%s\",\"stream\":%s,%s"
                          "\"messages\":[{\"role\":\"system\",\"content\":\"Be brief.\"},"
                          "{\"role\":\"user\",\"content\":\"Weather in Paris?\"}],"
                          "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"description\":\"Weather\","
                          "\"parameters\":{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}}}}}]}",
                          model, stream ? "true" : "false",
                          stream ? "\"stream_options\":{\"include_usage\":true}," : "");
}

/* -------------------------------------------------------------------- */

static void
test_anthropic_to_openai_stream (Fixture      *fixture,
                                 gconstpointer data)
{
  g_autofree char *body = anthropic_body ("oa-ok", TRUE);
  g_autoptr (Response) response = post (fixture, "/v1/messages?beta=true", body, FALSE);
  g_autofree char *text = NULL;
  LctlMockRequest *upstream;
  JsonObject      *sent;
  g_autoptr (JsonObject) delta = NULL;

  g_assert_cmpuint (response->status, ==, 200);
  g_assert_nonnull (response->events);
  g_assert_cmpstr (event_name_at (response, 0), ==, "message_start");
  g_assert_cmpstr (event_name_at (response, -1), ==, "message_stop");
  text = anthropic_stream_text (response, "text_delta", "text");
  g_assert_cmpstr (text, ==, "Hello from the mock upstream.");
  delta = event_data (response, "message_delta");
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (delta, "delta"), "stop_reason"), ==, "end_turn");
  g_assert_cmpint (json_object_get_int_member (json_object_get_object_member (delta, "usage"), "output_tokens"), ==, 9);

  /* What went upstream: Chat Completions with the deployment's key only. */
  upstream = last_upstream_request (fixture);
  g_assert_cmpstr (upstream->path, ==, "/v1/chat/completions");
  g_assert_cmpstr (soup_message_headers_get_one (upstream->headers, "Authorization"), ==, "Bearer sk-upstream-openai");
  g_assert_null (soup_message_headers_get_one (upstream->headers, "x-api-key"));
  sent = json_node_get_object (upstream->body);
  g_assert_cmpstr (json_object_get_string_member (sent, "model"), ==, "ok");
  g_assert_true (json_object_get_boolean_member (sent, "stream"));
  g_assert_true (json_object_get_boolean_member (json_object_get_object_member (sent, "stream_options"), "include_usage"));
  g_assert_false (json_object_has_member (sent, "system"));
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (json_object_get_array_member (sent, "messages"), 0), "role"),
                   ==, "system");

  /* The route is named in the headers and the signal. */
  g_assert_cmpstr (soup_message_headers_get_one (response->headers, "x-litellm-model-group"), ==, "oa-ok");
  g_assert_cmpstr (soup_message_headers_get_one (response->headers, "x-litellmctl-deployment"), ==, "openai/ok");
  g_assert_nonnull (soup_message_headers_get_one (response->headers, "x-litellm-overhead-duration-ms"));
  g_assert_cmpuint (fixture->finished->len, ==, 1);
}

static void
test_openai_to_anthropic (Fixture      *fixture,
                          gconstpointer data)
{
  g_autofree char *body = openai_body ("an-ok", FALSE);
  g_autoptr (Response) response = post (fixture, "/v1/chat/completions", body, FALSE);
  g_autoptr (JsonObject) answer = parse_object (response->body);
  JsonObject      *choice = json_array_get_object_element (json_object_get_array_member (answer, "choices"), 0);
  JsonObject      *usage = json_object_get_object_member (answer, "usage");
  LctlMockRequest *upstream = last_upstream_request (fixture);
  JsonObject      *sent = json_node_get_object (upstream->body);

  g_assert_cmpuint (response->status, ==, 200);
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (choice, "message"), "content"), ==,
                   "Hello from the mock upstream.");
  g_assert_cmpstr (json_object_get_string_member (choice, "finish_reason"), ==, "stop");
  /* Anthropic's 12 uncached + 3 cached input tokens are OpenAI's 15. */
  g_assert_cmpint (json_object_get_int_member (usage, "prompt_tokens"), ==, 15);
  g_assert_cmpint (json_object_get_int_member (usage, "completion_tokens"), ==, 9);

  g_assert_cmpstr (upstream->path, ==, "/v1/messages");
  g_assert_cmpstr (soup_message_headers_get_one (upstream->headers, "x-api-key"), ==, "sk-upstream-anthropic");
  g_assert_null (soup_message_headers_get_one (upstream->headers, "Authorization"));
  g_assert_cmpstr (soup_message_headers_get_one (upstream->headers, "anthropic-version"), ==, "2023-06-01");
  g_assert_cmpstr (json_object_get_string_member (sent, "model"), ==, "ok");
  g_assert_true (json_object_has_member (sent, "max_tokens"));
  g_assert_true (json_object_has_member (sent, "system"));
}

static void
test_tool_call_streams (Fixture      *fixture,
                        gconstpointer data)
{
  g_autofree char *anthropic = anthropic_body ("oa-tool", TRUE);
  g_autofree char *openai = openai_body ("an-tool", TRUE);
  g_autoptr (Response) a = post (fixture, "/v1/messages", anthropic, FALSE);
  g_autoptr (Response) o = post (fixture, "/v1/chat/completions", openai, FALSE);
  g_autofree char *arguments = anthropic_stream_text (a, "input_json_delta", "partial_json");
  g_autoptr (JsonObject) input = parse_object (arguments);
  g_autoptr (JsonObject) start = event_data (a, "content_block_start");
  JsonObject *block = json_object_get_object_member (start, "content_block");
  g_autoptr (GString) openai_arguments = g_string_new (NULL);
  const char *tool_id = NULL;
  const char *finish = NULL;

  /* Anthropic client, OpenAI upstream. */
  g_assert_cmpuint (a->status, ==, 200);
  g_assert_cmpstr (json_object_get_string_member (block, "type"), ==, "tool_use");
  g_assert_cmpstr (json_object_get_string_member (block, "id"), ==, "call_mock1");
  g_assert_cmpstr (json_object_get_string_member (block, "name"), ==, "get_weather");
  g_assert_cmpstr (json_object_get_string_member (input, "city"), ==, "Paris");
  g_assert_cmpstr (json_object_get_string_member (input, "unit"), ==, "c");
  {
    g_autoptr (JsonObject) delta = event_data (a, "message_delta");

    g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (delta, "delta"), "stop_reason"), ==, "tool_use");
  }

  /* OpenAI client, Anthropic upstream. */
  g_assert_cmpuint (o->status, ==, 200);
  for (unsigned i = 0; i < o->events->len; i++)
    {
      LctlSseEvent *event = g_ptr_array_index (o->events, i);
      g_autoptr (JsonObject) chunk = NULL;
      JsonArray  *choices;
      JsonObject *choice, *delta;

      if (g_str_equal (event->data, "[DONE]"))
        {
          g_assert_cmpuint (i, ==, o->events->len - 1);
          continue;
        }
      chunk = parse_object (event->data);
      choices = json_object_get_array_member (chunk, "choices");
      if (json_array_get_length (choices) == 0)
        continue;
      choice = json_array_get_object_element (choices, 0);
      if (json_object_get_string_member_with_default (choice, "finish_reason", NULL) != NULL)
        finish = g_intern_string (json_object_get_string_member (choice, "finish_reason"));
      delta = json_object_get_object_member (choice, "delta");
      if (json_object_has_member (delta, "tool_calls"))
        {
          JsonObject *call = json_array_get_object_element (json_object_get_array_member (delta, "tool_calls"), 0);
          JsonObject *function = json_object_get_object_member (call, "function");

          g_assert_cmpint (json_object_get_int_member (call, "index"), ==, 0);
          if (json_object_has_member (call, "id"))
            {
              g_assert_null (tool_id);
              tool_id = g_intern_string (json_object_get_string_member (call, "id"));
              g_assert_cmpstr (json_object_get_string_member (function, "name"), ==, "get_weather");
            }
          if (json_object_has_member (function, "arguments"))
            g_string_append (openai_arguments, json_object_get_string_member (function, "arguments"));
        }
    }
  g_assert_cmpstr (tool_id, ==, "toolu_mock1");
  g_assert_cmpstr (openai_arguments->str, ==, "{\"city\":\"Paris\",\"unit\":\"c\"}");
  g_assert_cmpstr (finish, ==, "tool_calls");
}

static void
test_same_dialect_keeps_everything (Fixture      *fixture,
                                    gconstpointer data)
{
  const char *body = "{\"model\":\"an-think\",\"max_tokens\":2048,\"stream\":true,"
                     "\"thinking\":{\"type\":\"adaptive\"},\"output_config\":{\"effort\":\"high\"},"
                     "\"context_management\":{\"edits\":[{\"type\":\"clear_thinking_20251015\",\"keep\":\"all\"}]},"
                     "\"metadata\":{\"user_id\":\"{\\\"device_id\\\":\\\"d1\\\"}\"},"
                     "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
  g_autoptr (Response) response = post (fixture, "/v1/messages", body, FALSE);
  g_autofree char *signature = anthropic_stream_text (response, "signature_delta", "signature");
  g_autofree char *thinking = anthropic_stream_text (response, "thinking_delta", "thinking");
  LctlMockRequest *upstream = last_upstream_request (fixture);
  JsonObject      *sent = json_node_get_object (upstream->body);

  g_assert_cmpuint (response->status, ==, 200);
  g_assert_cmpstr (signature, ==, "sig-123");
  g_assert_cmpstr (thinking, ==, "Let me think.");

  g_assert_true (json_object_has_member (sent, "context_management"));
  g_assert_true (json_object_has_member (sent, "output_config"));
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (sent, "thinking"), "type"), ==, "adaptive");
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (sent, "metadata"), "user_id"), ==,
                   "{\"device_id\":\"d1\"}");
  g_assert_cmpstr (json_object_get_string_member (sent, "model"), ==, "think");
  g_assert_cmpstr (soup_message_headers_get_one (upstream->headers, "anthropic-beta"), ==, "interleaved-thinking-2025-05-14");
  g_assert_false (json_object_has_member (sent, "temperature"));
}

static void
test_errors_keep_meaning (Fixture      *fixture,
                          gconstpointer data)
{
  g_autofree char *anthropic = anthropic_body ("oa-429", FALSE);
  g_autofree char *openai = openai_body ("an-529", FALSE);
  g_autoptr (Response) a = post (fixture, "/v1/messages", anthropic, FALSE);
  g_autoptr (Response) o = post (fixture, "/v1/chat/completions", openai, FALSE);
  g_autoptr (Response) bad = post (fixture, "/v1/chat/completions", "{\"model\": [", FALSE);
  g_autoptr (Response) unknown = post (fixture, "/v1/messages", "{\"model\":\"gpt-17\",\"max_tokens\":5,\"messages\":[]}", FALSE);
  g_autoptr (JsonObject) a_error = parse_object (a->body);
  g_autoptr (JsonObject) o_error = parse_object (o->body);
  g_autoptr (JsonObject) bad_error = parse_object (bad->body);
  g_autoptr (JsonObject) unknown_error = parse_object (unknown->body);

  g_assert_cmpuint (a->status, ==, 429);
  g_assert_cmpstr (soup_message_headers_get_one (a->headers, "Retry-After"), ==, "7");
  g_assert_cmpstr (json_object_get_string_member (a_error, "type"), ==, "error");
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (a_error, "error"), "type"), ==, "rate_limit_error");

  g_assert_cmpuint (o->status, ==, 529);
  g_assert_nonnull (strstr (json_object_get_string_member (json_object_get_object_member (o_error, "error"), "message"), "verloaded"));

  g_assert_cmpuint (bad->status, ==, 400);
  g_assert_nonnull (json_object_get_object_member (bad_error, "error"));

  g_assert_cmpuint (unknown->status, ==, 404);
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (unknown_error, "error"), "type"), ==, "not_found_error");
}

static unsigned
attempts_in_signal (Fixture *fixture)
{
  GVariant *route = g_ptr_array_index (fixture->finished, fixture->finished->len - 1);
  g_autoptr (GVariant) attempts = g_variant_lookup_value (route, "attempts", G_VARIANT_TYPE ("aa{sv}"));

  g_assert_nonnull (attempts);
  return g_variant_n_children (attempts);
}

/* The seed's idea: the primary is rate-limited, the next two are down, the
 * third serves, and the client never knows. */
static void
test_fallback_chain (Fixture      *fixture,
                     gconstpointer data)
{
  for (unsigned pass = 0; pass < 2; pass++)
    {
      gboolean         anthropic = pass == 0;
      g_autofree char *body = anthropic ? anthropic_body ("oa-429", TRUE) : openai_body ("oa-429", TRUE);
      g_autoptr (Response) response = post (fixture, anthropic ? "/v1/messages" : "/v1/chat/completions", body, FALSE);
      const char *route = soup_message_headers_get_one (response->headers, "x-litellmctl-route");
      GVariant   *signal;
      const char *served = NULL;

      g_assert_cmpuint (response->status, ==, 200);
      g_assert_nonnull (strstr (response->body, anthropic ? "mock upstream." : "mock upstream."));
      g_assert_null (strstr (response->body, "error"));
      g_assert_cmpstr (soup_message_headers_get_one (response->headers, "x-litellm-model-group"), ==, "an-ok");
      g_assert_nonnull (route);
      /* Retry-After: 7 benched the primary after the first request: the
       * second goes straight down the chain. */
      if (pass == 0)
        g_assert_nonnull (strstr (route, "oa-429"));
      else
        g_assert_null (strstr (route, "oa-429"));
      g_assert_nonnull (strstr (route, "oa-500"));
      g_assert_nonnull (strstr (route, "an-reset"));
      g_assert_nonnull (strstr (route, "an-ok"));
      g_assert_cmpstr (soup_message_headers_get_one (response->headers, "x-litellmctl-attempts"), ==, pass == 0 ? "4" : "3");

      g_assert_cmpuint (attempts_in_signal (fixture), ==, pass == 0 ? 4 : 3);
      signal = g_ptr_array_index (fixture->finished, fixture->finished->len - 1);
      g_assert_true (g_variant_lookup (signal, "deployment", "&s", &served));
      g_assert_cmpstr (served, ==, "anthropic/ok");
    }
  /* In order, each once per request. */
  g_assert_cmpuint (lctl_mock_upstream_count (fixture->mock, "429"), ==, 1);
  g_assert_cmpuint (lctl_mock_upstream_count (fixture->mock, "500"), ==, 2);
  g_assert_cmpuint (lctl_mock_upstream_count (fixture->mock, "ok"), ==, 2);
}

static void
test_retry_after_capped (Fixture      *fixture,
                         gconstpointer data)
{
  g_autofree char      *body = openai_body ("an-429-absurd", FALSE);
  LctlConfig           *config = lctl_server_get_config (fixture->server);
  const LctlDeployment *deployment = lctl_config_find_deployment (config, "an-429-absurd");
  LctlDeploymentStatus  status;
  gint64                now = g_get_real_time () / G_USEC_PER_SEC;

  for (unsigned i = 0; i < 2; i++)
    {
      g_autoptr (Response) response = post (fixture, "/v1/chat/completions", body, FALSE);

      g_assert_cmpuint (response->status, ==, 429);
      /* What the client is told is capped as well. */
      g_assert_cmpint (atoi (soup_message_headers_get_one (response->headers, "Retry-After")), <=, 600000);
    }
  g_assert_true (lctl_router_get_deployment_status (fixture->router, config, deployment, &status));
  g_assert_true (status.cooling_down);
  /* max_cooldown_time is 1 s here: not 600000. */
  g_assert_cmpint (status.cooldown_until, <=, now + 2);

  /* Cooled down: the request does not reach the upstream. */
  {
    g_autoptr (Response) response = post (fixture, "/v1/chat/completions", body, FALSE);

    g_assert_cmpuint (response->status, >=, 400);
    g_assert_cmpuint (lctl_mock_upstream_count (fixture->mock, "429-absurd"), ==, 2);
  }

  g_usleep (1100 * 1000);
  g_assert_true (lctl_router_get_deployment_status (fixture->router, config, deployment, &status));
  g_assert_false (status.cooling_down);
  {
    g_autoptr (Response) response = post (fixture, "/v1/chat/completions", body, FALSE);

    g_assert_cmpuint (response->status, ==, 429);
    g_assert_cmpuint (lctl_mock_upstream_count (fixture->mock, "429-absurd"), ==, 3);
  }
}

static void
test_reset_mid_stream (Fixture      *fixture,
                       gconstpointer data)
{
  g_autofree char *anthropic = anthropic_body ("oa-reset-mid", TRUE);
  g_autofree char *openai = openai_body ("an-reset-mid", TRUE);
  g_autoptr (Response) a = post (fixture, "/v1/messages", anthropic, FALSE);
  g_autoptr (Response) o = post (fixture, "/v1/chat/completions", openai, FALSE);
  LctlSseEvent *error_event = find_event (a, "error");

  /* The first byte was out: no fallback, a well-formed error event, and a
   * closed stream (post() read to a clean end). */
  g_assert_cmpuint (a->status, ==, 200);
  g_assert_nonnull (strstr (a->body, "Hello "));
  g_assert_nonnull (error_event);
  {
    g_autoptr (JsonObject) data_object = parse_object (error_event->data);

    g_assert_cmpstr (json_object_get_string_member (data_object, "type"), ==, "error");
    g_assert_nonnull (json_object_get_object_member (data_object, "error"));
  }
  g_assert_cmpstr (event_name_at (a, -1), ==, "error");

  g_assert_cmpuint (o->status, ==, 200);
  g_assert_nonnull (strstr (o->body, "Hello "));
  g_assert_nonnull (strstr (o->body, "\"error\""));
  /* The same through the same-dialect path, whose events pass through. */
  {
    g_autofree char *same = anthropic_body ("an-reset-mid", TRUE);
    g_autoptr (Response) response = post (fixture, "/v1/messages", same, FALSE);

    g_assert_cmpuint (response->status, ==, 200);
    g_assert_nonnull (strstr (response->body, "Hello "));
    g_assert_cmpstr (event_name_at (response, -1), ==, "error");
  }
  g_assert_cmpuint (lctl_mock_upstream_count (fixture->mock, "ok"), ==, 0);
  g_assert_cmpuint (lctl_mock_upstream_count (fixture->mock, "reset-mid"), ==, 3);
}

static void
test_reset_before_first_byte (Fixture      *fixture,
                              gconstpointer data)
{
  g_autofree char *stream = anthropic_body ("oa-reset", TRUE);
  g_autofree char *plain = openai_body ("oa-reset", FALSE);
  g_autoptr (Response) a = post (fixture, "/v1/messages", stream, FALSE);
  g_autoptr (Response) o = post (fixture, "/v1/chat/completions", plain, FALSE);

  g_assert_cmpuint (a->status, ==, 200);
  g_assert_cmpstr (event_name_at (a, -1), ==, "message_stop");
  g_assert_cmpuint (o->status, ==, 200);
  g_assert_cmpstr (soup_message_headers_get_one (o->headers, "x-litellm-model-group"), ==, "an-ok");
  g_assert_cmpuint (lctl_mock_upstream_count (fixture->mock, "reset"), ==, 2);
}

static void
test_hang_and_slow_first_token (Fixture      *fixture,
                                gconstpointer data)
{
  g_autofree char *hang = anthropic_body ("oa-hang", TRUE);
  g_autofree char *slow = openai_body ("an-slow", TRUE);
  g_autoptr (Response) a = post (fixture, "/v1/messages", hang, FALSE);
  g_autoptr (Response) o = post (fixture, "/v1/chat/completions", slow, FALSE);

  /* stream_timeout is 0.8 s: well before the hang or the 1.5 s first token. */
  g_assert_cmpuint (a->status, ==, 200);
  g_assert_cmpstr (soup_message_headers_get_one (a->headers, "x-litellm-model-group"), ==, "an-ok");
  g_assert_cmpfloat (a->elapsed_ms, <, 1400);
  g_assert_cmpuint (o->status, ==, 200);
  g_assert_cmpstr (soup_message_headers_get_one (o->headers, "x-litellm-model-group"), ==, "an-ok");
  g_assert_cmpfloat (o->elapsed_ms, <, 1400);
}

static void
test_client_disconnect_cancels_upstream (Fixture      *fixture,
                                         gconstpointer data)
{
  g_autofree char *body = anthropic_body ("oa-ok", TRUE);
  g_autoptr (Response) response = post (fixture, "/v1/messages", body, TRUE);
  gint64 deadline = g_get_monotonic_time () + 2 * G_USEC_PER_SEC;

  while (lctl_mock_upstream_get_disconnects (fixture->mock) == 0 && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpuint (lctl_mock_upstream_get_disconnects (fixture->mock), ==, 1);
  g_assert_cmpuint (lctl_server_get_in_flight (fixture->server), ==, 0);
}

/* A silent upstream mid-stream gets the client keep-alive pings (every
 * 200 ms here), and the answer is still whole. */
static void
test_pings_through_silence (Fixture      *fixture,
                            gconstpointer data)
{
  g_autofree char *body = anthropic_body ("oa-pause-mid", TRUE);
  g_autoptr (Response) response = NULL;
  g_autofree char *text = NULL;
  unsigned         pings_after_text = 0;
  gboolean         seen_text = FALSE;

  lctl_proxy_set_ping_interval (fixture->proxy, 200);
  response = post (fixture, "/v1/messages", body, FALSE);
  text = anthropic_stream_text (response, "text_delta", "text");

  for (unsigned i = 0; i < response->events->len; i++)
    {
      LctlSseEvent *event = g_ptr_array_index (response->events, i);

      if (g_strcmp0 (event->event, "content_block_delta") == 0)
        seen_text = TRUE;
      else if (seen_text && g_strcmp0 (event->event, "ping") == 0)
        pings_after_text++;
    }
  g_assert_cmpstr (text, ==, "Hello from the mock upstream.");
  g_assert_cmpuint (pings_after_text, >=, 2);
  g_assert_cmpstr (event_name_at (response, -1), ==, "message_stop");
}

static void
test_mock_response_and_count_tokens (Fixture      *fixture,
                                     gconstpointer data)
{
  g_autoptr (Response) stream = post (fixture, "/v1/messages", "{\"model\":\"demo\",\"max_tokens\":10,\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", FALSE);
  g_autoptr (Response) plain = post (fixture, "/v1/chat/completions", "{\"model\":\"demo\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", FALSE);
  g_autofree char *counted_body = anthropic_body ("an-ok", FALSE);
  g_autoptr (Response) counted = post (fixture, "/v1/messages/count_tokens?beta=true", counted_body, FALSE);
  g_autofree char *text = anthropic_stream_text (stream, "text_delta", "text");
  g_autoptr (JsonObject) count = parse_object (counted->body);

  g_assert_cmpstr (text, ==, "Hi from the demo.");
  g_assert_nonnull (strstr (plain->body, "Hi from the demo."));
  g_assert_cmpuint (counted->status, ==, 200);
  g_assert_cmpint (json_object_get_int_member (count, "input_tokens"), >, 10);
  g_assert_cmpuint (lctl_mock_upstream_get_requests (fixture->mock)->len, ==, 0);
}

static void
test_context_window_fallback (Fixture      *fixture,
                              gconstpointer data)
{
  g_autofree char *body = anthropic_body ("oa-context", FALSE);
  g_autoptr (Response) response = post (fixture, "/v1/messages", body, FALSE);

  g_assert_cmpuint (response->status, ==, 200);
  g_assert_cmpstr (soup_message_headers_get_one (response->headers, "x-litellm-model-group"), ==, "an-think");
  /* Not the ordinary chain. */
  g_assert_cmpuint (lctl_mock_upstream_count (fixture->mock, "500"), ==, 0);
}

/* A deployment whose dialect this version does not speak yet (ChatGPT's
 * Responses backend) fails over instead of ending the request. */
static void
test_unsupported_upstream_falls_back (Fixture      *fixture,
                                      gconstpointer data)
{
  g_autofree char *body = anthropic_body ("codex", FALSE);
  g_autoptr (Response) response = post (fixture, "/v1/messages", body, FALSE);
  const char *route = soup_message_headers_get_one (response->headers, "x-litellmctl-route");

  g_assert_cmpuint (response->status, ==, 200);
  g_assert_cmpstr (soup_message_headers_get_one (response->headers, "x-litellm-model-group"), ==, "an-ok");
  g_assert_nonnull (strstr (route, "codex#"));
  /* Tried once despite num_retries: retrying what cannot work is pointless. */
  g_assert_null (strstr (strstr (route, "codex#") + 1, "codex#"));
}

static const char fallbacks[] =
    "  fallbacks:\n"
    "    - oa-429: [oa-500, an-reset, an-ok]\n"
    "    - oa-reset-mid: [oa-ok]\n"
    "    - an-reset-mid: [oa-ok]\n"
    "    - oa-reset: [an-ok]\n"
    "    - oa-hang: [an-ok]\n"
    "    - an-slow: [an-ok]\n"
    "    - oa-context: [oa-500]\n"
    "  context_window_fallbacks:\n"
    "    - oa-context: [an-think]\n";

static const char fallbacks_with_retries[] =
    "  num_retries: 2\n"
    "  fallbacks:\n"
    "    - codex: [an-ok]\n";

static const char cooldown[] =
    "  allowed_fails: 1\n"
    "  max_cooldown_time: 1\n";

int
main (int   argc,
      char *argv[])
{
  lctl_test_init (&argc, &argv);

#define ADD(path, func, settings) g_test_add (path, Fixture, settings, fixture_setup, func, fixture_teardown)
  ADD ("/proxy/anthropic-to-openai-stream", test_anthropic_to_openai_stream, NULL);
  ADD ("/proxy/openai-to-anthropic", test_openai_to_anthropic, NULL);
  ADD ("/proxy/tool-call-streams", test_tool_call_streams, NULL);
  ADD ("/proxy/same-dialect-keeps-everything", test_same_dialect_keeps_everything, NULL);
  ADD ("/proxy/errors-keep-meaning", test_errors_keep_meaning, NULL);
  ADD ("/proxy/mock-response-and-count-tokens", test_mock_response_and_count_tokens, NULL);
  ADD ("/proxy/fallback-chain", test_fallback_chain, fallbacks);
  ADD ("/proxy/context-window-fallback", test_context_window_fallback, fallbacks);
  ADD ("/proxy/retry-after-capped", test_retry_after_capped, cooldown);
  ADD ("/proxy/reset-mid-stream", test_reset_mid_stream, fallbacks);
  ADD ("/proxy/reset-before-first-byte", test_reset_before_first_byte, fallbacks);
  ADD ("/proxy/hang-and-slow-first-token", test_hang_and_slow_first_token, fallbacks);
  ADD ("/proxy/unsupported-upstream-falls-back", test_unsupported_upstream_falls_back, fallbacks_with_retries);
  ADD ("/proxy/pings-through-silence", test_pings_through_silence, NULL);
  ADD ("/proxy/client-disconnect-cancels-upstream", test_client_disconnect_cancels_upstream, NULL);
#undef ADD

  return g_test_run ();
}
