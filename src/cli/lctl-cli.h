/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#pragma once

#include <gio/gio.h>

#include "lctl-dbus-generated.h"

G_BEGIN_DECLS

/* Exit codes of every command. */
enum
{
  LCTL_EXIT_OK = 0,
  LCTL_EXIT_FAILURE = 1,
  LCTL_EXIT_USAGE = 2,
};

/* Connects to the session bus, or says why not and how to fix it. */
GDBusConnection *lctl_cli_get_bus (void);

/* A Manager proxy on the session bus (which it holds); with @auto_start
 * the first call D-Bus-activates the daemon. Says why when it cannot. */
LctlDBusManager *lctl_cli_get_manager (gboolean auto_start);

/* Prints a D-Bus or local error for people, without the remote prefix. */
void lctl_cli_print_error (const char   *what,
                           const GError *error);

/* Whether stdout is a terminal that takes colours. */
gboolean lctl_cli_use_color (void);

G_END_DECLS
