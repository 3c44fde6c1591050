/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#pragma once

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

G_BEGIN_DECLS

#define LCTL_TYPE_LOGIN_FLOW (lctl_login_flow_get_type ())
G_DECLARE_FINAL_TYPE (LctlLoginFlow, lctl_login_flow, LCTL, LOGIN_FLOW, GObject)

LctlLoginFlow *lctl_login_flow_new (const char  *provider,
                                    SoupSession *session,
                                    gboolean     headless,
                                    GError     **error);
const char    *lctl_login_flow_get_id (LctlLoginFlow *self);
const char    *lctl_login_flow_get_provider (LctlLoginFlow *self);
GVariant      *lctl_login_flow_get_prompt (LctlLoginFlow *self);

void        lctl_login_flow_run_async (LctlLoginFlow      *self,
                                       GCancellable       *cancellable,
                                       GAsyncReadyCallback callback,
                                       gpointer            user_data);
JsonObject *lctl_login_flow_run_finish (LctlLoginFlow *self,
                                        GAsyncResult  *result,
                                        GError       **error);

gboolean lctl_login_flow_complete (LctlLoginFlow *self,
                                   const char    *redirect_url,
                                   GError       **error);
void     lctl_login_flow_cancel (LctlLoginFlow *self);

G_END_DECLS
