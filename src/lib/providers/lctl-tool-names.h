/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#pragma once

#include "lctl-ir.h"

G_BEGIN_DECLS

/**
 * LctlToolNames:
 *
 * The tool names of one request as a strict upstream needs them
 * (`^[a-zA-Z][a-zA-Z0-9_-]*$`, Kimi Code) and the way back to the client's
 * names in responses and streams.
 */
typedef struct _LctlToolNames LctlToolNames;

LctlToolNames *lctl_tool_names_sanitize_request (LctlIrRequest *request);
const char    *lctl_tool_names_to_client (LctlToolNames *self,
                                          const char    *upstream_name);
void           lctl_tool_names_restore_event (LctlToolNames *self,
                                              LctlIrEvent   *event);
void           lctl_tool_names_restore_response (LctlToolNames  *self,
                                                 LctlIrResponse *response);
void           lctl_tool_names_free (LctlToolNames *self);

char *lctl_tool_name_sanitize (const char *name);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LctlToolNames, lctl_tool_names_free)

G_END_DECLS
