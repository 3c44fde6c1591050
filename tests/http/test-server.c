/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#include "config.h"

#include <json-glib/json-glib.h>

#include "lctl-server.h"
#include "lctl-test-utils.h"

typedef struct
{
  LctlServer  *server;
  SoupSession *session;
  char        *base;
} Fixture;

static const char base_config[] =
    "model_list:\n"
    "  - model_name: demo\n"
    "    litellm_params:\n"
    "      model: openai/demo\n"
    "      mock_response: hi\n"
    "  - model_name: zai/glm-4.5\n"
    "    litellm_params:\n"
    "      model: anthropic/glm-4.5\n"
    "      api_base: https://api.z.ai/api/anthropic\n"
    "  - model_name: claude-sonnet-4-5\n"
    "    litellm_params:\n"
    "      model: anthropic/claude-sonnet-4-5-20250929\n";

static void
fixture_set_config (Fixture    *fixture,
                    const char *extra)
{
  g_autofree char *yaml = g_strconcat (base_config, extra, NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (LctlConfig) config = lctl_config_load_from_data (yaml, -1, "test.yaml", &error);

  g_assert_no_error (error);
  lctl_server_set_config (fixture->server, config);
}

static void
fixture_setup (Fixture      *fixture,
               gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  fixture->server = lctl_server_new ();
  g_assert_true (lctl_server_listen (fixture->server, "127.0.0.1", 0, &error));
  g_assert_no_error (error);
  fixture->base = g_strdup (lctl_server_get_address (fixture->server));
  g_assert_true (g_str_has_prefix (fixture->base, "http://127.0.0.1:"));
  fixture->session = soup_session_new ();
  fixture_set_config (fixture, data);
}

static void
fixture_teardown (Fixture      *fixture,
                  gconstpointer data)
{
  g_clear_object (&fixture->session);
  g_clear_object (&fixture->server);
  g_free (fixture->base);
}

/* Sends a request and returns the parsed JSON body (the test fails if it is
 * not JSON: every answer of ours is). */
static JsonNode *
request (Fixture    *fixture,
         const char *method,
         const char *path,
         const char *header_name,
         const char *header_value,
         GBytes     *body,
         unsigned   *status)
{
  g_autofree char *url = g_strconcat (fixture->base, path, NULL);
  g_autoptr (SoupMessage) msg = soup_message_new (method, url);
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GBytes) response = NULL;
  g_autoptr (GError) error = NULL;
  const char *content_type;

  if (header_name != NULL)
    soup_message_headers_append (soup_message_get_request_headers (msg), header_name, header_value);
  if (body != NULL)
    soup_message_set_request_body_from_bytes (msg, "application/json", body);

  soup_session_send_and_read_async (fixture->session, msg, G_PRIORITY_DEFAULT, NULL,
                                    lctl_test_store_result, &result);
  lctl_test_wait_for_result (&result, 10000);
  response = soup_session_send_and_read_finish (fixture->session, result, &error);
  g_assert_no_error (error);

  *status = soup_message_get_status (msg);
  content_type = soup_message_headers_get_content_type (soup_message_get_response_headers (msg), NULL);
  g_assert_cmpstr (content_type, ==, "application/json");
  {
    gsize       size;
    const char *data = g_bytes_get_data (response, &size);
    g_autoptr (JsonParser) parser = json_parser_new ();

    json_parser_load_from_data (parser, data, size, &error);
    g_assert_no_error (error);
    return json_node_ref (json_parser_get_root (parser));
  }
}

static const char *
error_field (JsonNode   *root,
             const char *field)
{
  JsonObject *object = json_node_get_object (root);
  JsonObject *error = json_object_get_object_member (object, "error");

  g_assert_nonnull (error);
  return json_object_get_string_member (error, field);
}

static void
test_health (Fixture      *fixture,
             gconstpointer data)
{
  unsigned status;
  g_autoptr (JsonNode) root = request (fixture, "GET", "/health", NULL, NULL, NULL, &status);

  g_assert_cmpuint (status, ==, 200);
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (root), "status"), ==, "healthy");
}

static void
test_models (Fixture      *fixture,
             gconstpointer data)
{
  const char *paths[] = { "/v1/models", "/models" };

  for (gsize p = 0; p < G_N_ELEMENTS (paths); p++)
    {
      unsigned status;
      g_autoptr (JsonNode) root = request (fixture, "GET", paths[p], NULL, NULL, NULL, &status);
      JsonObject *object = json_node_get_object (root);
      JsonArray  *models = json_object_get_array_member (object, "data");
      const char *expected[] = { "demo", "zai/glm-4.5", "claude-sonnet-4-5" };

      g_assert_cmpuint (status, ==, 200);
      g_assert_cmpstr (json_object_get_string_member (object, "object"), ==, "list");
      g_assert_cmpuint (json_array_get_length (models), ==, G_N_ELEMENTS (expected));
      for (unsigned i = 0; i < G_N_ELEMENTS (expected); i++)
        {
          JsonObject *model = json_array_get_object_element (models, i);

          g_assert_cmpstr (json_object_get_string_member (model, "id"), ==, expected[i]);
          g_assert_cmpstr (json_object_get_string_member (model, "object"), ==, "model");
          g_assert_true (json_object_has_member (model, "created"));
          g_assert_true (json_object_has_member (model, "owned_by"));
        }
    }
}

static void
test_model (Fixture      *fixture,
            gconstpointer data)
{
  unsigned status;
  g_autoptr (JsonNode) found = request (fixture, "GET", "/v1/models/zai/glm-4.5", NULL, NULL, NULL, &status);
  g_autoptr (JsonNode) missing = NULL;

  g_assert_cmpuint (status, ==, 200);
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (found), "id"), ==, "zai/glm-4.5");
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (found), "owned_by"), ==, "anthropic");

  missing = request (fixture, "GET", "/v1/models/gpt-17", NULL, NULL, NULL, &status);
  g_assert_cmpuint (status, ==, 404);
  g_assert_cmpstr (error_field (missing, "code"), ==, "model_not_found");
  g_assert_nonnull (strstr (error_field (missing, "message"), "gpt-17"));
}

static void
test_not_found (Fixture      *fixture,
                gconstpointer data)
{
  unsigned status;
  g_autoptr (JsonNode) root = request (fixture, "GET", "/v2/nothing", NULL, NULL, NULL, &status);
  g_autoptr (JsonNode) wrong_method = NULL;

  g_assert_cmpuint (status, ==, 404);
  g_assert_nonnull (error_field (root, "message"));

  wrong_method = request (fixture, "DELETE", "/v1/models", NULL, NULL, NULL, &status);
  g_assert_cmpuint (status, ==, 404);
}

static void
test_master_key (Fixture      *fixture,
                 gconstpointer data)
{
  unsigned status;
  g_autoptr (JsonNode) none = request (fixture, "GET", "/v1/models", NULL, NULL, NULL, &status);
  g_autoptr (JsonNode) wrong = NULL;
  g_autoptr (JsonNode) prefix = NULL;
  g_autoptr (JsonNode) bearer = NULL;
  g_autoptr (JsonNode) api_key = NULL;
  g_autoptr (JsonNode) health = NULL;
  g_autoptr (JsonNode) anthropic = NULL;
  g_autoptr (GBytes) body = g_bytes_new_static ("{}", 2);

  g_assert_cmpuint (status, ==, 401);
  g_assert_nonnull (error_field (none, "message"));
  g_assert_cmpstr (error_field (none, "type"), ==, "invalid_api_key");

  wrong = request (fixture, "GET", "/v1/models", "Authorization", "Bearer sk-wrong-key", NULL, &status);
  g_assert_cmpuint (status, ==, 401);
  /* A prefix of the key is not the key. */
  prefix = request (fixture, "GET", "/v1/models", "Authorization", "Bearer sk-test", NULL, &status);
  g_assert_cmpuint (status, ==, 401);

  bearer = request (fixture, "GET", "/v1/models", "Authorization", "Bearer sk-test-master", NULL, &status);
  g_assert_cmpuint (status, ==, 200);
  api_key = request (fixture, "GET", "/v1/models", "x-api-key", "sk-test-master", NULL, &status);
  g_assert_cmpuint (status, ==, 200);

  health = request (fixture, "GET", "/health", NULL, NULL, NULL, &status);
  g_assert_cmpuint (status, ==, 200);

  /* Anthropic clients get an Anthropic error object. */
  anthropic = request (fixture, "POST", "/v1/messages?beta=true", NULL, NULL, body, &status);
  g_assert_cmpuint (status, ==, 401);
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (anthropic), "type"), ==, "error");
  g_assert_cmpstr (error_field (anthropic, "type"), ==, "authentication_error");
}

static void
test_body_limit (Fixture      *fixture,
                 gconstpointer data)
{
  gsize            size = 2 * 1024 * 1024;
  g_autofree char *big = g_malloc (size);
  g_autoptr (GBytes) body = NULL;
  unsigned status;
  g_autoptr (JsonNode) root = NULL;
  g_autoptr (JsonNode) small = NULL;

  memset (big, ' ', size);
  big[0] = '{';
  big[size - 1] = '}';
  body = g_bytes_new_take (g_steal_pointer (&big), size);

  root = request (fixture, "POST", "/v1/chat/completions", NULL, NULL, body, &status);
  g_assert_cmpuint (status, ==, 413);
  g_assert_nonnull (strstr (error_field (root, "message"), "limit"));

  /* Chunked, so no Content-Length announces the size. */
  {
    g_autofree char *url = g_strconcat (fixture->base, "/v1/messages", NULL);
    g_autoptr (SoupMessage) msg = soup_message_new ("POST", url);
    g_autoptr (GInputStream) stream = g_memory_input_stream_new_from_bytes (body);
    g_autoptr (GAsyncResult) result = NULL;
    g_autoptr (GBytes) response = NULL;
    g_autoptr (GError) error = NULL;

    soup_message_set_request_body (msg, "application/json", stream, -1);
    g_assert_cmpint (soup_message_headers_get_encoding (soup_message_get_request_headers (msg)), ==, SOUP_ENCODING_CHUNKED);
    soup_session_send_and_read_async (fixture->session, msg, G_PRIORITY_DEFAULT, NULL, lctl_test_store_result, &result);
    lctl_test_wait_for_result (&result, 10000);
    response = soup_session_send_and_read_finish (fixture->session, result, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (soup_message_get_status (msg), ==, 413);
    /* In the Anthropic dialect, for an Anthropic endpoint. */
    g_assert_nonnull (strstr (g_bytes_get_data (response, NULL), "\"type\":\"error\""));
  }

  /* The server is still fine afterwards. */
  small = request (fixture, "GET", "/v1/models", NULL, NULL, NULL, &status);
  g_assert_cmpuint (status, ==, 200);
}

static void
test_loopback (void)
{
  g_assert_true (lctl_host_is_loopback ("127.0.0.1"));
  g_assert_true (lctl_host_is_loopback ("127.1.2.3"));
  g_assert_true (lctl_host_is_loopback ("::1"));
  g_assert_true (lctl_host_is_loopback ("localhost"));
  g_assert_false (lctl_host_is_loopback ("0.0.0.0"));
  g_assert_false (lctl_host_is_loopback ("::"));
  g_assert_false (lctl_host_is_loopback ("192.168.1.10"));
}

static void
test_snapshot_swap (Fixture      *fixture,
                    gconstpointer data)
{
  unsigned status;
  g_autoptr (JsonNode) before = request (fixture, "GET", "/v1/models", NULL, NULL, NULL, &status);
  g_autoptr (JsonNode) after = NULL;
  g_autoptr (LctlConfig) config = NULL;
  g_autoptr (GError) error = NULL;

  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (json_node_get_object (before), "data")), ==, 3);

  config = lctl_config_load_from_data ("model_list:\n"
                                       "  - model_name: only\n"
                                       "    litellm_params:\n"
                                       "      model: openai/only\n",
                                       -1, "new.yaml", &error);
  g_assert_no_error (error);
  lctl_server_set_config (fixture->server, config);
  after = request (fixture, "GET", "/v1/models", NULL, NULL, NULL, &status);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (json_node_get_object (after), "data")), ==, 1);
}

int
main (int   argc,
      char *argv[])
{
  lctl_test_init (&argc, &argv);

  g_test_add ("/server/health", Fixture, "", fixture_setup, test_health, fixture_teardown);
  g_test_add ("/server/models", Fixture, "", fixture_setup, test_models, fixture_teardown);
  g_test_add ("/server/model", Fixture, "", fixture_setup, test_model, fixture_teardown);
  g_test_add ("/server/not-found", Fixture, "", fixture_setup, test_not_found, fixture_teardown);
  g_test_add ("/server/master-key", Fixture,
              "general_settings:\n  master_key: sk-test-master\n",
              fixture_setup, test_master_key, fixture_teardown);
  g_test_add ("/server/body-limit", Fixture,
              "general_settings:\n  max_request_size_mb: 1\n",
              fixture_setup, test_body_limit, fixture_teardown);
  g_test_add ("/server/snapshot-swap", Fixture, "", fixture_setup, test_snapshot_swap, fixture_teardown);
  g_test_add_func ("/server/loopback", test_loopback);

  return g_test_run ();
}
