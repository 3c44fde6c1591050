/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#pragma once

#include "lctl-dialect-private.h"

G_BEGIN_DECLS

/* Anthropic Messages. Use through lctl-dialect.h; exposed for tests. */

LctlIrRequest   *lctl_anthropic_parse_request (JsonNode *root,
                                               GError  **error);
JsonNode        *lctl_anthropic_build_request (const LctlIrRequest    *request,
                                               const char             *model,
                                               const LctlBuildOptions *options,
                                               GError                **error);
LctlIrResponse  *lctl_anthropic_parse_response (JsonNode *root,
                                                GError  **error);
JsonNode        *lctl_anthropic_build_response (const LctlIrResponse *response,
                                                const char           *model);
LctlIrError     *lctl_anthropic_parse_error (unsigned    status,
                                             JsonNode   *root,
                                             const char *text);
JsonNode        *lctl_anthropic_build_error (const LctlIrError *error,
                                             unsigned          *status);
const char      *lctl_anthropic_stop_reason_to_string (LctlIrStopReason reason);
LctlIrStopReason lctl_anthropic_stop_reason_from_string (const char *reason);
/* Tool ids must match ^[a-zA-Z0-9_-]+$ on Anthropic; others (Kimi's
 * "functions.Bash:0") are rewritten deterministically. */
char *lctl_anthropic_sanitize_tool_id (const char *id);

typedef struct _LctlAnthropicDecoder LctlAnthropicDecoder;
LctlAnthropicDecoder                *lctl_anthropic_decoder_new (void);
void                                 lctl_anthropic_decoder_free (LctlAnthropicDecoder *decoder);
gboolean                             lctl_anthropic_decoder_feed (LctlAnthropicDecoder *decoder,
                                                                  const char           *event_name,
                                                                  const char           *data,
                                                                  GPtrArray            *events,
                                                                  GError              **error);
void                                 lctl_anthropic_decoder_finish (LctlAnthropicDecoder *decoder,
                                                                    GPtrArray            *events);
gboolean                             lctl_anthropic_decoder_is_done (LctlAnthropicDecoder *decoder);

typedef struct _LctlAnthropicEncoder LctlAnthropicEncoder;
LctlAnthropicEncoder                *lctl_anthropic_encoder_new (const char *model);
void                                 lctl_anthropic_encoder_free (LctlAnthropicEncoder *encoder);
void                                 lctl_anthropic_encoder_encode (LctlAnthropicEncoder *encoder,
                                                                    const LctlIrEvent    *event,
                                                                    GString              *out);
void                                 lctl_anthropic_encoder_ping (LctlAnthropicEncoder *encoder,
                                                                  GString              *out);
void                                 lctl_anthropic_encoder_error (LctlAnthropicEncoder *encoder,
                                                                   const LctlIrError    *error,
                                                                   GString              *out);
gboolean                             lctl_anthropic_encoder_is_done (LctlAnthropicEncoder *encoder);

G_END_DECLS
