/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#include "config.h"

#include <string.h>

#include "lctl-oauth-util.h"
#include "lctl-provider.h"

#define ANTHROPIC_VERSION    "2023-06-01"
#define ANTHROPIC_OAUTH_BETA "oauth-2025-04-20"

/* The deployment's api_base, else the provider's environment override. */
static const char *
configured_base (const LctlProvider   *self,
                 const LctlDeployment *deployment)
{
  const char *env = self->base_env != NULL ? g_getenv (self->base_env) : NULL;

  if (deployment->api_base != NULL && *deployment->api_base != '\0')
    return deployment->api_base;
  if (env != NULL && *env != '\0')
    return env;
  return NULL;
}

static char *
default_base_url (const LctlProvider   *self,
                  const LctlDeployment *deployment,
                  const LctlToken      *token)
{
  const char *configured = configured_base (self, deployment);

  return g_strdup (configured != NULL ? configured : self->default_base);
}

/* Qwen's token names the API host in resource_url ("portal.qwen.ai"):
 * https:// in front and /v1 behind when missing. */
static char *
qwen_base_url (const LctlProvider   *self,
               const LctlDeployment *deployment,
               const LctlToken      *token)
{
  const char      *configured = configured_base (self, deployment);
  g_autofree char *base = NULL;

  if (configured != NULL)
    return g_strdup (configured);
  if (token == NULL || token->resource_url == NULL || *token->resource_url == '\0')
    return g_strdup (self->default_base);

  if (strstr (token->resource_url, "://") != NULL)
    base = g_strdup (token->resource_url);
  else
    base = g_strconcat ("https://", token->resource_url, NULL);
  while (g_str_has_suffix (base, "/"))
    base[strlen (base) - 1] = '\0';
  if (g_str_has_suffix (base, "/v1"))
    return g_steal_pointer (&base);
  return g_strconcat (base, "/v1", NULL);
}

static void
set_bearer (SoupMessageHeaders *headers,
            const char         *secret)
{
  g_autofree char *value = NULL;

  if (secret == NULL || *secret == '\0')
    return;
  value = g_strconcat ("Bearer ", secret, NULL);
  soup_message_headers_replace (headers, "Authorization", value);
}

static void
anthropic_headers (const LctlProvider   *self,
                   const LctlDeployment *deployment,
                   const LctlToken      *token,
                   SoupMessageHeaders   *client_headers,
                   SoupMessageHeaders   *headers)
{
  const char *version = client_headers != NULL ? soup_message_headers_get_one (client_headers, "anthropic-version") : NULL;
  const char *client_betas = client_headers != NULL ? soup_message_headers_get_list (client_headers, "anthropic-beta") : NULL;
  g_autoptr (GString) betas = g_string_new (client_betas);
  const char *key = deployment->api_key;

  /* An Anthropic client's version and betas mean something to an
   * Anthropic-compatible upstream: keep them. */
  soup_message_headers_replace (headers, "anthropic-version", version != NULL ? version : ANTHROPIC_VERSION);

  if (key != NULL && g_str_has_prefix (key, "sk-ant-oat"))
    {
      set_bearer (headers, key);
      if (strstr (betas->str, ANTHROPIC_OAUTH_BETA) == NULL)
        g_string_append_printf (betas, "%s%s", betas->len > 0 ? "," : "", ANTHROPIC_OAUTH_BETA);
    }
  else if (key != NULL && *key != '\0')
    soup_message_headers_replace (headers, "x-api-key", key);

  if (betas->len > 0)
    soup_message_headers_replace (headers, "anthropic-beta", betas->str);
}

static void
openai_headers (const LctlProvider   *self,
                const LctlDeployment *deployment,
                const LctlToken      *token,
                SoupMessageHeaders   *client_headers,
                SoupMessageHeaders   *headers)
{
  set_bearer (headers, token != NULL ? token->access_token : deployment->api_key);
}

static void
kimi_headers (const LctlProvider   *self,
              const LctlDeployment *deployment,
              const LctlToken      *token,
              SoupMessageHeaders   *client_headers,
              SoupMessageHeaders   *headers)
{
  g_auto (GStrv) identity = lctl_oauth_kimi_headers ();

  set_bearer (headers, token != NULL ? token->access_token : NULL);
  for (char **h = identity; h != NULL && h[0] != NULL && h[1] != NULL; h += 2)
    soup_message_headers_replace (headers, h[0], h[1]);
}

static void
chatgpt_headers (const LctlProvider   *self,
                 const LctlDeployment *deployment,
                 const LctlToken      *token,
                 SoupMessageHeaders   *client_headers,
                 SoupMessageHeaders   *headers)
{
  const char      *originator = g_getenv ("CHATGPT_ORIGINATOR");
  const char      *session = client_headers != NULL ? soup_message_headers_get_one (client_headers, "session_id") : NULL;
  g_autofree char *uuid = NULL;

  set_bearer (headers, token != NULL ? token->access_token : NULL);
  if (token != NULL && token->account_id != NULL)
    soup_message_headers_replace (headers, "ChatGPT-Account-Id", token->account_id);
  soup_message_headers_replace (headers, "originator", originator != NULL ? originator : "codex_cli_rs");
  if (session == NULL)
    session = uuid = g_uuid_string_random ();
  soup_message_headers_replace (headers, "session_id", session);
  /* The backend always streams. */
  soup_message_headers_replace (headers, "Accept", "text/event-stream");
}

static void
kimi_prepare (const LctlProvider *self,
              LctlIrRequest      *request)
{
  /* Without an explicit choice Kimi rejects every temperature but 0.6. */
  if (request->thinking.mode != LCTL_IR_THINKING_UNSET)
    return;
  if (request->upstream_params == NULL)
    request->upstream_params = json_object_new ();
  if (!json_object_has_member (request->upstream_params, "thinking"))
    {
      JsonObject *thinking = json_object_new ();

      json_object_set_string_member (thinking, "type", "disabled");
      json_object_set_object_member (request->upstream_params, "thinking", thinking);
    }
}

#define OPENAI_COMPATIBLE(prefix, base, env)                                                    \
  {                                                                                             \
    .name = prefix, .dialect = LCTL_DIALECT_OPENAI_CHAT, .default_base = base, .base_env = env, \
    .base_url = default_base_url, .add_headers = openai_headers,                                \
  }

static const LctlProvider providers[] = {
  {
      .name = "anthropic",
      .dialect = LCTL_DIALECT_ANTHROPIC,
      .default_base = "https://api.anthropic.com",
      .base_env = "ANTHROPIC_API_BASE",
      .base_url = default_base_url,
      .add_headers = anthropic_headers,
  },
  OPENAI_COMPATIBLE ("openai", "https://api.openai.com/v1", "OPENAI_API_BASE"),
  OPENAI_COMPATIBLE ("openai_like", "http://127.0.0.1:8000/v1", NULL),
  OPENAI_COMPATIBLE ("hosted_vllm", "http://127.0.0.1:8000/v1", "HOSTED_VLLM_API_BASE"),
  OPENAI_COMPATIBLE ("lm_studio", "http://127.0.0.1:1234/v1", "LM_STUDIO_API_BASE"),
  OPENAI_COMPATIBLE ("deepseek", "https://api.deepseek.com/v1", "DEEPSEEK_API_BASE"),
  OPENAI_COMPATIBLE ("openrouter", "https://openrouter.ai/api/v1", "OPENROUTER_API_BASE"),
  OPENAI_COMPATIBLE ("groq", "https://api.groq.com/openai/v1", "GROQ_API_BASE"),
  OPENAI_COMPATIBLE ("together_ai", "https://api.together.xyz/v1", "TOGETHER_AI_API_BASE"),
  OPENAI_COMPATIBLE ("mistral", "https://api.mistral.ai/v1", "MISTRAL_API_BASE"),
  OPENAI_COMPATIBLE ("xai", "https://api.x.ai/v1", "XAI_API_BASE"),
  OPENAI_COMPATIBLE ("fireworks_ai", "https://api.fireworks.ai/inference/v1", "FIREWORKS_AI_API_BASE"),
  OPENAI_COMPATIBLE ("moonshot", "https://api.moonshot.ai/v1", "MOONSHOT_API_BASE"),
  OPENAI_COMPATIBLE ("dashscope", "https://dashscope-intl.aliyuncs.com/compatible-mode/v1", "DASHSCOPE_API_BASE"),
  {
      .name = "qwen_portal",
      .dialect = LCTL_DIALECT_OPENAI_CHAT,
      .token_provider = "qwen_portal",
      .default_base = "https://chat.qwen.ai/api/v1",
      .base_env = "QWEN_PORTAL_API_BASE",
      .base_url = qwen_base_url,
      .add_headers = openai_headers,
  },
  {
      .name = "kimi_code",
      .dialect = LCTL_DIALECT_OPENAI_CHAT,
      .token_provider = "kimi_code",
      .default_base = "https://api.kimi.com/coding/v1",
      .base_env = "KIMI_CODE_API_BASE",
      .base_url = default_base_url,
      .add_headers = kimi_headers,
      .prepare = kimi_prepare,
      .sanitize_tool_names = TRUE,
  },
  {
      .name = "chatgpt",
      .dialect = LCTL_DIALECT_RESPONSES,
      .token_provider = "chatgpt",
      .default_base = "https://chatgpt.com/backend-api/codex",
      .base_env = "CHATGPT_API_BASE",
      .base_url = default_base_url,
      .add_headers = chatgpt_headers,
  },
  {
      .name = "gemini_cli",
      .dialect = LCTL_DIALECT_GEMINI,
      .token_provider = "gemini_cli",
      .default_base = "https://cloudcode-pa.googleapis.com/v1internal",
      .base_env = "GEMINI_CLI_API_BASE",
      .base_url = default_base_url,
      .add_headers = openai_headers,
  },
};

/**
 * lctl_provider_lookup:
 * @name: A `litellm_params.model` prefix.
 *
 * Returns: (nullable): the provider, or %NULL when litellmctl does not know it.
 */
const LctlProvider *
lctl_provider_lookup (const char *name)
{
  for (gsize i = 0; name != NULL && i < G_N_ELEMENTS (providers); i++)
    if (g_str_equal (providers[i].name, name))
      return &providers[i];
  return NULL;
}

static char *
append_path (char       *base,
             const char *path)
{
  g_autofree char *owned = base;
  gsize            len = strlen (owned);

  while (len > 0 && owned[len - 1] == '/')
    owned[--len] = '\0';
  if (g_str_has_suffix (owned, path))
    return g_steal_pointer (&owned);
  return g_strconcat (owned, path, NULL);
}

/**
 * lctl_provider_build_url:
 * @upstream_model: The model name sent upstream (Gemini puts it in the URL
 *   of the public API; Code Assist does not).
 * @stream: Whether the answer is streamed.
 *
 * Returns: (transfer full): where to POST the request.
 */
char *
lctl_provider_build_url (const LctlProvider   *self,
                         const LctlDeployment *deployment,
                         const LctlToken      *token,
                         const char           *upstream_model,
                         gboolean              stream)
{
  char *base = self->base_url (self, deployment, token);

  switch (self->dialect)
    {
    case LCTL_DIALECT_ANTHROPIC:
      /* "https://api.z.ai/api/anthropic" and ".../v1" both work. */
      if (g_str_has_suffix (base, "/v1") || g_str_has_suffix (base, "/v1/"))
        return append_path (base, "/messages");
      return append_path (base, "/v1/messages");
    case LCTL_DIALECT_OPENAI_CHAT:
      return append_path (base, "/chat/completions");
    case LCTL_DIALECT_RESPONSES:
      return append_path (base, "/responses");
    case LCTL_DIALECT_GEMINI:
      return append_path (base, stream ? ":streamGenerateContent?alt=sse" : ":generateContent");
    case LCTL_DIALECT_NONE:
    default:
      return base;
    }
}

/**
 * lctl_provider_add_headers:
 * @token: (nullable): The OAuth token, for providers that need one.
 * @client_headers: (nullable): What the client sent: only the values a
 *   provider deliberately passes on are read (Anthropic version and betas).
 *   Hop-by-hop headers and the client's credentials never go upstream.
 * @headers: The upstream request's headers.
 */
void
lctl_provider_add_headers (const LctlProvider   *self,
                           const LctlDeployment *deployment,
                           const LctlToken      *token,
                           SoupMessageHeaders   *client_headers,
                           SoupMessageHeaders   *headers,
                           gboolean              stream)
{
  JsonNode *extra = deployment->params != NULL ? json_object_get_member (deployment->params, "extra_headers") : NULL;

  soup_message_headers_replace (headers, "Content-Type", "application/json");
  soup_message_headers_replace (headers, "Accept", stream ? "text/event-stream" : "application/json");
  self->add_headers (self, deployment, token, client_headers, headers);

  if (extra != NULL && JSON_NODE_HOLDS_OBJECT (extra))
    {
      JsonObjectIter iter;
      const char    *name;
      JsonNode      *value;

      json_object_iter_init (&iter, json_node_get_object (extra));
      while (json_object_iter_next (&iter, &name, &value))
        if (JSON_NODE_HOLDS_VALUE (value) && json_node_get_value_type (value) == G_TYPE_STRING)
          soup_message_headers_replace (headers, name, json_node_get_string (value));
    }
}

/* Applies request-time quirks to a request converted for this provider. */
void
lctl_provider_prepare_request (const LctlProvider *self,
                               LctlIrRequest      *request)
{
  if (self->prepare != NULL)
    self->prepare (self, request);
}

gboolean
lctl_provider_sanitizes_tool_names (const LctlProvider *self)
{
  return self->sanitize_tool_names;
}
