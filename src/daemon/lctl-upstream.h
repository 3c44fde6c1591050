/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#pragma once

#include <libsoup/soup.h>

#include "lctl-config.h"

G_BEGIN_DECLS

#define LCTL_TYPE_UPSTREAM (lctl_upstream_get_type ())
G_DECLARE_FINAL_TYPE (LctlUpstream, lctl_upstream, LCTL, UPSTREAM, GObject)

/* Seconds; 0 means no limit. */
typedef struct
{
  double first_byte; /* until the first body bytes (time to first token) */
  double idle;       /* between two reads of the body */
  double total;      /* the whole exchange */
} LctlUpstreamTimeouts;

typedef struct _LctlUpstreamCall LctlUpstreamCall;

/**
 * LctlUpstreamCallbacks:
 * @headers: The status line and headers are in.
 * @chunk: Body bytes, as they arrived.
 * @done: The exchange ended: @error is %NULL at the end of the body, else
 *   %LCTL_ERROR_TIMEOUT for a timeout or a #GIOError for a connection
 *   failure. Nothing is called after it.
 *
 * None of them is called once lctl_upstream_call_cancel() returned.
 */
typedef struct
{
  void (*headers) (LctlUpstreamCall   *call,
                   unsigned            status,
                   SoupMessageHeaders *headers,
                   gpointer            user_data);
  void (*chunk) (LctlUpstreamCall *call,
                 GBytes           *chunk,
                 gpointer          user_data);
  void (*done) (LctlUpstreamCall *call,
                const GError     *error,
                gpointer          user_data);
} LctlUpstreamCallbacks;

LctlUpstream *lctl_upstream_new (void);
void          lctl_upstream_configure (LctlUpstream *self,
                                       LctlConfig   *config);
SoupSession  *lctl_upstream_get_session (LctlUpstream *self);

LctlUpstreamCall *lctl_upstream_send (LctlUpstream                *self,
                                      SoupMessage                 *msg,
                                      const LctlUpstreamTimeouts  *timeouts,
                                      GCancellable                *cancellable,
                                      const LctlUpstreamCallbacks *callbacks,
                                      gpointer                     user_data);
void              lctl_upstream_call_cancel (LctlUpstreamCall *call);
SoupMessage      *lctl_upstream_call_get_message (LctlUpstreamCall *call);

G_END_DECLS
