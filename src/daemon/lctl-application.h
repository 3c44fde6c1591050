/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#pragma once

#include <gio/gio.h>

#include "lctl-config.h"
#include "lctl-proxy.h"
#include "lctl-router.h"
#include "lctl-server.h"

G_BEGIN_DECLS

#define LCTL_TYPE_APPLICATION (lctl_application_get_type ())
G_DECLARE_FINAL_TYPE (LctlApplication, lctl_application, LCTL, APPLICATION, GApplication)

LctlApplication *lctl_application_new (void);
int              lctl_application_get_exit_status (LctlApplication *self);
gboolean         lctl_application_reload (LctlApplication *self,
                                          GError         **error);
void             lctl_application_quit_gracefully (LctlApplication *self);
LctlServer      *lctl_application_get_server (LctlApplication *self);
const char      *lctl_application_get_config_path (LctlApplication *self);
const char      *lctl_application_get_config_error (LctlApplication *self);
gint64           lctl_application_get_started_at (LctlApplication *self);
GCancellable    *lctl_application_get_cancellable (LctlApplication *self);
LctlRouter      *lctl_application_get_router (LctlApplication *self);
LctlProxy       *lctl_application_get_proxy (LctlApplication *self);

G_END_DECLS
