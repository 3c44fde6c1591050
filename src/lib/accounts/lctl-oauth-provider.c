/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#include "config.h"

#include <stdlib.h>

#include "lctl-oauth-provider.h"

static const LctlOAuthProvider providers[] = {
  { "chatgpt", "chatgpt", "ChatGPT / Codex", LCTL_OAUTH_FLOW_PKCE, 60,
    "app_EMoamEEZ73f0CkXaXp7hrann", 1455, "/auth/callback",
    "LITELLMCTL_CHATGPT_CALLBACK_PORT" },
  { "gemini_cli", "gemini", "Gemini CLI", LCTL_OAUTH_FLOW_PKCE, 300,
    NULL, 8085, "/oauth2callback", "LITELLMCTL_GEMINI_CALLBACK_PORT" },
  { "qwen_portal", "qwen", "Qwen Portal", LCTL_OAUTH_FLOW_DEVICE, 60,
    "f0304373b74a44d2b584a3fb70ca9e56", 0, NULL, NULL },
  { "kimi_code", "kimi", "Kimi Code", LCTL_OAUTH_FLOW_DEVICE, 60,
    "17e5f671-d194-4dfb-9706-5516cb48c098", 0, NULL, NULL },
};

/* The seed's aliases (PROTOCOLS.md §1.1 "Command aliases"). */
static const struct
{
  const char *alias;
  const char *id;
} aliases[] = {
  { "chatgpt", "chatgpt" },
  { "codex", "chatgpt" },
  { "openai", "chatgpt" },
  { "gemini", "gemini_cli" },
  { "gemini_cli", "gemini_cli" },
  { "gemini-cli", "gemini_cli" },
  { "qwen", "qwen_portal" },
  { "qwen_portal", "qwen_portal" },
  { "qwen-portal", "qwen_portal" },
  { "kimi", "kimi_code" },
  { "kimi_code", "kimi_code" },
  { "kimi-code", "kimi_code" },
};

/**
 * lctl_oauth_provider_lookup:
 * @name: A provider key or one of the seed's aliases.
 *
 * Returns: (transfer none) (nullable): The provider, or %NULL if unknown.
 */
const LctlOAuthProvider *
lctl_oauth_provider_lookup (const char *name)
{
  if (name == NULL)
    return NULL;
  for (gsize i = 0; i < G_N_ELEMENTS (aliases); i++)
    {
      if (g_ascii_strcasecmp (aliases[i].alias, name) != 0)
        continue;
      for (gsize j = 0; j < G_N_ELEMENTS (providers); j++)
        if (g_str_equal (providers[j].id, aliases[i].id))
          return &providers[j];
    }
  return NULL;
}

/**
 * lctl_oauth_provider_get_all:
 * @n_providers: (out): Number of providers.
 *
 * Returns: (transfer none) (array length=n_providers): All providers, in
 *   the order the CLI lists them.
 */
const LctlOAuthProvider *
lctl_oauth_provider_get_all (gsize *n_providers)
{
  *n_providers = G_N_ELEMENTS (providers);
  return providers;
}

/**
 * lctl_oauth_provider_get_callback_port:
 *
 * Returns: The callback port, honouring the provider's environment override.
 */
unsigned
lctl_oauth_provider_get_callback_port (const LctlOAuthProvider *provider)
{
  const char *env = provider->port_env != NULL ? g_getenv (provider->port_env) : NULL;

  if (env != NULL && *env != '\0')
    {
      guint64 port = 0;

      if (g_ascii_string_to_unsigned (env, 10, 1, 65535, &port, NULL))
        return (unsigned) port;
      g_warning ("Ignoring invalid %s=%s", provider->port_env, env);
    }
  return provider->callback_port;
}
