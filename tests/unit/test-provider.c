/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#include "config.h"

#include "lctl-provider.h"
#include "lctl-test-utils.h"
#include "lctl-tool-names.h"

static LctlConfig *
load (const char *yaml)
{
  g_autoptr (GError) error = NULL;
  LctlConfig *config = lctl_config_load_from_data (yaml, -1, "providers.yaml", &error);

  g_assert_no_error (error);
  return config;
}

static char *
url_for (LctlConfig      *config,
         const char      *model_name,
         const LctlToken *token,
         gboolean         stream)
{
  const LctlDeployment *deployment = lctl_config_find_deployment (config, model_name);
  const LctlProvider   *provider;

  g_assert_nonnull (deployment);
  provider = lctl_provider_lookup (deployment->provider);
  g_assert_nonnull (provider);
  return lctl_provider_build_url (provider, deployment, token, deployment->upstream_model, stream);
}

static void
test_urls (void)
{
  g_autoptr (LctlConfig) config = load ("model_list:\n"
                                        "  - model_name: claude\n"
                                        "    litellm_params: {model: anthropic/claude-sonnet-4-5}\n"
                                        "  - model_name: zai\n"
                                        "    litellm_params: {model: anthropic/glm-4.5, api_base: 'https://api.z.ai/api/anthropic/'}\n"
                                        "  - model_name: v1\n"
                                        "    litellm_params: {model: anthropic/m, api_base: 'http://127.0.0.1:9/v1'}\n"
                                        "  - model_name: full\n"
                                        "    litellm_params: {model: anthropic/m, api_base: 'http://127.0.0.1:9/v1/messages'}\n"
                                        "  - model_name: oai\n"
                                        "    litellm_params: {model: openai/gpt, api_base: 'http://127.0.0.1:9/v1'}\n"
                                        "  - model_name: groq\n"
                                        "    litellm_params: {model: groq/llama}\n"
                                        "  - model_name: qwen\n"
                                        "    litellm_params: {model: qwen_portal/qwen3-coder-plus}\n"
                                        "  - model_name: kimi\n"
                                        "    litellm_params: {model: kimi_code/kimi-for-coding}\n");
  g_autoptr (LctlToken) bare = lctl_token_new ("qwen_portal", "t");
  g_autoptr (LctlToken) schemed = lctl_token_new ("qwen_portal", "t");
  struct
  {
    const char      *model;
    const LctlToken *token;
    const char      *expected;
  } cases[] = {
    { "claude", NULL, "https://api.anthropic.com/v1/messages" },
    { "zai", NULL, "https://api.z.ai/api/anthropic/v1/messages" },
    { "v1", NULL, "http://127.0.0.1:9/v1/messages" },
    { "full", NULL, "http://127.0.0.1:9/v1/messages" },
    { "oai", NULL, "http://127.0.0.1:9/v1/chat/completions" },
    { "groq", NULL, "https://api.groq.com/openai/v1/chat/completions" },
    { "qwen", NULL, "https://chat.qwen.ai/api/v1/chat/completions" },
    { "qwen", bare, "https://portal.qwen.ai/v1/chat/completions" },
    { "qwen", schemed, "http://127.0.0.1:9/v1/chat/completions" },
    { "kimi", NULL, "https://api.kimi.com/coding/v1/chat/completions" },
  };

  bare->resource_url = g_strdup ("portal.qwen.ai");
  schemed->resource_url = g_strdup ("http://127.0.0.1:9/v1/");
  g_unsetenv ("QWEN_PORTAL_API_BASE");
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *url = url_for (config, cases[i].model, cases[i].token, FALSE);

      g_assert_cmpstr (url, ==, cases[i].expected);
    }

  /* The environment overrides the token's host, the deployment overrides both. */
  g_setenv ("QWEN_PORTAL_API_BASE", "http://127.0.0.1:8/v1", TRUE);
  {
    g_autofree char *url = url_for (config, "qwen", bare, FALSE);

    g_assert_cmpstr (url, ==, "http://127.0.0.1:8/v1/chat/completions");
  }
  g_unsetenv ("QWEN_PORTAL_API_BASE");
  g_assert_null (lctl_provider_lookup ("no_such_provider"));
}

static SoupMessageHeaders *
headers_for (LctlConfig         *config,
             const char         *model_name,
             SoupMessageHeaders *client)
{
  const LctlDeployment *deployment = lctl_config_find_deployment (config, model_name);
  SoupMessageHeaders   *headers = soup_message_headers_new (SOUP_MESSAGE_HEADERS_REQUEST);

  lctl_provider_add_headers (lctl_provider_lookup (deployment->provider), deployment, NULL, client, headers, TRUE);
  return headers;
}

static void
test_anthropic_headers (void)
{
  g_autoptr (LctlConfig) config = load ("model_list:\n"
                                        "  - model_name: key\n"
                                        "    litellm_params: {model: anthropic/m, api_key: sk-ant-api03-x}\n"
                                        "  - model_name: oauth\n"
                                        "    litellm_params: {model: anthropic/m, api_key: sk-ant-oat01-y}\n"
                                        "  - model_name: extra\n"
                                        "    litellm_params:\n"
                                        "      model: openai/m\n"
                                        "      api_key: sk-o\n"
                                        "      extra_headers: {X-Team: core}\n");
  g_autoptr (SoupMessageHeaders) client = soup_message_headers_new (SOUP_MESSAGE_HEADERS_REQUEST);
  g_autoptr (SoupMessageHeaders) key = NULL;
  g_autoptr (SoupMessageHeaders) oauth = NULL;
  g_autoptr (SoupMessageHeaders) extra = NULL;

  soup_message_headers_append (client, "anthropic-version", "2026-10-21");
  soup_message_headers_append (client, "anthropic-beta", "interleaved-thinking-2025-05-14");
  soup_message_headers_append (client, "Authorization", "Bearer sk-client-master");
  soup_message_headers_append (client, "Connection", "keep-alive");

  key = headers_for (config, "key", client);
  g_assert_cmpstr (soup_message_headers_get_one (key, "x-api-key"), ==, "sk-ant-api03-x");
  g_assert_null (soup_message_headers_get_one (key, "Authorization"));
  g_assert_cmpstr (soup_message_headers_get_one (key, "anthropic-version"), ==, "2026-10-21");
  g_assert_cmpstr (soup_message_headers_get_one (key, "anthropic-beta"), ==, "interleaved-thinking-2025-05-14");
  g_assert_null (soup_message_headers_get_one (key, "Connection"));
  g_assert_cmpstr (soup_message_headers_get_one (key, "Accept"), ==, "text/event-stream");

  /* A Claude OAuth token goes as Bearer with the OAuth beta beside the
   * client's. */
  oauth = headers_for (config, "oauth", client);
  g_assert_cmpstr (soup_message_headers_get_one (oauth, "Authorization"), ==, "Bearer sk-ant-oat01-y");
  g_assert_null (soup_message_headers_get_one (oauth, "x-api-key"));
  g_assert_cmpstr (soup_message_headers_get_one (oauth, "anthropic-beta"), ==,
                   "interleaved-thinking-2025-05-14,oauth-2025-04-20");

  /* Without a client version, the one every Anthropic-compatible API takes. */
  extra = headers_for (config, "extra", NULL);
  g_assert_cmpstr (soup_message_headers_get_one (extra, "Authorization"), ==, "Bearer sk-o");
  g_assert_cmpstr (soup_message_headers_get_one (extra, "X-Team"), ==, "core");
}

static void
test_tool_names (void)
{
  g_autoptr (LctlIrRequest) request = lctl_ir_request_new (LCTL_DIALECT_OPENAI_CHAT);
  g_autoptr (LctlToolNames) names = NULL;
  const char *const client_names[] = { "Bash", "repo.search files", "repo_search_files", "9lives", "__x__" };
  const char *const upstream_names[] = { "Bash", "repo_search_files_2", "repo_search_files", "t_9lives", "x" };
  g_autoptr (LctlIrEvent) event = lctl_ir_event_new (LCTL_IR_EVENT_PART_START);

  g_autofree char *sanitized = lctl_tool_name_sanitize ("a..b  c!");

  g_assert_cmpstr (sanitized, ==, "a_b_c");

  for (gsize i = 0; i < G_N_ELEMENTS (client_names); i++)
    {
      LctlIrTool *tool = lctl_ir_tool_new ();

      tool->name = g_strdup (client_names[i]);
      g_ptr_array_add (request->tools, tool);
    }
  request->tool_choice.mode = LCTL_IR_TOOL_CHOICE_TOOL;
  request->tool_choice.name = g_strdup ("repo.search files");

  names = lctl_tool_names_sanitize_request (request);
  /* Valid names keep themselves; a sanitised one never takes a real name. */
  for (gsize i = 0; i < G_N_ELEMENTS (client_names); i++)
    {
      LctlIrTool *tool = g_ptr_array_index (request->tools, i);

      g_assert_cmpstr (tool->name, ==, upstream_names[i]);
      g_assert_cmpstr (lctl_tool_names_to_client (names, upstream_names[i]), ==, client_names[i]);
    }
  g_assert_cmpstr (request->tool_choice.name, ==, "repo_search_files_2");

  /* A streamed tool call comes back under the client's name. */
  event->part = lctl_ir_part_new (LCTL_IR_PART_TOOL_CALL);
  event->part->name = g_strdup ("t_9lives");
  lctl_tool_names_restore_event (names, event);
  g_assert_cmpstr (event->part->name, ==, "9lives");
}

int
main (int   argc,
      char *argv[])
{
  lctl_test_init (&argc, &argv);

  g_test_add_func ("/provider/urls", test_urls);
  g_test_add_func ("/provider/anthropic-headers", test_anthropic_headers);
  g_test_add_func ("/provider/tool-names", test_tool_names);

  return g_test_run ();
}
