/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/**
 * LctlError:
 * @LCTL_ERROR_FAILED: Generic failure.
 * @LCTL_ERROR_INVALID_CONFIG: The configuration file is not valid.
 * @LCTL_ERROR_INVALID_ARGUMENT: A caller passed something unusable.
 * @LCTL_ERROR_NOT_FOUND: No such model, provider, flow or account.
 * @LCTL_ERROR_UNAUTHORIZED: Missing or wrong credentials.
 * @LCTL_ERROR_NEEDS_LOGIN: The account's refresh was rejected; log in again.
 * @LCTL_ERROR_UPSTREAM: An upstream answered with an error.
 * @LCTL_ERROR_TIMEOUT: Something took longer than allowed.
 * @LCTL_ERROR_CANCELLED: The operation was cancelled.
 * @LCTL_ERROR_UNSUPPORTED: The request asks for something not supported.
 * @LCTL_ERROR_NO_SECRET_SERVICE: No Secret Service answered.
 *
 * Error codes in the %LCTL_ERROR domain, each mapped to a D-Bus error name
 * `io.github.litellmctl.Error.<Code>`.
 */
typedef enum
{
  LCTL_ERROR_FAILED,
  LCTL_ERROR_INVALID_CONFIG,
  LCTL_ERROR_INVALID_ARGUMENT,
  LCTL_ERROR_NOT_FOUND,
  LCTL_ERROR_UNAUTHORIZED,
  LCTL_ERROR_NEEDS_LOGIN,
  LCTL_ERROR_UPSTREAM,
  LCTL_ERROR_TIMEOUT,
  LCTL_ERROR_CANCELLED,
  LCTL_ERROR_UNSUPPORTED,
  LCTL_ERROR_NO_SECRET_SERVICE,
} LctlError;

#define LCTL_ERROR (lctl_error_quark ())

GQuark lctl_error_quark (void);

G_END_DECLS
