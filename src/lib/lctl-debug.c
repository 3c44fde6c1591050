/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#include "config.h"

#include "lctl-debug.h"

unsigned lctl_debug_flags;

/**
 * lctl_debug_init:
 * @verbose: Whether --verbose was given.
 *
 * Reads LITELLMCTL_DEBUG and turns on GLib's debug output when any category
 * is enabled.
 */
void
lctl_debug_init (gboolean verbose)
{
  static const GDebugKey keys[] = {
    { "http", LCTL_DEBUG_HTTP },
    { "oauth", LCTL_DEBUG_OAUTH },
    { "dbus", LCTL_DEBUG_DBUS },
    { "config", LCTL_DEBUG_CONFIG },
    { "router", LCTL_DEBUG_ROUTER },
  };

  lctl_debug_flags = g_parse_debug_string (g_getenv ("LITELLMCTL_DEBUG"), keys, G_N_ELEMENTS (keys));
  if (verbose)
    lctl_debug_flags = LCTL_DEBUG_HTTP | LCTL_DEBUG_OAUTH | LCTL_DEBUG_DBUS | LCTL_DEBUG_CONFIG | LCTL_DEBUG_ROUTER;
  if (lctl_debug_flags != 0)
    g_log_set_debug_enabled (TRUE);
}
