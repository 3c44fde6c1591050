/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#pragma once

#include <libsoup/soup.h>

#include "lctl-config.h"

G_BEGIN_DECLS

/* What a client asked for; decides the dialect of errors, too. */
typedef enum
{
  LCTL_ENDPOINT_NONE,
  LCTL_ENDPOINT_HEALTH,
  LCTL_ENDPOINT_MODELS,
  LCTL_ENDPOINT_MODEL,
  LCTL_ENDPOINT_ANTHROPIC_MESSAGES,
  LCTL_ENDPOINT_ANTHROPIC_COUNT_TOKENS,
  LCTL_ENDPOINT_OPENAI_CHAT,
  LCTL_ENDPOINT_OPENAI_RESPONSES,
} LctlEndpoint;

#define LCTL_TYPE_SERVER (lctl_server_get_type ())
G_DECLARE_FINAL_TYPE (LctlServer, lctl_server, LCTL, SERVER, GObject)

/* Serves a proxied endpoint. The message is paused-or-answered by the
 * callee; @config is the snapshot the request runs on. */
typedef void (*LctlServerProxyFunc) (LctlServer        *server,
                                     SoupServerMessage *msg,
                                     LctlEndpoint       endpoint,
                                     LctlConfig        *config,
                                     gpointer           user_data);

LctlServer *lctl_server_new (void);
gboolean    lctl_server_listen (LctlServer *self,
                                const char *host,
                                unsigned    port,
                                GError    **error);
void        lctl_server_stop_listening (LctlServer *self);
void        lctl_server_disconnect (LctlServer *self);
const char *lctl_server_get_address (LctlServer *self);
unsigned    lctl_server_get_port (LctlServer *self);
void        lctl_server_set_config (LctlServer *self,
                                    LctlConfig *config);
LctlConfig *lctl_server_get_config (LctlServer *self);
void        lctl_server_set_proxy_func (LctlServer         *self,
                                        LctlServerProxyFunc func,
                                        gpointer            user_data);
unsigned    lctl_server_get_in_flight (LctlServer *self);
guint64     lctl_server_get_request_count (LctlServer *self);

void lctl_server_respond_json (SoupServerMessage *msg,
                               unsigned           status,
                               const char        *json);
void lctl_server_respond_error (SoupServerMessage *msg,
                                LctlEndpoint       endpoint,
                                unsigned           status,
                                const char        *type,
                                const char        *message);

gboolean lctl_host_is_loopback (const char *host);

G_END_DECLS
