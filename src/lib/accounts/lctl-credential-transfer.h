/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

char       *lctl_credential_transfer_export (GHashTable *records);
GHashTable *lctl_credential_transfer_parse (const char *text,
                                            GError    **error);

G_END_DECLS
