/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#pragma once

#include "lctl-dbus-generated.h"

G_BEGIN_DECLS

typedef struct _LctlApplication LctlApplication;

#define LCTL_TYPE_MANAGER (lctl_manager_get_type ())
G_DECLARE_FINAL_TYPE (LctlManager, lctl_manager, LCTL, MANAGER, LctlDBusManagerSkeleton)

LctlManager *lctl_manager_new (LctlApplication *application);
void         lctl_manager_sync (LctlManager *self);

G_END_DECLS
