/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#pragma once

#include "lctl-router.h"

G_BEGIN_DECLS

/* Long-lived health of one deployment. Keyed by a stable identity (group,
 * provider/model, api_base, occurrence) rather than by LctlDeployment
 * pointer, so it survives config reloads; never freed before the router,
 * so route plans may keep pointers to it. */
typedef struct
{
  char    *key;
  char    *model_name;
  char    *model;
  char    *deployment_id;
  unsigned in_flight;
  GArray  *fail_times;          /* gint64 monotonic µs of failures that count */
  gint64   cooldown_until;      /* monotonic µs, 0 = not cooling down */
  gint64   cooldown_until_real; /* wall-clock µs, for D-Bus */
  double   latency_ms;
  gboolean has_latency;
  double   ttft_ms;
  gboolean has_ttft;
  int      last_status;
  char    *last_error;
} LctlDeploymentState;

LctlDeploymentState *lctl_router_lookup_state (LctlRouter           *self,
                                               const LctlConfig     *config,
                                               const LctlDeployment *deployment);
gint64               lctl_router_now (LctlRouter *self);
gboolean             lctl_router_state_is_cooling (LctlRouter          *self,
                                                   LctlDeploymentState *state,
                                                   gint64               now);
GRand               *lctl_router_get_rand (LctlRouter *self);
void                 lctl_router_record_success (LctlRouter          *self,
                                                 LctlDeploymentState *state,
                                                 double               latency_ms,
                                                 double               ttft_ms);
void                 lctl_router_record_failure (LctlRouter               *self,
                                                 LctlDeploymentState      *state,
                                                 const LctlRouterSettings *settings,
                                                 LctlRouteFailureKind      kind,
                                                 int                       status,
                                                 double                    retry_after,
                                                 double                    latency_ms,
                                                 const char               *error_text);

G_END_DECLS
