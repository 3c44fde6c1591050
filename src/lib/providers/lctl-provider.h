/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#pragma once

#include <libsoup/soup.h>

#include "lctl-config.h"
#include "lctl-ir.h"
#include "lctl-token-source.h"

G_BEGIN_DECLS

/**
 * LctlProvider:
 * @name: The `litellm_params.model` prefix (`anthropic`, `openai`, …).
 * @dialect: The dialect its upstream speaks.
 * @token_provider: The OAuth account whose bearer token it needs, or %NULL
 *   when the deployment's `api_key` is the credential.
 * @default_base: Base URL when the deployment has no `api_base`.
 * @base_env: Environment variable overriding the base, or %NULL.
 *
 * One upstream family: where requests go, how they authenticate and which
 * quirks they need. Providers are static; look them up by prefix.
 */
typedef struct _LctlProvider LctlProvider;
struct _LctlProvider
{
  const char *name;
  LctlDialect dialect;
  const char *token_provider;
  const char *default_base;
  const char *base_env;

  /*< private >*/
  char *(*base_url) (const LctlProvider   *self,
                     const LctlDeployment *deployment,
                     const LctlToken      *token);
  void (*add_headers) (const LctlProvider   *self,
                       const LctlDeployment *deployment,
                       const LctlToken      *token,
                       SoupMessageHeaders   *client_headers,
                       SoupMessageHeaders   *headers);
  void (*prepare) (const LctlProvider *self,
                   LctlIrRequest      *request);
  gboolean sanitize_tool_names;
};

const LctlProvider *lctl_provider_lookup (const char *name);

char    *lctl_provider_build_url (const LctlProvider   *self,
                                  const LctlDeployment *deployment,
                                  const LctlToken      *token,
                                  const char           *upstream_model,
                                  gboolean              stream);
void     lctl_provider_add_headers (const LctlProvider   *self,
                                    const LctlDeployment *deployment,
                                    const LctlToken      *token,
                                    SoupMessageHeaders   *client_headers,
                                    SoupMessageHeaders   *headers,
                                    gboolean              stream);
void     lctl_provider_prepare_request (const LctlProvider *self,
                                        LctlIrRequest      *request);
gboolean lctl_provider_sanitizes_tool_names (const LctlProvider *self);

G_END_DECLS
