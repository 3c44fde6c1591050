/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#include "config.h"

#include "lctl-config.h"
#include "lctl-error.h"

/* Placeholder until the loader lands; every entry point fails cleanly. */

LctlConfig *
lctl_config_load (const char *path,
                  GError **error)
{
  g_set_error (error, LCTL_ERROR, LCTL_ERROR_INVALID_CONFIG, "%s: not implemented", path);
  return NULL;
}
