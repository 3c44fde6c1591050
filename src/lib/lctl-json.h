/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

void    lctl_json_write (GString  *out,
                         JsonNode *node);
char   *lctl_json_to_string (JsonNode *node);
GBytes *lctl_json_to_bytes (JsonNode *node);
char   *lctl_json_protect_nul (const char *text,
                               gssize      length,
                               gsize      *out_length);

G_END_DECLS
