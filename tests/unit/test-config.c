/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#include "config.h"

#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#include "lctl-config.h"
#include "lctl-error.h"
#include "lctl-test-utils.h"

static const char *tmpdir;

/* The variables the seed config refers to; each test starts without them so
 * the process environment of one test does not leak into the next. */
static void
unset_seed_variables (void)
{
  static const char *const names[] = {
    "LITELLM_MASTER_KEY",
    "ANTHROPIC_API_KEY",
    "ZAI_API_KEY",
    "DASHSCOPE_API_KEY",
    "MINIMAX_API_KEY",
    "GOOGLE_AI_API_KEY",
    "CHATGPT_TOKEN_DIR",
    "CHATGPT_AUTH_FILE",
    "GEMINI_CLI_TOKEN_DIR",
    "GEMINI_CLI_AUTH_FILE",
    "QWEN_PORTAL_TOKEN_DIR",
    "QWEN_PORTAL_AUTH_FILE",
    "KIMI_CODE_TOKEN_DIR",
    "KIMI_CODE_AUTH_FILE",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (names); i++)
    g_unsetenv (names[i]);
}

static gboolean
warnings_contain (LctlConfig *config,
                  const char *needle)
{
  for (gsize i = 0; config->warnings[i] != NULL; i++)
    if (strstr (config->warnings[i], needle) != NULL)
      return TRUE;
  return FALSE;
}

static const char *
warning_with (LctlConfig *config,
              const char *needle)
{
  for (gsize i = 0; config->warnings[i] != NULL; i++)
    if (strstr (config->warnings[i], needle) != NULL)
      return config->warnings[i];
  return NULL;
}

static LctlConfig *
load_string (const char *yaml)
{
  g_autoptr (GError) error = NULL;
  LctlConfig *config = lctl_config_load_from_data (yaml, -1, "test.yaml", &error);

  g_assert_no_error (error);
  g_assert_nonnull (config);
  return config;
}

static LctlConfig *
load_seed (void)
{
  g_autofree char *path = lctl_test_source_path ("fixtures", "seed-config.yaml", NULL);
  g_autoptr (GError) error = NULL;
  LctlConfig *config = lctl_config_load (path, &error);

  g_assert_no_error (error);
  g_assert_nonnull (config);
  return config;
}

static void
assert_chain (LctlConfig        *config,
              const char        *group,
              const char *const *expected)
{
  const LctlFallback *fallback = lctl_config_find_fallback (config->router.fallbacks, group);

  g_assert_nonnull (fallback);
  g_assert_cmpstr (fallback->model_name, ==, group);
  g_assert_cmpstrv (fallback->chain, expected);
}

static void
test_seed (void)
{
  g_autoptr (LctlConfig) config = NULL;
  const LctlDeployment    *deployment;
  JsonObject              *thinking;
  JsonArray               *input;
  unsigned                 codex = 0;
  static const char *const opus_chain[] = {
    "kimi-code/kimi-for-coding", "dashscope/qwen3.5-plus", "minimax/MiniMax-M2.5-highspeed",
    "codex/gpt-5.3-codex", "zai/glm-5", NULL
  };
  static const char *const sonnet_chain[] = {
    "kimi-code/kimi-for-coding", "qwen-cli/qwen3-coder-plus", "dashscope/qwen3-coder-plus",
    "codex/gpt-5.3-codex-spark", "minimax/MiniMax-M2.5-highspeed", "zai/glm-4.5-air", NULL
  };
  static const char *const haiku_chain[] = {
    "qwen-cli/qwen3-vl-plus", "dashscope/qwen3-max", "codex/gpt-5.1-codex-mini",
    "minimax/MiniMax-M2.5-highspeed", "zai/glm-4.5-flash", NULL
  };

  unset_seed_variables ();
  g_setenv ("LITELLM_MASTER_KEY", "sk-test-master", TRUE);
  g_setenv ("ZAI_API_KEY", "zai-secret-value", TRUE);
  config = load_seed ();

  g_assert_true (g_str_has_suffix (config->path, "seed-config.yaml"));
  g_assert_cmpuint (config->deployments->len, ==, 32);
  g_assert_cmpuint (g_strv_length (config->model_names), ==, 32);
  g_assert_cmpstr (config->model_names[0], ==, "zai/glm-4.5");
  g_assert_cmpstr (config->model_names[31], ==, "claude-haiku-4-5");

  /* The first deployment, field by field. */
  deployment = g_ptr_array_index (config->deployments, 0);
  g_assert_cmpstr (deployment->model_name, ==, "zai/glm-4.5");
  g_assert_cmpstr (deployment->model, ==, "anthropic/glm-4.5");
  g_assert_cmpstr (deployment->provider, ==, "anthropic");
  g_assert_cmpstr (deployment->upstream_model, ==, "glm-4.5");
  g_assert_cmpstr (deployment->api_base, ==, "https://api.z.ai/api/anthropic");
  g_assert_cmpstr (deployment->api_key, ==, "zai-secret-value");
  g_assert_cmpfloat (deployment->timeout, ==, 600);
  g_assert_cmpfloat (deployment->stream_timeout, ==, 0);
  g_assert_cmpint (deployment->weight, ==, 1);
  g_assert_null (deployment->mock_response);
  g_assert_null (deployment->model_info);
  g_assert_cmpuint (deployment->index, ==, 0);
  g_assert_cmpstr (deployment->id, ==, "zai/glm-4.5#0");
  /* Unknown litellm_params are data, kept as typed values. */
  g_assert_true (json_object_get_boolean_member (deployment->params, "reasoning"));
  g_assert_cmpstr (json_object_get_string_member (deployment->params, "api_key"), ==, "zai-secret-value");

  deployment = lctl_config_find_deployment (config, "zai/glm-4.5v");
  g_assert_nonnull (deployment);
  input = json_object_get_array_member (deployment->params, "input");
  g_assert_cmpuint (json_array_get_length (input), ==, 2);
  g_assert_cmpstr (json_array_get_string_element (input, 1), ==, "image");

  /* Providers without a key, and an upstream model name other than the group. */
  deployment = lctl_config_find_deployment (config, "qwen-cli/qwen3-vl-plus");
  g_assert_cmpstr (deployment->provider, ==, "qwen_portal");
  g_assert_cmpstr (deployment->upstream_model, ==, "vision-model");
  g_assert_null (deployment->api_key);
  g_assert_null (deployment->api_base);

  /* DashScope thinking stays in params. */
  deployment = lctl_config_find_deployment (config, "dashscope/qwen3.5-plus");
  g_assert_null (deployment->api_key); /* DASHSCOPE_API_KEY unset */
  thinking = json_object_get_object_member (deployment->params, "thinking");
  g_assert_nonnull (thinking);
  g_assert_cmpstr (json_object_get_string_member (thinking, "type"), ==, "enabled");
  g_assert_cmpint (json_object_get_int_member (thinking, "budget_tokens"), ==, 16000);
  deployment = lctl_config_find_deployment (config, "dashscope/qwen3-max");
  g_assert_cmpstr (deployment->upstream_model, ==, "qwen3-max-2026-01-23");
  g_assert_true (json_object_has_member (deployment->params, "thinking"));

  /* Codex entries speak the Responses API. */
  for (unsigned i = 0; i < config->deployments->len; i++)
    {
      deployment = g_ptr_array_index (config->deployments, i);
      if (!g_str_equal (deployment->provider, "chatgpt"))
        continue;
      g_assert_true (g_str_has_prefix (deployment->model_name, "codex/"));
      g_assert_nonnull (deployment->model_info);
      g_assert_cmpstr (json_object_get_string_member (deployment->model_info, "mode"), ==, "responses");
      codex++;
    }
  g_assert_cmpuint (codex, ==, 7);

  /* router_settings */
  g_assert_cmpint (config->router.num_retries, ==, 2);
  g_assert_cmpfloat (config->router.timeout, ==, 600);
  g_assert_cmpfloat (config->router.retry_after, ==, 5);
  g_assert_cmpint (config->router.allowed_fails, ==, 1);
  g_assert_cmpfloat (config->router.cooldown_time, ==, 5);
  g_assert_cmpfloat (config->router.max_cooldown_time, ==, 60);
  g_assert_cmpint (config->router.max_fallbacks, ==, 5);
  g_assert_cmpstr (config->router.routing_strategy, ==, "simple-shuffle");
  g_assert_cmpuint (config->router.fallbacks->len, ==, 3);
  g_assert_cmpuint (config->router.context_window_fallbacks->len, ==, 0);
  g_assert_cmpuint (config->router.content_policy_fallbacks->len, ==, 0);
  assert_chain (config, "claude-opus-4-6", opus_chain);
  assert_chain (config, "claude-sonnet-4-5", sonnet_chain);
  assert_chain (config, "claude-haiku-4-5", haiku_chain);
  g_assert_null (lctl_config_find_fallback (config->router.fallbacks, "zai/glm-5"));

  /* litellm_settings, general_settings, environment_variables (a comment only) */
  g_assert_true (config->drop_params);
  g_assert_cmpfloat (config->request_timeout, ==, 600);
  g_assert_true (json_object_has_member (config->litellm_settings, "set_verbose"));
  g_assert_false (json_object_get_boolean_member (config->litellm_settings, "set_verbose"));
  g_assert_cmpstr (config->master_key, ==, "sk-test-master");
  g_assert_cmpstr (json_object_get_string_member (config->general_settings, "master_key"), ==, "sk-test-master");
  g_assert_cmpuint (config->max_request_body, ==, 32 * 1024 * 1024);
  g_assert_cmpuint (g_hash_table_size (config->environment_variables), ==, 0);

  /* Unknown litellm_params are not "unknown keys"; every fallback names a
   * real group; secrets never show up in warnings. */
  g_assert_false (warnings_contain (config, "reasoning"));
  g_assert_false (warnings_contain (config, "input"));
  g_assert_false (warnings_contain (config, "fallback"));
  g_assert_false (warnings_contain (config, "unknown key"));
  g_assert_false (warnings_contain (config, "zai-secret-value"));
  g_assert_false (warnings_contain (config, "sk-test-master"));
  g_assert_false (warnings_contain (config, "ZAI_API_KEY"));
  g_assert_true (warnings_contain (config, "ANTHROPIC_API_KEY"));
}

static void
test_seed_master_key_unset (void)
{
  g_autoptr (LctlConfig) config = NULL;
  const char *warning;

  unset_seed_variables ();
  config = load_seed ();

  g_assert_null (config->master_key);
  g_assert_true (JSON_NODE_HOLDS_NULL (json_object_get_member (config->general_settings, "master_key")));
  warning = warning_with (config, "LITELLM_MASTER_KEY");
  g_assert_nonnull (warning);
  g_assert_nonnull (strstr (warning, "seed-config.yaml:268:15: "));
  g_assert_nonnull (strstr (warning, "not set"));
  /* One warning per variable, at its first use, counting the others. */
  warning = warning_with (config, "ZAI_API_KEY");
  g_assert_nonnull (strstr (warning, "seed-config.yaml:6:16: "));
  g_assert_nonnull (strstr (warning, "12 times"));
  g_assert_null (((const LctlDeployment *) g_ptr_array_index (config->deployments, 0))->api_key);
}

/* The seed's env.example as .env beside the seed config. */
static void
test_seed_with_dotenv (void)
{
  g_autofree char *seed = lctl_test_source_path ("fixtures", "seed-config.yaml", NULL);
  g_autofree char *example = lctl_test_source_path ("fixtures", "seed-env.example", NULL);
  g_autofree char *dir = g_build_filename (tmpdir, "seed-dotenv", NULL);
  g_autofree char *config_path = g_build_filename (dir, "config.yaml", NULL);
  g_autofree char *dotenv_path = g_build_filename (dir, ".env", NULL);
  g_autofree char *contents = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (LctlConfig) config = NULL;

  unset_seed_variables ();
  g_setenv ("ZAI_API_KEY", "from-the-shell", TRUE);

  g_assert_true (g_file_get_contents (seed, &contents, NULL, NULL));
  lctl_test_write_file (config_path, contents);
  g_clear_pointer (&contents, g_free);
  g_assert_true (g_file_get_contents (example, &contents, NULL, NULL));
  lctl_test_write_file (dotenv_path, contents);
  g_assert_cmpint (g_chmod (dotenv_path, 0600), ==, 0);

  config = lctl_config_load (config_path, &error);
  g_assert_no_error (error);

  g_assert_cmpstr (config->master_key, ==, "sk-litellm-change-me");
  g_assert_cmpstr (lctl_config_find_deployment (config, "claude-opus-4-6")->api_key, ==, "sk-ant-...");
  /* .env only fills what the environment lacks. */
  g_assert_cmpstr (lctl_config_find_deployment (config, "zai/glm-5")->api_key, ==, "from-the-shell");
  g_assert_cmpstr (g_getenv ("KIMI_CODE_AUTH_FILE"), ==, "auth.kimi_code.json");
  g_assert_null (config->warnings[0]);
}

static void
test_templates_parse (void)
{
  const char      *root = g_getenv ("LITELLMCTL_SOURCE_ROOT");
  g_autofree char *dir_path = g_build_filename (root, "templates", NULL);
  g_autoptr (GDir) dir = g_dir_open (dir_path, 0, NULL);
  const char *name;
  unsigned    count = 0;

  g_assert_nonnull (dir);
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir_path, name, NULL);
      g_autoptr (GError) error = NULL;
      g_autoptr (JsonNode) node = NULL;

      if (!g_str_has_suffix (name, ".yaml"))
        continue;
      node = lctl_config_parse_yaml_file (path, &error);
      g_assert_no_error (error);
      g_assert_true (JSON_NODE_HOLDS_OBJECT (node));
      /* Provider templates name their models; os.environ/ stays unresolved. */
      if (json_object_has_member (json_node_get_object (node), "tiers") && !g_str_equal (name, "defaults.yaml"))
        g_assert_true (json_object_has_member (json_node_get_object (node), "name"));
      count++;
    }
  g_assert_cmpuint (count, >=, 10);
}

static void
test_templates_default_config (void)
{
  const char      *root = g_getenv ("LITELLMCTL_SOURCE_ROOT");
  g_autofree char *templates = g_build_filename (root, "templates", NULL);
  g_autofree char *path = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (LctlConfig) config = NULL;
  const LctlDeployment *mock = NULL;

  unset_seed_variables ();
  g_setenv ("LITELLMCTL_TEMPLATES_DIR", templates, TRUE);
  path = lctl_config_default_template_path ();
  g_unsetenv ("LITELLMCTL_TEMPLATES_DIR");
  g_assert_true (g_str_has_suffix (path, "/templates/config.yaml"));

  config = lctl_config_load (path, &error);
  g_assert_no_error (error);

  for (unsigned i = 0; i < config->deployments->len && mock == NULL; i++)
    {
      const LctlDeployment *deployment = g_ptr_array_index (config->deployments, i);

      if (deployment->mock_response != NULL)
        mock = deployment;
    }
  g_assert (mock != NULL);
  g_assert_cmpstr (mock->model_name, ==, "demo");
  g_assert_null (mock->api_key);
  g_assert_false (json_object_has_member (mock->params, "api_key"));
  g_assert_cmpstr (config->router.routing_strategy, ==, "simple-shuffle");
  g_assert_false (warnings_contain (config, "unknown key"));
}

static void
test_default_paths (void)
{
  g_autofree char *path = lctl_config_default_path ();
  g_autofree char *expected = g_build_filename (g_get_user_config_dir (), "litellmctl", "config.yaml", NULL);
  g_autofree char *template_path = NULL;

  g_assert_cmpstr (path, ==, expected);

  g_setenv ("LITELLMCTL_TEMPLATES_DIR", "/nonexistent/templates", TRUE);
  template_path = lctl_config_default_template_path ();
  g_assert_cmpstr (template_path, ==, "/nonexistent/templates/config.yaml");
  g_clear_pointer (&template_path, g_free);

  /* Unset: installed if it exists, else the source tree; both exist. */
  g_unsetenv ("LITELLMCTL_TEMPLATES_DIR");
  template_path = lctl_config_default_template_path ();
  g_assert_true (g_str_has_suffix (template_path, "templates/config.yaml"));
  g_assert_true (g_file_test (template_path, G_FILE_TEST_IS_REGULAR));
}

typedef struct
{
  const char *name;
  const char *yaml;
  const char *location; /* "test.yaml:L:C: " */
  const char *expected; /* a part of the message */
} ErrorCase;

static const ErrorCase error_cases[] = {
  { "empty", "", "test.yaml:1:1: ", "empty file" },
  { "comments-only", "# nothing here\n\n", "test.yaml:1:1: ", "empty file" },
  { "not-a-mapping", "- model_name: a\n", "test.yaml:1:1: ", "expected a mapping" },
  { "scalar-root", "hello\n", "test.yaml:1:1: ", "found \"hello\"" },
  { "bad-indentation",
    "model_list:\n"
    "  - model_name: a\n"
    "    litellm_params:\n"
    "      model: openai/a\n"
    "     api_key: x\n",
    "test.yaml:5:6: ", "check the indentation" },
  { "tab-indentation",
    "router_settings:\n"
    "\tnum_retries: 2\n",
    "test.yaml:2:1: ", "tab" },
  { "unclosed-flow-sequence",
    "router_settings:\n"
    "  fallbacks:\n"
    "    - a: [b, c\n",
    "test.yaml:4:1: ", "did not find expected ',' or ']' (while parsing a flow sequence at line 3 column 10)" },
  { "model-list-not-a-list",
    "model_list:\n"
    "  model_name: a\n",
    "test.yaml:2:3: ", "expected a list of deployments" },
  { "deployment-not-a-mapping",
    "model_list:\n"
    "  - just-a-name\n",
    "test.yaml:2:5: ", "expected a mapping with model_name and litellm_params for model_list[0]" },
  { "missing-model-name",
    "model_list:\n"
    "  - litellm_params:\n"
    "      model: openai/a\n",
    "test.yaml:2:5: ", "model_list[0] has no model_name" },
  { "missing-litellm-params",
    "model_list:\n"
    "  - model_name: a\n",
    "test.yaml:2:5: ", "has no litellm_params" },
  { "missing-model",
    "model_list:\n"
    "  - model_name: a\n"
    "    litellm_params:\n"
    "      api_key: x\n",
    "test.yaml:4:7: ", "model_list[0].litellm_params has no model" },
  { "model-without-provider",
    "model_list:\n"
    "  - model_name: a\n"
    "    litellm_params:\n"
    "      model: openai/a\n"
    "  - model_name: b\n"
    "    litellm_params:\n"
    "      model: gpt-4o\n",
    "test.yaml:7:14: ", "expected \"<provider>/<model>\"" },
  { "model-empty-upstream",
    "model_list:\n"
    "  - model_name: a\n"
    "    litellm_params: {model: \"openai/\"}\n",
    "test.yaml:3:29: ", "found \"openai/\"" },
  { "duplicate-key",
    "model_list:\n"
    "  - model_name: a\n"
    "    litellm_params:\n"
    "      model: openai/a\n"
    "      model: openai/b\n",
    "test.yaml:5:7: ", "duplicate key \"model\" (first at line 4)" },
  { "duplicate-top-level-key",
    "router_settings: {}\n"
    "router_settings: {}\n",
    "test.yaml:2:1: ", "duplicate key \"router_settings\"" },
  { "num-retries-not-a-number",
    "router_settings:\n"
    "  num_retries: abc\n",
    "test.yaml:2:16: ", "expected a whole number of 0 or more for router_settings.num_retries, found \"abc\"" },
  { "num-retries-fraction",
    "router_settings:\n"
    "  num_retries: 1.5\n",
    "test.yaml:2:16: ", "router_settings.num_retries, found 1.5" },
  { "timeout-quoted-text",
    "model_list:\n"
    "  - model_name: a\n"
    "    litellm_params:\n"
    "      model: openai/a\n"
    "      timeout: \"soon\"\n",
    "test.yaml:5:16: ", "expected a number of 0 or more for model_list[0].litellm_params.timeout" },
  { "drop-params-not-bool",
    "litellm_settings:\n"
    "  drop_params: maybe\n",
    "test.yaml:2:16: ", "expected true or false for litellm_settings.drop_params" },
  { "fallbacks-not-a-list",
    "router_settings:\n"
    "  fallbacks: {a: [b]}\n",
    "test.yaml:2:14: ", "expected a list of {model group: [fallback groups]}" },
  { "fallback-chain-not-names",
    "router_settings:\n"
    "  fallbacks:\n"
    "    - a: [b, {c: d}]\n",
    "test.yaml:3:14: ", "expected a model group name in router_settings.fallbacks[0].a" },
  { "router-settings-not-a-mapping",
    "router_settings: [1, 2]\n",
    "test.yaml:1:18: ", "expected a mapping for router_settings, found a list" },
  { "max-request-size-zero",
    "general_settings:\n"
    "  max_request_size_mb: 0\n",
    "test.yaml:2:24: ", "general_settings.max_request_size_mb" },
  { "two-documents",
    "model_list: []\n"
    "---\n"
    "model_list: []\n",
    "test.yaml:2:1: ", "expected a single document" },
  { "unknown-alias",
    "model_list: *nothing\n",
    "test.yaml:1:13: ", "unknown anchor \"nothing\"" },
  { "invalid-utf8",
    "model_list: []\n"
    "x: \"\xff\"\n",
    "test.yaml:2:5: ", "UTF-8" },
  { "complex-key",
    "? [a, b]\n"
    ": c\n",
    "test.yaml:1:3: ", "expected a plain key, found a list" },
};

static void
test_error_case (gconstpointer data)
{
  const ErrorCase *error_case = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (LctlConfig) config = NULL;

  config = lctl_config_load_from_data (error_case->yaml, -1, "test.yaml", &error);
  g_assert_null (config);
  g_assert_error (error, LCTL_ERROR, LCTL_ERROR_INVALID_CONFIG);
  if (!g_str_has_prefix (error->message, error_case->location) || strstr (error->message, error_case->expected) == NULL)
    g_error ("case %s: got \"%s\", expected \"%s...%s...\"", error_case->name, error->message, error_case->location,
             error_case->expected);
}

static void
test_error_missing_file (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (LctlConfig) config = lctl_config_load ("/nonexistent/litellmctl/config.yaml", &error);

  g_assert_null (config);
  g_assert_error (error, LCTL_ERROR, LCTL_ERROR_NOT_FOUND);
}

static void
test_error_limits (void)
{
  g_autoptr (GString) deep = g_string_new ("model_list: ");
  g_autoptr (GString) laughs = g_string_new ("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
  g_autoptr (GError) error = NULL;
  g_autoptr (LctlConfig) config = NULL;

  /* Deep nesting must not exhaust the stack. */
  for (int i = 0; i < 100000; i++)
    g_string_append_c (deep, '[');
  config = lctl_config_load_from_data (deep->str, -1, "deep.yaml", &error);
  g_assert_null (config);
  g_assert_error (error, LCTL_ERROR, LCTL_ERROR_INVALID_CONFIG);
  g_assert_true (g_str_has_prefix (error->message, "deep.yaml:1:"));
  g_clear_error (&error);

  /* Nor may aliases expand without bound ("billion laughs"). */
  for (char c = 'b'; c <= 'j'; c++)
    g_string_append_printf (laughs, "%c: &%c [*%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c]\n", c, c, c - 1, c - 1, c - 1,
                            c - 1, c - 1, c - 1, c - 1, c - 1, c - 1, c - 1);
  config = lctl_config_load_from_data (laughs->str, -1, "laughs.yaml", &error);
  g_assert_null (config);
  g_assert_error (error, LCTL_ERROR, LCTL_ERROR_INVALID_CONFIG);
  g_assert_nonnull (strstr (error->message, "expands to more than"));
}

/* YAML 1.1 typing as PyYAML's safe_load does it. */
static void
test_scalars (void)
{
  static const char yaml[] = "bools: [true, True, TRUE, yes, Yes, on, false, False, no, NO, off]\n"
                             "ints: [1, -2, +3, 1_000, 0x1F, 010, 0b101, '1', \"2\", 1:30]\n"
                             "floats: [1.5, -0.25, 1.0e+3, .5, .inf, -.inf]\n"
                             "strings: [1e3, yes please, 'true', \"null\", !!str 12, 2026-01-23, os.environ/X]\n"
                             "nulls: [~, null, Null, NULL, '']\n"
                             "empty:\n"
                             "flow: [a, b, c,]\n"
                             "block: |\n"
                             "  two\n"
                             "  lines\n";
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) root = lctl_config_parse_yaml (yaml, -1, "scalars.yaml", &error);
  JsonObject *object;
  JsonArray  *array;

  g_assert_no_error (error);
  object = json_node_get_object (root);

  array = json_object_get_array_member (object, "bools");
  for (unsigned i = 0; i < json_array_get_length (array); i++)
    {
      JsonNode *element = json_array_get_element (array, i);

      g_assert_cmpint (json_node_get_value_type (element), ==, G_TYPE_BOOLEAN);
      g_assert_cmpint (json_node_get_boolean (element), ==, i < 6);
    }

  array = json_object_get_array_member (object, "ints");
  g_assert_cmpint (json_array_get_int_element (array, 0), ==, 1);
  g_assert_cmpint (json_array_get_int_element (array, 1), ==, -2);
  g_assert_cmpint (json_array_get_int_element (array, 2), ==, 3);
  g_assert_cmpint (json_array_get_int_element (array, 3), ==, 1000);
  g_assert_cmpint (json_array_get_int_element (array, 4), ==, 31);
  g_assert_cmpint (json_array_get_int_element (array, 5), ==, 8);
  g_assert_cmpint (json_array_get_int_element (array, 6), ==, 5);
  g_assert_cmpstr (json_array_get_string_element (array, 7), ==, "1");
  g_assert_cmpstr (json_array_get_string_element (array, 8), ==, "2");
  g_assert_cmpint (json_array_get_int_element (array, 9), ==, 90);

  array = json_object_get_array_member (object, "floats");
  g_assert_cmpfloat (json_array_get_double_element (array, 0), ==, 1.5);
  g_assert_cmpfloat (json_array_get_double_element (array, 1), ==, -0.25);
  g_assert_cmpfloat (json_array_get_double_element (array, 2), ==, 1000);
  g_assert_cmpfloat (json_array_get_double_element (array, 3), ==, 0.5);
  g_assert_true (isinf (json_array_get_double_element (array, 4)));
  g_assert_cmpfloat (json_array_get_double_element (array, 5), <, 0);

  array = json_object_get_array_member (object, "strings");
  g_assert_cmpstr (json_array_get_string_element (array, 0), ==, "1e3");
  g_assert_cmpstr (json_array_get_string_element (array, 1), ==, "yes please");
  g_assert_cmpstr (json_array_get_string_element (array, 2), ==, "true");
  g_assert_cmpstr (json_array_get_string_element (array, 3), ==, "null");
  g_assert_cmpstr (json_array_get_string_element (array, 4), ==, "12");
  g_assert_cmpstr (json_array_get_string_element (array, 5), ==, "2026-01-23");
  g_assert_cmpstr (json_array_get_string_element (array, 6), ==, "os.environ/X");

  array = json_object_get_array_member (object, "nulls");
  for (unsigned i = 0; i < 4; i++)
    g_assert_true (json_array_get_null_element (array, i));
  g_assert_cmpstr (json_array_get_string_element (array, 4), ==, "");
  g_assert_true (json_object_get_null_member (object, "empty"));

  array = json_object_get_array_member (object, "flow");
  g_assert_cmpuint (json_array_get_length (array), ==, 3);
  g_assert_cmpstr (json_array_get_string_element (array, 2), ==, "c");
  g_assert_cmpstr (json_object_get_string_member (object, "block"), ==, "two\nlines\n");
}

static void
test_anchors (void)
{
  g_autoptr (LctlConfig) config = load_string ("x-defaults: &defaults\n"
                                               "  api_base: https://example.invalid/v1\n"
                                               "  timeout: 30\n"
                                               "model_list:\n"
                                               "  - model_name: a\n"
                                               "    litellm_params:\n"
                                               "      <<: *defaults\n"
                                               "      model: openai/a\n"
                                               "      timeout: 45\n"
                                               "  - model_name: b\n"
                                               "    litellm_params:\n"
                                               "      <<: *defaults\n"
                                               "      model: openai/b\n");
  const LctlDeployment *a = lctl_config_find_deployment (config, "a");
  const LctlDeployment *b = lctl_config_find_deployment (config, "b");

  g_assert_cmpstr (a->api_base, ==, "https://example.invalid/v1");
  g_assert_cmpfloat (a->timeout, ==, 45); /* the mapping's own key wins */
  g_assert_cmpstr (b->api_base, ==, "https://example.invalid/v1");
  g_assert_cmpfloat (b->timeout, ==, 30);
  g_assert_false (json_object_has_member (b->params, "<<"));
  /* The anchor's holder is an unknown top-level key, pointed at. */
  g_assert_true (warnings_contain (config, "test.yaml:1:1: unknown key \"x-defaults\" at the top level"));
}

static void
test_defaults (void)
{
  g_autoptr (LctlConfig) config = load_string ("model_list:\n"
                                               "  - model_name: a\n"
                                               "    litellm_params:\n"
                                               "      model: openai/gpt-4o-mini\n");
  const LctlDeployment *deployment = lctl_config_find_deployment (config, "a");

  g_assert_cmpint (config->router.num_retries, ==, 0);
  g_assert_cmpfloat (config->router.timeout, ==, 0);
  g_assert_cmpfloat (config->router.stream_timeout, ==, 0);
  g_assert_cmpfloat (config->router.retry_after, ==, 0);
  g_assert_cmpint (config->router.allowed_fails, ==, 3);
  g_assert_cmpfloat (config->router.cooldown_time, ==, 5);
  g_assert_cmpfloat (config->router.max_cooldown_time, ==, 60);
  g_assert_cmpint (config->router.max_fallbacks, ==, 5);
  g_assert_cmpstr (config->router.routing_strategy, ==, "simple-shuffle");
  g_assert_cmpuint (g_hash_table_size (config->router.model_group_alias), ==, 0);
  g_assert_false (config->drop_params);
  g_assert_cmpfloat (config->request_timeout, ==, 600);
  g_assert_null (config->master_key);
  g_assert_cmpuint (config->max_request_body, ==, 32 * 1024 * 1024);
  g_assert_nonnull (config->litellm_settings);
  g_assert_nonnull (config->general_settings);
  g_assert_cmpuint (json_object_get_size (config->general_settings), ==, 0);
  g_assert_null (config->warnings[0]);
  g_assert_cmpint (deployment->weight, ==, 1);
  g_assert_cmpfloat (deployment->timeout, ==, 0);
}

static void
test_router_settings (void)
{
  g_autoptr (LctlConfig) config = load_string ("model_list:\n"
                                               "  - model_name: big\n"
                                               "    litellm_params: {model: anthropic/claude-opus-4-6, weight: 3, stream_timeout: 20, mock_response: hi}\n"
                                               "  - model_name: big\n"
                                               "    litellm_params: {model: openai/gpt-5}\n"
                                               "  - model_name: small\n"
                                               "    litellm_params: {model: openai/gpt-5-mini}\n"
                                               "  - model_name: openrouter/*\n"
                                               "    litellm_params: {model: openrouter/*}\n"
                                               "router_settings:\n"
                                               "  num_retries: 4\n"
                                               "  timeout: 30.5\n"
                                               "  stream_timeout: 10\n"
                                               "  cooldown_time: 7\n"
                                               "  max_cooldown_time: 120\n"
                                               "  max_fallbacks: 2\n"
                                               "  routing_strategy: least-busy\n"
                                               "  model_group_alias:\n"
                                               "    gpt-4: small\n"
                                               "    claude: {model: big, hidden: true}\n"
                                               "  fallbacks:\n"
                                               "    - big: [small, openrouter/qwen, gpt-4]\n"
                                               "    - \"*\": [small]\n"
                                               "  context_window_fallbacks:\n"
                                               "    - small: big\n"
                                               "  content_policy_fallbacks:\n"
                                               "    - small: [missing-group]\n"
                                               "general_settings:\n"
                                               "  max_request_size_mb: 2\n");
  g_autoptr (GPtrArray) group = lctl_config_get_group (config, "big");
  g_autoptr (GPtrArray) none = lctl_config_get_group (config, "nope");
  const LctlDeployment *first = g_ptr_array_index (group, 0);
  const LctlFallback   *fallback;
  const char           *warning;

  g_assert_cmpuint (group->len, ==, 2);
  g_assert_cmpuint (none->len, ==, 0);
  g_assert_true (first == lctl_config_find_deployment (config, "big"));
  g_assert_cmpstr (((const LctlDeployment *) g_ptr_array_index (group, 1))->id, ==, "big#1");
  g_assert_cmpint (first->weight, ==, 3);
  g_assert_cmpfloat (first->stream_timeout, ==, 20);
  g_assert_cmpstr (first->mock_response, ==, "hi");
  g_assert_null (lctl_config_find_deployment (config, "nope"));
  g_assert_cmpuint (g_strv_length (config->model_names), ==, 3);

  g_assert_cmpint (config->router.num_retries, ==, 4);
  g_assert_cmpfloat (config->router.timeout, ==, 30.5);
  g_assert_cmpfloat (config->router.stream_timeout, ==, 10);
  g_assert_cmpfloat (config->router.cooldown_time, ==, 7);
  g_assert_cmpfloat (config->router.max_cooldown_time, ==, 120);
  g_assert_cmpint (config->router.max_fallbacks, ==, 2);
  g_assert_cmpstr (config->router.routing_strategy, ==, "least-busy");

  g_assert_cmpstr (lctl_config_resolve_alias (config, "gpt-4"), ==, "small");
  g_assert_cmpstr (lctl_config_resolve_alias (config, "claude"), ==, "big");
  g_assert_cmpstr (lctl_config_resolve_alias (config, "small"), ==, "small");

  fallback = lctl_config_find_fallback (config->router.fallbacks, "big");
  g_assert_cmpstr (fallback->chain[0], ==, "small");
  g_assert_cmpstr (fallback->chain[2], ==, "gpt-4");
  g_assert_null (fallback->chain[3]);
  /* Groups without a chain of their own get the "*" chain. */
  fallback = lctl_config_find_fallback (config->router.fallbacks, "small");
  g_assert_cmpstr (fallback->model_name, ==, "*");
  fallback = lctl_config_find_fallback (config->router.context_window_fallbacks, "small");
  g_assert_cmpstr (fallback->chain[0], ==, "big");
  g_assert_null (fallback->chain[1]);

  /* A wildcard group and an alias are valid targets; a missing group is a
   * warning with its location, not an error. */
  g_assert_false (warnings_contain (config, "openrouter/qwen"));
  g_assert_false (warnings_contain (config, "\"gpt-4\""));
  warning = warning_with (config, "missing-group");
  g_assert_nonnull (warning);
  g_assert_true (g_str_has_prefix (warning, "test.yaml:27:15: "));
  g_assert_nonnull (strstr (warning, "content_policy_fallbacks"));

  g_assert_cmpuint (config->max_request_body, ==, 2 * 1024 * 1024);
}

static void
test_unknown_keys (void)
{
  g_autoptr (LctlConfig) config = load_string ("credential_list: []\n"
                                               "model_list:\n"
                                               "  - model_name: a\n"
                                               "    tpm: 100\n"
                                               "    litellm_params:\n"
                                               "      model: openai/a\n"
                                               "      reasoning_effort: high\n"
                                               "router_settings:\n"
                                               "  redis_host: localhost\n"
                                               "  routing_strategy: fastest\n"
                                               "litellm_settings:\n"
                                               "  callbacks: [langfuse]\n"
                                               "general_settings:\n"
                                               "  database_url: postgres://x\n");
  g_assert_cmpuint (config->deployments->len, ==, 1);
  g_assert_cmpstr (config->warnings[0], ==, "test.yaml:1:1: unknown key \"credential_list\" at the top level");
  g_assert_cmpstr (config->warnings[1], ==, "test.yaml:4:5: unknown key \"tpm\" in model_list[0]");
  g_assert_true (warnings_contain (config, "test.yaml:9:3: unknown key \"redis_host\" in router_settings"));
  g_assert_true (warnings_contain (config, "test.yaml:10:21: unknown routing_strategy \"fastest\""));
  g_assert_true (warnings_contain (config, "test.yaml:12:3: unknown key \"callbacks\" in litellm_settings"));
  g_assert_true (warnings_contain (config, "test.yaml:14:3: unknown key \"database_url\" in general_settings"));
  g_assert_false (warnings_contain (config, "reasoning_effort"));
  g_assert_cmpstr (json_object_get_string_member (lctl_config_find_deployment (config, "a")->params, "reasoning_effort"), ==, "high");
  /* The whole sections are kept, unknown keys included. */
  g_assert_true (json_object_has_member (config->litellm_settings, "callbacks"));
  g_assert_true (json_object_has_member (config->general_settings, "database_url"));
}

static void
test_environ (void)
{
  g_autoptr (LctlConfig) config = NULL;
  const LctlDeployment *deployment;
  const char           *warning;

  g_setenv ("LCTL_TEST_KEY", "sk-very-secret", TRUE);
  g_setenv ("LCTL_TEST_PRESET", "from-shell", TRUE);
  g_setenv ("LCTL_TEST_TIMEOUT", "42", TRUE);
  g_unsetenv ("LCTL_TEST_UNSET");
  g_unsetenv ("LCTL_TEST_FROM_FILE");
  g_unsetenv ("LCTL_TEST_NUMBER");

  config = load_string ("model_list:\n"
                        "  - model_name: a\n"
                        "    litellm_params:\n"
                        "      model: openai/a\n"
                        "      api_key: os.environ/LCTL_TEST_KEY\n"
                        "      api_base: os.environ/LCTL_TEST_FROM_FILE\n"
                        "      timeout: os.environ/LCTL_TEST_TIMEOUT\n"
                        "      extra_headers:\n"
                        "        X-Preset: os.environ/LCTL_TEST_PRESET\n"
                        "        X-Missing: os.environ/LCTL_TEST_UNSET\n"
                        "general_settings:\n"
                        "  master_key: 'os.environ/LCTL_TEST_KEY'\n"
                        "environment_variables:\n"
                        "  LCTL_TEST_FROM_FILE: https://from-file.invalid\n"
                        "  LCTL_TEST_PRESET: from-file\n"
                        "  LCTL_TEST_NUMBER: 8080\n");
  deployment = lctl_config_find_deployment (config, "a");
  g_assert_cmpstr (deployment->api_key, ==, "sk-very-secret");
  /* environment_variables are exported before references are resolved ... */
  g_assert_cmpstr (deployment->api_base, ==, "https://from-file.invalid");
  g_assert_cmpstr (g_getenv ("LCTL_TEST_FROM_FILE"), ==, "https://from-file.invalid");
  g_assert_cmpstr (g_getenv ("LCTL_TEST_NUMBER"), ==, "8080");
  /* ... but never override the environment. */
  g_assert_cmpstr (g_getenv ("LCTL_TEST_PRESET"), ==, "from-shell");
  g_assert_cmpstr (g_hash_table_lookup (config->environment_variables, "LCTL_TEST_PRESET"), ==, "from-file");
  g_assert_cmpfloat (deployment->timeout, ==, 42);
  g_assert_cmpstr (config->master_key, ==, "sk-very-secret");

  {
    JsonObject *headers = json_object_get_object_member (deployment->params, "extra_headers");

    g_assert_cmpstr (json_object_get_string_member (headers, "X-Preset"), ==, "from-shell");
    g_assert_true (json_object_get_null_member (headers, "X-Missing"));
  }

  warning = warning_with (config, "LCTL_TEST_UNSET");
  g_assert_nonnull (warning);
  g_assert_true (g_str_has_prefix (warning, "test.yaml:10:20: "));
  g_assert_false (warnings_contain (config, "sk-very-secret"));
  g_assert_cmpuint (g_strv_length (config->warnings), ==, 1);

  /* The snapshot is sealed: requests share it between threads. */
  g_assert_true (json_object_is_immutable (deployment->params));

  g_unsetenv ("LCTL_TEST_FROM_FILE");
  g_unsetenv ("LCTL_TEST_NUMBER");
}

static void
test_environ_not_in_errors (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (LctlConfig) config = NULL;

  g_setenv ("LCTL_TEST_SECRET_RETRIES", "sk-secret-not-a-number", TRUE);
  config = lctl_config_load_from_data ("router_settings:\n"
                                       "  num_retries: os.environ/LCTL_TEST_SECRET_RETRIES\n",
                                       -1, "test.yaml", &error);
  g_assert_null (config);
  g_assert_error (error, LCTL_ERROR, LCTL_ERROR_INVALID_CONFIG);
  g_assert_true (g_str_has_prefix (error->message, "test.yaml:2:16: "));
  g_assert_nonnull (strstr (error->message, "$LCTL_TEST_SECRET_RETRIES"));
  g_assert_null (strstr (error->message, "sk-secret"));
}

static void
test_dotenv (void)
{
  g_autofree char *path = g_build_filename (tmpdir, "dotenv", ".env", NULL);
  g_auto (GStrv) warnings = NULL;
  g_autoptr (GError) error = NULL;
  int set;

  g_unsetenv ("DOTENV_EXPORTED");
  g_unsetenv ("DOTENV_DOUBLE");
  g_unsetenv ("DOTENV_SINGLE");
  g_unsetenv ("DOTENV_SPACES");
  g_unsetenv ("DOTENV_EMPTY");
  g_unsetenv ("DOTENV_LAST");
  g_unsetenv ("DOTENV_UNTERMINATED");
  g_setenv ("DOTENV_EXISTING", "from-shell", TRUE);

  lctl_test_write_file (path,
                        "# A comment\n"
                        "\n"
                        "export DOTENV_EXPORTED=plain value   # trailing comment\n"
                        "DOTENV_DOUBLE=\"line1\\nline2 \\\"quoted\\\" back\\\\slash # kept\"\n"
                        "DOTENV_SINGLE='single # kept \\n raw'\n"
                        "   DOTENV_SPACES   =   spaced out   \r\n"
                        "DOTENV_EXISTING=from-file\n"
                        "sk-ant-pasted-secret-without-a-name\n"
                        "1BAD=x\n"
                        "DOTENV_UNTERMINATED=\"oops\n"
                        "DOTENV_EMPTY=\n"
                        "DOTENV_LAST=first\n"
                        "DOTENV_LAST=second\n");
  g_assert_cmpint (g_chmod (path, 0600), ==, 0);

  set = lctl_config_load_dotenv_full (path, &warnings, &error);
  g_assert_no_error (error);
  g_assert_cmpint (set, ==, 6);
  g_assert_cmpstr (g_getenv ("DOTENV_EXPORTED"), ==, "plain value");
  g_assert_cmpstr (g_getenv ("DOTENV_DOUBLE"), ==, "line1\nline2 \"quoted\" back\\slash # kept");
  g_assert_cmpstr (g_getenv ("DOTENV_SINGLE"), ==, "single # kept \\n raw");
  g_assert_cmpstr (g_getenv ("DOTENV_SPACES"), ==, "spaced out");
  g_assert_cmpstr (g_getenv ("DOTENV_EXISTING"), ==, "from-shell");
  g_assert_cmpstr (g_getenv ("DOTENV_EMPTY"), ==, "");
  g_assert_cmpstr (g_getenv ("DOTENV_LAST"), ==, "second");
  g_assert_null (g_getenv ("DOTENV_UNTERMINATED"));

  g_assert_cmpuint (g_strv_length (warnings), ==, 3);
  g_assert_true (g_str_has_prefix (warnings[0], path));
  g_assert_nonnull (strstr (warnings[0], ".env:8: expected KEY=VALUE"));
  g_assert_null (strstr (warnings[0], "sk-ant"));
  g_assert_nonnull (strstr (warnings[1], ".env:9: "));
  g_assert_nonnull (strstr (warnings[2], ".env:10: unterminated double-quoted value"));

  /* A second load sets nothing: everything is set now. */
  g_clear_pointer (&warnings, g_strfreev);
  g_assert_cmpint (lctl_config_load_dotenv_full (path, NULL, &error), ==, 0);
  g_assert_no_error (error);

  /* A missing file is no error; a readable-by-others one is a warning. */
  g_assert_cmpint (lctl_config_load_dotenv ("/nonexistent/.env", &error), ==, 0);
  g_assert_no_error (error);
  g_assert_cmpint (g_chmod (path, 0644), ==, 0);
  g_assert_cmpint (lctl_config_load_dotenv_full (path, &warnings, &error), ==, 0);
  g_assert_nonnull (strstr (warnings[0], "expected mode 0600"));

  /* One that exists but cannot be read is. */
  g_assert_cmpint (lctl_config_load_dotenv (tmpdir, &error), ==, -1);
  g_assert_nonnull (error);
}

/* Files written on Windows: a byte-order mark and CRLF line ends. */
static void
test_bom_crlf (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (LctlConfig) config = NULL;

  config = lctl_config_load_from_data ("\xef\xbb\xbfmodel_list:\r\n"
                                       "  - model_name: a\r\n"
                                       "    litellm_params:\r\n"
                                       "      model: openai/a\r\n"
                                       "router_settings:\r\n"
                                       "  num_retries: x\r\n",
                                       -1, "test.yaml", &error);
  g_assert_null (config);
  g_assert_error (error, LCTL_ERROR, LCTL_ERROR_INVALID_CONFIG);
  g_assert_true (g_str_has_prefix (error->message, "test.yaml:6:16: "));
  g_clear_error (&error);

  config = lctl_config_load_from_data ("\xef\xbb\xbfmodel_list:\r\n"
                                       "  - model_name: a\r\n"
                                       "    litellm_params:\r\n"
                                       "      model: openai/a\r\n",
                                       -1, "test.yaml", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (lctl_config_find_deployment (config, "a")->upstream_model, ==, "a");
}

static void
test_dotenv_beside_config (void)
{
  g_autofree char *dir = g_build_filename (tmpdir, "beside", NULL);
  g_autofree char *config_path = g_build_filename (dir, "config.yaml", NULL);
  g_autofree char *dotenv_path = g_build_filename (dir, ".env", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (LctlConfig) config = NULL;

  g_unsetenv ("LCTL_BESIDE_KEY");
  lctl_test_write_file (config_path, "model_list:\n"
                                     "  - model_name: a\n"
                                     "    litellm_params: {model: openai/a, api_key: os.environ/LCTL_BESIDE_KEY}\n");
  lctl_test_write_file (dotenv_path, "LCTL_BESIDE_KEY=\"sk-from-dotenv\"\n"
                                     "broken line\n");
  g_assert_cmpint (g_chmod (dotenv_path, 0600), ==, 0);

  config = lctl_config_load (config_path, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (lctl_config_find_deployment (config, "a")->api_key, ==, "sk-from-dotenv");
  /* .env warnings join the config's. */
  g_assert_true (warnings_contain (config, ".env:2: expected KEY=VALUE"));
  g_assert_false (warnings_contain (config, "sk-from-dotenv"));
}

static void
test_refcount (void)
{
  LctlConfig *config = load_string ("model_list: []\n");
  g_autoptr (LctlConfig) held = lctl_config_ref (config);

  g_assert_true (held == config);
  lctl_config_unref (config);
  /* Still alive through the other reference. */
  g_assert_cmpuint (held->deployments->len, ==, 0);
  g_assert_cmpstr (held->path, ==, "test.yaml");
  g_assert_null (held->model_names[0]);

  {
    g_autoptr (LctlConfig) scoped = lctl_config_ref (held);

    g_assert_nonnull (scoped->litellm_settings);
  }
  g_assert_nonnull (held->general_settings);
}

/* Arbitrary input gives a config or an error: never a crash, a critical or
 * a leak (run under ASan). */
static void
test_fuzz (void)
{
  static const char junk[] = ":-[]{},&*!|>'\"#%@`? \t\n\r\\\xff\xc3";
  g_autofree char  *path = lctl_test_source_path ("fixtures", "seed-config.yaml", NULL);
  g_autofree char  *seed = NULL;
  g_autoptr (GRand) rand = g_rand_new_with_seed (20261128);
  gsize    seed_length = 0;
  unsigned loaded = 0;
  unsigned failed = 0;

  unset_seed_variables ();
  g_assert_true (g_file_get_contents (path, &seed, &seed_length, NULL));

  for (unsigned iteration = 0; iteration < 400; iteration++)
    {
      g_autoptr (GString) data = g_string_new_len (seed, seed_length);
      g_autoptr (GError) error = NULL;
      g_autoptr (LctlConfig) config = NULL;
      unsigned mutations = g_rand_int_range (rand, 1, 6);

      for (unsigned m = 0; m < mutations && data->len > 0; m++)
        {
          unsigned at = g_rand_int_range (rand, 0, data->len);
          /* Drawn once: MIN() evaluates its arguments twice. */
          unsigned run_length = g_rand_int_range (rand, 1, 200);

          switch (g_rand_int_range (rand, 0, 5))
            {
            case 0: /* truncate */
              g_string_truncate (data, at);
              break;
            case 1: /* overwrite a byte */
              data->str[at] = junk[g_rand_int_range (rand, 0, sizeof junk - 1)];
              break;
            case 2: /* delete a run */
              g_string_erase (data, at, MIN (data->len - at, run_length));
              break;
            case 3: /* insert a byte */
              g_string_insert_c (data, at, junk[g_rand_int_range (rand, 0, sizeof junk - 1)]);
              break;
            default: /* duplicate a run elsewhere */
              {
                unsigned         length = MIN (data->len - at, run_length);
                g_autofree char *run = g_strndup (data->str + at, length);

                g_string_insert_len (data, g_rand_int_range (rand, 0, data->len), run, length);
                break;
              }
            }
        }

      config = lctl_config_load_from_data (data->str, data->len, "fuzz.yaml", &error);
      g_assert_true ((config == NULL) != (error == NULL));
      if (config != NULL)
        {
          g_assert_nonnull (config->model_names);
          g_assert_nonnull (config->warnings);
          loaded++;
        }
      else
        {
          g_assert_error (error, LCTL_ERROR, LCTL_ERROR_INVALID_CONFIG);
          g_assert_true (g_str_has_prefix (error->message, "fuzz.yaml:"));
          failed++;
        }
    }
  /* Both outcomes are exercised. */
  g_assert_cmpuint (loaded, >, 0);
  g_assert_cmpuint (failed, >, 0);
}

int
main (int   argc,
      char *argv[])
{
  tmpdir = lctl_test_init (&argc, &argv);

  g_test_add_func ("/config/seed", test_seed);
  g_test_add_func ("/config/seed/master-key-unset", test_seed_master_key_unset);
  g_test_add_func ("/config/seed/dotenv", test_seed_with_dotenv);
  g_test_add_func ("/config/templates/parse", test_templates_parse);
  g_test_add_func ("/config/templates/default-config", test_templates_default_config);
  g_test_add_func ("/config/default-paths", test_default_paths);
  for (gsize i = 0; i < G_N_ELEMENTS (error_cases); i++)
    {
      g_autofree char *test_path = g_strdup_printf ("/config/errors/%s", error_cases[i].name);

      g_test_add_data_func (test_path, &error_cases[i], test_error_case);
    }
  g_test_add_func ("/config/errors/missing-file", test_error_missing_file);
  g_test_add_func ("/config/errors/limits", test_error_limits);
  g_test_add_func ("/config/scalars", test_scalars);
  g_test_add_func ("/config/anchors", test_anchors);
  g_test_add_func ("/config/defaults", test_defaults);
  g_test_add_func ("/config/router-settings", test_router_settings);
  g_test_add_func ("/config/unknown-keys", test_unknown_keys);
  g_test_add_func ("/config/environ", test_environ);
  g_test_add_func ("/config/environ/not-in-errors", test_environ_not_in_errors);
  g_test_add_func ("/config/dotenv", test_dotenv);
  g_test_add_func ("/config/dotenv/beside-config", test_dotenv_beside_config);
  g_test_add_func ("/config/bom-crlf", test_bom_crlf);
  g_test_add_func ("/config/refcount", test_refcount);
  g_test_add_func ("/config/fuzz", test_fuzz);

  return g_test_run ();
}
