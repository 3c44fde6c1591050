/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#pragma once

#include "lctl-route-plan.h"
#include "lctl-router.h"
#include "lctl-server.h"
#include "lctl-token-source.h"
#include "lctl-upstream.h"

G_BEGIN_DECLS

#define LCTL_TYPE_PROXY (lctl_proxy_get_type ())
G_DECLARE_FINAL_TYPE (LctlProxy, lctl_proxy, LCTL, PROXY, GObject)

LctlProxy *lctl_proxy_new (LctlRouter      *router,
                           LctlUpstream    *upstream,
                           LctlTokenSource *tokens,
                           GCancellable    *cancellable);
void       lctl_proxy_set_ping_interval (LctlProxy *self,
                                         unsigned   milliseconds);
void       lctl_proxy_set_token_source (LctlProxy       *self,
                                        LctlTokenSource *tokens);

/* An LctlServerProxyFunc; @user_data is the LctlProxy. */
void lctl_proxy_handle (LctlServer        *server,
                        SoupServerMessage *msg,
                        LctlEndpoint       endpoint,
                        LctlConfig        *config,
                        gpointer           user_data);

G_END_DECLS
