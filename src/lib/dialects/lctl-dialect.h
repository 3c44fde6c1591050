/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "lctl-ir.h"

G_BEGIN_DECLS

/*
 * The dialect engine's entry points: one function per step of a request
 * (ARCHITECTURE.md "One request, end to end"), dispatching on the dialect.
 * Everything here is pure: JSON in, JSON (or bytes) out, no I/O.
 *
 * Failures to parse what a client sent are %LCTL_ERROR_INVALID_ARGUMENT
 * with a message naming the field ("messages[2].content[0]: …"), to be
 * answered as a 400 through lctl_ir_error_from_gerror() and
 * lctl_dialect_build_error().
 *
 * A request, in order:
 *
 *   request = lctl_dialect_parse_request (client, body, len, &error);
 *   lctl_ir_request_apply_defaults (request, deployment->params);
 *   if (client == upstream)   // untouched but for model and defaults
 *     up = lctl_dialect_passthrough_request (client, body, len, model, params, &error);
 *   else
 *     up = lctl_dialect_build_request (upstream, request, model, &options, &error);
 *   // streaming:
 *   decoder = lctl_stream_decoder_new (upstream);
 *   encoder = lctl_stream_encoder_new (client, request->model, request->include_usage);
 *   on each chunk: lctl_stream_decoder_feed_bytes (decoder, buf, n, events, &error);
 *                  for each event: write+flush lctl_stream_encoder_encode (encoder, event);
 *   on EOF:        lctl_stream_decoder_finish (decoder, events); encode those too.
 *   on failure:    nothing sent yet (lctl_stream_encoder_has_output() FALSE) →
 *                  retry/fall back; else write lctl_stream_encoder_error ().
 *   // not streaming:
 *   response = lctl_dialect_parse_response (upstream, body, len, &error);
 *   client_body = lctl_dialect_build_response (client, response, request->model);
 *   // upstream error (status >= 400):
 *   ir_error = lctl_dialect_parse_error (upstream, status, body, len, retry_after_header);
 *   client_body = lctl_dialect_build_error (client, ir_error, &client_status);
 *
 * A stream-only upstream serves a non-streaming client by folding events
 * with lctl_ir_response_add_event(); a complete response (mock_response)
 * serves a streaming client through lctl_ir_response_to_events().
 */

/**
 * LctlBuildOptions:
 * @no_json_schema: The upstream cannot constrain output to a JSON schema
 *   (an Anthropic-compatible endpoint without structured outputs): the
 *   schema is asked for in the system prompt instead.
 * @dropped: (element-type utf8) (nullable): When not %NULL, receives the
 *   name of every request field the builder dropped because the upstream
 *   dialect cannot express it (for `drop_params: false` → 400, and for
 *   debug logs). Fields dropped by design for every upstream of another
 *   dialect (`cache_control`, signatures) are not listed.
 */
typedef struct
{
  gboolean   no_json_schema;
  GPtrArray *dropped;
} LctlBuildOptions;

/**
 * lctl_dialect_parse_request:
 * @dialect: The client's dialect (the endpoint it called).
 * @body: (array length=length): The client's request body.
 * @length: Length of @body, or -1 when NUL-terminated.
 * @error: Return location for an %LCTL_ERROR_INVALID_ARGUMENT error.
 *
 * Returns: (transfer full): the request, or %NULL.
 */
LctlIrRequest *lctl_dialect_parse_request (LctlDialect dialect,
                                           const char *body,
                                           gssize      length,
                                           GError    **error);

/**
 * lctl_dialect_build_request:
 * @dialect: The upstream's dialect.
 * @request: The request.
 * @upstream_model: (nullable): The model name to send; %NULL keeps
 *   @request's.
 * @options: (nullable): Build options.
 * @error: Return location for an error.
 *
 * Returns: (transfer full): the upstream body, or %NULL.
 */
JsonNode *lctl_dialect_build_request (LctlDialect             dialect,
                                      const LctlIrRequest    *request,
                                      const char             *upstream_model,
                                      const LctlBuildOptions *options,
                                      GError                **error);

/**
 * lctl_dialect_passthrough_request:
 * @dialect: The dialect of both client and upstream.
 * @body: (array length=length): The client's request body.
 * @length: Length of @body, or -1.
 * @upstream_model: (nullable): The model name to send.
 * @params: (nullable): The deployment's `litellm_params`; body fields
 *   among them (per lctl_ir_param_is_proxy_setting()) are added where the
 *   body lacks them.
 * @error: Return location for an error.
 *
 * A same-dialect upstream receives the client's body untouched except for
 * `model` and the deployment's defaults: betas, `context_management`,
 * signatures, unknown fields all survive.
 *
 * Returns: (transfer full): the upstream body, or %NULL if @body is not
 *   a JSON object.
 */
JsonNode *lctl_dialect_passthrough_request (LctlDialect dialect,
                                            const char *body,
                                            gssize      length,
                                            const char *upstream_model,
                                            JsonObject *params,
                                            GError    **error);

/* An upstream's non-streaming body → IR. */
LctlIrResponse *lctl_dialect_parse_response (LctlDialect dialect,
                                             const char *body,
                                             gssize      length,
                                             GError    **error);

/**
 * lctl_dialect_build_response:
 * @dialect: The client's dialect.
 * @response: The response.
 * @model: (nullable): Model name to report; %NULL keeps @response's.
 *
 * Returns: (transfer full): the client body.
 */
JsonNode *lctl_dialect_build_response (LctlDialect           dialect,
                                       const LctlIrResponse *response,
                                       const char           *model);

/**
 * lctl_dialect_parse_error:
 * @dialect: The upstream's dialect.
 * @status: The upstream's HTTP status.
 * @body: (array length=length) (nullable): The upstream's body.
 * @length: Length of @body, or -1.
 * @retry_after: (nullable): The upstream's `Retry-After` header.
 *
 * Classifies an upstream failure (rate limit, overloaded, context window…).
 *
 * Returns: (transfer full): the error.
 */
LctlIrError *lctl_dialect_parse_error (LctlDialect dialect,
                                       unsigned    status,
                                       const char *body,
                                       gssize      length,
                                       const char *retry_after);

/**
 * lctl_dialect_build_error:
 * @dialect: The client's dialect.
 * @error: The error.
 * @status: (out) (optional): The HTTP status to answer with. When
 *   @error->retry_after is set, send `Retry-After` too.
 *
 * Returns: (transfer full): the client's error body.
 */
JsonNode *lctl_dialect_build_error (LctlDialect        dialect,
                                    const LctlIrError *error,
                                    unsigned          *status);

/* Serialises a body compactly. */
GBytes *lctl_dialect_node_to_bytes (JsonNode *node);

/* Decodes an upstream's SSE stream into IR events. */
typedef struct _LctlStreamDecoder LctlStreamDecoder;

LctlStreamDecoder *lctl_stream_decoder_new (LctlDialect dialect);
void               lctl_stream_decoder_free (LctlStreamDecoder *decoder);

/**
 * lctl_stream_decoder_feed_bytes:
 * @decoder: A decoder.
 * @buf: (array length=len): Bytes of the upstream body as they arrived.
 * @len: Length of @buf.
 * @events: (element-type LctlIrEvent): Receives the IR events; create it
 *   with lctl_ir_event_array_new().
 * @error: Return location for an error (a data line that is not JSON).
 *
 * Returns: %FALSE on error; events decoded before it are in @events.
 */
gboolean lctl_stream_decoder_feed_bytes (LctlStreamDecoder *decoder,
                                         const char        *buf,
                                         gsize              len,
                                         GPtrArray         *events,
                                         GError           **error);

/* The same, for one already parsed SSE event (@event_name may be NULL). */
gboolean lctl_stream_decoder_feed_event (LctlStreamDecoder *decoder,
                                         const char        *event_name,
                                         const char        *data,
                                         GPtrArray         *events,
                                         GError           **error);

/**
 * lctl_stream_decoder_finish:
 * @decoder: A decoder.
 * @events: Receives the closing events.
 *
 * At the end of the upstream body. A stream that ended after its stop
 * reason gets its missing MESSAGE_STOP; one cut before it gets an ERROR
 * event (the answer is incomplete, the client must be told).
 */
void lctl_stream_decoder_finish (LctlStreamDecoder *decoder,
                                 GPtrArray         *events);

/* Whether a terminal event (MESSAGE_STOP or ERROR) has been produced. */
gboolean lctl_stream_decoder_is_done (LctlStreamDecoder *decoder);

/* Encodes IR events into a client's SSE stream. */
typedef struct _LctlStreamEncoder LctlStreamEncoder;

/**
 * lctl_stream_encoder_new:
 * @dialect: The client's dialect.
 * @model: (nullable): Model name to report; %NULL uses MESSAGE_START's.
 * @include_usage: OpenAI: send the usage chunk (`stream_options`).
 */
LctlStreamEncoder *lctl_stream_encoder_new (LctlDialect dialect,
                                            const char *model,
                                            gboolean    include_usage);
void               lctl_stream_encoder_free (LctlStreamEncoder *encoder);

/**
 * lctl_stream_encoder_encode:
 * @encoder: An encoder.
 * @event: The next IR event.
 *
 * Returns: (transfer full) (nullable): the bytes to write and flush now,
 *   or %NULL when this event produces none.
 */
GBytes *lctl_stream_encoder_encode (LctlStreamEncoder *encoder,
                                    const LctlIrEvent *event);

/* A keep-alive while the upstream is silent: Anthropic `event: ping`,
 * an SSE comment for OpenAI. */
GBytes *lctl_stream_encoder_ping (LctlStreamEncoder *encoder);

/* The client dialect's in-stream error (Anthropic `event: error`, OpenAI
 * `data: {"error":…}`), ending the stream. */
GBytes *lctl_stream_encoder_error (LctlStreamEncoder *encoder,
                                   const LctlIrError *error);

/* Whether the client has been sent its terminal event. */
gboolean lctl_stream_encoder_is_done (LctlStreamEncoder *encoder);

/* Whether any bytes have been produced (after that, no fallback). */
gboolean lctl_stream_encoder_has_output (LctlStreamEncoder *encoder);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LctlStreamDecoder, lctl_stream_decoder_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LctlStreamEncoder, lctl_stream_encoder_free)

G_END_DECLS
