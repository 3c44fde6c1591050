/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#include "config.h"

#include <json-glib/json-glib.h>
#include <stdlib.h>

#include "lctl-dbus-generated.h"
#include "lctl-mock-upstream.h"
#include "lctl-sse.h"
#include "lctl-test-utils.h"

/* Acceptance of the router (issue 4) against the real daemon: activated on
 * a private session bus, serving the seed's own config.yaml whose upstreams
 * point at a mock in this process, driven over HTTP like a coding agent
 * would, and watched over D-Bus and the CLI like a user would. */

#define PRIMARY_MODEL  "claude-sonnet-4-5-20250929"
#define SERVING_MODEL  "qwen3-coder-plus"
#define MASTER_KEY     "sk-test-acceptance-master"
#define ANTHROPIC_KEY  "sk-ant-api03-test-acceptance"
#define DASHSCOPE_KEY  "sk-test-acceptance-dashscope"
#define MOCK_TEXT      "Hello from the mock upstream."
#define REQUEST_BUDGET 15000

typedef struct
{
  char  *model;
  char  *deployment;
  char  *state;
  gint64 until;
  gint64 received_real_us;
} StateChange;

typedef struct
{
  LctlMockUpstream *mock;
  GTestDBus        *bus;
  GDBusConnection  *connection;
  LctlDBusManager  *manager;
  SoupSession      *session;
  char             *address;
  GPtrArray        *finished; /* (element-type GVariant) RequestFinished routes */
  GPtrArray        *changes;  /* (element-type StateChange) */
} Fixture;

typedef struct
{
  unsigned            status;
  SoupMessageHeaders *headers;
  char               *body;
  GPtrArray          *events; /* (element-type LctlSseEvent) when streamed */
  double              elapsed_ms;
  GError             *read_error;
} Response;

static void
response_free (Response *response)
{
  g_clear_pointer (&response->headers, soup_message_headers_unref);
  g_free (response->body);
  g_clear_pointer (&response->events, g_ptr_array_unref);
  g_clear_error (&response->read_error);
  g_free (response);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Response, response_free)

static void
state_change_free (StateChange *change)
{
  g_free (change->model);
  g_free (change->deployment);
  g_free (change->state);
  g_free (change);
}

/* -------------------------------------------------------------------- */
/* The seed's configuration, pointed at the mock                         */

static char *
replace_all (const char *text,
             const char *pattern,
             const char *replacement,
             unsigned    expected)
{
  g_autoptr (GRegex) regex = g_regex_new (pattern, G_REGEX_MULTILINE, 0, NULL);
  g_autoptr (GMatchInfo) match = NULL;
  unsigned count = 0;

  g_assert_nonnull (regex);
  g_regex_match (regex, text, 0, &match);
  while (g_match_info_matches (match))
    {
      count++;
      g_match_info_next (match, NULL);
    }
  /* The fixture is the seed's file: if it changes, this test must notice. */
  if (expected > 0)
    g_assert_cmpuint (count, ==, expected);
  else
    g_assert_cmpuint (count, >, 0);
  return g_regex_replace_literal (regex, text, -1, 0, replacement, 0, NULL);
}

/* The seed's config.yaml, unchanged but for where it sends requests and
 * how long it waits, plus @router_extra under router_settings. */
static char *
seed_config_for_mock (const char *mock_base,
                      const char *router_extra)
{
  g_autofree char *path = lctl_test_source_path ("fixtures", "seed-config.yaml", NULL);
  g_autofree char *seed = NULL;
  g_autofree char *bases = NULL;
  g_autofree char *retry = NULL;
  g_autofree char *api_base = g_strdup_printf ("api_base: %s", mock_base);
  g_autofree char *settings = g_strdup_printf ("router_settings:\n%s", router_extra != NULL ? router_extra : "");
  g_autoptr (GError) error = NULL;

  g_file_get_contents (path, &seed, NULL, &error);
  g_assert_no_error (error);

  /* Every Anthropic-compatible endpoint (Z.AI, DashScope, MiniMax) is the
   * mock; the Claude deployments have no api_base and follow
   * ANTHROPIC_API_BASE, set to the mock as well. */
  bases = replace_all (seed, "api_base: https://\\S+", api_base, 0);
  /* The seed waits 5 s before retrying the same deployment; the test
   * would spend that per retry for nothing, so it waits 0. */
  retry = replace_all (bases, "^  retry_after: 5$", "  retry_after: 0", 1);
  return replace_all (retry, "^router_settings:\n", settings, 1);
}

/* -------------------------------------------------------------------- */
/* Fixture                                                               */

static void
request_finished_cb (LctlDBusManager *manager,
                     GVariant        *route,
                     gpointer         user_data)
{
  Fixture *fixture = user_data;

  g_ptr_array_add (fixture->finished, g_variant_ref (route));
}

static void
deployment_state_changed_cb (LctlDBusManager *manager,
                             const char      *model,
                             const char      *deployment,
                             const char      *state,
                             gint64           until,
                             gpointer         user_data)
{
  Fixture     *fixture = user_data;
  StateChange *change = g_new0 (StateChange, 1);

  change->model = g_strdup (model);
  change->deployment = g_strdup (deployment);
  change->state = g_strdup (state);
  change->until = until;
  change->received_real_us = g_get_real_time ();
  g_ptr_array_add (fixture->changes, change);
  if (g_test_verbose ())
    g_printerr ("DeploymentStateChanged %s %s %s %" G_GINT64_FORMAT "\n", model, deployment, state, until);
}

static void
set_closed_base (const char *variable,
                 const char *path)
{
  g_autofree char *base = g_strdup_printf ("http://127.0.0.1:%u%s", lctl_test_free_port (), path);

  g_setenv (variable, base, TRUE);
}

static void
fixture_setup (Fixture      *fixture,
               gconstpointer data)
{
  const char      *router_extra = data;
  g_autofree char *config_path = g_build_filename (g_get_user_config_dir (), "acceptance", "config.yaml", NULL);
  g_autofree char *config = NULL;
  g_autoptr (GVariant) status = NULL;
  g_autoptr (GError) error = NULL;
  const char *address = NULL;

  fixture->mock = lctl_mock_upstream_new ();
  fixture->finished = g_ptr_array_new_with_free_func ((GDestroyNotify) g_variant_unref);
  fixture->changes = g_ptr_array_new_with_free_func ((GDestroyNotify) state_change_free);

  /* The seed's chain for claude-sonnet-4-5: the primary is rate-limited,
   * kimi-code and qwen-cli have no login (and their hosts refuse
   * connections), DashScope's Anthropic endpoint serves. */
  lctl_mock_upstream_set_behaviour (fixture->mock, PRIMARY_MODEL, "429");
  lctl_mock_upstream_set_behaviour (fixture->mock, SERVING_MODEL, "ok");

  config = seed_config_for_mock (lctl_mock_upstream_get_base (fixture->mock), router_extra);
  lctl_test_write_file (config_path, config);
  if (g_test_verbose ())
    g_printerr ("%s", config);

  /* The activated daemon inherits this environment. */
  g_setenv ("LITELLMCTL_CONFIG", config_path, TRUE);
  g_setenv ("LITELLMCTL_PORT", "0", TRUE);
  g_setenv ("LITELLM_MASTER_KEY", MASTER_KEY, TRUE);
  g_setenv ("ANTHROPIC_API_KEY", ANTHROPIC_KEY, TRUE);
  g_setenv ("ANTHROPIC_API_BASE", lctl_mock_upstream_get_base (fixture->mock), TRUE);
  g_setenv ("DASHSCOPE_API_KEY", DASHSCOPE_KEY, TRUE);
  g_setenv ("ZAI_API_KEY", "sk-test-acceptance-zai", TRUE);
  g_setenv ("MINIMAX_API_KEY", "sk-test-acceptance-minimax", TRUE);
  /* Nothing may reach the internet: every OAuth provider's host is a port
   * nobody listens on. */
  set_closed_base ("KIMI_CODE_API_BASE", "/coding/v1");
  set_closed_base ("QWEN_PORTAL_API_BASE", "/v1");
  set_closed_base ("CHATGPT_API_BASE", "/backend-api/codex");
  set_closed_base ("GEMINI_CLI_API_BASE", "/v1internal");
  fixture->bus = lctl_test_dbus_up ();

  fixture->connection = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, &error);
  g_assert_no_error (error);
  fixture->manager = lctl_dbus_manager_proxy_new_sync (fixture->connection, G_DBUS_PROXY_FLAGS_NONE, APP_ID,
                                                       OBJECT_PATH, NULL, &error);
  g_assert_no_error (error);
  /* Activates the daemon. */
  g_assert_true (lctl_dbus_manager_call_get_status_sync (fixture->manager, &status, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (g_variant_lookup (status, "address", "&s", &address));
  g_assert_true (g_str_has_prefix (address, "http://127.0.0.1:"));
  fixture->address = g_strdup (address);
  {
    const char *config_error = NULL;

    g_assert_true (g_variant_lookup (status, "config-error", "&s", &config_error));
    g_assert_cmpstr (config_error, ==, "");
  }

  /* A proxy made now that the name has an owner: its signals arrive. */
  g_clear_object (&fixture->manager);
  fixture->manager = lctl_dbus_manager_proxy_new_sync (fixture->connection, G_DBUS_PROXY_FLAGS_NONE, APP_ID,
                                                       OBJECT_PATH, NULL, &error);
  g_assert_no_error (error);
  g_signal_connect (fixture->manager, "request-finished", G_CALLBACK (request_finished_cb), fixture);
  g_signal_connect (fixture->manager, "deployment-state-changed", G_CALLBACK (deployment_state_changed_cb), fixture);

  {
    g_autoptr (GProxyResolver) resolver = g_simple_proxy_resolver_new (NULL, NULL);

    fixture->session = soup_session_new_with_options ("proxy-resolver", resolver, "timeout", 30, NULL);
  }
}

static void
fixture_teardown (Fixture      *fixture,
                  gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  g_clear_object (&fixture->session);
  g_assert_true (lctl_dbus_manager_call_quit_sync (fixture->manager, NULL, &error));
  g_assert_no_error (error);
  for (;;)
    {
      g_autofree char *owner = g_dbus_proxy_get_name_owner (G_DBUS_PROXY (fixture->manager));

      if (owner == NULL)
        break;
      g_main_context_iteration (NULL, TRUE);
    }
  g_clear_object (&fixture->manager);
  g_clear_object (&fixture->connection);
  g_test_dbus_down (fixture->bus);
  g_clear_object (&fixture->bus);

  g_clear_pointer (&fixture->mock, lctl_mock_upstream_free);
  g_clear_pointer (&fixture->finished, g_ptr_array_unref);
  g_clear_pointer (&fixture->changes, g_ptr_array_unref);
  g_free (fixture->address);
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

/* -------------------------------------------------------------------- */
/* Client                                                                */

typedef struct
{
  GInputStream *stream;
  GString      *body;
  gboolean      done;
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
  g_input_stream_read_bytes_async (state->stream, 4096, G_PRIORITY_DEFAULT, NULL, read_cb, state);
}

/* POSTs @body to the daemon and reads the answer to its end, iterating the
 * main loop so that the mock (in this process) can answer the daemon. */
static Response *
post (Fixture    *fixture,
      const char *path,
      const char *body)
{
  g_autofree char *url = g_strconcat (fixture->address, path, NULL);
  g_autoptr (SoupMessage) msg = soup_message_new ("POST", url);
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GInputStream) stream = NULL;
  SoupMessageHeaders *request_headers = soup_message_get_request_headers (msg);
  ReadState           state = { 0 };
  Response           *response = g_new0 (Response, 1);
  gint64              start = g_get_monotonic_time ();

  /* As Claude Code sends it: the master key as a Bearer token. */
  soup_message_headers_append (request_headers, "Authorization", "Bearer " MASTER_KEY);
  soup_message_headers_append (request_headers, "anthropic-version", "2023-06-01");
  soup_message_set_request_body_from_bytes (msg, "application/json", g_bytes_new_static (body, strlen (body)));

  soup_session_send_async (fixture->session, msg, G_PRIORITY_DEFAULT, NULL, lctl_test_store_result, &result);
  lctl_test_wait_for_result (&result, REQUEST_BUDGET);
  stream = soup_session_send_finish (fixture->session, result, &error);
  g_assert_no_error (error);

  state.stream = stream;
  state.body = g_string_new (NULL);
  g_input_stream_read_bytes_async (stream, 4096, G_PRIORITY_DEFAULT, NULL, read_cb, &state);
  lctl_test_wait_for (&state.done, REQUEST_BUDGET);

  response->status = soup_message_get_status (msg);
  response->headers = soup_message_headers_ref (soup_message_get_response_headers (msg));
  response->body = g_string_free (state.body, FALSE);
  response->read_error = state.error;
  response->elapsed_ms = (g_get_monotonic_time () - start) / 1000.0;
  if (g_strcmp0 (soup_message_headers_get_content_type (response->headers, NULL), "text/event-stream") == 0)
    {
      g_autoptr (LctlSseParser) parser = lctl_sse_parser_new ();

      response->events = lctl_sse_event_array_new ();
      lctl_sse_parser_feed (parser, response->body, strlen (response->body), response->events);
      lctl_sse_parser_finish (parser, response->events);
    }
  if (g_test_verbose ())
    {
      g_printerr ("POST %s → %u in %.0f ms\n", path, response->status, response->elapsed_ms);
      g_printerr ("  x-litellmctl-route: %s\n", soup_message_headers_get_one (response->headers, "x-litellmctl-route"));
      g_printerr ("%s\n", response->body);
    }
  return response;
}

static char *
anthropic_body (const char *model,
                gboolean    stream)
{
  return g_strdup_printf ("{\"model\":\"%s\",\"max_tokens\":1024,\"stream\":%s,"
                          "\"system\":[{\"type\":\"text\",\"text\":\"Be brief.\"}],"
                          "\"messages\":[{\"role\":\"user\",\"content\":\"Say hello.\"}]}",
                          model, stream ? "true" : "false");
}

static char *
openai_body (const char *model,
             gboolean    stream)
{
  return g_strdup_printf ("{\"model\":\"%s\",\"stream\":%s,%s"
                          "\"messages\":[{\"role\":\"system\",\"content\":\"Be brief.\"},"
                          "{\"role\":\"user\",\"content\":\"Say hello.\"}]}",
                          model, stream ? "true" : "false",
                          stream ? "\"stream_options\":{\"include_usage\":true}," : "");
}

static JsonNode *
parse_json (const char *text)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;

  if (!json_parser_load_from_data (parser, text, -1, &error))
    g_error ("not JSON (%s): %s", error->message, text);
  return json_node_copy (json_parser_get_root (parser));
}

static JsonObject *
parse_object (const char *text)
{
  g_autoptr (JsonNode) root = parse_json (text);

  g_assert_true (JSON_NODE_HOLDS_OBJECT (root));
  return json_object_ref (json_node_get_object (root));
}

/* Asserts a complete Anthropic stream without error: message_start first,
 * message_stop last, well-formed JSON in every event. Returns the text. */
static char *
assert_anthropic_stream_ok (Response *response)
{
  GString      *text = g_string_new (NULL);
  LctlSseEvent *first, *last;

  g_assert_nonnull (response->events);
  g_assert_cmpuint (response->events->len, >=, 4);
  first = g_ptr_array_index (response->events, 0);
  last = g_ptr_array_index (response->events, response->events->len - 1);
  g_assert_cmpstr (first->event, ==, "message_start");
  g_assert_cmpstr (last->event, ==, "message_stop");
  for (unsigned i = 0; i < response->events->len; i++)
    {
      LctlSseEvent *event = g_ptr_array_index (response->events, i);
      g_autoptr (JsonObject) data = parse_object (event->data);

      g_assert_cmpstr (event->event, !=, "error");
      g_assert_cmpstr (json_object_get_string_member (data, "type"), ==, event->event);
      if (g_str_equal (event->event, "content_block_delta"))
        {
          JsonObject *delta = json_object_get_object_member (data, "delta");

          if (g_str_equal (json_object_get_string_member (delta, "type"), "text_delta"))
            g_string_append (text, json_object_get_string_member (delta, "text"));
        }
    }
  return g_string_free (text, FALSE);
}

/* The same for a Chat Completions stream: chunks, then [DONE]. */
static char *
assert_openai_stream_ok (Response *response)
{
  GString      *text = g_string_new (NULL);
  LctlSseEvent *last;
  gboolean      finished = FALSE;

  g_assert_nonnull (response->events);
  g_assert_cmpuint (response->events->len, >=, 3);
  last = g_ptr_array_index (response->events, response->events->len - 1);
  g_assert_cmpstr (last->data, ==, "[DONE]");
  for (unsigned i = 0; i + 1 < response->events->len; i++)
    {
      LctlSseEvent *event = g_ptr_array_index (response->events, i);
      g_autoptr (JsonObject) chunk = parse_object (event->data);
      JsonArray *choices;

      g_assert_false (json_object_has_member (chunk, "error"));
      g_assert_cmpstr (json_object_get_string_member (chunk, "object"), ==, "chat.completion.chunk");
      choices = json_object_get_array_member (chunk, "choices");
      for (unsigned c = 0; c < json_array_get_length (choices); c++)
        {
          JsonObject *choice = json_array_get_object_element (choices, c);
          JsonObject *delta = json_object_get_object_member (choice, "delta");

          if (json_object_has_member (delta, "content") && !json_object_get_null_member (delta, "content"))
            g_string_append (text, json_object_get_string_member (delta, "content"));
          if (json_object_has_member (choice, "finish_reason") && !json_object_get_null_member (choice, "finish_reason"))
            {
              g_assert_cmpstr (json_object_get_string_member (choice, "finish_reason"), ==, "stop");
              finished = TRUE;
            }
        }
    }
  g_assert_true (finished);
  return g_string_free (text, FALSE);
}

/* The answer's text, whatever the dialect and mode; asserts it is whole. */
static char *
assert_answer_ok (Response *response,
                  gboolean  anthropic,
                  gboolean  stream)
{
  g_autoptr (JsonObject) body = NULL;

  g_assert_cmpuint (response->status, ==, 200);
  /* The body ended cleanly (no truncated chunked encoding). */
  g_assert_no_error (response->read_error);
  if (stream)
    return anthropic ? assert_anthropic_stream_ok (response) : assert_openai_stream_ok (response);

  g_assert_null (response->events);
  body = parse_object (response->body);
  g_assert_false (json_object_has_member (body, "error"));
  if (anthropic)
    {
      JsonObject *block = json_array_get_object_element (json_object_get_array_member (body, "content"), 0);

      g_assert_cmpstr (json_object_get_string_member (body, "type"), ==, "message");
      g_assert_cmpstr (json_object_get_string_member (body, "stop_reason"), ==, "end_turn");
      g_assert_cmpstr (json_object_get_string_member (block, "type"), ==, "text");
      return g_strdup (json_object_get_string_member (block, "text"));
    }
  else
    {
      JsonObject *choice = json_array_get_object_element (json_object_get_array_member (body, "choices"), 0);

      g_assert_cmpstr (json_object_get_string_member (body, "object"), ==, "chat.completion");
      g_assert_cmpstr (json_object_get_string_member (choice, "finish_reason"), ==, "stop");
      return g_strdup (json_object_get_string_member (json_object_get_object_member (choice, "message"), "content"));
    }
}

/* -------------------------------------------------------------------- */
/* Daemon side                                                           */

/* D-Bus signals arrive through the main context; so do the mock's
 * requests. */
static void
iterate (void)
{
  if (!g_main_context_iteration (NULL, FALSE))
    g_usleep (1000);
}

static GVariant *
wait_for_finished (Fixture *fixture,
                   unsigned count)
{
  gint64    deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  GVariant *route;

  while (fixture->finished->len < count && g_get_monotonic_time () < deadline)
    iterate ();
  g_assert_cmpuint (fixture->finished->len, ==, count);
  route = g_ptr_array_index (fixture->finished, count - 1);
  if (g_test_verbose ())
    {
      g_autofree char *printed = g_variant_print (route, TRUE);

      g_printerr ("RequestFinished %s\n", printed);
    }
  return route;
}

static const StateChange *
find_change (Fixture    *fixture,
             unsigned    from,
             const char *model,
             const char *state)
{
  for (unsigned i = from; i < fixture->changes->len; i++)
    {
      const StateChange *change = g_ptr_array_index (fixture->changes, i);

      if (g_str_equal (change->model, model) && g_str_equal (change->state, state))
        return change;
    }
  return NULL;
}

static const StateChange *
wait_for_change (Fixture    *fixture,
                 unsigned    from,
                 const char *model,
                 const char *state,
                 unsigned    timeout_ms)
{
  gint64             deadline = g_get_monotonic_time () + timeout_ms * (G_USEC_PER_SEC / 1000);
  const StateChange *change;

  while ((change = find_change (fixture, from, model, state)) == NULL && g_get_monotonic_time () < deadline)
    iterate ();
  if (change == NULL)
    g_error ("no DeploymentStateChanged(%s, %s) within %u ms", model, state, timeout_ms);
  return change;
}

/* The ListModels entry of the deployment serving group @name. */
static GVariant *
list_models_entry (Fixture    *fixture,
                   const char *name)
{
  g_autoptr (GVariant) models = NULL;
  g_autoptr (GError) error = NULL;

  g_assert_true (lctl_dbus_manager_call_list_models_sync (fixture->manager, &models, NULL, &error));
  g_assert_no_error (error);
  for (gsize i = 0; i < g_variant_n_children (models); i++)
    {
      g_autoptr (GVariant) model = g_variant_get_child_value (models, i);
      const char *model_name = NULL;

      g_assert_true (g_variant_lookup (model, "name", "&s", &model_name));
      if (g_str_equal (model_name, name))
        return g_steal_pointer (&model);
    }
  g_error ("ListModels has no %s", name);
}

/* `litellmctl models --json`'s entry for group @name. */
static JsonObject *
cli_models_entry (const char *name)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr (JsonNode) root = NULL;
  JsonArray *models;

  g_assert_cmpint (lctl_test_run_cli (&out, &err, "models", "--json", NULL), ==, 0);
  root = parse_json (out);
  models = json_node_get_array (root);
  for (unsigned i = 0; i < json_array_get_length (models); i++)
    {
      JsonObject *model = json_array_get_object_element (models, i);

      if (g_str_equal (json_object_get_string_member (model, "name"), name))
        return json_object_ref (model);
    }
  g_error ("litellmctl models --json has no %s:\n%s", name, out);
}

static void
reset_cooldowns (Fixture *fixture)
{
  g_autoptr (GError) error = NULL;

  g_assert_true (lctl_dbus_manager_call_reset_cooldowns_sync (fixture->manager, "", NULL, &error));
  g_assert_no_error (error);
}

static const char *
lookup_s (GVariant   *dict,
          const char *key)
{
  const char *value = NULL;

  if (!g_variant_lookup (dict, key, "&s", &value))
    g_error ("no “%s” in %s", key, g_variant_print (dict, TRUE));
  return value;
}

static LctlMockRequest *
last_request_for (Fixture    *fixture,
                  const char *model)
{
  GPtrArray *requests = lctl_mock_upstream_get_requests (fixture->mock);

  for (unsigned i = requests->len; i > 0; i--)
    {
      LctlMockRequest *request = g_ptr_array_index (requests, i - 1);

      if (g_str_equal (request->model, model))
        return request;
    }
  g_error ("the mock never saw %s", model);
}

/* -------------------------------------------------------------------- */
/* 1. The seed's fallback chain                                          */

/* Splits "a#0=429, b#5=401, c#9=200" into groups and statuses. */
static void
parse_route (const char *route,
             GStrv      *groups,
             GStrv      *statuses)
{
  g_auto (GStrv) parts = g_strsplit (route, ", ", -1);
  g_autoptr (GStrvBuilder) group_builder = g_strv_builder_new ();
  g_autoptr (GStrvBuilder) status_builder = g_strv_builder_new ();

  for (char **p = parts; *p != NULL; p++)
    {
      const char      *hash = strrchr (*p, '#');
      const char      *equals = strrchr (*p, '=');
      g_autofree char *group = NULL;

      g_assert_nonnull (hash);
      g_assert_nonnull (equals);
      group = g_strndup (*p, hash - *p);
      g_strv_builder_add (group_builder, group);
      g_strv_builder_add (status_builder, equals + 1);
    }
  *groups = g_strv_builder_end (group_builder);
  *statuses = g_strv_builder_end (status_builder);
}

/* One request for claude-sonnet-4-5 down the whole chain. */
static void
check_chain (Fixture *fixture,
             gboolean anthropic,
             gboolean stream)
{
  static const char *const chain[] = {
    "claude-sonnet-4-5",
    "kimi-code/kimi-for-coding",
    "qwen-cli/qwen3-coder-plus",
    "dashscope/qwen3-coder-plus",
  };
  static const char *const deployments[] = {
    "anthropic/" PRIMARY_MODEL,
    "kimi_code/kimi-for-coding",
    "qwen_portal/qwen3-coder-plus",
    "anthropic/" SERVING_MODEL,
  };
  g_autofree char *body = anthropic ? anthropic_body ("claude-sonnet-4-5", stream) : openai_body ("claude-sonnet-4-5", stream);
  unsigned         primary_before = lctl_mock_upstream_count (fixture->mock, PRIMARY_MODEL);
  unsigned         serving_before = lctl_mock_upstream_count (fixture->mock, SERVING_MODEL);
  unsigned         finished_before = fixture->finished->len;
  g_autoptr (Response) response = NULL;
  g_autofree char *text = NULL;
  const char      *route;
  g_auto (GStrv) route_groups = NULL;
  g_auto (GStrv) route_statuses = NULL;
  GVariant *signal;
  g_autoptr (GVariant) attempts = NULL;
  gboolean         signal_stream = !stream;
  guint32          signal_status = 0;
  LctlMockRequest *upstream;

  if (g_test_verbose ())
    g_printerr ("--- %s, %s\n", anthropic ? "Anthropic" : "OpenAI", stream ? "streaming" : "not streaming");

  /* Each variant starts from a healthy chain: the previous one benched the
   * primary (Retry-After: 7). */
  reset_cooldowns (fixture);
  response = post (fixture, anthropic ? "/v1/messages" : "/v1/chat/completions", body);

  /* No error visible to the client. */
  text = assert_answer_ok (response, anthropic, stream);
  g_assert_cmpstr (text, ==, MOCK_TEXT);

  /* The headers name the route. */
  g_assert_cmpstr (soup_message_headers_get_one (response->headers, "x-litellm-model-group"), ==, "dashscope/qwen3-coder-plus");
  g_assert_cmpstr (soup_message_headers_get_one (response->headers, "x-litellmctl-deployment"), ==, "anthropic/" SERVING_MODEL);
  g_assert_cmpstr (soup_message_headers_get_one (response->headers, "x-litellmctl-attempts"), ==, "4");
  route = soup_message_headers_get_one (response->headers, "x-litellmctl-route");
  g_assert_nonnull (route);
  parse_route (route, &route_groups, &route_statuses);
  g_assert_cmpuint (g_strv_length (route_groups), ==, G_N_ELEMENTS (chain));
  for (gsize i = 0; i < G_N_ELEMENTS (chain); i++)
    g_assert_cmpstr (route_groups[i], ==, chain[i]);
  g_assert_cmpstr (route_statuses[0], ==, "429");
  /* Down: no login ("needs login" is a 401), or no connection. */
  for (gsize i = 1; i <= 2; i++)
    g_assert_true (g_str_equal (route_statuses[i], "401") || g_str_equal (route_statuses[i], "conn"));
  g_assert_cmpstr (route_statuses[3], ==, "200");

  /* So does the D-Bus signal, attempt by attempt. */
  signal = wait_for_finished (fixture, finished_before + 1);
  g_assert_cmpstr (lookup_s (signal, "requested-model"), ==, "claude-sonnet-4-5");
  g_assert_cmpstr (lookup_s (signal, "model"), ==, "dashscope/qwen3-coder-plus");
  g_assert_cmpstr (lookup_s (signal, "deployment"), ==, "anthropic/" SERVING_MODEL);
  g_assert_cmpstr (lookup_s (signal, "client-dialect"), ==, anthropic ? "anthropic" : "openai-chat");
  g_assert_true (g_variant_lookup (signal, "status", "u", &signal_status));
  g_assert_cmpuint (signal_status, ==, 200);
  g_assert_true (g_variant_lookup (signal, "stream", "b", &signal_stream));
  g_assert_cmpint (signal_stream, ==, stream);
  attempts = g_variant_lookup_value (signal, "attempts", G_VARIANT_TYPE ("aa{sv}"));
  g_assert_nonnull (attempts);
  g_assert_cmpuint (g_variant_n_children (attempts), ==, G_N_ELEMENTS (chain));
  for (gsize i = 0; i < G_N_ELEMENTS (chain); i++)
    {
      g_autoptr (GVariant) attempt = g_variant_get_child_value (attempts, i);
      guint32 status = 0;

      g_assert_cmpstr (lookup_s (attempt, "model"), ==, chain[i]);
      g_assert_cmpstr (lookup_s (attempt, "deployment"), ==, deployments[i]);
      g_assert_true (g_variant_lookup (attempt, "status", "u", &status));
      if (i == 0)
        g_assert_cmpuint (status, ==, 429);
      else if (i < 3)
        {
          g_assert_true (status == 401 || status == 0);
          /* Without a login the user is told how to get one. */
          if (status == 401)
            g_assert_nonnull (strstr (lookup_s (attempt, "error"), "litellmctl auth"));
        }
      else
        g_assert_cmpuint (status, ==, 200);
      /* Failures say why; the success says nothing. */
      if (i < 3)
        g_assert_cmpstr (lookup_s (attempt, "error"), !=, "");
      else
        g_assert_cmpstr (lookup_s (attempt, "error"), ==, "");
    }

  /* What the upstreams saw: the primary once, with the Anthropic key; the
   * third with DashScope's key, streaming as the client asked. */
  g_assert_cmpuint (lctl_mock_upstream_count (fixture->mock, PRIMARY_MODEL), ==, primary_before + 1);
  g_assert_cmpuint (lctl_mock_upstream_count (fixture->mock, SERVING_MODEL), ==, serving_before + 1);
  g_assert_cmpuint (lctl_mock_upstream_count (fixture->mock, "kimi-for-coding"), ==, 0);
  upstream = last_request_for (fixture, PRIMARY_MODEL);
  g_assert_cmpstr (upstream->path, ==, "/v1/messages");
  g_assert_cmpstr (soup_message_headers_get_one (upstream->headers, "x-api-key"), ==, ANTHROPIC_KEY);
  upstream = last_request_for (fixture, SERVING_MODEL);
  g_assert_cmpstr (upstream->path, ==, "/v1/messages");
  g_assert_cmpstr (soup_message_headers_get_one (upstream->headers, "x-api-key"), ==, DASHSCOPE_KEY);
  /* The client's master key never goes upstream. */
  g_assert_null (soup_message_headers_get_one (upstream->headers, "Authorization"));
  g_assert_cmpint (json_object_get_boolean_member_with_default (json_node_get_object (upstream->body), "stream", FALSE), ==, stream);
}

static void
test_seed_chain (Fixture      *fixture,
                 gconstpointer data)
{
  unsigned primary_before;

  check_chain (fixture, TRUE, TRUE);
  check_chain (fixture, FALSE, TRUE);
  check_chain (fixture, TRUE, FALSE);
  check_chain (fixture, FALSE, FALSE);

  /* Without a reset the primary is benched (its Retry-After: 7 exceeds
   * cooldown_time): the next request goes straight down the chain, and is
   * still served. */
  primary_before = lctl_mock_upstream_count (fixture->mock, PRIMARY_MODEL);
  {
    g_autofree char *body = anthropic_body ("claude-sonnet-4-5", TRUE);
    g_autoptr (Response) response = post (fixture, "/v1/messages", body);
    g_autofree char *text = assert_answer_ok (response, TRUE, TRUE);
    const char      *route = soup_message_headers_get_one (response->headers, "x-litellmctl-route");

    g_assert_cmpstr (text, ==, MOCK_TEXT);
    g_assert_cmpstr (soup_message_headers_get_one (response->headers, "x-litellmctl-deployment"), ==, "anthropic/" SERVING_MODEL);
    g_assert_false (g_str_has_prefix (route, "claude-sonnet-4-5#"));
  }
  g_assert_cmpuint (lctl_mock_upstream_count (fixture->mock, PRIMARY_MODEL), ==, primary_before);
}

/* -------------------------------------------------------------------- */
/* 2. Retry-After: 600000 is capped by max_cooldown_time                 */

/* Small, but long enough for the checks made while it cools (CLI calls
 * under ASan take a while). */
#define MAX_COOLDOWN_S 3

static void
assert_cooling (Fixture *fixture,
                gint64   not_before_s,
                gint64   not_after_s)
{
  g_autoptr (GVariant) entry = list_models_entry (fixture, "claude-sonnet-4-5");
  g_autoptr (JsonObject) cli_entry = cli_models_entry ("claude-sonnet-4-5");
  gint64 until = 0;

  g_assert_cmpstr (lookup_s (entry, "state"), ==, "cooldown");
  g_assert_true (g_variant_lookup (entry, "cooldown-until", "x", &until));
  g_assert_cmpint (until, >=, not_before_s);
  g_assert_cmpint (until, <=, not_after_s);

  g_assert_cmpstr (json_object_get_string_member (cli_entry, "state"), ==, "cooldown");
  g_assert_cmpint (json_object_get_int_member (cli_entry, "cooldown-until"), ==, until);
}

static void
assert_ok (Fixture *fixture)
{
  g_autoptr (GVariant) entry = list_models_entry (fixture, "claude-sonnet-4-5");
  g_autoptr (JsonObject) cli_entry = cli_models_entry ("claude-sonnet-4-5");
  gint64 until = -1;

  g_assert_cmpstr (lookup_s (entry, "state"), ==, "ok");
  g_assert_true (g_variant_lookup (entry, "cooldown-until", "x", &until));
  g_assert_cmpint (until, ==, 0);
  g_assert_cmpstr (json_object_get_string_member (cli_entry, "state"), ==, "ok");
}

/* Sends one request for claude-sonnet-4-5 (served by the chain) and
 * returns the window [not_before, not_after] of Unix seconds in which a
 * cooldown of MAX_COOLDOWN_S started then must end. */
static void
rate_limit_primary (Fixture *fixture,
                    gint64  *not_before_s,
                    gint64  *not_after_s)
{
  g_autofree char *body = anthropic_body ("claude-sonnet-4-5", TRUE);
  gint64           before_us = g_get_real_time ();
  g_autoptr (Response) response = post (fixture, "/v1/messages", body);
  gint64           after_us = g_get_real_time ();
  g_autofree char *text = assert_answer_ok (response, TRUE, TRUE);

  g_assert_cmpstr (text, ==, MOCK_TEXT);
  *not_before_s = before_us / G_USEC_PER_SEC + MAX_COOLDOWN_S;
  /* The daemon rounds the end up to a whole second. */
  *not_after_s = (after_us + G_USEC_PER_SEC - 1) / G_USEC_PER_SEC + MAX_COOLDOWN_S;
}

static void
test_retry_after_capped (Fixture      *fixture,
                         gconstpointer data)
{
  gint64             not_before, not_after;
  const StateChange *cooling, *back;
  unsigned           changes_before;

  lctl_mock_upstream_set_behaviour (fixture->mock, PRIMARY_MODEL, "429-absurd");

  /* 429 with Retry-After: 600000 (a spent weekly quota): benched, but for
   * max_cooldown_time, not for a week. */
  changes_before = fixture->changes->len;
  rate_limit_primary (fixture, &not_before, &not_after);
  g_assert_cmpuint (lctl_mock_upstream_count (fixture->mock, PRIMARY_MODEL), ==, 1);
  assert_cooling (fixture, not_before, not_after);
  cooling = wait_for_change (fixture, changes_before, "claude-sonnet-4-5", "cooldown", 2000);
  g_assert_cmpstr (cooling->deployment, ==, "anthropic/" PRIMARY_MODEL);
  g_assert_cmpint (cooling->until, >=, not_before);
  g_assert_cmpint (cooling->until, <=, not_after);

  /* While it cools, requests do not reach it and are still served. */
  {
    g_autofree char *body = openai_body ("claude-sonnet-4-5", FALSE);
    g_autoptr (Response) response = post (fixture, "/v1/chat/completions", body);
    g_autofree char *text = assert_answer_ok (response, FALSE, FALSE);

    g_assert_cmpstr (text, ==, MOCK_TEXT);
    g_assert_cmpuint (lctl_mock_upstream_count (fixture->mock, PRIMARY_MODEL), ==, 1);
  }

  /* 4. `litellmctl cooldowns` and `status` show it while it cools. */
  {
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;

    g_assert_cmpint (lctl_test_run_cli (&out, &err, "cooldowns", NULL), ==, 0);
    g_assert_nonnull (strstr (out, "claude-sonnet-4-5"));
    g_assert_nonnull (strstr (out, PRIMARY_MODEL));
    g_assert_null (strstr (out, "No deployment is cooling down"));
    g_clear_pointer (&out, g_free);
    g_clear_pointer (&err, g_free);

    g_assert_cmpint (lctl_test_run_cli (&out, &err, "status", NULL), ==, 0);
    /* kimi-code and qwen-cli may be cooling down too (no login, twice). */
    g_assert_true (g_regex_match_simple ("^  Health: +[0-9]+ ok, [0-9]+ failing, [1-9][0-9]* cooling down$", out,
                                         G_REGEX_MULTILINE, 0));
    {
      g_auto (GStrv) lines = g_strsplit (out, "\n", -1);
      gboolean listed = FALSE;

      for (char **line = lines; *line != NULL; line++)
        if (strstr (*line, "claude-sonnet-4-5") != NULL && strstr (*line, "cooling down until") != NULL)
          listed = TRUE;
      g_assert_true (listed);
    }
  }

  /* The cooldown ends by itself, announced on D-Bus, without any request. */
  {
    gint64 until = cooling->until;
    gint64 left_ms = until * 1000 - g_get_real_time () / 1000;

    /* On time: not before it was due (the end is rounded up to a second),
     * and within a second or so after. */
    back = wait_for_change (fixture, changes_before, "claude-sonnet-4-5", "ok", MAX (left_ms, 0) + 1500);
    g_assert_cmpint (back->until, ==, 0);
    g_assert_cmpint (back->received_real_us, >=, (until - 1) * G_USEC_PER_SEC);
  }
  assert_ok (fixture);
  {
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;

    g_assert_cmpint (lctl_test_run_cli (&out, &err, "cooldowns", NULL), ==, 0);
    g_assert_nonnull (strstr (out, "No deployment is cooling down"));
  }

  /* Back in rotation: the next request reaches the primary again (which
   * is still rate-limited, and benched again). */
  changes_before = fixture->changes->len;
  rate_limit_primary (fixture, &not_before, &not_after);
  g_assert_cmpuint (lctl_mock_upstream_count (fixture->mock, PRIMARY_MODEL), ==, 2);
  assert_cooling (fixture, not_before, not_after);
  wait_for_change (fixture, changes_before, "claude-sonnet-4-5", "cooldown", 2000);

  /* `litellmctl cooldowns reset` puts it back at once. */
  changes_before = fixture->changes->len;
  {
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;

    g_assert_cmpint (lctl_test_run_cli (&out, &err, "cooldowns", "reset", NULL), ==, 0);
    g_assert_nonnull (strstr (out, "cleared"));
  }
  assert_ok (fixture);
  wait_for_change (fixture, changes_before, "claude-sonnet-4-5", "ok", 2000);

  /* Healthy again, it serves alone. */
  lctl_mock_upstream_set_behaviour (fixture->mock, PRIMARY_MODEL, "ok");
  {
    g_autofree char *body = anthropic_body ("claude-sonnet-4-5", FALSE);
    g_autoptr (Response) response = post (fixture, "/v1/messages", body);
    g_autofree char *text = assert_answer_ok (response, TRUE, FALSE);

    g_assert_cmpstr (text, ==, MOCK_TEXT);
    g_assert_cmpstr (soup_message_headers_get_one (response->headers, "x-litellmctl-deployment"), ==, "anthropic/" PRIMARY_MODEL);
    g_assert_cmpstr (soup_message_headers_get_one (response->headers, "x-litellmctl-attempts"), ==, "1");
  }
  {
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;

    g_assert_cmpint (lctl_test_run_cli (&out, &err, "status", NULL), ==, 0);
    g_assert_true (g_regex_match_simple ("^  Health: +32 ok, 0 failing, 0 cooling down$", out, G_REGEX_MULTILINE, 0));
  }
}

/* -------------------------------------------------------------------- */
/* 3. A reset mid-stream                                                 */

static void
test_reset_mid_stream (Fixture      *fixture,
                       gconstpointer data)
{
  lctl_mock_upstream_set_behaviour (fixture->mock, PRIMARY_MODEL, "reset-mid");

  /* Anthropic client: the text so far, then an error event, then the end. */
  {
    g_autofree char *body = anthropic_body ("claude-sonnet-4-5", TRUE);
    g_autoptr (Response) response = post (fixture, "/v1/messages", body);
    LctlSseEvent *last;
    g_autoptr (JsonObject) error_data = NULL;
    JsonObject *error_object;
    GVariant   *signal;

    g_assert_cmpuint (response->status, ==, 200);
    /* The client's read ended cleanly, and soon: not a hang. */
    g_assert_no_error (response->read_error);
    g_assert_cmpfloat (response->elapsed_ms, <, 5000);
    g_assert_nonnull (response->events);
    g_assert_cmpstr (((LctlSseEvent *) g_ptr_array_index (response->events, 0))->event, ==, "message_start");
    g_assert_nonnull (strstr (response->body, "Hello "));
    last = g_ptr_array_index (response->events, response->events->len - 1);
    g_assert_cmpstr (last->event, ==, "error");
    error_data = parse_object (last->data);
    g_assert_cmpstr (json_object_get_string_member (error_data, "type"), ==, "error");
    error_object = json_object_get_object_member (error_data, "error");
    g_assert_nonnull (error_object);
    g_assert_nonnull (json_object_get_string_member (error_object, "type"));
    g_assert_nonnull (json_object_get_string_member (error_object, "message"));
    for (unsigned i = 0; i + 1 < response->events->len; i++)
      {
        LctlSseEvent *event = g_ptr_array_index (response->events, i);
        g_autoptr (JsonObject) event_data = parse_object (event->data);

        g_assert_cmpstr (event->event, !=, "error");
        g_assert_cmpstr (event->event, !=, "message_stop");
      }

    /* No fallback after the first byte. */
    g_assert_cmpuint (lctl_mock_upstream_count (fixture->mock, SERVING_MODEL), ==, 0);
    g_assert_cmpstr (soup_message_headers_get_one (response->headers, "x-litellmctl-attempts"), ==, "1");
    signal = wait_for_finished (fixture, 1);
    g_assert_cmpstr (lookup_s (signal, "deployment"), ==, "anthropic/" PRIMARY_MODEL);
    {
      g_autoptr (GVariant) attempts = g_variant_lookup_value (signal, "attempts", G_VARIANT_TYPE ("aa{sv}"));
      g_autoptr (GVariant) attempt = NULL;

      g_assert_cmpuint (g_variant_n_children (attempts), ==, 1);
      attempt = g_variant_get_child_value (attempts, 0);
      /* The signal tells what the client saw: the stream broke. */
      g_assert_cmpstr (lookup_s (attempt, "error"), !=, "");
    }
    /* And the router counts it against the deployment's health. */
    {
      g_autoptr (GVariant) entry = list_models_entry (fixture, "claude-sonnet-4-5");
      guint32 fails = 0;

      g_assert_true (g_variant_lookup (entry, "fails", "u", &fails));
      g_assert_cmpuint (fails, ==, 1);
      g_assert_cmpstr (lookup_s (entry, "last-error"), !=, "");
    }
  }

  /* OpenAI client, same upstream: the chunks so far, then an error chunk,
   * then the end. */
  reset_cooldowns (fixture);
  {
    g_autofree char *body = openai_body ("claude-sonnet-4-5", TRUE);
    g_autoptr (Response) response = post (fixture, "/v1/chat/completions", body);
    LctlSseEvent *last;
    g_autoptr (JsonObject) chunk = NULL;
    JsonObject *error_object;

    g_assert_cmpuint (response->status, ==, 200);
    g_assert_no_error (response->read_error);
    g_assert_cmpfloat (response->elapsed_ms, <, 5000);
    g_assert_nonnull (response->events);
    g_assert_nonnull (strstr (response->body, "Hello "));
    last = g_ptr_array_index (response->events, response->events->len - 1);
    chunk = parse_object (last->data);
    error_object = json_object_get_object_member (chunk, "error");
    g_assert_nonnull (error_object);
    g_assert_nonnull (json_object_get_string_member (error_object, "message"));
    g_assert_null (strstr (response->body, "[DONE]"));
    g_assert_cmpuint (lctl_mock_upstream_count (fixture->mock, SERVING_MODEL), ==, 0);
  }
  g_assert_cmpuint (lctl_mock_upstream_count (fixture->mock, PRIMARY_MODEL), ==, 2);
}

int
main (int   argc,
      char *argv[])
{
  lctl_test_init (&argc, &argv);

#define ADD(path, func, settings) g_test_add (path, Fixture, settings, fixture_setup, func, fixture_teardown)
  ADD ("/router-acceptance/seed-chain", test_seed_chain, NULL);
  /* cooldown_time (default 5 s) below max_cooldown_time, so that only the
   * capped Retry-After decides how long the primary is benched. */
  ADD ("/router-acceptance/retry-after-capped", test_retry_after_capped,
       "  max_cooldown_time: " G_STRINGIFY (MAX_COOLDOWN_S) "\n"
                                                            "  cooldown_time: 1\n");
  ADD ("/router-acceptance/reset-mid-stream", test_reset_mid_stream, NULL);
#undef ADD

  return g_test_run ();
}
