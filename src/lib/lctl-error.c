/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#include "config.h"

#include "lctl-error.h"

static const GDBusErrorEntry lctl_error_entries[] = {
  { LCTL_ERROR_FAILED, "io.github.litellmctl.Error.Failed" },
  { LCTL_ERROR_INVALID_CONFIG, "io.github.litellmctl.Error.InvalidConfig" },
  { LCTL_ERROR_INVALID_ARGUMENT, "io.github.litellmctl.Error.InvalidArgument" },
  { LCTL_ERROR_NOT_FOUND, "io.github.litellmctl.Error.NotFound" },
  { LCTL_ERROR_UNAUTHORIZED, "io.github.litellmctl.Error.Unauthorized" },
  { LCTL_ERROR_NEEDS_LOGIN, "io.github.litellmctl.Error.NeedsLogin" },
  { LCTL_ERROR_UPSTREAM, "io.github.litellmctl.Error.Upstream" },
  { LCTL_ERROR_TIMEOUT, "io.github.litellmctl.Error.Timeout" },
  { LCTL_ERROR_CANCELLED, "io.github.litellmctl.Error.Cancelled" },
  { LCTL_ERROR_UNSUPPORTED, "io.github.litellmctl.Error.Unsupported" },
  { LCTL_ERROR_NO_SECRET_SERVICE, "io.github.litellmctl.Error.NoSecretService" },
};

G_STATIC_ASSERT (G_N_ELEMENTS (lctl_error_entries) == LCTL_ERROR_NO_SECRET_SERVICE + 1);

GQuark
lctl_error_quark (void)
{
  static gsize quark = 0;

  g_dbus_error_register_error_domain ("lctl-error-quark",
                                      &quark,
                                      lctl_error_entries,
                                      G_N_ELEMENTS (lctl_error_entries));
  return (GQuark) quark;
}
