/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/**
 * LctlDeployment:
 * @model_name: The client-facing model group name (`model_name`).
 * @model: `litellm_params.model` as written, `<provider>/<upstream model>`.
 * @provider: The part of @model before the first `/` (e.g. `anthropic`).
 * @upstream_model: The part after it (e.g. `claude-sonnet-4-5-20250929`);
 *   may contain further slashes and may be `*` for wildcard groups.
 * @api_base: `litellm_params.api_base`, or %NULL.
 * @api_key: `litellm_params.api_key` with `os.environ/` resolved, or %NULL
 *   (also %NULL when the variable it names is unset).
 * @timeout: `litellm_params.timeout` in seconds, 0 when unset.
 * @stream_timeout: `litellm_params.stream_timeout` in seconds, 0 when unset.
 * @weight: `litellm_params.weight`, 1 when unset.
 * @mock_response: `litellm_params.mock_response`, or %NULL.
 * @params: Every key of `litellm_params` (resolved), including the ones
 *   above and unknown ones such as `thinking`, `max_tokens`, `extra_headers`.
 * @model_info: `model_info` or %NULL.
 * @index: Position in `model_list`.
 * @id: A stable identifier: `<model_name>#<index>`.
 *
 * One entry of `model_list`. Owned by its #LctlConfig; immutable.
 */
typedef struct
{
  char       *model_name;
  char       *model;
  char       *provider;
  char       *upstream_model;
  char       *api_base;
  char       *api_key;
  double      timeout;
  double      stream_timeout;
  int         weight;
  char       *mock_response;
  JsonObject *params;
  JsonObject *model_info;
  unsigned    index;
  char       *id;
} LctlDeployment;

/**
 * LctlFallback:
 * @model_name: The model group the chain belongs to.
 * @chain: (array zero-terminated=1): The groups to try, in order.
 */
typedef struct
{
  char  *model_name;
  char **chain;
} LctlFallback;

/**
 * LctlRouterSettings:
 *
 * `router_settings`, with LiteLLM's defaults for what the file leaves out.
 */
typedef struct
{
  int         num_retries;              /* default 0 (LiteLLM: 0 unless set) */
  double      timeout;                  /* seconds, 0 = unset */
  double      stream_timeout;           /* time to first token, seconds, 0 = unset */
  double      retry_after;              /* minimum wait before a retry, seconds, default 0 */
  int         allowed_fails;            /* default 3 */
  double      cooldown_time;            /* seconds, default 5 */
  double      max_cooldown_time;        /* cap for Retry-After driven cooldowns, default 60 */
  int         max_fallbacks;            /* depth bound, default 5 */
  char       *routing_strategy;         /* default "simple-shuffle" */
  GPtrArray  *fallbacks;                /* (element-type LctlFallback) */
  GPtrArray  *context_window_fallbacks; /* (element-type LctlFallback) */
  GPtrArray  *content_policy_fallbacks; /* (element-type LctlFallback) */
  GHashTable *model_group_alias;        /* (element-type utf8 utf8) alias -> group */
} LctlRouterSettings;

/**
 * LctlConfig:
 * @path: The file it was loaded from.
 * @deployments: (element-type LctlDeployment): `model_list`, in order.
 * @model_names: (array zero-terminated=1): Distinct `model_name`s, in order
 *   of first appearance.
 * @router: `router_settings`.
 * @drop_params: `litellm_settings.drop_params`, default %FALSE.
 * @request_timeout: `litellm_settings.request_timeout` seconds, default 600.
 * @master_key: `general_settings.master_key` (resolved), or %NULL.
 * @max_request_body: `general_settings.max_request_size_mb` in bytes,
 *   default 32 MiB.
 * @litellm_settings: The whole section, resolved (never %NULL).
 * @general_settings: The whole section, resolved (never %NULL).
 * @environment_variables: (element-type utf8 utf8): The section's pairs.
 * @warnings: (array zero-terminated=1): `file:line:col: message` for each
 *   unknown key or ignored value, each unset `os.environ/` variable (named,
 *   never its value) and each malformed `.env` line (`file:line: message`).
 *
 * An immutable configuration snapshot. Requests hold a reference to the
 * snapshot they started with, so a reload never changes a request in flight.
 * The JSON objects (@params, @model_info, the settings) are sealed
 * (json_object_seal()): copy them before changing anything.
 *
 * Loading has one side effect: `environment_variables` (and `.env`, for
 * lctl_config_load()) are set in the process environment where a variable
 * is not set yet, before `os.environ/` references are resolved. Load on the
 * main thread.
 */
typedef struct
{
  char              *path;
  GPtrArray         *deployments;
  char             **model_names;
  LctlRouterSettings router;
  gboolean           drop_params;
  double             request_timeout;
  char              *master_key;
  gsize              max_request_body;
  JsonObject        *litellm_settings;
  JsonObject        *general_settings;
  GHashTable        *environment_variables;
  char             **warnings;
} LctlConfig;

LctlConfig *lctl_config_load (const char *path,
                              GError    **error);
LctlConfig *lctl_config_load_from_data (const char *data,
                                        gssize      length,
                                        const char *path,
                                        GError    **error);
LctlConfig *lctl_config_ref (LctlConfig *self);
void        lctl_config_unref (LctlConfig *self);

char *lctl_config_default_path (void);
char *lctl_config_default_template_path (void);

const LctlDeployment *lctl_config_find_deployment (LctlConfig *self,
                                                   const char *model_name);
GPtrArray            *lctl_config_get_group (LctlConfig *self,
                                             const char *model_name);
const LctlFallback   *lctl_config_find_fallback (GPtrArray  *fallbacks,
                                                 const char *model_name);

int lctl_config_load_dotenv (const char *path,
                             GError    **error);
int lctl_config_load_dotenv_full (const char *path,
                                  char     ***warnings,
                                  GError    **error);

const char *lctl_config_resolve_alias (LctlConfig *self,
                                       const char *model_name);

JsonNode *lctl_config_parse_yaml (const char *data,
                                  gssize      length,
                                  const char *path,
                                  GError    **error);
JsonNode *lctl_config_parse_yaml_file (const char *path,
                                       GError    **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LctlConfig, lctl_config_unref)

G_END_DECLS
