/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#pragma once

#include "lctl-dialect.h"
#include "lctl-error.h"

G_BEGIN_DECLS

/* Typed member access that tolerates absent members and wrong types
 * (returning NULL / FALSE), so parsers never trip json-glib criticals on
 * hostile input. */
const char *lctl_json_string (JsonObject *object,
                              const char *member);
JsonObject *lctl_json_object (JsonObject *object,
                              const char *member);
JsonArray  *lctl_json_array (JsonObject *object,
                             const char *member);
gboolean    lctl_json_number (JsonObject *object,
                              const char *member,
                              double     *value);
gboolean    lctl_json_int (JsonObject *object,
                           const char *member,
                           gint64     *value);
/* -1 when absent or not a boolean. */
int lctl_json_bool (JsonObject *object,
                    const char *member);
/* NULL when absent or JSON null. */
JsonNode   *lctl_json_member (JsonObject *object,
                              const char *member);
JsonObject *lctl_json_array_object (JsonArray *array,
                                    unsigned   index);

/* Parses @body into a root node; errors name the position. */
JsonNode *lctl_json_parse (const char *body,
                           gssize      length,
                           const char *what,
                           GError    **error);

/* Copies every member of @from missing in @into. */
void lctl_json_merge_missing (JsonObject *into,
                              JsonObject *from);

JsonNode *lctl_json_node_new_object (JsonObject *object);

/* A response id when the upstream gave none. */
char *lctl_dialect_make_id (const char *prefix);

void lctl_build_options_drop (const LctlBuildOptions *options,
                              const char             *name);

/* The instruction added to a system prompt when the upstream cannot
 * enforce a response format itself. */
char *lctl_dialect_json_instruction (const LctlIrRequest *request);

/* "data:image/png;base64,XXXX" → media type + data. */
gboolean lctl_dialect_parse_data_url (const char *url,
                                      char      **media_type,
                                      char      **data);

/* Error classification from message text, shared by all dialects. */
gboolean lctl_dialect_text_means_context_window (const char *text);
gboolean lctl_dialect_text_means_content_policy (const char *text);
double   lctl_dialect_parse_retry_after (const char *value);

G_END_DECLS
