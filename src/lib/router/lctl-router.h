/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#pragma once

#include <glib-object.h>

#include "lctl-config.h"

G_BEGIN_DECLS

/**
 * LctlRouteFailureKind:
 * @LCTL_ROUTE_FAILURE_NONE: No failure (success, or nothing tried yet).
 * @LCTL_ROUTE_FAILURE_CONNECTION: Could not connect, or the connection broke
 *   before the first byte of the answer (status 0).
 * @LCTL_ROUTE_FAILURE_TIMEOUT: Total timeout, time-to-first-token timeout or
 *   HTTP 408.
 * @LCTL_ROUTE_FAILURE_RATE_LIMIT: HTTP 429 (quota, rate limit).
 * @LCTL_ROUTE_FAILURE_OVERLOADED: HTTP 529 or an in-stream "overloaded" error.
 * @LCTL_ROUTE_FAILURE_SERVER: Other 5xx.
 * @LCTL_ROUTE_FAILURE_AUTH: HTTP 401 or 403.
 * @LCTL_ROUTE_FAILURE_NOT_FOUND: HTTP 404 (unknown model or endpoint).
 * @LCTL_ROUTE_FAILURE_CONTEXT_WINDOW: The prompt does not fit the model.
 * @LCTL_ROUTE_FAILURE_CONTENT_POLICY: The upstream refused the content.
 * @LCTL_ROUTE_FAILURE_BAD_REQUEST: Any other 400/422: the request itself is
 *   malformed, so no other deployment will take it either.
 * @LCTL_ROUTE_FAILURE_CANCELLED: The client went away; counts for nothing.
 * @LCTL_ROUTE_FAILURE_OTHER: Anything else (not retried, but fallbacks run).
 *
 * Why an attempt failed, as far as routing cares.
 */
typedef enum
{
  LCTL_ROUTE_FAILURE_NONE = 0,
  LCTL_ROUTE_FAILURE_CONNECTION,
  LCTL_ROUTE_FAILURE_TIMEOUT,
  LCTL_ROUTE_FAILURE_RATE_LIMIT,
  LCTL_ROUTE_FAILURE_OVERLOADED,
  LCTL_ROUTE_FAILURE_SERVER,
  LCTL_ROUTE_FAILURE_AUTH,
  LCTL_ROUTE_FAILURE_NOT_FOUND,
  LCTL_ROUTE_FAILURE_CONTEXT_WINDOW,
  LCTL_ROUTE_FAILURE_CONTENT_POLICY,
  LCTL_ROUTE_FAILURE_BAD_REQUEST,
  LCTL_ROUTE_FAILURE_CANCELLED,
  LCTL_ROUTE_FAILURE_OTHER,
} LctlRouteFailureKind;

/**
 * LctlRouterClockFunc:
 * @user_data: The data given to lctl_router_set_clock().
 * @monotonic_us: (out): Monotonic time in microseconds.
 * @real_us: (out): Wall-clock time in microseconds since the epoch.
 *
 * A clock for the router; tests inject a fake one.
 */
typedef void (*LctlRouterClockFunc) (gpointer user_data,
                                     gint64  *monotonic_us,
                                     gint64  *real_us);

/**
 * LctlDeploymentStatus:
 * @cooling_down: Whether the deployment is out of rotation.
 * @cooldown_until: Unix time in seconds the cooldown ends, 0 when not cooling.
 * @recent_fails: Failures that count towards a cooldown, within the last
 *   `cooldown_time`.
 * @in_flight: Attempts running now.
 * @latency_ms: Moving average of the total latency, 0 when unknown.
 * @ttft_ms: Moving average of the time to first token, 0 when unknown.
 * @last_status: HTTP status of the last failure (0 for connection errors).
 * @last_error: Text of the last failure or %NULL; borrowed, valid until the
 *   next call into the router.
 *
 * A deployment's health, as shown by ListModels and `litellmctl status`.
 */
typedef struct
{
  gboolean    cooling_down;
  gint64      cooldown_until;
  unsigned    recent_fails;
  unsigned    in_flight;
  double      latency_ms;
  double      ttft_ms;
  int         last_status;
  const char *last_error;
} LctlDeploymentStatus;

#define LCTL_TYPE_ROUTER (lctl_router_get_type ())
G_DECLARE_FINAL_TYPE (LctlRouter, lctl_router, LCTL, ROUTER, GObject)

LctlRouter *lctl_router_new (void);

void lctl_router_set_clock (LctlRouter         *self,
                            LctlRouterClockFunc clock,
                            gpointer            user_data);
void lctl_router_set_seed (LctlRouter *self,
                           guint32     seed);

void     lctl_router_check_cooldowns (LctlRouter *self);
unsigned lctl_router_reset_cooldowns (LctlRouter *self,
                                      const char *model_name);

gboolean  lctl_router_get_deployment_status (LctlRouter           *self,
                                             const LctlConfig     *config,
                                             const LctlDeployment *deployment,
                                             LctlDeploymentStatus *out);
GVariant *lctl_router_list_states (LctlRouter       *self,
                                   const LctlConfig *config);

char *lctl_router_resolve_group (const LctlConfig *config,
                                 const char       *requested_model,
                                 gboolean         *out_wildcard);
char *lctl_router_effective_upstream_model (const LctlDeployment *deployment,
                                            const char           *requested_model);
void  lctl_router_deployment_timeouts (const LctlConfig     *config,
                                       const LctlDeployment *deployment,
                                       double               *total_s,
                                       double               *first_token_s);

LctlRouteFailureKind lctl_route_failure_kind_classify (int         status,
                                                       const char *error_text);
gboolean             lctl_route_failure_kind_is_retryable (LctlRouteFailureKind kind);
gboolean             lctl_route_failure_counts_for_cooldown (LctlRouteFailureKind kind,
                                                             int                  status);
const char          *lctl_route_failure_kind_to_string (LctlRouteFailureKind kind);

G_END_DECLS
