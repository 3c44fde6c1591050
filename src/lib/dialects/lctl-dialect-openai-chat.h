/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#pragma once

#include "lctl-dialect-private.h"

G_BEGIN_DECLS

/* OpenAI Chat Completions. Use through lctl-dialect.h; exposed for tests. */

LctlIrRequest   *lctl_openai_chat_parse_request (JsonNode *root,
                                                 GError  **error);
JsonNode        *lctl_openai_chat_build_request (const LctlIrRequest    *request,
                                                 const char             *model,
                                                 const LctlBuildOptions *options,
                                                 GError                **error);
LctlIrResponse  *lctl_openai_chat_parse_response (JsonNode *root,
                                                  GError  **error);
JsonNode        *lctl_openai_chat_build_response (const LctlIrResponse *response,
                                                  const char           *model);
LctlIrError     *lctl_openai_chat_parse_error (unsigned    status,
                                               JsonNode   *root,
                                               const char *text);
JsonNode        *lctl_openai_chat_build_error (const LctlIrError *error,
                                               unsigned          *status);
const char      *lctl_openai_chat_stop_reason_to_string (LctlIrStopReason reason);
LctlIrStopReason lctl_openai_chat_stop_reason_from_string (const char *reason);
/* The reasoning_effort for a thinking configuration, or NULL. */
const char *lctl_openai_chat_effort_for_thinking (const LctlIrThinking *thinking);

typedef struct _LctlOpenaiChatDecoder LctlOpenaiChatDecoder;
LctlOpenaiChatDecoder                *lctl_openai_chat_decoder_new (void);
void                                  lctl_openai_chat_decoder_free (LctlOpenaiChatDecoder *decoder);
gboolean                              lctl_openai_chat_decoder_feed (LctlOpenaiChatDecoder *decoder,
                                                                     const char            *event_name,
                                                                     const char            *data,
                                                                     GPtrArray             *events,
                                                                     GError               **error);
void                                  lctl_openai_chat_decoder_finish (LctlOpenaiChatDecoder *decoder,
                                                                       GPtrArray             *events);
gboolean                              lctl_openai_chat_decoder_is_done (LctlOpenaiChatDecoder *decoder);

typedef struct _LctlOpenaiChatEncoder LctlOpenaiChatEncoder;
LctlOpenaiChatEncoder                *lctl_openai_chat_encoder_new (const char *model,
                                                                    gboolean    include_usage);
void                                  lctl_openai_chat_encoder_free (LctlOpenaiChatEncoder *encoder);
void                                  lctl_openai_chat_encoder_encode (LctlOpenaiChatEncoder *encoder,
                                                                       const LctlIrEvent     *event,
                                                                       GString               *out);
void                                  lctl_openai_chat_encoder_ping (LctlOpenaiChatEncoder *encoder,
                                                                     GString               *out);
void                                  lctl_openai_chat_encoder_error (LctlOpenaiChatEncoder *encoder,
                                                                      const LctlIrError     *error,
                                                                      GString               *out);
gboolean                              lctl_openai_chat_encoder_is_done (LctlOpenaiChatEncoder *encoder);

G_END_DECLS
