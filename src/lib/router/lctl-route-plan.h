/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#pragma once

#include <json-glib/json-glib.h>

#include "lctl-router.h"

G_BEGIN_DECLS

/**
 * LctlRoutePlan:
 *
 * The route of one request: which deployment to try next, how long to wait
 * before it, and what happened on every attempt. Not thread-safe; lives on
 * the main loop with its router.
 */
typedef struct _LctlRoutePlan LctlRoutePlan;

/**
 * LctlRouteAttempt:
 * @index: Position in lctl_route_plan_get_attempts().
 * @deployment: The deployment to call; borrowed from the plan's config.
 * @model_group: The model group it belongs to (the requested one, or a
 *   fallback); borrowed from the plan.
 * @upstream_model: The model name to send upstream (differs from
 *   @deployment's for wildcard groups); borrowed from the plan.
 * @wait_ms: How long to wait before sending it (0 when another healthy
 *   deployment of the group is available).
 * @retry: 0 for the first attempt in this group, then 1, 2, ...
 * @fallback_depth: 0 for the requested group, 1 for its fallbacks, ...
 *
 * The next thing to do, filled by lctl_route_plan_next(). The pointers stay
 * valid until the plan is freed.
 */
typedef struct
{
  unsigned              index;
  const LctlDeployment *deployment;
  const char           *model_group;
  const char           *upstream_model;
  unsigned              wait_ms;
  unsigned              retry;
  unsigned              fallback_depth;
} LctlRouteAttempt;

/**
 * LctlRouteOutcome:
 * @success: Whether the upstream answered (for streams: the first event
 *   arrived and the plan was committed, or the whole answer arrived).
 * @status: The upstream's HTTP status; 0 for connection errors and
 *   timeouts.
 * @kind: Why it failed (see lctl_route_failure_kind_classify()).
 * @retry_after: The upstream's `Retry-After` in seconds, 0 when absent.
 *   Any value is accepted; the router caps it.
 * @error: (nullable): Short error text for logs, headers and signals; never
 *   credentials.
 * @latency_ms: Time from sending to the end of the answer (or failure).
 * @ttft_ms: Time to first token, 0 when unknown.
 *
 * What became of an attempt, given to lctl_route_plan_report().
 */
typedef struct
{
  gboolean             success;
  int                  status;
  LctlRouteFailureKind kind;
  double               retry_after;
  const char          *error;
  double               latency_ms;
  double               ttft_ms;
} LctlRouteOutcome;

/**
 * LctlRouteAttemptRecord:
 * @index: Position in the attempts array.
 * @model_group: The model group.
 * @deployment_id: The deployment's id (`<model_name>#<index>`).
 * @deployment_model: The deployment's `provider/model`.
 * @upstream_model: The model name sent upstream.
 * @wait_ms: The wait before the attempt.
 * @retry: As in #LctlRouteAttempt.
 * @fallback_depth: As in #LctlRouteAttempt.
 * @finished: Whether the outcome was reported.
 * @success: Whether it served the request.
 * @status: HTTP status (0: no answer).
 * @kind: Failure kind, %LCTL_ROUTE_FAILURE_NONE on success.
 * @error: (nullable): Error text.
 * @latency_ms: Latency.
 * @ttft_ms: Time to first token, 0 when unknown.
 *
 * One attempt, for the RequestFinished signal, the response headers and the
 * request's log line.
 */
typedef struct
{
  unsigned             index;
  char                *model_group;
  char                *deployment_id;
  char                *deployment_model;
  char                *upstream_model;
  unsigned             wait_ms;
  unsigned             retry;
  unsigned             fallback_depth;
  gboolean             finished;
  gboolean             success;
  int                  status;
  LctlRouteFailureKind kind;
  char                *error;
  double               latency_ms;
  double               ttft_ms;
} LctlRouteAttemptRecord;

LctlRoutePlan *lctl_router_plan (LctlRouter       *router,
                                 const LctlConfig *config,
                                 const char       *requested_model,
                                 JsonNode         *request_fallbacks,
                                 GError          **error);
void           lctl_route_plan_free (LctlRoutePlan *self);

gboolean lctl_route_plan_next (LctlRoutePlan    *self,
                               LctlRouteAttempt *out);
void     lctl_route_plan_report (LctlRoutePlan          *self,
                                 const LctlRouteAttempt *attempt,
                                 const LctlRouteOutcome *outcome);
void     lctl_route_plan_commit (LctlRoutePlan *self);
gboolean lctl_route_plan_is_committed (LctlRoutePlan *self);

const char                   *lctl_route_plan_get_requested_model (LctlRoutePlan *self);
const char                   *lctl_route_plan_get_model_group (LctlRoutePlan *self);
GPtrArray                    *lctl_route_plan_get_attempts (LctlRoutePlan *self);
const LctlRouteAttemptRecord *lctl_route_plan_get_served (LctlRoutePlan *self);
gboolean                      lctl_route_plan_get_last_failure (LctlRoutePlan    *self,
                                                                LctlRouteOutcome *out);

GVariant *lctl_route_plan_attempts_to_variant (LctlRoutePlan *self);
char     *lctl_route_plan_format_attempts (LctlRoutePlan *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LctlRoutePlan, lctl_route_plan_free)

G_END_DECLS
