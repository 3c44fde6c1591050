/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Debug categories, from LITELLMCTL_DEBUG=http,oauth,dbus,config,router
 * (or "all"); --verbose enables all of them. */
typedef enum
{
  LCTL_DEBUG_HTTP = 1 << 0,
  LCTL_DEBUG_OAUTH = 1 << 1,
  LCTL_DEBUG_DBUS = 1 << 2,
  LCTL_DEBUG_CONFIG = 1 << 3,
  LCTL_DEBUG_ROUTER = 1 << 4,
} LctlDebugFlags;

extern unsigned lctl_debug_flags;

void lctl_debug_init (gboolean verbose);

/* Formats nothing unless the category is on: the hot path pays one test. */
#define lctl_debug(category, ...)                           \
  G_STMT_START                                              \
  {                                                         \
    if (G_UNLIKELY (lctl_debug_flags & (category)))         \
      g_log (G_LOG_DOMAIN, G_LOG_LEVEL_DEBUG, __VA_ARGS__); \
  }                                                         \
  G_STMT_END

G_END_DECLS
