/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/**
 * LctlOAuthFlowKind:
 * @LCTL_OAUTH_FLOW_PKCE: Authorization code with PKCE and a local callback.
 * @LCTL_OAUTH_FLOW_DEVICE: Device code.
 */
typedef enum
{
  LCTL_OAUTH_FLOW_PKCE,
  LCTL_OAUTH_FLOW_DEVICE,
} LctlOAuthFlowKind;

/**
 * LctlOAuthProvider:
 * @id: The provider key (`chatgpt`, `gemini_cli`, `qwen_portal`, `kimi_code`),
 *   also the model prefix in config.yaml.
 * @cli_name: The short name the CLI shows (`chatgpt`, `gemini`, `qwen`, `kimi`).
 * @label: A readable name.
 * @flow: How a login works.
 * @refresh_skew: Seconds before `expires_at` at which a token counts as expired.
 * @client_id: The public OAuth client id (%NULL for Gemini: it comes from
 *   the environment or an installed gemini-cli).
 * @callback_port: Default callback port of PKCE flows.
 * @callback_path: Callback path of PKCE flows.
 * @port_env: Environment variable overriding the callback port.
 *
 * Static facts about one OAuth subscription provider (PROTOCOLS.md §1).
 */
typedef struct
{
  const char       *id;
  const char       *cli_name;
  const char       *label;
  LctlOAuthFlowKind flow;
  int               refresh_skew;
  const char       *client_id;
  unsigned          callback_port;
  const char       *callback_path;
  const char       *port_env;
} LctlOAuthProvider;

const LctlOAuthProvider *lctl_oauth_provider_lookup (const char *name);
const LctlOAuthProvider *lctl_oauth_provider_get_all (gsize *n_providers);
unsigned                 lctl_oauth_provider_get_callback_port (const LctlOAuthProvider *provider);

G_END_DECLS
