/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#pragma once

#include "lctl-ir.h"

G_BEGIN_DECLS

/* Estimated tokens of a piece of text (see lctl-count-tokens.c for the
 * method and its measured error). */
gint64 lctl_count_tokens_text (const char *text);

/**
 * lctl_count_tokens_request:
 * @request: A parsed request.
 *
 * Estimates the input tokens of @request for `POST /v1/messages/count_tokens`
 * (answer `{"input_tokens": N}`): system, messages, tool definitions,
 * tool_use inputs, tool_result contents, thinking and images.
 */
gint64 lctl_count_tokens_request (const LctlIrRequest *request);

G_END_DECLS
