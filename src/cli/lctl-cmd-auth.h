/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

int lctl_cmd_auth (GDBusConnection *bus,
                   int              argc,
                   char           **argv);

G_END_DECLS
